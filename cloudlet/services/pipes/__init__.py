"""Amazon EventBridge Pipes: pipes that read SQS queues, DynamoDB streams and Kinesis
streams and deliver what they read to a target."""
