"""Static website hosting: a bucket's website configuration served at its website address.

``http://<bucket>.s3-website.localhost:4566/`` (also ``s3-website-<region>``
and ``s3-website.<region>`` forms) is the bucket's website endpoint, as
``<bucket>.s3-website-<region>.amazonaws.com`` is on AWS. The gateway sends
requests for such hosts to ``serve_page``: anonymous GET/HEAD, answered as
S3's website endpoint does: the index document for ``/`` and ``.../``, a 302
to ``key/`` when ``key/<index>`` exists, an object's
``x-amz-website-redirect-location`` as a 301, ``RedirectAllRequestsTo``, and
404s with the configured error document (or S3's HTML error page, which also
says when that document is missing, as AWS's does). Other methods get AWS's
405 page, which names the method and the resource type (``OBJECT``). Pages answer
conditional GETs as objects do (``If-None-Match``/``If-Modified-Since`` → 304,
``If-Match``/``If-Unmodified-Since`` → 412). Requests carrying
``Origin`` get the website bucket's own CORS headers (``cors.py``). In strict
mode a page (and the error document) is served only when anyone may read it
(``anonymous_allowed``: bucket policy, ACLs, Block Public Access); otherwise
403 AccessDenied, as AWS answers for a website whose objects are not public.

``RoutingRules`` apply in order, the first match wins, as on AWS: a rule whose
condition names only a key prefix (or that has no condition) redirects before
the object is looked up, whether it exists or not; a rule naming an error code
(``HttpErrorCodeReturnedEquals``, with or without a prefix) redirects instead
of that error page. The redirect keeps the request's host and protocol unless
the rule names others, and swaps the matched prefix (``ReplaceKeyPrefixWith``)
or the whole key (``ReplaceKeyWith``).

The configuration operations (Put/Get/DeleteBucketWebsite) are here too, with
the checks PutBucketWebsite makes and AWS's messages for them.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote, unquote

from cloudlet.auth.authorizer import anonymous_allowed
from cloudlet.core.errors import ServiceError
from cloudlet.protocols.base import HttpRequest, HttpResponse
from cloudlet.protocols.values import parse_timestamp
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result
from cloudlet.services.s3.conditions import check_read
from cloudlet.services.s3.config import ConfigHandlers
from cloudlet.services.s3.store import Bucket, ObjectVersion

_STATUS_TEXT = {
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
}


def _items(fields: dict[str, str]) -> str:
    return "\n".join(f"<li>{escape(k)}: {escape(v)}</li>" for k, v in fields.items())


def _html_error(
    status: int,
    code: str,
    message: str,
    request_id: str,
    *,
    document_error: dict[str, str] | None = None,
    **extra: str,
) -> HttpResponse:
    """S3's HTML error page: one ``<li>`` a line, ending with RequestId and HostId, as
    AWS's pages do; ``document_error``: why the custom error document could not be
    served, listed under S3's own heading for it."""
    fields = {"Code": code, "Message": message, **extra, "RequestId": request_id}
    fields["HostId"] = request_id
    items = _items(fields)
    nested = ""
    if document_error is not None:
        nested = (
            "<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>\n"
            f"<ul>\n{_items(document_error)}\n</ul>\n"
        )
    title = f"{status} {_STATUS_TEXT.get(status, '')}".strip()
    body = (
        f"<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n"
        f"<ul>\n{items}\n</ul>\n{nested}<hr/>\n</body>\n</html>\n"
    ).encode()
    return HttpResponse(
        status,
        [("Content-Type", "text/html; charset=utf-8"), ("x-amz-request-id", request_id)],
        body,
    )


def _not_allowed(method: str, request_id: str) -> HttpResponse:
    """AWS's 405 page, naming the method and the resource type; OPTIONS keeps the
    page it had (code and message only)."""
    message = "The specified method is not allowed against this resource."
    if method == "OPTIONS":
        return _html_error(405, "MethodNotAllowed", message, request_id)
    return _html_error(
        405,
        "MethodNotAllowed",
        message,
        request_id,
        Method=method,
        ResourceType="OBJECT",
    )


def _check_conditions(req: HttpRequest, version: ObjectVersion) -> None:
    """A page's conditional GET, by the object's rules (``check_read``), its dates read
    as the REST codec reads them; a date that does not parse is ignored, as HTTP says."""
    headers = req.headers

    def date(name: str) -> Any:
        value = headers.get(name)
        if value is None:
            return None
        try:
            return parse_timestamp(value, "rfc822")
        except (TypeError, ValueError, IndexError):
            return None

    check_read(
        version.etag,
        version.last_modified,
        if_match=headers.get("if-match"),
        if_none_match=headers.get("if-none-match"),
        if_modified_since=date("if-modified-since"),
        if_unmodified_since=date("if-unmodified-since"),
    )


def _code_in(value: Any, low: int, high: int) -> bool:
    return str(value).isdigit() and low <= int(value) <= high


def _check_protocol(protocol: str | None) -> None:
    if protocol is not None and protocol not in ("http", "https"):
        raise errors.invalid_request(
            "Invalid protocol, protocol can be http or https. If not defined the protocol "
            "will be selected automatically."
        )


def validate_website(document: dict[str, Any]) -> None:
    """PutBucketWebsite's checks, in the order S3 makes them."""
    redirect_all = document.get("RedirectAllRequestsTo")
    if redirect_all:
        if any(document.get(k) for k in ("IndexDocument", "ErrorDocument", "RoutingRules")):
            raise errors.invalid_argument(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
                "RedirectAllRequestsTo",
                "not null",
            )
        _check_protocol(redirect_all.get("Protocol"))
        return
    if not document.get("IndexDocument"):
        raise errors.invalid_argument(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
            "IndexDocument",
            "null",
        )
    suffix = document["IndexDocument"].get("Suffix")
    if not suffix or "/" in suffix:
        raise errors.invalid_argument(
            "The IndexDocument Suffix is not well formed", "IndexDocument", suffix
        )
    rules = document.get("RoutingRules")
    if rules is not None and not rules:
        # An empty <RoutingRules/> breaks S3's schema, which wants at least one rule
        # (AWS-recorded ``invalid-website-conf-7`` of LocalStack's
        # ``test_validate_website_configuration``); leaving the element out is fine.
        raise errors.malformed_xml()
    for rule in rules or []:
        condition = rule.get("Condition")
        if condition is not None and not any(v is not None for v in condition.values()):
            raise errors.invalid_request(
                "Condition cannot be empty. To redirect all requests without a condition, "
                "the condition element shouldn't be present."
            )
        error_code = (condition or {}).get("HttpErrorCodeReturnedEquals")
        if error_code is not None and not _code_in(error_code, 400, 599):
            raise errors.invalid_request(
                f"The provided HTTP error code ({error_code}) is not valid. "
                "Valid codes are 4XX or 5XX."
            )
        redirect = rule.get("Redirect") or {}
        if "ReplaceKeyWith" in redirect and "ReplaceKeyPrefixWith" in redirect:
            raise errors.invalid_request(
                "You can only define ReplaceKeyPrefix or ReplaceKey but not both."
            )
        code = redirect.get("HttpRedirectCode")
        if code is not None and not _code_in(code, 301, 399):
            raise errors.invalid_request(
                f"The provided HTTP redirect code ({code}) is not valid. "
                "Valid codes are 3XX except 300."
            )
        _check_protocol(redirect.get("Protocol"))


def _routed(
    rules: list[dict[str, Any]], key: str, error: int | None, req: HttpRequest
) -> HttpResponse | None:
    """The redirect of the first rule matching ``key`` (and ``error``, once known)."""
    for rule in rules:
        condition = rule.get("Condition") or {}
        prefix = condition.get("KeyPrefixEquals")
        on_error = condition.get("HttpErrorCodeReturnedEquals")
        if prefix is not None and not key.startswith(prefix):
            continue
        # Before the lookup only rules without an error code apply; after an
        # error only those naming it (the others were tried already).
        if (on_error is None) != (error is None) or (on_error and int(on_error) != error):
            continue
        redirect = rule.get("Redirect") or {}
        if "ReplaceKeyWith" in redirect:
            key = redirect["ReplaceKeyWith"]
        elif "ReplaceKeyPrefixWith" in redirect:
            key = redirect["ReplaceKeyPrefixWith"] + key[len(prefix or "") :]
        host = redirect.get("HostName") or req.headers.get("host", "")
        scheme = redirect.get("Protocol") or "http"
        location = f"{scheme}://{host}/{quote(key, safe='/~')}"
        status = int(redirect.get("HttpRedirectCode") or 301)
        return HttpResponse(status, [("Location", location), ("Content-Length", "0")], b"")
    return None


class WebsiteHandlers(ConfigHandlers):
    """The website endpoint (``serve_page``) and the website configuration operations."""

    def put_bucket_website(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        document = params.get("WebsiteConfiguration") or {}
        validate_website(document)
        self.configs.put(bucket.name, "website", document)
        return {}

    def get_bucket_website(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        return self._required(
            bucket.name,
            "website",
            "NoSuchWebsiteConfiguration",
            "The specified bucket does not have a website configuration",
        )

    def delete_bucket_website(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._drop_config(params, "website")

    def serve_page(self, ctx: Any, bucket_name: str) -> HttpResponse:
        req = ctx.request
        rid = ctx.request_id
        # The path is a key: name the bucket for ``finish_response`` (its CORS rules).
        ctx.params = {"Bucket": bucket_name}
        if req.method not in ("GET", "HEAD"):
            return _not_allowed(req.method, rid)
        bucket = self.store.get_bucket(bucket_name)
        if bucket is None:
            return _html_error(
                404,
                "NoSuchBucket",
                "The specified bucket does not exist",
                rid,
                BucketName=bucket_name,
            )
        site = self.configs.get(bucket.name, "website")
        if site is None:
            return _html_error(
                404,
                "NoSuchWebsiteConfiguration",
                "The specified bucket does not have a website configuration",
                rid,
                BucketName=bucket.name,
            )
        redirect_all = site.get("RedirectAllRequestsTo")
        if redirect_all:
            scheme = redirect_all.get("Protocol") or "http"
            location = f"{scheme}://{redirect_all['HostName']}{req.path}"
            return HttpResponse(301, [("Location", location), ("Content-Length", "0")], b"")
        index = site["IndexDocument"]["Suffix"]
        rules = site.get("RoutingRules") or []
        requested = unquote(req.path.lstrip("/"))
        routed = _routed(rules, requested, None, req)
        if routed is not None:
            return routed
        key = requested
        if not key or key.endswith("/"):
            key += index
        version = self._website_object(bucket, key)
        if version is None and not key.endswith(index):
            if self._website_object(bucket, f"{key}/{index}") is not None:
                return HttpResponse(302, [("Location", f"/{key}/"), ("Content-Length", "0")], b"")
        if version is None:
            return _routed(rules, requested, 404, req) or self._website_error(
                ctx, bucket, site, key
            )
        if not self._publicly_readable(ctx, bucket, key):
            return _html_error(403, "AccessDenied", "Access Denied", rid)
        try:
            _check_conditions(req, version)
        except ServiceError as err:
            if err.status == 304:
                return HttpResponse(304, list(err.headers.items()), b"")
            return _html_error(err.status, err.code, err.message, rid, **err.fields)
        return self._website_body(version, 200)

    def _publicly_readable(self, ctx: Any, bucket: Bucket, key: str) -> bool:
        """Strict mode: a website serves only what anyone may read (s3:GetObject for an
        anonymous caller, as the bucket policy, ACLs and Block Public Access decide).
        Open mode lets everyone read everything."""
        if not getattr(self.env.credentials, "strict", False):
            return True
        ctx.params = {"Bucket": bucket.name, "Key": key}
        resource = f"arn:aws:s3:::{bucket.name}/{key}"
        text = self.configs.get(bucket.name, "policy")
        return anonymous_allowed(ctx, self, "s3:GetObject", resource, text)

    def _website_object(self, bucket: Bucket, key: str) -> ObjectVersion | None:
        version = self.store.latest(bucket.name, key)
        return None if version is None or version.delete_marker else version

    def _website_body(self, version: ObjectVersion, status: int) -> HttpResponse:
        if version.website_redirect:
            return HttpResponse(
                301, [("Location", version.website_redirect), ("Content-Length", "0")], b""
            )
        headers = [
            ("Content-Type", version.content_type or "binary/octet-stream"),
            ("Content-Length", str(version.size)),
            ("ETag", version.etag or ""),
            ("Last-Modified", version.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT")),
        ]
        for name, value in (
            ("Content-Encoding", version.content_encoding),
            ("Cache-Control", version.cache_control),
            ("Content-Language", version.content_language),
        ):
            if value:
                headers.append((name, value))
        headers += [(f"x-amz-meta-{k}", v) for k, v in version.metadata.items()]
        return HttpResponse(
            status, headers, self.blobs.reader(version.blob_id or "", 0, version.size)
        )

    def _website_error(
        self, ctx: Any, bucket: Bucket, site: dict[str, Any], key: str
    ) -> HttpResponse:
        """The error document with a 404, else S3's page; when the configured document
        is missing, S3's page says so after the NoSuchKey list (as AWS answers)."""
        rid = ctx.request_id
        missing = "The specified key does not exist."
        error_key = (site.get("ErrorDocument") or {}).get("Key")
        document_error = None
        if error_key:
            page = self._website_object(bucket, error_key)
            if page is None:
                document_error = {"Code": "NoSuchKey", "Message": missing, "Key": error_key}
            elif self._publicly_readable(ctx, bucket, error_key):
                return self._website_body(page, 404)
        return _html_error(404, "NoSuchKey", missing, rid, document_error=document_error, Key=key)
