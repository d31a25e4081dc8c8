"""S3's errors: code, status, wording and the extra elements S3 puts in ``<Error>``.

S3 error documents carry more than code and message: ``<BucketName>``,
``<Key>``, ``<Condition>``, ``<RangeRequested>``... clients read them
(``e.response["Error"]["Key"]``). This module is the one place that knows
them, so handlers and engines raise by meaning (``no_such_key(key)``) and
never spell codes or statuses themselves. The codec renders ``fields`` as
elements between ``<Message>`` and ``<RequestId>``; HEAD responses carry no
body, as S3 sends them.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.protocols.restxml import S3_EMPTY_BODY

MAX_KEY_BYTES = 1024
MAX_SINGLE_PUT = 5 * 1024**3


def s3_error(code: str, message: str, status: int = 400, **fields: Any) -> ServiceError:
    return ServiceError(
        code, message, status, fields={k: v for k, v in fields.items() if v is not None}
    )


# -- buckets -------------------------------------------------------------------------


def no_such_bucket(bucket: str) -> ServiceError:
    return s3_error("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=bucket)


def bucket_already_exists(bucket: str) -> ServiceError:
    return s3_error(
        "BucketAlreadyExists",
        "The requested bucket name is not available. The bucket namespace is shared by all "
        "users of the system. Please select a different name and try again.",
        409,
        BucketName=bucket,
    )


def bucket_already_owned_by_you(bucket: str) -> ServiceError:
    return s3_error(
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
        409,
        BucketName=bucket,
    )


def bucket_not_empty(bucket: str, *, versioned: bool = False) -> ServiceError:
    """A DeleteBucket of a bucket with objects left. A bucket whose versioning was ever
    configured is told to delete every version too (AWS-recorded snapshots of
    LocalStack's ``test_delete_versioned_bucket_with_objects`` and
    ``test_delete_bucket_with_objects``)."""
    message = "The bucket you tried to delete is not empty"
    if versioned:
        message += ". You must delete all versions in the bucket."
    return s3_error("BucketNotEmpty", message, 409, BucketName=bucket)


def wrong_region(signed: str, bucket_region: str, *, presigned: bool) -> ServiceError:
    """A request signed for another region than the bucket's: S3's answer names the
    bucket's region (``<Region>``, ``x-amz-bucket-region``), from which boto3 and the
    AWS CLI re-sign and retry there, as they do against AWS."""
    wrong = f"the region '{signed}' is wrong; expecting '{bucket_region}'"
    if presigned:
        code, message = (
            "AuthorizationQueryParametersError",
            f"Error parsing the X-Amz-Credential parameter; {wrong}",
        )
    else:
        code, message = (
            "AuthorizationHeaderMalformed",
            f"The authorization header is malformed; {wrong}",
        )
    return ServiceError(
        code,
        message,
        400,
        fields={"Region": bucket_region},
        headers={"x-amz-bucket-region": bucket_region},
    )


def invalid_bucket_name(bucket: str) -> ServiceError:
    return s3_error(
        "InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=bucket
    )


def illegal_location_constraint(constraint: str | None, region: str) -> ServiceError:
    if constraint:
        message = (
            f"The {constraint} location constraint is incompatible for the region specific "
            "endpoint this request was sent to."
        )
    else:
        message = (
            "The unspecified location constraint is incompatible for the region specific "
            "endpoint this request was sent to."
        )
    return s3_error("IllegalLocationConstraintException", message, 400)


def invalid_location_constraint(constraint: str) -> ServiceError:
    return s3_error(
        "InvalidLocationConstraint",
        "The specified location-constraint is not valid",
        400,
        LocationConstraint=constraint,
    )


# -- keys and versions ---------------------------------------------------------------


def no_such_key(key: str) -> ServiceError:
    """S3's NoSuchKey names the key and nothing else: no ``Resource`` element in any of
    the AWS-recorded answers (LocalStack's snapshots: ``get-deleted-object``,
    ``copy-object-src-object-not-exists``, ``put-obj-if-match-key-not-exists``...)."""
    return s3_error("NoSuchKey", "The specified key does not exist.", 404, Key=key)


def no_such_version(key: str, version_id: str) -> ServiceError:
    return s3_error(
        "NoSuchVersion",
        "The specified version does not exist.",
        404,
        Key=key,
        VersionId=version_id,
    )


def invalid_version_id(version_id: str) -> ServiceError:
    return invalid_argument("Invalid version id specified", "versionId", version_id)


def key_too_long(size: int) -> ServiceError:
    return s3_error(
        "KeyTooLongError",
        "Your key is too long",
        400,
        Size=size,
        MaxSizeAllowed=MAX_KEY_BYTES,
    )


def method_not_allowed(method: str, resource_type: str = "DeleteMarker") -> ServiceError:
    return s3_error(
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
        405,
        Method=method,
        ResourceType=resource_type,
    )


# -- request content -----------------------------------------------------------------


def invalid_argument(message: str, name: str | None = None, value: Any = None) -> ServiceError:
    return s3_error(
        "InvalidArgument",
        message,
        400,
        ArgumentName=name,
        ArgumentValue=None if value is None else str(value),
    )


def invalid_request(message: str) -> ServiceError:
    return s3_error("InvalidRequest", message, 400)


def missing_request_body() -> ServiceError:
    return s3_error(*S3_EMPTY_BODY)


def malformed_xml() -> ServiceError:
    return s3_error(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )


def entity_too_large(proposed: int, maximum: int) -> ServiceError:
    return s3_error(
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size",
        400,
        ProposedSize=proposed,
        MaxSizeAllowed=maximum,
    )


def incomplete_body(received: int, expected: int) -> ServiceError:
    return s3_error(
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
        400,
        NumberBytesExpected=expected,
        NumberBytesProvided=received,
    )


def bad_digest(expected: str, calculated: str) -> ServiceError:
    return s3_error(
        "BadDigest",
        "The Content-MD5 you specified did not match what we received.",
        400,
        ExpectedDigest=expected,
        CalculatedDigest=calculated,
    )


def invalid_digest(content_md5: str) -> ServiceError:
    return s3_error(
        "InvalidDigest",
        "The Content-MD5 you specified was invalid.",
        400,
        **{"Content-MD5": content_md5},
    )


def missing_content_md5() -> ServiceError:
    return invalid_request(
        "Missing required header for this request: Content-Md5 OR x-amz-checksum-*"
    )


def invalid_storage_class(value: str) -> ServiceError:
    return s3_error(
        "InvalidStorageClass",
        "The storage class you specified is not valid",
        400,
        StorageClassRequested=value,
    )


def malformed_acl() -> ServiceError:
    """An ``AccessControlPolicy`` that fails S3's schema (no ``Owner``, an unknown
    permission or grantee type, or nothing at all)."""
    return s3_error(
        "MalformedACLError",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )


def missing_security_header(header: str) -> ServiceError:
    return s3_error(
        "MissingSecurityHeader",
        "Your request was missing a required header",
        400,
        MissingHeaderName=header,
    )


def unexpected_content() -> ServiceError:
    return s3_error("UnexpectedContent", "This request does not support content", 400)


# -- conditions and ranges -----------------------------------------------------------


def precondition_failed(condition: str) -> ServiceError:
    return s3_error(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        412,
        Condition=condition,
    )


def not_modified() -> ServiceError:
    """304: S3 sends it with no body (the codec drops the document)."""
    return ServiceError("NotModified", "Not Modified", 304)


def invalid_range(requested: str, size: int) -> ServiceError:
    return s3_error(
        "InvalidRange",
        "The requested range is not satisfiable",
        416,
        RangeRequested=requested,
        ActualObjectSize=size,
    )


def conditional_request_conflict(condition: str, key: str) -> ServiceError:
    """A conditional write whose key changed since the write began (a multipart upload's
    Complete after another write or delete of its key): 409, not 412."""
    return s3_error(
        "ConditionalRequestConflict",
        "The conditional request cannot succeed due to a conflicting operation against "
        "this resource.",
        409,
        Condition=condition,
        Key=key,
    )


def header_not_implemented(header: str, additional: str | None = None) -> ServiceError:
    """501 for a header S3 knows but not with that value (or in that company)."""
    return s3_error(
        "NotImplemented",
        "A header you provided implies functionality that is not implemented",
        501,
        Header=header,
        additionalMessage=additional,
    )


# -- directory buckets: appends and renames (wording: the API reference's error shapes) --


def invalid_write_offset() -> ServiceError:
    return s3_error(
        "InvalidWriteOffset",
        "The write offset value that you specified does not match the current object size.",
        400,
    )


def too_many_parts(maximum: int) -> ServiceError:
    return s3_error(
        "TooManyParts",
        f"You have attempted to add more parts than the maximum of {maximum} that are allowed "
        "for this object. You can use the CopyObject operation to copy this object to another "
        "and then add more data to the newly copied object.",
        400,
    )


def encryption_type_mismatch() -> ServiceError:
    return s3_error(
        "EncryptionTypeMismatch",
        "The existing object was created with a different encryption type. Subsequent write "
        "requests must include the appropriate encryption parameters in the request or while "
        "creating the session.",
        400,
    )


def idempotency_parameter_mismatch() -> ServiceError:
    return s3_error(
        "IdempotencyParameterMismatch",
        "Parameters on this idempotent request are inconsistent with parameters used in "
        "previous request(s).",
        400,
    )


# -- archived objects (GLACIER, DEEP_ARCHIVE) -----------------------------------------


READ_ARCHIVED = "The operation is not valid for the object's storage class"
COPY_ARCHIVED = "Operation is not valid for the source object's storage class"
RESTORE_NOT_ARCHIVED = "Restore is not allowed for the object's current storage class"


def invalid_object_state(storage_class: str, message: str = READ_ARCHIVED) -> ServiceError:
    """An archived object read (or copied) without a restored copy, or a restore of an
    object that is not archived: the message says which."""
    return s3_error("InvalidObjectState", message, 403, StorageClass=storage_class)


# -- access points (the API reference's error list) --


def no_such_access_point() -> ServiceError:
    return s3_error("NoSuchAccessPoint", "The specified access point does not exist.", 404)


def no_such_access_point_policy() -> ServiceError:
    # Not in the API reference's error list; moto's wording of the code S3 Control answers.
    return s3_error(
        "NoSuchAccessPointPolicy", "The specified accesspoint policy does not exist", 404
    )


def access_point_already_owned() -> ServiceError:
    return s3_error(
        "AccessPointAlreadyOwnedByYou",
        "An access point with an identical name already exists in your account.",
        409,
    )
