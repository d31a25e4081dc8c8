"""Static website hosting: a bucket's website configuration served at its website address.

``http://<bucket>.s3-website.localhost:4566/`` (also ``s3-website-<region>``
and ``s3-website.<region>`` forms) is the bucket's website endpoint, as
``<bucket>.s3-website-<region>.amazonaws.com`` is on AWS. The gateway sends
requests for such hosts to ``serve_page``: anonymous GET/HEAD, answered as
S3's website endpoint does: the index document for ``/`` and ``.../``, a 302
to ``key/`` when ``key/<index>`` exists, an object's
``x-amz-website-redirect-location`` as a 301, ``RedirectAllRequestsTo``, and
404s with the configured error document (or S3's HTML error page).
``RoutingRules`` are refused with 501 NotImplemented until they are applied.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import unquote

from cloudlet.protocols.base import HttpResponse
from cloudlet.services.s3.config import ConfigHandlers
from cloudlet.services.s3.store import Bucket, ObjectVersion

_STATUS_TEXT = {403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}


def _html_error(
    status: int, code: str, message: str, request_id: str, **extra: str
) -> HttpResponse:
    items = [f"<li>Code: {escape(code)}</li>", f"<li>Message: {escape(message)}</li>"]
    items += [f"<li>{escape(k)}: {escape(v)}</li>" for k, v in extra.items()]
    items.append(f"<li>RequestId: {escape(request_id)}</li>")
    title = f"{status} {_STATUS_TEXT.get(status, '')}".strip()
    body = (
        f"<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n"
        f"<ul>\n{''.join(items)}\n</ul>\n<hr/>\n</body>\n</html>\n"
    ).encode()
    return HttpResponse(
        status,
        [("Content-Type", "text/html; charset=utf-8"), ("x-amz-request-id", request_id)],
        body,
    )


class WebsiteHandlers(ConfigHandlers):
    """``serve_page``: the website endpoint (configuration operations: ``config.py``)."""

    def serve_page(self, ctx: Any, bucket_name: str) -> HttpResponse:
        req = ctx.request
        rid = ctx.request_id
        if req.method not in ("GET", "HEAD"):
            return _html_error(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
                rid,
            )
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
        key = unquote(req.path.lstrip("/"))
        if not key or key.endswith("/"):
            key += index
        version = self._website_object(bucket, key)
        if version is None and not key.endswith(index):
            if self._website_object(bucket, f"{key}/{index}") is not None:
                return HttpResponse(302, [("Location", f"/{key}/"), ("Content-Length", "0")], b"")
        if version is None:
            return self._website_error(bucket, site, key, rid)
        return self._website_body(version, 200)

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
        self, bucket: Bucket, site: dict[str, Any], key: str, rid: str
    ) -> HttpResponse:
        error_key = (site.get("ErrorDocument") or {}).get("Key")
        if error_key:
            page = self._website_object(bucket, error_key)
            if page is not None:
                return self._website_body(page, 404)
        return _html_error(404, "NoSuchKey", "The specified key does not exist.", rid, Key=key)
