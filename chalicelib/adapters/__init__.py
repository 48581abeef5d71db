"""Everything that talks to AWS: PynamoDB models and tables, the one DynamoDB helper, single records,
rate limits, S3, SQS, SMS and secrets. May import: domain, config, logs."""
