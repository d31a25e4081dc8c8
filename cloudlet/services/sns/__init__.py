"""SNS: topics, subscriptions, filter policies and signed deliveries."""
