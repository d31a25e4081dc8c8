"""The gateway: one ASGI app, one port, every service.

Read top to bottom, ``Gateway.handle`` is the whole request path:

    edge ▸ internal routes ▸ credential scope ▸ service detection ▸ protocol
    ▸ operation ▸ body (buffered or streamed) ▸ auth ▸ parse ▸ handler ▸ serialize

Any ``ServiceError`` raised on the way becomes the error document of the
protocol the request arrived in. Anything else is a bug: it is logged with its
traceback and answered as a 500 in the same protocol (``InternalFailure``, or the
service's own code: S3's ``InternalError``), so no client ever sees a bare traceback.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from botocore import xform_name
from botocore.model import OperationModel, ServiceModel

from cloudlet import __version__
from cloudlet.auth import Authenticator, AuthError, CredentialStore, credential_scope
from cloudlet.config import ServerConfig
from cloudlet.core.errors import (
    InternalFailure,
    NotImplementedOperation,
    ServiceError,
    UnknownOperation,
)
from cloudlet.core.ids import request_id
from cloudlet.core.models import load_model, load_raw_model
from cloudlet.gateway.asgi import (
    CONTINUE_SENT,
    Receive,
    Send,
    body_stream,
    build_request,
    inflate_request,
    read_body,
    send_response,
)
from cloudlet.gateway.catalog import Catalog, ServiceInfo
from cloudlet.gateway.context import RequestContext
from cloudlet.gateway.detect import (
    DEFAULT_SERVICE,
    Detector,
    bucket_from_host,
    choose_protocol,
    rewrite_virtual_host,
    website_bucket,
)
from cloudlet.protocols import get_codec
from cloudlet.protocols.base import Codec, HttpRequest, HttpResponse
from cloudlet.protocols.compat import query_compat_model
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.registry import create_services
from cloudlet.services.s3 import post as s3_post

log = logging.getLogger(__name__)

Route = tuple[str, str, ServiceModel, Codec, OperationModel]

HEALTH_PATH = "/_cloudlet/health"
SERVED_BODY_LIMIT = 16 * 1024 * 1024
_S3_SIGNED = frozenset(("s3", "s3control"))
"""Services whose requests are signed and refused as S3's (S3 Control signs as ``s3``)."""


def _inflated(req: HttpRequest, limit: int) -> HttpRequest:
    """``req`` with its gzip body inflated, to read a form's ``Action`` before the
    signature (made over the body as sent) is checked; ``req`` itself when its body
    is not gzip (botocore gzips a query-protocol PutMetricData past 10 KiB)."""
    body = inflate_request(req, limit)
    return req if body is req.body else replace(req, body=body)


class Gateway:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.credentials = CredentialStore(config.root_access_key, config.root_secret_key)
        self.env = ServiceEnv(data_dir=config.state_dir, credentials=self.credentials)
        if config.smtp_host:
            self.env.smtp = (config.smtp_host, config.smtp_port)
        self.services: dict[str, Service] = create_services(self.env)
        self.env.services.update(self.services)
        self.catalog = Catalog()
        self.catalog.add_implemented(list(self.services))
        self.detector = Detector(self.catalog, set(self.services))
        self.auth = Authenticator(config.auth, self.credentials)
        self._handlers: dict[tuple[str, str], tuple[Any, bool]] = {}
        self._models: dict[tuple[str, str], ServiceModel] = {}
        self._routes: dict[tuple[str, str | None], Route] = {}
        self._rest_routes: dict[tuple[str, str, str, str], Route] = {}
        # Services with routes of their own (Service.claims): function URLs, internal pages.
        self._claimers = [s for s in self.services.values() if type(s).claims is not Service.claims]
        # Services that watch their requests go out (Service.observe): S3's request metrics.
        self._observers = {
            name: s.observe
            for name, s in self.services.items()
            if type(s).observe is not Service.observe
        }

    # -- lifespan ---------------------------------------------------------------

    async def startup(self) -> None:
        self.catalog.load_in_background()
        for service in self.services.values():
            await service.start()

    async def shutdown(self) -> None:
        for task in self.env.tasks:
            task.cancel()
        await asyncio.gather(*self.env.tasks, return_exceptions=True)
        for service in self.services.values():
            try:
                await service.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                log.exception("stopping %s failed", service.name)

    def health(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "auth": self.config.auth,
            "persistence": "ephemeral" if self.config.ephemeral else str(self.config.data_dir),
            "services": {name: svc.health() for name, svc in sorted(self.services.items())},
            "other_services": "recognised; answer 501 NotImplemented",
        }

    # -- ASGI -----------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # noqa: BLE001
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        req = build_request(scope)
        for service in self._claimers:
            if service.claims(req):
                resp = await self._serve(service, req, receive)
                await send_response(send, resp, head_only=req.method == "HEAD", receive=receive)
                return
        if req.path.startswith("/_cloudlet/"):
            await send_response(send, self._internal(req.path))
            return
        ctx = RequestContext(request=req, request_id=request_id())
        site = website_bucket(req.headers.get("host", ""))
        if site is not None and "s3" in self.services:
            # An S3 website endpoint: anonymous pages, not the API.
            ctx.service_name = "s3"
            resp = self.services["s3"].serve_page(ctx, site)
        elif req.method == "OPTIONS":
            resp = self._options(ctx)
        elif "expect" in req.headers and CONTINUE_SENT not in scope:
            resp = await self._handle_expecting_continue(ctx, receive)
        else:
            resp = await self.handle(ctx, receive)
        if "origin" in req.headers and ctx.service_name in self.services:
            # Browsers' requests: the service adds its CORS headers (S3's bucket rules;
            # any origin for the JSON and query APIs, Service.finish_response).
            self.services[ctx.service_name].finish_response(ctx, resp)
        observe = self._observers.get(ctx.service_name or "")
        if observe is None:
            await send_response(send, resp, head_only=req.method == "HEAD", receive=receive)
            return
        answered = time.perf_counter()
        try:
            await send_response(send, resp, head_only=req.method == "HEAD", receive=receive)
        finally:
            observe(ctx, resp, started, answered)

    async def _serve(self, service: Service, req: HttpRequest, receive: Receive) -> HttpResponse:
        """A service's own route (``Service.serve``); errors answer as JSON."""
        try:
            body = await read_body(receive, SERVED_BODY_LIMIT)
            return await service.serve(req, body)
        except ServiceError as exc:
            err = exc
        except Exception:  # noqa: BLE001 - never a bare traceback
            log.exception("%s route failed", service.name)
            err = InternalFailure(message="internal error")
        doc = {"code": err.code, "message": err.message}
        headers = [("Content-Type", "application/json")]
        return HttpResponse(err.status, headers, json.dumps(doc).encode())

    async def _handle_expecting_continue(
        self, ctx: RequestContext, receive: Receive
    ) -> HttpResponse:
        """``Expect: 100-continue``: answered before the body was asked for (an early
        error), the client never sends the body, and the connection cannot be
        reused (the server would read the next request as this one's body). Close it,
        as HTTP says a server that does not read the body must."""
        asked = False

        async def tracked() -> dict[str, Any]:
            nonlocal asked
            asked = True
            return await receive()

        resp = await self.handle(ctx, tracked)
        if not asked and "100-continue" in ctx.request.headers["expect"].lower():
            resp.headers.append(("Connection", "close"))
        return resp

    def _options(self, ctx: RequestContext) -> HttpResponse:
        """``OPTIONS`` is no botocore operation: a CORS preflight, answered by the
        service the request is addressed to (``Service.options``), else 501."""
        req = ctx.request
        try:
            name = self.detector.without_body(req, None) or DEFAULT_SERVICE
            ctx.service_name = name
            if name == "s3":
                rewrite_virtual_host(req)
            info = self.catalog.services.get(name)
            if info is not None:
                ctx.protocol = choose_protocol(req, info)
                ctx.service_model = self._model(name, ctx.protocol)
            service = self.services.get(name)
            resp = service.options(ctx) if service is not None else None
            if resp is None:
                raise NotImplementedOperation(name, "OPTIONS")
            return resp
        except ServiceError as err:
            return self._error(ctx, err)

    def _internal(self, path: str) -> HttpResponse:
        if path == HEALTH_PATH:
            body = json.dumps(self.health()).encode()
            return HttpResponse(200, [("content-type", "application/json")], body)
        return HttpResponse(404, [("content-type", "application/json")], b'{"error":"not found"}')

    # -- the request path -------------------------------------------------------

    async def handle(self, ctx: RequestContext, receive: Receive) -> HttpResponse:
        req = ctx.request
        try:
            scope = credential_scope(req)
            if scope is not None:
                ctx.access_key = scope.access_key
                if scope.region:
                    ctx.region = ctx.signed_region = scope.region
                ctx.presigned = scope.presigned
                ctx.signing_service = scope.service

            if (
                scope is None
                and req.method == "POST"
                and s3_post.is_post_form(req.headers.get("content-type", ""))
            ):
                form = await self._post_form(ctx, receive)
                if form is not None:
                    return form
            route = self._cached_route(req, ctx.signing_service)
            cached = route is not None
            if route is None:
                route = await self._route(ctx, receive)
            name, ctx.protocol, model, codec, operation = route
            ctx.service_name, ctx.service_model, ctx.operation = name, model, operation
            if cached:
                await self._take_body(
                    req, receive, operation if ctx.protocol == "rest-json" else None
                )

            service = self.services.get(name)
            try:
                ctx.principal = self.auth.authenticate(req, scope, s3=name in _S3_SIGNED)
            except AuthError as err:  # in the words of the service's front end (DynamoDB's)
                raise (err if service is None else service.auth_error(err)) from None
            ctx.account_id = ctx.principal.account_id
            if operation.request_compression and "content-encoding" in req.headers:
                req.body = inflate_request(req, self.config.max_body_bytes)
            if service is not None:
                service.prepare_request(ctx)
                # A route two operations share is told apart by the service (S3's GET /
                # signed for ``s3express`` is ListDirectoryBuckets, not ListBuckets).
                operation = ctx.operation
            ctx.params = codec.parse(req, operation)
            if self.auth.strict:  # IAM policy evaluation; open mode skips it entirely
                self.auth.authorize(ctx, service)
                if service is not None:
                    ctx.allows = partial(self.auth.authorizer.allows, ctx, service)
            try:
                result = await self._dispatch(ctx, name, operation)
            except ServiceError as err:
                if not self.auth.strict or service is None:
                    raise
                raise service.strict_error(ctx, err, self.auth.authorizer) from err
            return codec.serialize(operation, result or {}, ctx.request_id)
        except ServiceError as err:
            return self._error(ctx, err)
        except RecursionError:
            # Input nested past what the parsers recurse into (parentheses of an
            # expression, a JSON or XML document): the request's fault, not ours.
            log.warning("request nested too deeply: %s %s", req.method, req.path)
            return self._error(ctx, _too_deep(ctx.protocol))
        except Exception:  # noqa: BLE001 - the one boundary where bugs become 500s
            log.exception("internal error handling %s %s", req.method, req.path)
            service = self.services.get(ctx.service_name or "")
            code, message = (service or Service).internal_error
            return self._error(ctx, ServiceError(code, message, 500))

    async def _sibling_route(self, ctx: RequestContext, name: str) -> Route | None:
        """A path no route of ``name`` matches, when ``name`` is not implemented: the
        first other unimplemented service of its signing name whose routes match (the
        signing name ``apigateway`` is API Gateway v1 and v2, ``appconfig`` the service
        and its data plane ...), so the request answers that operation's 501, not a
        404 naming no operation. None when none matches."""
        if name in self.services or not ctx.signing_service:
            return None
        catalog = self.detector.catalog
        names = catalog.by_signing.get(ctx.signing_service) or []
        req = ctx.request
        for other in names:
            if other == name or other in self.services:
                continue
            info = await self._info(other)
            protocol = choose_protocol(req, info)
            if protocol not in ("rest-json", "rest-xml"):
                continue
            model = self._model(other, protocol)
            codec = get_codec(protocol)
            try:
                operation = codec.find_operation(req, model)
            except UnknownOperation:
                continue
            ctx.service_name, ctx.protocol, ctx.service_model = other, protocol, model
            return other, protocol, model, codec, operation
        return None

    async def _route(self, ctx: RequestContext, receive: Receive) -> Route:
        """Service, protocol, model, codec and operation; the body is taken on the way."""
        req = ctx.request
        name = self.detector.without_body(req, ctx.signing_service)
        if name is None:
            req.body = await read_body(receive, self.config.max_body_bytes)
            receive = _drained
            form = dict(req.query_params)
            body = _inflated(req, self.config.max_body_bytes).body
            if body:
                form.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
            name = self.detector.from_form(req, form)
        ctx.service_name = name
        if name == "s3":
            rewrite_virtual_host(req)
        info = await self._info(name)
        ctx.protocol = protocol = choose_protocol(req, info)
        ctx.service_model = model = self._model(name, protocol)
        codec = get_codec(protocol)
        if protocol in ("rest-json", "rest-xml"):
            try:
                operation = codec.find_operation(req, model)
            except UnknownOperation:
                sibling = await self._sibling_route(ctx, name)
                if sibling is None:
                    raise
                name, protocol, model, codec, operation = sibling
            await self._take_body(req, receive, operation)
        else:
            await self._take_body(req, receive, None)
            operation = codec.find_operation(_inflated(req, self.config.max_body_bytes), model)
        route = (name, protocol, model, codec, operation)
        if protocol == "json" and len(self._routes) < 4096:
            self._routes[(req.headers["x-amz-target"], ctx.signing_service)] = route
        elif (
            protocol == "rest-json"
            and info.protocols == ("rest-json",)
            and not info.accepts_query
            and ctx.signing_service is not None
            and "x-amz-target" not in req.headers
            and len(self._rest_routes) < 4096
        ):
            # A signed request of a rest-json-only service routes by method, path and
            # query alone (Lambda's Invoke: the same URL on every call).
            self._rest_routes[(req.method, req.path, req.query, ctx.signing_service)] = route
        return route

    async def _post_form(self, ctx: RequestContext, receive: Receive) -> HttpResponse | None:
        """An S3 POST policy upload (an HTML form to a bucket URL): ``s3/post.py``.

        The form carries its own signature (over the policy, in the body), so it
        is handled before header/query authentication. None: not such a form.
        """
        req = ctx.request
        if self.detector.without_body(req, None) != "s3" or "s3" not in self.services:
            return None
        host_bucket = bucket_from_host(req.headers.get("host", ""))
        path = req.path if host_bucket is None else f"/{host_bucket}{req.path}"
        bucket, _, rest = path.lstrip("/").partition("/")
        if not bucket or rest or req.query:
            return None
        rewrite_virtual_host(req)
        ctx.service_name = "s3"
        ctx.protocol = "rest-xml"
        ctx.service_model = self._model("s3", "rest-xml")
        ctx.operation = ctx.service_model.operation_model("PutObject")
        service = self.services["s3"]
        return await s3_post.post_object(
            service,  # type: ignore[arg-type]
            ctx,
            body_stream(receive),
            bucket_name=bucket,
            strict=self.auth.strict,
            credentials=self.credentials,
            authorize=partial(self.auth.authorize, service=service),
        )

    def _cached_route(self, req: HttpRequest, signing: str | None) -> Route | None:
        """JSON requests are routed by target and signing name alone, rest-json ones
        (``_route`` says which) by method, path, query and signing name: remember them."""
        target = req.headers.get("x-amz-target")
        if target is None:
            if signing is None or not self._rest_routes:
                return None
            return self._rest_routes.get((req.method, req.path, req.query, signing))
        if req.method != "POST" or "smithy-protocol" in req.headers:
            return None
        return self._routes.get((target, signing))

    async def _info(self, name: str) -> ServiceInfo:
        info = self.catalog.services.get(name)
        if info is None:
            # The catalog of every botocore service is still being built (first
            # start on this machine): wait for it without blocking the loop.
            await asyncio.to_thread(self.catalog.wait_complete, 30)
            info = self.catalog.services[name]
        return info

    def _model(self, name: str, protocol: str) -> ServiceModel:
        model = self._models.get((name, protocol))
        if model is None:
            model = load_model(name)
            if protocol in ("query", "ec2") and protocol not in model.metadata.get(
                "protocols", [model.protocol]
            ):
                # An awsQueryCompatible service spoken to in its old protocol.
                names = getattr(self.services.get(name), "query_names", {})
                model = query_compat_model(load_raw_model(name), name, names)
            self._models[(name, protocol)] = model
        return model

    async def _take_body(
        self, req: HttpRequest, receive: Receive, operation: OperationModel | None
    ) -> None:
        if receive is _drained:
            return
        if operation is not None and operation.has_streaming_input:
            req.stream = body_stream(receive)
        else:
            req.body = await read_body(receive, self.config.max_body_bytes)

    async def _dispatch(self, ctx: RequestContext, name: str, operation: OperationModel) -> Any:
        if ctx.handler is not None:
            return await ctx.handler(ctx, ctx.params)
        key = (name, operation.name)
        handler = self._handlers.get(key)
        if handler is None:
            service = self.services.get(name)
            fn = getattr(service, xform_name(operation.name), None) if service else None
            if fn is None:
                raise NotImplementedOperation(name, operation.name)
            handler = self._handlers[key] = (fn, inspect.iscoroutinefunction(fn))
        fn, is_async = handler
        if is_async:
            return await fn(ctx, ctx.params)
        return fn(ctx, ctx.params)

    def _error(self, ctx: RequestContext, err: ServiceError) -> HttpResponse:
        """``err`` in the protocol the request arrived in (JSON if it never got that far)."""
        if ctx.protocol is not None and ctx.service_model is not None:
            try:
                return get_codec(ctx.protocol).serialize_error(
                    ctx.service_model, ctx.operation, err, ctx.request_id
                )
            except Exception:  # noqa: BLE001
                log.exception("serializing %r failed", err)
        body = json.dumps({"__type": err.code, "message": err.message}).encode()
        return HttpResponse(
            err.status,
            [("content-type", "application/json"), ("x-amzn-requestid", ctx.request_id)],
            body,
        )


def _too_deep(protocol: str | None) -> ServiceError:
    """The 400 for a request nested too deeply, in its protocol's usual code."""
    message = "The request is nested too deeply to be processed."
    if protocol == "rest-xml":
        return ServiceError("InvalidRequest", message, 400)
    if protocol in ("query", "ec2"):
        return ServiceError("ValidationError", message, 400)
    return ServiceError("ValidationException", message, 400)


async def _drained() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}
