"""PartiQL for DynamoDB: statements parsed here, run as the engine's own operations.

``parser`` reads a statement into ``nodes``; ``plan`` turns it, with the
table's key schema and the request's parameters, into the parameters of a
GetItem/PutItem/UpdateItem/DeleteItem/Query/Scan or a transaction entry;
``execute`` and ``multi`` run those through ``items``, ``query`` and
``batch``, so PartiQL and the item API can never disagree. ``handlers`` holds
the three operations for ``DynamoDBService``.
"""
