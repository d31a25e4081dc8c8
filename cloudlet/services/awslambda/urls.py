"""Function URLs: a real HTTP endpoint per function (or alias), host-routed.

``http://<url-id>.lambda-url.<region>.localhost:<port>/`` reaches this
server's one port; the gateway hands requests for such hosts to
``LambdaService.serve`` (the ``Service.claims`` seam), which turns them into
AWS's function-URL event (payload format 2.0), invokes the function and maps
its result back to HTTP as Lambda does (``statusCode``/``headers``/``body``/
``cookies``/``isBase64Encoded``; any other value is a 200 JSON body). A URL in
``RESPONSE_STREAM`` mode streams the response as the function writes it
(``streaming.py``).
``AWS_IAM`` URLs are served to anyone in open mode (which accepts any
credentials) and refused with 403 in strict mode, where their SigV4
signatures are not verified yet. The same route serves ``GetFunction``'s code download links.
"""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import fast_uuid, token_hex
from cloudlet.protocols.base import HttpRequest, HttpResponse
from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.functions import function_arn, page, timestamp
from cloudlet.services.base import InternalContext

Result = dict[str, Any]
CODE_PREFIX = "/_cloudlet/lambda/code/"
_HOST = re.compile(r"^([a-z0-9]{32})\.lambda-url\.([a-z0-9-]+)\.")
_CODE = re.compile(r"^/_cloudlet/lambda/code/([0-9a-f]{64})\.zip$")


class UrlsMixin:
    def _index_urls(self) -> None:
        self.url_index: dict[str, tuple[str, str, str, str | None]] = {}
        for doc in self.store.functions.values():
            for qualifier, cfg in doc["urls"].items():
                self.url_index[cfg["id"]] = (
                    doc["account"],
                    doc["region"],
                    doc["name"],
                    qualifier or None,
                )

    def _forget_urls(self, doc: dict[str, Any]) -> None:
        self._index_urls()

    def _url(self, url_id: str, region: str) -> str:
        port = self.env.endpoint.rsplit(":", 1)[-1] if self.env.endpoint else "4566"
        return f"http://{url_id}.lambda-url.{region}.localhost:{port}/"

    def _url_out(
        self, ctx: Any, doc: dict[str, Any], qualifier: str, cfg: dict[str, Any]
    ) -> Result:
        out = {
            "FunctionUrl": self._url(cfg["id"], doc["region"]),
            "FunctionArn": function_arn(ctx, doc["name"], qualifier or None),
            "AuthType": cfg["AuthType"],
            "CreationTime": cfg["CreationTime"],
            "LastModifiedTime": cfg["LastModifiedTime"],
            "InvokeMode": cfg.get("InvokeMode", "BUFFERED"),
        }
        if cfg.get("Cors"):
            out["Cors"] = cfg["Cors"]
        return out

    def _url_qualifier(self, ctx: Any, doc: dict[str, Any], params: dict[str, Any]) -> str:
        qualifier = self._qualifier(params) or ""
        if qualifier and qualifier != "$LATEST" and qualifier not in doc["aliases"]:
            if qualifier in doc["versions"]:
                raise errors.invalid(
                    "1 validation error detected: Value at 'qualifier' failed to satisfy constraint"
                )
            raise errors.function_not_found(function_arn(ctx, doc["name"], qualifier))
        return "" if qualifier == "$LATEST" else qualifier

    def create_function_url_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        qualifier = self._url_qualifier(ctx, doc, params)
        if qualifier in doc["urls"]:
            raise errors.conflict(
                f"Failed to create function url config for [functionArn = {function_arn(ctx, doc['name'], qualifier or None)}]. "
                "Error message:  FunctionUrlConfig exists for this Lambda function"
            )
        now = timestamp()
        cfg = {
            "id": token_hex(16),
            "AuthType": params["AuthType"],
            "CreationTime": now,
            "LastModifiedTime": now,
            "InvokeMode": params.get("InvokeMode", "BUFFERED"),
        }
        if params.get("Cors"):
            cfg["Cors"] = params["Cors"]
        doc["urls"][qualifier] = cfg
        self.store.save_function(doc)
        self._index_urls()
        out = self._url_out(ctx, doc, qualifier, cfg)
        out.pop("LastModifiedTime")
        return out

    def _url_cfg(
        self, ctx: Any, doc: dict[str, Any], params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        qualifier = self._url_qualifier(ctx, doc, params)
        cfg = doc["urls"].get(qualifier)
        if cfg is None:
            raise errors.not_found("The resource you requested does not exist.")
        return qualifier, cfg

    def get_function_url_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        qualifier, cfg = self._url_cfg(ctx, doc, params)
        return self._url_out(ctx, doc, qualifier, cfg)

    def update_function_url_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        qualifier, cfg = self._url_cfg(ctx, doc, params)
        for key in ("AuthType", "Cors", "InvokeMode"):
            if key in params:
                cfg[key] = params[key]
        cfg["LastModifiedTime"] = timestamp()
        self.store.save_function(doc)
        return self._url_out(ctx, doc, qualifier, cfg)

    def delete_function_url_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        qualifier, _ = self._url_cfg(ctx, doc, params)
        del doc["urls"][qualifier]
        self.store.save_function(doc)
        self._index_urls()
        return {}

    def list_function_url_configs(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        configs = [self._url_out(ctx, doc, q, c) for q, c in sorted(doc["urls"].items())]
        return page(configs, "FunctionUrlConfigs", params.get("Marker"), params.get("MaxItems"))

    # -- the HTTP side ------------------------------------------------------------

    def claims(self, req: HttpRequest) -> bool:
        return req.path.startswith(CODE_PREFIX) or ".lambda-url." in req.headers.get("host", "")

    async def serve(self, req: HttpRequest, body: bytes) -> HttpResponse:
        if req.path.startswith(CODE_PREFIX):
            return self._serve_code(req)
        m = _HOST.match(req.headers.get("host", ""))
        target = self.url_index.get(m.group(1)) if m else None
        if target is None:
            return _text(404, '{"Message":null}')
        account, region, name, qualifier = target
        doc = self.store.functions.get((account, region, name))
        cfg = doc["urls"].get(qualifier or "") if doc else None
        if doc is None or cfg is None:
            return _text(404, '{"Message":null}')
        cors = _cors_headers(cfg.get("Cors"), req)
        if req.method == "OPTIONS" and "access-control-request-method" in req.headers:
            return HttpResponse(200, cors, b"")
        if cfg["AuthType"] == "AWS_IAM" and getattr(self.env.credentials, "strict", False):
            # Signed function-URL requests are not verified yet: strict mode fails closed.
            return _text(403, '{"Message":"Forbidden"}', cors)
        ctx = InternalContext(account_id=account, region=region, service_name="lambda")
        event = json.dumps(_event(req, body, m.group(1), account, region)).encode()
        try:
            if cfg.get("InvokeMode") == "RESPONSE_STREAM":
                return await self._serve_streamed(ctx, doc, qualifier, event, cors)
            outcome, _, _, _ = await self._execute(ctx, doc, qualifier, event)
        except ServiceError as err:
            if err.status == 429:
                return _text(429, '{"Message":"Rate Exceeded."}', cors)
            raise
        if outcome.kind != "ok":
            return _text(502, '{"Message":"Internal Server Error"}', cors)
        return _response(outcome.payload, cors)

    def _serve_code(self, req: HttpRequest) -> HttpResponse:
        m = _CODE.match(req.path)
        query = dict(parse_qsl(req.query))
        if m is None or not self._code_token_ok(m.group(1), query.get("Signature", "")):
            return _text(
                403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
            )
        if int(query.get("Expires", "0") or 0) < time.time():
            return _text(
                403,
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            )
        path = self.store.zip_path(m.group(1))
        if not path.exists():
            return _text(404, "<Error><Code>NoSuchKey</Code></Error>")
        return HttpResponse(200, [("Content-Type", "application/zip")], path.read_bytes())


def _text(status: int, body: str, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return HttpResponse(
        status, [("Content-Type", "application/json"), *(headers or [])], body.encode()
    )


def _cors_headers(cors: dict[str, Any] | None, req: HttpRequest) -> list[tuple[str, str]]:
    origin = req.headers.get("origin")
    if not cors or not origin:
        return []
    allowed = cors.get("AllowOrigins") or []
    if "*" not in allowed and origin not in allowed:
        return []
    out = [
        (
            "Access-Control-Allow-Origin",
            "*" if "*" in allowed and not cors.get("AllowCredentials") else origin,
        )
    ]
    if cors.get("AllowMethods"):
        out.append(("Access-Control-Allow-Methods", ",".join(cors["AllowMethods"])))
    if cors.get("AllowHeaders"):
        out.append(("Access-Control-Allow-Headers", ",".join(cors["AllowHeaders"])))
    if cors.get("ExposeHeaders"):
        out.append(("Access-Control-Expose-Headers", ",".join(cors["ExposeHeaders"])))
    if cors.get("MaxAge"):
        out.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
    if cors.get("AllowCredentials"):
        out.append(("Access-Control-Allow-Credentials", "true"))
    return out


def _event(req: HttpRequest, body: bytes, url_id: str, account: str, region: str) -> Result:
    now = time.time()
    headers = {k: v for k, v in req.headers.items() if k != "cookie"}
    cookies = [c.strip() for c in req.headers.get("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for k, v in parse_qsl(req.query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v
    path = unquote(req.path)
    text_types = ("text/", "application/json", "application/xml", "application/javascript")
    content_type = req.headers.get("content-type", "")
    is_text = not body or any(content_type.startswith(t) for t in text_types)
    event: Result = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": req.query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": url_id,
            "domainName": req.headers.get("host", ""),
            "domainPrefix": url_id,
            "http": {
                "method": req.method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": req.headers.get("user-agent", ""),
            },
            "requestId": fast_uuid(),
            "routeKey": "$default",
            "stage": "$default",
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = (
            body.decode("utf-8", "replace") if is_text else base64.b64encode(body).decode()
        )
    return event


def _response(payload: bytes, cors: list[tuple[str, str]]) -> HttpResponse:
    try:
        result = json.loads(payload) if payload else None
    except ValueError:
        result = None
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpResponse(200, [("Content-Type", "application/json"), *cors], payload)
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for cookie in result.get("cookies") or []:
        headers.append(("Set-Cookie", cookie))
    body = result.get("body")
    if body is None:
        data = b""
    elif result.get("isBase64Encoded"):
        data = base64.b64decode(body)
    else:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(int(result["statusCode"]), headers + cors, data)
