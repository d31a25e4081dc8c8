"""DynamoDB: tables, items, expressions, indexes, transactions, streams, TTL, PartiQL."""
