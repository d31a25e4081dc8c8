"""CORS: the bucket's rules, preflight answers, and the headers on ordinary responses.

A browser asks before a cross-origin request (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``); S3 answers from the first rule whose
origin, method and every requested header match, or 403 ``CORSResponse``.
Ordinary requests carrying ``Origin`` get the matching rule's headers too,
the rule chosen as for a preflight: a request that carries
``Access-Control-Request-Method`` or ``-Headers`` is matched with those, not with
its own method (``cors_request``).
The gateway routes ``OPTIONS`` to ``S3Service.options`` and lets the service
add headers to a response through ``finish_response`` (no botocore operation
covers either).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.protocols.base import HttpResponse
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result
from cloudlet.services.s3.config import ConfigHandlers

METHODS = frozenset(("GET", "PUT", "HEAD", "POST", "DELETE"))
MAX_RULES = 100
MAX_AGE_SECONDS = 2**31 - 1
_NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
    "request method / Access-Control-Request-Method or Access-Control-Request-Headers are "
    "not whitelisted by the resource's CORS spec."
)


@lru_cache(maxsize=1024)
def _pattern(value: str) -> re.Pattern[str]:
    """An AllowedOrigin/AllowedHeader with at most one ``*`` wildcard (case-insensitive)."""
    return re.compile(".*".join(re.escape(p) for p in value.split("*")), re.IGNORECASE)


def _matches(patterns: list[str], value: str) -> bool:
    return any(_pattern(p).fullmatch(value) for p in patterns)


def match_rule(
    rules: list[dict[str, Any]], origin: str, method: str, headers: list[str]
) -> dict[str, Any] | None:
    """The first rule allowing this origin, method and every requested header."""
    for rule in rules:
        if method not in rule.get("AllowedMethods", []):
            continue
        if not _matches(rule.get("AllowedOrigins", []), origin):
            continue
        allowed = rule.get("AllowedHeaders") or []
        if all(_matches(allowed, h) for h in headers):
            return rule
    return None


def cors_request(headers: Any, method: str) -> tuple[str, list[str]]:
    """The method and headers a request asks a CORS rule for.

    ``Access-Control-Request-Method`` and ``-Headers`` when present, on any request:
    S3 evaluates an ordinary request that carries them as it evaluates a preflight.
    LocalStack's AWS-recorded ``test_s3_cors.snapshot.json``: ``get-wrong-op`` (a
    rule allowing GET only; a GET with ``Access-Control-Request-Method: PUT`` is
    answered 200 with no CORS headers) and ``get-non-allowed-with-acl`` (a GET with
    ``Access-Control-Request-Headers`` naming a header the rule does not allow:
    no CORS headers), while the same GET sending that header itself, without
    ``Access-Control-Request-Headers``, gets them (``get-non-allowed``): only the
    requested headers are matched, never the request's own.
    """
    wanted = headers.get("access-control-request-method") or method
    names = [
        h.strip().lower()
        for h in headers.get("access-control-request-headers", "").split(",")
        if h.strip()
    ]
    return wanted, names


def rule_headers(
    rule: dict[str, Any], origin: str, requested: list[str] | None = None
) -> list[tuple[str, str]]:
    """The matching rule's answer; ``requested`` headers (all allowed, as the rule
    matched) are echoed in ``Access-Control-Allow-Headers``."""
    wildcard = "*" in rule.get("AllowedOrigins", [])
    out = [
        ("Access-Control-Allow-Origin", "*" if wildcard else origin),
        ("Access-Control-Allow-Methods", ", ".join(rule.get("AllowedMethods", []))),
    ]
    if not wildcard:
        out.append(("Access-Control-Allow-Credentials", "true"))
    if rule.get("ExposeHeaders"):
        out.append(("Access-Control-Expose-Headers", ", ".join(rule["ExposeHeaders"])))
    if rule.get("MaxAgeSeconds") is not None:
        out.append(("Access-Control-Max-Age", str(rule["MaxAgeSeconds"])))
    if requested:
        out.append(("Access-Control-Allow-Headers", ", ".join(requested)))
    out.append(("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"))
    return out


def check_rule(rule: dict[str, Any]) -> None:
    """One ``CORSRule`` as S3 validates it: origins and methods present and
    ``MaxAgeSeconds`` a non-negative 32-bit integer (the schema's: ``MalformedXML``),
    then the supported methods and one wildcard per origin (``InvalidRequest``)."""
    if not rule.get("AllowedOrigins") or not rule.get("AllowedMethods"):
        raise errors.malformed_xml()
    max_age = rule.get("MaxAgeSeconds")
    if max_age is not None and not 0 <= max_age <= MAX_AGE_SECONDS:
        raise errors.malformed_xml()
    for method in rule["AllowedMethods"]:
        if method not in METHODS:
            raise errors.invalid_request(
                f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
            )
    for origin in rule["AllowedOrigins"]:
        if origin.count("*") > 1:
            raise errors.invalid_request(
                f'AllowedOrigin "{origin}" can not have more than one wildcard.'
            )


def _forbidden(message: str, method: str | None, resource: str) -> ServiceError:
    return errors.s3_error("AccessForbidden", message, 403, Method=method, ResourceType=resource)


def _bucket_of(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


class CorsHandlers(ConfigHandlers):
    """Put/Get/DeleteBucketCors, preflight (``options``) and response headers."""

    def put_bucket_cors(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        rules = (params.get("CORSConfiguration") or {}).get("CORSRules") or []
        if not rules or len(rules) > MAX_RULES:
            raise errors.malformed_xml()
        for rule in rules:
            check_rule(rule)
        self.configs.put(bucket.name, "cors", rules)
        return {}

    def get_bucket_cors(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        rules = self._required(
            bucket.name,
            "cors",
            "NoSuchCORSConfiguration",
            "The CORS configuration does not exist",
        )
        return {"CORSRules": rules}

    def delete_bucket_cors(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._drop_config(params, "cors")

    # -- the gateway's hooks ----------------------------------------------------------

    def options(self, ctx: Any) -> HttpResponse:
        """A preflight: 200 with the matching rule's headers, or S3's 403/400.

        S3's order (LocalStack's AWS-recorded ``test_s3_cors.snapshot.json``): no
        Origin is 400 even for a missing bucket; a missing bucket or one without
        CORS is 403 for the whole BUCKET, with the requested method or OPTIONS;
        only then is the method required and the rules consulted.
        """
        req = ctx.request
        origin = req.headers.get("origin")
        method = req.headers.get("access-control-request-method")
        name = _bucket_of(req.path)
        if not name and origin:
            # The endpoint's root is every JSON API's too (DynamoDB, SQS ...): their
            # browser SDKs' preflights, which name no bucket, get those APIs' answer.
            return super().options(ctx)  # type: ignore[misc]
        if not name:
            raise errors.s3_error("BadRequest", "Insufficient information. Bucket needed.", 400)
        if not origin:
            raise errors.s3_error(
                "BadRequest", "Insufficient information. Origin request header needed.", 400
            )
        bucket = self.store.get_bucket(name)
        if bucket is None:
            raise _forbidden("CORSResponse: Bucket not found", method or "OPTIONS", "BUCKET")
        rules = self.configs.get(bucket.name, "cors")
        if not rules:
            raise _forbidden(
                "CORSResponse: CORS is not enabled for this bucket.", method or "OPTIONS", "BUCKET"
            )
        if not method:
            raise errors.s3_error(
                "BadRequest",
                "Invalid Access-Control-Request-Method: null",
                400,
            )
        resource = "OBJECT" if "/" in req.path.lstrip("/") else "BUCKET"
        method, requested = cors_request(req.headers, method)
        rule = match_rule(rules, origin, method, requested)
        if rule is None:
            raise _forbidden(_NOT_ALLOWED, method, resource)
        headers = rule_headers(rule, origin, requested)
        headers += [("Content-Length", "0"), ("x-amz-request-id", ctx.request_id)]
        return HttpResponse(200, headers, b"")

    def finish_response(self, ctx: Any, response: HttpResponse) -> None:
        """CORS headers on an ordinary response, when a rule allows the request.

        The rule is chosen as for a preflight, with the request's
        ``Access-Control-Request-Method`` / ``-Headers`` when it carries them
        (``cors_request``): a GET asking for PUT, or for a header no rule allows, gets
        no CORS headers at all.

        A website endpoint's path is a key, not ``/<bucket>/...``: ``serve_page``
        names its bucket in ``ctx.params``, so only that bucket's rules apply there.
        """
        req = ctx.request
        if req.method == "OPTIONS":
            return
        name = ctx.params.get("Bucket") or _bucket_of(req.path)
        if not name:
            super().finish_response(ctx, response)  # type: ignore[misc] # the root: see options
            return
        rules = self.configs.get(name, "cors")
        if not rules:
            return
        origin = req.headers["origin"]
        method, headers = cors_request(req.headers, req.method)
        rule = match_rule(rules, origin, method, headers)
        if rule is not None:
            response.headers.extend(rule_headers(rule, origin, headers))
