"""Amazon Data Firehose: delivery streams that deliver to S3 and HTTP endpoints."""
