"""services/sqs."""
