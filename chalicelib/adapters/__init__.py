"""Everything that talks to AWS: PynamoDB models and tables, the one DynamoDB helper, single records,
one store per aggregate (claim_store; draw_store: a lucky draw, its snapshot pages and the participant
reads of its freeze), rate limits, S3, SQS, SMS and secrets. May import: domain, config, logs."""
