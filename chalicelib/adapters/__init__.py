"""Everything that talks to AWS: PynamoDB models and tables, the one DynamoDB helper, single records,
one store per aggregate (claim_store; draw_store: a lucky draw, its snapshot pages and the participant
reads of its freeze; members; reward_store for rewards and their voucher pools; redemption_store for
redemptions), rate limits, S3, SQS, SMS and secrets. May import: domain, config, logs."""
