"""What a service is to the framework, and what the framework gives a service.

A service is a class named in ``cloudlet.services.registry`` whose methods are
the snake_case names of its botocore operations (``send_message`` for
``SendMessage``). Each method takes ``(ctx, params)`` and returns the result
dict for the operation's output shape, or raises ``ServiceError``. A method may
be ``async`` (long polls); synchronous ones run on the event loop and must be
quick.

``ServiceEnv`` is what a service gets at start-up: where its state lives, the
shared background scheduler, and ``call``: the internal client through which
one service invokes another's operation in-process (S3 notification ▸ SQS).
A service owns its state; no other service reaches into it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from cloudlet.auth.errors import AuthError
from cloudlet.protocols.base import HttpResponse
from cloudlet.state.db import open_database

log = logging.getLogger(__name__)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def handler_name(operation: str) -> str:
    """``SendMessageBatch`` -> ``send_message_batch`` (botocore's xform_name rules)."""
    from botocore import xform_name

    return xform_name(operation)


CORS_EXPOSED = (
    "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,x-amz-request-id,x-amz-id-2,"
    "x-amz-crc32,Date"
)
"""Response headers a browser script may read: the request id and error type its SDK
looks at, and DynamoDB's CRC32, which the browser SDK checks when it can read it."""
CORS_MAX_AGE = "172800"


def cors_headers() -> list[tuple[str, str]]:
    """What an API answering any origin adds to an ordinary response (ScyllaDB
    Alternator's test_cors.py, modelled on DynamoDB: ``*`` and the exposed headers)."""
    return [("Access-Control-Allow-Origin", "*"), ("Access-Control-Expose-Headers", CORS_EXPOSED)]


def cors_preflight(req: Any) -> HttpResponse:
    """A 200 preflight answer letting any origin send the method and headers it asks
    for, cached for two days."""
    headers = [*cors_headers(), ("Access-Control-Max-Age", CORS_MAX_AGE)]
    method = req.headers.get("access-control-request-method")
    if method:
        headers.append(("Access-Control-Allow-Methods", method))
    asked = req.headers.get("access-control-request-headers")
    if asked:
        headers.append(("Access-Control-Allow-Headers", asked))
    return HttpResponse(200, headers, b"")


@dataclass
class ServiceEnv:
    data_dir: Path | None
    """Root data dir, or None when ephemeral."""
    tasks: list[asyncio.Task] = field(default_factory=list)
    services: dict[str, Service] = field(default_factory=dict)
    """Every running service by name (filled in by the gateway)."""
    credentials: Any = None
    """The server's ``CredentialStore`` (IAM and STS register access keys in it)."""
    endpoint: str = ""
    """The server's own URL (``http://host:port``), set once the socket is bound; what
    processes cloudlet runs (EC2 instances) use to call back."""
    smtp: tuple[str, int] | None = None
    """The SMTP server (host, port) SNS sends email through; None keeps mail locally."""

    def database(self, name: str) -> sqlite3.Connection:
        return open_database(self.data_dir, name)

    def every(self, seconds: float, fn: Callable[[], Awaitable[None] | None], name: str) -> None:
        """Run ``fn`` every ``seconds`` until the server stops (errors are logged)."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    result = fn()
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:  # noqa: BLE001 - a background loop must not die
                    log.exception("background task %s failed", name)

        self.tasks.append(asyncio.get_running_loop().create_task(loop(), name=name))

    async def call(
        self, service: str, operation: str, params: dict[str, Any], *, account: str, region: str
    ) -> dict[str, Any]:
        """Invoke another service's operation in-process, as ``account`` in ``region``.

        The handler sees an ``InternalContext`` (no HTTP request) and raises its
        ``ServiceError`` as it would for a client; an operation the target does
        not implement raises ``NotImplementedOperation``.
        """
        from cloudlet.core.errors import NotImplementedOperation

        target = self.services.get(service)
        fn = getattr(target, handler_name(operation), None) if target is not None else None
        if fn is None:
            raise NotImplementedOperation(service, operation)
        ctx = InternalContext(account_id=account, region=region, service_name=service)
        result = fn(ctx, params)
        if asyncio.iscoroutine(result):
            result = await result
        return result or {}

    async def put_metric_data(
        self, namespace: str, data: list[dict[str, Any]], *, account: str, region: str
    ) -> None:
        """Publish ``data`` (PutMetricData's ``MetricData``) to CloudWatch as ``account``
        in ``region``, 1,000 data per call: how a service reports its ``AWS/...``
        metrics. Without CloudWatch, or when it refuses a batch, the figures are
        dropped (logged at debug level): metrics never fail the work they measure."""
        from cloudlet.core.errors import NotImplementedOperation, ServiceError

        if "cloudwatch" not in self.services:
            return
        for start in range(0, len(data), 1000):
            try:
                await self.call(
                    "cloudwatch",
                    "PutMetricData",
                    {"Namespace": namespace, "MetricData": data[start : start + 1000]},
                    account=account,
                    region=region,
                )
            except (NotImplementedOperation, ServiceError):
                log.debug("publishing %s metrics failed", namespace, exc_info=True)

    async def put_records(
        self, stream_arn: str, entries: list[dict[str, Any]], *, account: str, region: str
    ) -> list[str | None]:
        """Kinesis PutRecords of ``entries`` (``PartitionKey``, ``Data``; 500 at most) into
        ``stream_arn`` as ``account`` in ``region``: each entry's error code, None for the
        ones the stream took. A refused call (no such stream, no Kinesis) refuses them all
        with its code, so callers that deliver to streams retry one way."""
        from cloudlet.core.errors import NotImplementedOperation, ServiceError

        try:
            out = await self.call(
                "kinesis",
                "PutRecords",
                {"StreamARN": stream_arn, "Records": entries},
                account=account,
                region=region,
            )
        except (ServiceError, NotImplementedOperation) as err:
            log.debug("PutRecords to %s: %s", stream_arn, getattr(err, "message", err))
            code = getattr(err, "code", "Unavailable")
            return [code] * len(entries)
        results = out.get("Records") or [{}] * len(entries)
        return [result.get("ErrorCode") for result in results]

    def service_may(
        self,
        service: str,
        operation: str,
        params: dict[str, Any],
        *,
        account: str,
        region: str,
        principal: str,
        source_arn: str,
        source_account: str | None = None,
    ) -> bool:
        """Strict mode: whether the resource policy of what ``operation`` of ``service``
        acts on lets the AWS service ``principal`` (``s3.amazonaws.com``) call it on
        behalf of ``source_arn`` (a bucket, a topic). AWS delivers S3 notifications and
        SNS messages only where the queue's, topic's or function's policy grants that;
        open mode, which evaluates no policies, allows everything."""
        credentials = self.credentials
        target = self.services.get(service)
        if credentials is None or not getattr(credentials, "strict", False) or target is None:
            return True
        from cloudlet.auth.actions import action_for
        from cloudlet.auth.authorizer import service_principal_allowed

        ctx = InternalContext(account_id=account, region=region, service_name=service)
        resource, text = target.policy_resource(ctx, operation, params)
        if source_account is None:  # the ARN's account (an S3 ARN names none)
            source_account = source_arn.split(":")[4] if source_arn.count(":") >= 5 else ""
        context = {"aws:SourceArn": source_arn, "aws:SourceAccount": source_account or account}
        return service_principal_allowed(
            text, principal, action_for(service, operation), resource, context
        )

    def role_may(
        self, role_arn: str | None, actions: tuple[str, ...], resource: str, *, session: str
    ) -> bool:
        """Strict mode: whether the identity policies of the IAM role ``role_arn`` allow
        any of ``actions`` on ``resource``. What an AWS service that writes *as a role*
        (a Logs subscription to a stream, an EventBridge target, an SNS Firehose
        subscription) may do; ``session`` names the role session it acts in. Open mode
        evaluates nothing, and a role IAM does not know is not governed (cloudlet's rule
        for principals IAM does not know); a ``role_arn`` that is no role ARN may do
        nothing. The role's trust policy is not consulted."""
        credentials = self.credentials
        if credentials is None or not getattr(credentials, "strict", False):
            return True
        parts = (role_arn or "").split(":", 5)
        if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
            return False
        from cloudlet.auth.credentials import Principal
        from cloudlet.core.errors import ServiceError

        account, name = parts[4], parts[5].rsplit("/", 1)[-1]
        arn = f"arn:aws:sts::{account}:assumed-role/{name}/{session}"
        principal = Principal(None, account, arn, "assumed-role")
        for action in actions:
            try:
                credentials.authorize(principal, action, resource)
            except ServiceError:
                continue
            return True
        return False


@dataclass(slots=True)
class InternalContext:
    """The request context of a service-to-service call (``ServiceEnv.call``)."""

    account_id: str
    region: str
    service_name: str
    request: Any = None
    protocol: str | None = None
    request_id: str = "internal"
    host: str = "localhost:4566"


class Service:
    """Base for service implementations."""

    name: str = ""
    internal_error: tuple[str, str] = (
        "InternalFailure",
        "The request processing has failed because of an unknown error, exception or failure.",
    )
    """Code and message of the 500 the gateway answers when a handler fails unexpectedly:
    AWS's common ``InternalFailure``, unless the service models its own (then the
    override names that error, with its documented description as the message)."""

    auth_errors: ClassVar[Mapping[str, tuple[str, int, str | None]]] = {}
    """The service's own words for authentication failures, by ``AuthError.reason``:
    (code, status, message, None keeping the auth layer's). Empty: the auth layer's
    codes, which are the query services' (``InvalidClientTokenId`` ...)."""

    def __init__(self, env: ServiceEnv) -> None:
        self.env = env

    def auth_error(self, err: AuthError) -> AuthError:
        """The error to answer for the authentication failure ``err``: restated in
        ``auth_errors`` when they name its reason, else ``err`` itself."""
        restated = self.auth_errors.get(err.reason)
        if restated is None:
            return err
        code, status, message = restated
        return AuthError(code, message or err.message, status, reason=err.reason)

    async def start(self) -> None:
        """Called once on the event loop before the first request."""

    async def stop(self) -> None:
        """Called once at shutdown: stop work, close state, reap children."""

    def prepare_request(self, ctx: Any) -> None:
        """Adjust a request before its params are parsed (rarely needed).

        SQS uses it to take the queue URL from the request path, as old query
        clients send it; S3 to tell apart two operations of one route by replacing
        ``ctx.operation``.
        """

    def observe(self, ctx: Any, response: Any, started: float, answered: float) -> None:
        """Told of each API request addressed to the service once its response has gone
        out (or the client left): ``started`` when it arrived, ``answered`` when its
        response was ready (``time.perf_counter`` seconds). S3 counts its request metrics
        here. Only services that override it are told, and it must be quick."""

    def finish_response(self, ctx: Any, response: Any) -> None:
        """Adjust a response to a request carrying ``Origin``: a browser's. AWS's JSON and
        query APIs (DynamoDB, SQS, SNS ...) answer any origin, so the browser SDKs work
        (``cors_headers``); S3 overrides this with its buckets' CORS rules."""
        response.headers.extend(cors_headers())

    def serve_page(self, ctx: Any, site: str) -> Any:
        """Answer a request to one of the service's non-API addresses (S3: the website
        endpoint of bucket ``site``), as an ``HttpResponse``."""
        from cloudlet.core.errors import NotImplementedOperation

        raise NotImplementedOperation(self.name, "website endpoint")

    def claims(self, req: Any) -> bool:
        """Whether this non-API request is the service's own (a Lambda function URL's
        host, an internal page under ``/_cloudlet/<service>/``). Called for every
        request when overridden, so keep it to prefix and host checks."""
        return False

    async def serve(self, req: Any, body: bytes) -> Any:
        """Answer a request ``claims`` accepted, as an ``HttpResponse`` (unsigned:
        what it may do is the service's to decide). ``body`` is read whole."""
        from cloudlet.core.errors import NotImplementedOperation

        raise NotImplementedOperation(self.name, "internal route")

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """The ARN of the resource this request acts on ("*" when none) and that
        resource's policy document as JSON text (None when it has none). Strict
        mode's policy evaluation combines it with the caller's identity policies."""
        return "*", None

    def condition_keys(self, ctx: Any, context: dict[str, Any]) -> None:
        """Add the service's own condition keys for this request to ``context`` (S3's
        ``s3:x-amz-acl``, ``s3:prefix`` ...), for strict mode's policy evaluation. A key
        that costs a lookup may be answered lazily (``policy.LAZY_KEYS``)."""

    def dependent_actions(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[tuple[str, str], ...]:
        """The other (action, resource ARN) pairs this request needs allowed, as AWS's
        "dependent actions" (CreateTable with a ResourcePolicy also needs
        ``dynamodb:PutResourcePolicy``); checked against identity policies in strict mode."""
        return ()

    def authorization_checks(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[tuple[str, str, str | None], ...] | None:
        """The (action, resource ARN, that resource's policy text or None) checks this
        request needs in strict mode, where they are not one action on one resource:
        S3's CopyObject is PutObject on the target and GetObject on the source, each
        under its own bucket's policy; DynamoDB's batches are checked once per table and
        its transactions once per item's action. An empty tuple checks nothing up front
        (S3's DeleteObjects checks each key and reports refusals per key). None, the
        default: the operation's action on ``policy_resource``, plus
        ``dependent_actions``."""
        return None

    def strict_error(self, ctx: Any, err: Any, auth: Any) -> Any:
        """Strict mode: the error to answer instead of ``err``, which the operation
        raised (S3 answers 403 for a missing key to a caller who may not list the
        bucket). ``auth.allows(ctx, self, action, resource)`` (``auth/authorizer.py``)
        says what the caller may do."""
        return err

    def acl_allows(self, ctx: Any, action: str, resource: str) -> bool:
        """Strict mode, a signed caller no policy allows (and none explicitly denies):
        whether the resource's access control list grants ``action`` on ``resource``
        (S3's grants to the AllUsers and AuthenticatedUsers groups). Only S3 has ACLs."""
        return False

    def public_access(self, ctx: Any, action: str, *, granted: bool) -> bool:
        """Strict mode, an unsigned request: whether to allow ``action``. ``granted`` says
        whether the resource policy allows it to everyone (an explicit Deny never gets
        here). Only S3 lets anonymous callers in; everyone else refuses them."""
        return False

    def options(self, ctx: Any) -> Any:
        """Answer an ``OPTIONS`` request (a CORS preflight): any origin may send what it
        asks to (``cors_preflight``); without ``Origin`` it is no preflight: None, 501."""
        return cors_preflight(ctx.request) if "origin" in ctx.request.headers else None

    def health(self) -> dict[str, Any]:
        return {"state": "running"}
