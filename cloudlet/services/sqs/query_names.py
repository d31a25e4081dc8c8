"""The wire names SQS used on the query protocol, which botocore's JSON model dropped.

Data for ``cloudlet.protocols.compat.query_compat_model``: with it, a query
request like ``Attribute.1.Name=VisibilityTimeout`` parses, and a
ReceiveMessage answer carries ``<Message>`` and ``<Attribute><Name/><Value/>``
elements exactly as AWS's query API documents them.
"""

from __future__ import annotations

_MAP = {"key": "Name", "value": "Value"}

QUERY_NAMES: dict[str, dict[str, str]] = {
    "QueueAttributeMap": {"name": "Attribute", **_MAP},
    "MessageSystemAttributeMap": {"name": "Attribute", **_MAP},
    "MessageBodyAttributeMap": {"name": "MessageAttribute", **_MAP},
    "MessageBodySystemAttributeMap": {"name": "MessageSystemAttribute", **_MAP},
    "TagMap": {"name": "Tag", "key": "Key", "value": "Value"},
    "AttributeNameList": {"name": "AttributeName", "member": "AttributeName"},
    "MessageAttributeNameList": {"name": "MessageAttributeName", "member": "MessageAttributeName"},
    "MessageSystemAttributeList": {
        "name": "MessageSystemAttributeName",
        "member": "MessageSystemAttributeName",
    },
    "MessageList": {"name": "Message", "member": "Message"},
    "QueueUrlList": {"name": "QueueUrl", "member": "QueueUrl"},
    "TagKeyList": {"name": "TagKey", "member": "TagKey"},
    "AWSAccountIdList": {"name": "AWSAccountId", "member": "AWSAccountId"},
    "ActionNameList": {"name": "ActionName", "member": "ActionName"},
    "StringList": {"name": "StringListValue", "member": "StringListValue"},
    "BinaryList": {"name": "BinaryListValue", "member": "BinaryListValue"},
    "SendMessageBatchRequestEntryList": {
        "name": "SendMessageBatchRequestEntry",
        "member": "SendMessageBatchRequestEntry",
    },
    "SendMessageBatchResultEntryList": {
        "name": "SendMessageBatchResultEntry",
        "member": "SendMessageBatchResultEntry",
    },
    "DeleteMessageBatchRequestEntryList": {
        "name": "DeleteMessageBatchRequestEntry",
        "member": "DeleteMessageBatchRequestEntry",
    },
    "DeleteMessageBatchResultEntryList": {
        "name": "DeleteMessageBatchResultEntry",
        "member": "DeleteMessageBatchResultEntry",
    },
    "ChangeMessageVisibilityBatchRequestEntryList": {
        "name": "ChangeMessageVisibilityBatchRequestEntry",
        "member": "ChangeMessageVisibilityBatchRequestEntry",
    },
    "ChangeMessageVisibilityBatchResultEntryList": {
        "name": "ChangeMessageVisibilityBatchResultEntry",
        "member": "ChangeMessageVisibilityBatchResultEntry",
    },
    "BatchResultErrorEntryList": {
        "name": "BatchResultErrorEntry",
        "member": "BatchResultErrorEntry",
    },
    "ListMessageMoveTasksResultEntryList": {
        "name": "ListMessageMoveTasksResultEntry",
        "member": "ListMessageMoveTasksResultEntry",
    },
}
