"""The floor: an SQS, DynamoDB and S3 look-alike that does no work at all.

Same HTTP stack as cloudlet (uvicorn + httptools, same event loop), but every
request gets a fixed, valid response: SQS's and DynamoDB's JSON chosen by
``X-Amz-Target``; Lambda's Invoke answer (the benchmark function's result, with
Lambda's headers) on an ``/invocations`` path; S3 ListObjectsV2 pages (10 keys
from the bucket ``few``, 1,000 from any other); otherwise S3's answers to PutObject
(200 with the ETag of ``OBJECT``) and GetObject/HeadObject (``OBJECT``, 1 KiB)
whatever the path. Each is the answer cloudlet gives, byte for byte where it
matters, so the client does the same work parsing it.
Whatever cloudlet spends beyond this server's cost is the cost of really doing
the work. The canned MD5 matches ``BODY``, the message body the benchmark
sends, because boto3 checks it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zlib

BODY = "cloudlet benchmark message body"
_MD5 = hashlib.md5(BODY.encode()).hexdigest()
_QUEUE = "http://127.0.0.1/000000000000/bench"

_RESPONSES = {
    "AmazonSQS.CreateQueue": {"QueueUrl": _QUEUE},
    "AmazonSQS.GetQueueUrl": {"QueueUrl": _QUEUE},
    "AmazonSQS.SendMessage": {
        "MD5OfMessageBody": _MD5,
        "MessageId": "5fea7756-0ea4-451a-a703-a558b933e274",
    },
    "AmazonSQS.ReceiveMessage": {
        "Messages": [
            {
                "MessageId": "5fea7756-0ea4-451a-a703-a558b933e274",
                "ReceiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                "MD5OfBody": _MD5,
                "Body": BODY,
            }
        ]
    },
    "AmazonSQS.DeleteMessage": {},
    "AmazonSQS.PurgeQueue": {},
    "AmazonSQS.DeleteQueue": {},
}
DDB_ITEM = {"pk": {"S": "k1"}, "body": {"S": BODY}, "n": {"N": "42"}, "ok": {"BOOL": True}}
"""The small item of the DynamoDB benchmark (bench/dynamodb.py)."""
_RESPONSES.update(
    {
        "DynamoDB_20120810.CreateTable": {
            "TableDescription": {"TableName": "bench", "TableStatus": "ACTIVE"}
        },
        "DynamoDB_20120810.PutItem": {},
        "DynamoDB_20120810.GetItem": {"Item": DDB_ITEM},
    }
)
OBJECT = bytes(i % 251 for i in range(1024))
"""The 1 KiB object of the S3 benchmark (bench/s3.py)."""
_OBJECT_ETAG = f'"{hashlib.md5(OBJECT).hexdigest()}"'.encode()
_OBJECT_CRC32 = base64.b64encode(zlib.crc32(OBJECT).to_bytes(4, "big"))
_S3_COMMON = [
    (b"x-amz-request-id", b"00000000-0000-0000-0000-000000000000"),
    (b"x-amz-id-2", b"00000000-0000-0000-0000-000000000000"),
    (b"etag", _OBJECT_ETAG),
    # boto3 asks for checksums (ChecksumMode=ENABLED) and checks the one it gets back,
    # as it does cloudlet's.
    (b"x-amz-checksum-crc32", _OBJECT_CRC32),
    (b"x-amz-checksum-type", b"FULL_OBJECT"),
    (b"x-amz-server-side-encryption", b"AES256"),  # every new object is SSE-S3
]
_S3_GET = [
    *_S3_COMMON,
    (b"last-modified", b"Sun, 22 Nov 2026 12:00:00 GMT"),
    (b"accept-ranges", b"bytes"),
    (b"content-type", b"binary/octet-stream"),
    (b"content-length", str(len(OBJECT)).encode()),
]
_S3_PUT = [*_S3_COMMON, (b"content-length", b"0")]
LAMBDA_RESULT = b'{"ok": true, "n": 1}'
"""What the Lambda benchmark's function returns for its event (bench/lambda_.py)."""
_LAMBDA = [
    (b"x-amzn-requestid", b"00000000-0000-0000-0000-000000000000"),
    (b"x-amz-executed-version", b"$LATEST"),
    (b"content-type", b"application/octet-stream"),
    (b"content-length", str(len(LAMBDA_RESULT)).encode()),
]
_ENCODED = {k: json.dumps(v).encode() for k, v in _RESPONSES.items()}


def _listing(bucket: str, count: int) -> bytes:
    """A ListObjectsV2 page of ``count`` empty objects, shaped as cloudlet answers it."""
    entry = (
        "<Contents><Key>k/{:07d}</Key><LastModified>2026-11-22T12:00:00.000Z</LastModified>"
        '<ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag>'
        # Raw PUTs carry no checksum: S3 (and cloudlet) then keeps a CRC64NVME.
        "<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>"
        "<Size>0</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
    )
    more = f"<NextContinuationToken>k/{count - 1:07d}</NextContinuationToken>" if count > 10 else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>"
        + "".join(entry.format(i) for i in range(count))
        + f"<Name>{bucket}</Name><Prefix></Prefix>{more}<MaxKeys>1000</MaxKeys>"
        f"<KeyCount>{count}</KeyCount></ListBucketResult>"
    ).encode()


LISTINGS = {"few": _listing("few", 10), "many": _listing("many", 1000)}
"""ListObjectsV2 pages of the S3 benchmark's two buckets (bench/s3.py): 10 keys, 1,000."""
_HEADERS = [
    (b"content-type", b"application/x-amz-json-1.0"),
    (b"x-amzn-requestid", b"00000000-0000-0000-0000-000000000000"),
]


async def app(scope, receive, send):  # noqa: ANN001 - plain ASGI
    if scope["type"] != "http":
        return
    more, size = True, 0
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    target = b""
    for k, v in scope["headers"]:
        if k == b"x-amz-target":
            target = v
            break
    if not target and scope["path"].endswith("/invocations"):  # Lambda Invoke
        await send({"type": "http.response.start", "status": 200, "headers": _LAMBDA})
        await send({"type": "http.response.body", "body": LAMBDA_RESULT})
        return
    if not target and b"list-type=2" in scope["query_string"]:  # S3 ListObjectsV2
        page = LISTINGS["few" if scope["path"].startswith("/few") else "many"]
        headers = [(b"content-type", b"application/xml"), (b"content-length", b"%d" % len(page))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page})
        return
    if not target and (scope["path"] in UPLOADED or b"upload" in scope["query_string"]):
        await _multipart(scope, send, size)
        return
    if not target:  # S3
        method = scope["method"]
        if method in ("GET", "HEAD"):
            await send({"type": "http.response.start", "status": 200, "headers": _S3_GET})
            await send({"type": "http.response.body", "body": OBJECT if method == "GET" else b""})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": _S3_PUT})
            await send({"type": "http.response.body", "body": b""})
        return
    body = _ENCODED.get(target.decode(), b"{}")
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


UPLOADED: dict[str, int] = {}
"""Bytes received for each multipart-uploaded path: the S3 benchmark's big transfer
(bench/s3.py) uploads, then downloads, a file; the floor sends back that many zeros."""


async def _multipart(scope, send, size: int) -> None:  # noqa: ANN001 - plain ASGI
    """S3 multipart upload and ranged download, canned: what ``upload_file`` and
    ``download_file`` call (Create, UploadPart, Complete; HeadObject, ranged GETs)."""
    method, path, query = scope["method"], scope["path"], scope["query_string"]
    status, headers, body = 200, [(b"etag", b'"0-1"')], b""
    if method == "POST" and query.startswith(b"uploads"):
        UPLOADED[path] = 0
        bucket, _, key = path[1:].partition("/")
        body = (
            f"<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{key}</Key>"
            "<UploadId>floor</UploadId></InitiateMultipartUploadResult>"
        ).encode()
    elif method == "PUT":
        UPLOADED[path] = UPLOADED.get(path, 0) + size
    elif method == "POST":
        body = b"<CompleteMultipartUploadResult><ETag>&quot;0-1&quot;</ETag></CompleteMultipartUploadResult>"
    elif method in ("GET", "HEAD"):
        total = UPLOADED[path]
        first, last = 0, total - 1
        for k, v in scope["headers"]:
            if k == b"range":
                a, _, b = v.decode().removeprefix("bytes=").partition("-")
                first, last, status = int(a), min(int(b or last), last), 206
                headers.append((b"content-range", b"bytes %d-%d/%d" % (first, last, total)))
        headers.append((b"content-length", b"%d" % (last - first + 1)))
        headers.append((b"last-modified", b"Sun, 22 Nov 2026 12:00:00 GMT"))
        if method == "GET":
            body = bytes(last - first + 1)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    headers.append((b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    import uvicorn

    port = int(sys.argv[1])
    print(f"floor ready on http://127.0.0.1:{port}", flush=True)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        access_log=False,
        log_level="warning",
        lifespan="off",
    )


if __name__ == "__main__":
    main()
