"""What S3 answers about a configuration document before the codec reads it.

The rest-xml codec parses a request before the operation runs, so on its own it would
answer a bad document before the operation could say the bucket does not exist. S3
checks the bucket first (LocalStack's AWS-recorded ``put-bucket-enc-no-bucket``):
``S3Service.prepare_request`` looks the bucket up for every ``Put*`` operation whose
body is a configuration document (``is_configuration_put``), then the codec answers
what is wrong with the document (a missing element is ``MalformedXML`` with S3's one
schema message: ``put-cors-exc-empty``, ``put-bucket-encryption-no-rules``,
``put-ownership-empty-rule``, as botocore sends no element for an empty list).

An empty bucket policy is no missing parameter to S3 but a policy that is not an
object: ``MalformedPolicy`` ("the first byte must be '{'", ``put-empty-bucket-policy``).

An empty ``<Tagging/>`` (what an SDK sends for a tag set left unset) is no missing
``TagSet`` to S3 either: Put(Object|Bucket)Tagging take it as no tags (LocalStack's
AWS-validated ``test_put_object_tagging_none_value``/``..._bucket_...``).
"""

from __future__ import annotations

import re

from botocore.model import OperationModel

from cloudlet.core.errors import ServiceError
from cloudlet.protocols.base import HttpRequest
from cloudlet.protocols.modelcache import PlanCache
from cloudlet.services.s3.bucket_policy import NOT_AN_OBJECT, malformed_policy


def _configuration_put(operation: OperationModel) -> bool:
    shape = operation.input_shape
    if not operation.name.startswith("Put") or shape is None:
        return False
    payload = shape.serialization.get("payload")
    member = shape.members.get(payload) if payload else None
    return operation.name == "PutBucketPolicy" or (
        member is not None and member.type_name == "structure"
    )


_CONFIGURATION_PUTS = PlanCache(_configuration_put)


def is_configuration_put(operation: OperationModel) -> bool:
    """A ``Put*`` whose body is a configuration document (or a bucket policy)."""
    return _CONFIGURATION_PUTS.get(operation)


_EMPTY_TAGGING = re.compile(
    rb"\s*(?:<\?xml[^>]*\?>)?\s*<Tagging(?:\s[^>]*)?(?:/>|>\s*</Tagging>)\s*", re.ASCII
)
_TAGGING_PUTS = frozenset({"PutObjectTagging", "PutBucketTagging"})


def read_empty_tagging_as_no_tags(operation: OperationModel, request: HttpRequest) -> None:
    """An empty ``<Tagging/>`` document becomes one with an empty ``TagSet``."""
    if (
        operation.name in _TAGGING_PUTS
        and request.stream is None
        and _EMPTY_TAGGING.fullmatch(request.body)
    ):
        request.body = b"<Tagging><TagSet/></Tagging>"


def refusal(operation: OperationModel, request: HttpRequest) -> ServiceError | None:
    """S3's error for a body the codec would answer in other words: an empty policy."""
    if operation.name == "PutBucketPolicy" and request.stream is None and not request.body:
        return malformed_policy(NOT_AN_OBJECT)
    return None
