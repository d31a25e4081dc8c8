"""Requests through S3 Object Lambda access points: the function answers in S3's place.

Why it is built this way (the user guide's "Writing Lambda functions for S3 Object Lambda
Access Points", "Event context format and usage" and "Working with Range and partNumber
headers"):

- **A rendezvous, not a copy.** GetObject through an Object Lambda access point invokes
  the configured function with AWS's event (``getObjectContext`` with a presigned
  ``inputS3Url`` on the supporting access point, an ``outputRoute`` and an
  ``outputToken``) and waits. The function's ``WriteGetObjectResponse`` (a request of its
  own, matched by route and token) is the answer: its status, error, headers and
  metadata become GetObject's, and its body is relayed to the caller piece by piece as
  it arrives, so a transformed object of any size holds one piece in memory. The
  WriteGetObjectResponse request ends when the caller has had the whole body.
- **HeadObject, ListObjects and ListObjectsV2** are answered by what the function
  returns: ``statusCode``, ``errorCode``/``errorMessage``, ``headers`` for HeadObject,
  ``listBucketResult`` (JSON) or ``listResultXml`` for the lists.
- **What the function does not answer.** An action with no transformation goes to the
  supporting access point as it is. A ``Range`` or ``partNumber`` the access point's
  ``AllowedFeatures`` do not take is 501, as on AWS; one they take is left to the
  function (in ``userRequest``), which S3 Object Lambda never applies itself.
- **Failures in AWS's words** (S3's Object Lambda error codes): no function
  (``LambdaNotFound``), a function that fails before answering
  (``LambdaInvocationFailed``), one that returns without answering
  (``LambdaResponseNotReceived``), an answer that is not one (``LambdaInvalidResponse``).
- **Reaching cloudlet from the function.** The ``inputS3Url`` and WriteGetObjectResponse
  hosts are prefixed names of the endpoint (``<access point>-<account>.127.0.0.1``,
  ``<route>.127.0.0.1``); cloudlet's Python runtime resolves them to the endpoint
  (``awslambda/bootstrap``), and the server reads the Host header.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from cloudlet.core.background import Background
from cloudlet.core.errors import ServiceError
from cloudlet.services.s3 import errors
from cloudlet.services.s3.access_point_requests import HOSTED
from cloudlet.services.s3.object_lambda import ALIAS_SUFFIX, ObjectLambdaAccessPoint
from cloudlet.services.s3.object_lambda_answers import (
    get_object_output,
    invalid_response,
    invocation_failed,
    no_response,
    not_found,
    returned,
)

log = logging.getLogger(__name__)
Result = dict[str, Any]

RESPONSE_SECONDS = 60.0
"""How long GetObject waits for the function's answer (AWS's limit for the function)."""
URL_SECONDS = 3600
_CONTEXTS = {
    "GetObject": "getObjectContext",
    "HeadObject": "headObjectContext",
    "ListObjects": "listObjectsContext",
    "ListObjectsV2": "listObjectsV2Context",
}
_LIST_PARAMS = (
    ("Delimiter", "delimiter"),
    ("EncodingType", "encoding-type"),
    ("Marker", "marker"),
    ("MaxKeys", "max-keys"),
    ("Prefix", "prefix"),
    ("ContinuationToken", "continuation-token"),
    ("FetchOwner", "fetch-owner"),
    ("StartAfter", "start-after"),
)
_PRIVATE_HEADERS = frozenset(("authorization", "x-amz-security-token"))
SIGNING = "s3-object-lambda"
VIA = ":cloudlet-object-lambda"
"""The header (no client can send it) naming the Object Lambda access point a request
came through, for strict mode's checks (as ``access_point_requests.THROUGH``)."""


@dataclass
class _Pending:
    """One GetObject waiting for its WriteGetObjectResponse."""

    route: str
    answer: asyncio.Future[tuple[Result, asyncio.Event]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ObjectLambdaHandlers:
    """S3's side of Object Lambda access points (a mixin of ``S3Service``)."""

    env: Any
    object_lambda: Any
    access_points: Any

    def _init_object_lambda(self) -> None:
        self._olap_pending: dict[str, _Pending] = {}
        self._olap_invocations = Background()

    async def _stop_object_lambda(self) -> None:
        await self._olap_invocations.stop()

    def _through_object_lambda(self, ctx: Any) -> bool:
        """A request through an Object Lambda access point (its ARN's host, signed for
        ``s3-object-lambda``, or its alias as the bucket): True when its function answers
        it (``ctx.handler``); else it is rewritten to the supporting access point, whose
        own resolution (``access_point_requests.py``) follows. False for other requests."""
        request = ctx.request
        request.headers.pop(VIA, None)
        first, slash, rest = request.path.lstrip("/").partition("/")
        label = unquote(first)
        if label.endswith(ALIAS_SUFFIX):
            point = self.object_lambda.by_alias(label)
        elif ctx.signing_service == SIGNING and ctx.operation.name != "WriteGetObjectResponse":
            hosted = HOSTED.fullmatch(label)
            point = hosted and self.object_lambda.get(hosted["account"], ctx.region, hosted["name"])
        else:
            return False
        if not point:
            raise errors.no_such_access_point()
        request.headers[VIA] = point.arn
        if self._object_lambda_route(ctx, point):
            return True
        supporting = self.access_points.by_arn(point.supporting_arn)
        if supporting is None:
            raise errors.no_such_access_point()
        request.path = f"/{supporting.alias}{slash}{rest}"
        return False

    def _object_lambda_route(self, ctx: Any, point: ObjectLambdaAccessPoint) -> bool:
        """Send ``ctx`` to the function when ``point`` transforms its action (True);
        False when the supporting access point answers it as it is."""
        action = ctx.operation.name
        function = point.function_for(action)
        if function is None:
            return False
        if action in ("GetObject", "HeadObject"):
            query = ctx.request.query
            if "range" in ctx.request.headers and not point.allows(f"{action}-Range"):
                raise errors.header_not_implemented("Range")
            if "partNumber=" in query and not point.allows(f"{action}-PartNumber"):
                raise errors.header_not_implemented("partNumber")
        ctx.handler = partial(self._through_function, point, function)
        return True

    # -- the function's answer ------------------------------------------------------------

    async def _through_function(
        self,
        point: ObjectLambdaAccessPoint,
        function: dict[str, Any],
        ctx: Any,
        params: dict[str, Any],
    ) -> Result:
        action = ctx.operation.name
        event = self._event(ctx, point, function, action, params)
        if action != "GetObject":
            return returned(action, await self._invoke(function, event))
        token = secrets.token_urlsafe(48)
        pending = self._olap_pending[token] = _Pending(
            route=event[_CONTEXTS[action]]["outputRoute"]
        )
        event["getObjectContext"]["outputToken"] = token
        invocation = self._olap_invocations.spawn(self._invoke(function, event))
        assert invocation is not None  # a request runs on the loop
        # The function may go on after the answer, or after the caller gave up: how it
        # ends is then no longer news (and not an "exception never retrieved").
        invocation.add_done_callback(lambda task: task.cancelled() or task.exception())
        try:
            done, _ = await asyncio.wait(
                (pending.answer, invocation),
                timeout=RESPONSE_SECONDS,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if pending.answer not in done:
                if invocation in done:
                    invocation.result()  # the function's failure, in S3's words
                raise no_response()
            answer, relayed = pending.answer.result()
            return get_object_output(answer, relayed)
        finally:
            self._olap_pending.pop(token, None)

    async def _invoke(self, function: dict[str, Any], event: Result) -> Any:
        """Invoke the function synchronously; its parsed result (None for none)."""
        arn = str(function.get("FunctionArn") or "")
        fields = arn.split(":")
        if len(fields) < 7:
            raise not_found()
        try:
            out = await self.env.call(
                "lambda",
                "Invoke",
                {"FunctionName": arn, "Payload": json.dumps(event).encode()},
                account=fields[4],
                region=fields[3],
            )
        except ServiceError as err:
            if err.code == "ResourceNotFoundException":
                raise not_found() from None
            raise invocation_failed() from None
        payload = out.get("Payload") or b""
        if out.get("FunctionError"):
            log.warning("Object Lambda function %s failed: %s", arn, payload[:2000])
            raise invocation_failed()
        try:
            return json.loads(payload) if payload else None
        except ValueError:
            raise invalid_response() from None

    def _event(
        self,
        ctx: Any,
        point: ObjectLambdaAccessPoint,
        function: dict[str, Any],
        action: str,
        params: dict[str, Any],
    ) -> Result:
        """AWS's event: the request's context, the access point's configuration, the
        caller's request and identity."""
        request = ctx.request
        context: Result = {"inputS3Url": self._input_url(ctx, point, action, params)}
        if action == "GetObject":
            context["outputRoute"] = f"io-{secrets.token_hex(4)}"
            context["outputToken"] = ""
        host = request.headers.get("host", "")
        url = f"http://{host}{request.signed_path or request.path}"
        if request.query:
            url += "?" + request.query
        headers = {
            "-".join(part.capitalize() for part in name.split("-")): value
            for name, value in request.headers.items()
            if name not in _PRIVATE_HEADERS
        }
        principal = ctx.principal
        identity: Result = {
            "type": _identity_type(principal.kind if principal is not None else ""),
            "principalId": (principal.user_id if principal is not None else "") or ctx.account_id,
            "arn": principal.arn if principal is not None else "",
            "accountId": ctx.account_id,
            "accessKeyId": ctx.access_key or "",
        }
        return {
            "xAmzRequestId": ctx.request_id,
            _CONTEXTS[action]: context,
            "configuration": {
                "accessPointArn": point.arn,
                "supportingAccessPointArn": point.supporting_arn,
                "payload": str(function.get("FunctionPayload") or ""),
            },
            "userRequest": {"url": url, "headers": headers},
            "userIdentity": identity,
            "protocolVersion": "1.00",
        }

    def _input_url(
        self,
        ctx: Any,
        point: ObjectLambdaAccessPoint,
        action: str,
        params: dict[str, Any],
    ) -> str:
        """A URL presigned with the caller's key for the untransformed request on the
        supporting access point (without Range or partNumber, as AWS's)."""
        from botocore.auth import S3SigV4QueryAuth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        supporting = self.access_points.by_arn(point.supporting_arn)
        if supporting is None:
            raise errors.no_such_access_point()
        endpoint = urlsplit(self.env.endpoint or f"http://{ctx.host}")
        base = f"{endpoint.scheme}://{supporting.name}-{supporting.account}.{endpoint.netloc}"
        if action in ("GetObject", "HeadObject"):
            url = f"{base}/{quote(params['Key'], safe='/~')}"
            query = {"versionId": params["VersionId"]} if params.get("VersionId") else {}
        else:
            url = f"{base}/"
            query = {"list-type": "2"} if action == "ListObjectsV2" else {}
            for member, name in _LIST_PARAMS:
                if params.get(member) is not None:
                    value = params[member]
                    query[name] = str(value).lower() if isinstance(value, bool) else str(value)
        if query:
            url += "?" + urlencode(sorted(query.items()), quote_via=quote)
        found = self.env.credentials.key(ctx.access_key) if ctx.access_key else None
        credentials = (
            Credentials(found.access_key, found.secret_key, found.session_token)
            if found is not None
            else Credentials(ctx.access_key or "anonymous", "anonymous")
        )
        request = AWSRequest(method="HEAD" if action == "HeadObject" else "GET", url=url)
        S3SigV4QueryAuth(credentials, "s3", point.region, expires=URL_SECONDS).add_auth(request)
        return request.url

    # -- strict mode ---------------------------------------------------------------------------

    def _object_lambda_checks(
        self,
        ctx: Any,
        operation: str,
        checks: tuple[tuple[str, str, str | None], ...] | None,
    ) -> tuple[tuple[str, str, str | None], ...] | None:
        """Through an Object Lambda access point, ``s3-object-lambda:<operation>`` on it
        under its policy comes first; a request its function answers needs
        ``lambda:InvokeFunction`` on the function instead of the bucket's checks (the
        user guide's "Configuring IAM policies for Object Lambda Access Points"). The
        function's own WriteGetObjectResponse is ``s3-object-lambda:`` too, on no resource
        (the Service Authorization Reference)."""
        if operation == "WriteGetObjectResponse":
            return (("s3-object-lambda:WriteGetObjectResponse", "*", None),)
        arn = ctx.request.headers.get(VIA)
        point = self._object_lambda_point(arn) if arn else None
        if point is None:
            return checks
        first = ((f"s3-object-lambda:{operation}", point.arn, point.policy),)
        function = point.function_for(operation)
        if function is not None and ctx.handler is not None:
            return (*first, ("lambda:InvokeFunction", str(function.get("FunctionArn")), None))
        return first + (checks or ())

    def _object_lambda_keys(self, ctx: Any, context: dict[str, Any]) -> None:
        """``aws:CalledVia`` of what an Object Lambda access point does for its caller."""
        if VIA in ctx.request.headers:
            context["aws:CalledVia"] = ["s3-object-lambda.amazonaws.com"]

    def _object_lambda_point(self, arn: str) -> ObjectLambdaAccessPoint | None:
        fields = arn.split(":", 5)
        return self.object_lambda.get(fields[4], fields[3], fields[5].split("/", 1)[1])

    # -- WriteGetObjectResponse -------------------------------------------------------------

    async def write_get_object_response(self, ctx: Any, params: dict[str, Any]) -> Result:
        pending = self._olap_pending.get(params.get("RequestToken") or "")
        if pending is None or pending.route != params.get("RequestRoute"):
            raise errors.s3_error(
                "ValidationError",
                "The RequestRoute and RequestToken do not name a GetObject request that "
                "is waiting for its response.",
                400,
            )
        if pending.answer.done():
            raise errors.invalid_request(
                "WriteGetObjectResponse was already called for this request."
            )
        relayed = asyncio.Event()
        pending.answer.set_result((params, relayed))
        try:
            await asyncio.wait_for(relayed.wait(), RESPONSE_SECONDS)
        except TimeoutError:
            raise errors.s3_error(
                "RequestTimeout", "The GetObject caller did not read the response in time.", 400
            ) from None
        return {}


def _identity_type(kind: str) -> str:
    return {"root": "Root", "user": "IAMUser", "assumed-role": "AssumedRole"}.get(kind, "Unknown")
