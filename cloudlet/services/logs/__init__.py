"""CloudWatch Logs: log groups, streams, events, filters and Logs Insights."""
