"""Amazon EventBridge (botocore ``events``)."""
