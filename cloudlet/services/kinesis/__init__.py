"""Amazon Kinesis Data Streams: streams of shards holding ordered, retained records."""
