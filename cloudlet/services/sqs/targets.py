"""Queue URLs as request targets.

Old query-protocol clients (boto 2, the early SDKs) POST to the queue URL
itself and leave ``QueueUrl`` out of the form. AWS takes the queue from the
path; so do we, by adding the parameter before the codec parses the form.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

_QUEUE_PATH = re.compile(r"^/\d{12}/[\w-]{1,80}(?:\.fifo)?/?$")


def queue_url_from_path(ctx: Any) -> None:
    if ctx.protocol != "query":
        return
    req = ctx.request
    if not _QUEUE_PATH.match(req.path):
        return
    if b"QueueUrl=" in req.body or "QueueUrl=" in req.query:
        return
    extra = urlencode({"QueueUrl": f"http://{ctx.host}{req.path.rstrip('/')}"})
    if req.method == "GET" or not req.body and req.query:
        req.query = f"{req.query}&{extra}" if req.query else extra
        req._query_params = None
    else:
        req.body = req.body + b"&" + extra.encode() if req.body else extra.encode()
