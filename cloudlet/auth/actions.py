"""The IAM action a request needs: ``<iam prefix>:<action>``.

The prefix is neither botocore's service name nor its signing name in every
case (CloudWatch signs as ``monitoring`` but its actions are ``cloudwatch:*``;
both load balancer APIs are ``elasticloadbalancing:*``), and some operations
need an action with another name (S3's ``ListObjectsV2`` needs
``s3:ListBucket``; SQS's batch calls need the single-message action). Both
tables follow the Service Authorization Reference.
"""

from __future__ import annotations

PREFIXES: dict[str, str] = {
    "elbv2": "elasticloadbalancing",
    "elb": "elasticloadbalancing",
    "dynamodbstreams": "dynamodb",
    "s3control": "s3",
    "stepfunctions": "states",
    "emr": "elasticmapreduce",
    "opensearch": "es",
    "sesv2": "ses",
    "apigatewayv2": "apigateway",
}

S3_ACTIONS: dict[str, str] = {
    "ListBuckets": "ListAllMyBuckets",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "HeadObject": "GetObject",
    "GetObjectAttributes": "GetObject",
    "SelectObjectContent": "GetObject",
    "CopyObject": "PutObject",
    "UploadPartCopy": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "DeleteObjects": "DeleteObject",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListParts": "ListMultipartUploadParts",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "PutBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "GetBucketLifecycle": "GetLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "PutBucketCors": "PutBucketCORS",
    "GetBucketCors": "GetBucketCORS",
    "DeleteBucketCors": "PutBucketCORS",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketTagging": "PutBucketTagging",
    "PutBucketReplication": "PutReplicationConfiguration",
    "GetBucketReplication": "GetReplicationConfiguration",
    "DeleteBucketReplication": "PutReplicationConfiguration",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "PutBucketAccelerateConfiguration": "PutAccelerateConfiguration",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "DeleteBucketWebsite": "DeleteBucketWebsite",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "PutBucketInventoryConfiguration": "PutInventoryConfiguration",
    "GetBucketInventoryConfiguration": "GetInventoryConfiguration",
    "ListBucketInventoryConfigurations": "GetInventoryConfiguration",
    "DeleteBucketInventoryConfiguration": "PutInventoryConfiguration",
    "PutBucketMetricsConfiguration": "PutMetricsConfiguration",
    "GetBucketMetricsConfiguration": "GetMetricsConfiguration",
    "ListBucketMetricsConfigurations": "GetMetricsConfiguration",
    "DeleteBucketMetricsConfiguration": "PutMetricsConfiguration",
    "PutBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "GetBucketAnalyticsConfiguration": "GetAnalyticsConfiguration",
    "ListBucketAnalyticsConfigurations": "GetAnalyticsConfiguration",
    "DeleteBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "PutBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
    "GetBucketIntelligentTieringConfiguration": "GetIntelligentTieringConfiguration",
    "ListBucketIntelligentTieringConfigurations": "GetIntelligentTieringConfiguration",
    "DeleteBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
}

OPERATION_ACTIONS: dict[str, dict[str, str]] = {
    "s3": S3_ACTIONS,
    "sqs": {
        "SendMessageBatch": "SendMessage",
        "DeleteMessageBatch": "DeleteMessage",
        "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    },
    "lambda": {
        "Invoke": "InvokeFunction",
        "InvokeWithResponseStream": "InvokeFunction",
        "InvokeAsync": "InvokeFunction",
        "GetLayerVersionByArn": "GetLayerVersion",
    },
    "logs": {"StartLiveTail": "StartLiveTail"},
}


def action_for(service: str, operation: str) -> str:
    """``("elbv2", "CreateLoadBalancer")`` -> ``elasticloadbalancing:CreateLoadBalancer``."""
    prefix = PREFIXES.get(service, service)
    table = OPERATION_ACTIONS.get(service)
    name = table.get(operation, operation) if table is not None else operation
    return f"{prefix}:{name}"
