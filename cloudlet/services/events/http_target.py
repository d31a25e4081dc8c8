"""Invoking an API destination: the HTTP request a rule's API destination target sends
for each event, and what its answer means for the delivery.

The request (the EventBridge user guide's "API destinations" and the API reference's
``HttpParameters``):

- the destination's method to its endpoint, each ``*`` of the path filled with the
  target's ``PathParameterValues`` in order (URL-encoded);
- query string, headers and body parameters: the target's ``HttpParameters`` merged
  with the connection's ``InvocationHttpParameters``, the connection's values taking
  precedence; body parameters are added to a body that is a JSON object;
- the body: the event, or what the target's ``Input``, ``InputPath`` or
  ``InputTransformer`` makes of it (``transform.py``);
- AWS's headers: ``User-Agent: Amazon/EventBridge/ApiDestinations``, ``Content-Type:
  application/json; charset=utf-8`` (a header parameter may set another, as AWS allows
  since 2024), ``Range: bytes=0-1048575``, ``Accept-Encoding: gzip,deflate``,
  ``Connection: close``, ``Content-Length``, ``Host``;
- the connection's authorization: ``Authorization: Basic``, the API key's header, or
  ``Authorization: Bearer`` with an OAuth token (``oauth.py``).

Each destination sends at most ``InvocationRateLimitPerSecond`` requests a second:
requests are spaced ``1/rate`` seconds apart and the excess waits ("the invocations will
still occur, but are delayed", the quotas page). A request has 5 seconds.

The answer ("API destination error codes"): 2xx delivers; 429 and 5xx, timeouts and
unreachable endpoints are retried under the target's ``RetryPolicy`` by the deliverer
(``delivery.py``), no sooner than a ``Retry-After`` asks (a negative one stops the
retries); other answers are not retried and go to the dead-letter queue
(``ERROR_CODE`` ``SDK_CLIENT_ERROR``). 401 and 407 refresh an OAuth token for the retry,
and de-authorize a Basic or API key connection ("De-authorizing connections"). A
destination or connection that is gone fails with ``RESOURCE_NOT_FOUND``; a
de-authorized connection, or one whose token cannot be had, with ``NO_PERMISSIONS``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from cloudlet.core.clock import clock
from cloudlet.core.http_client import HttpError, Response, request
from cloudlet.services.events.common import endpoint_url
from cloudlet.services.events.delivery import Undelivered
from cloudlet.services.events.oauth import OAuthTokens, TokenError, params_of, with_query
from cloudlet.services.events.store import Doc, EventsStore
from cloudlet.services.events.transform import target_input

USER_AGENT = "Amazon/EventBridge/ApiDestinations"
DEFAULT_HEADERS = (
    ("User-Agent", USER_AGENT),
    ("Content-Type", "application/json; charset=utf-8"),
    ("Range", "bytes=0-1048575"),
    ("Accept-Encoding", "gzip,deflate"),
)
WIRE_HEADERS = frozenset(("host", "content-length", "connection", "transfer-encoding"))
"""Headers the request itself sets: a parameter does not replace them."""
UNAUTHORIZED = (401, 407)
Send = Callable[[str, str, list[tuple[str, str]], bytes], Awaitable[Response]]


def _fill_path(url: str, values: list[str]) -> str:
    """``url`` with each ``*`` of its path replaced by the next of ``values``."""
    path, mark, query = url.partition("?")
    head, sep, rest = path.partition("://")
    host, slash, tail = rest.partition("/")
    pieces = tail.split("*")
    if len(pieces) - 1 > len(values):
        raise Undelivered(
            "SDK_CLIENT_ERROR",
            f"The endpoint {url} has {len(pieces) - 1} path wildcards but the target gives "
            f"{len(values)} PathParameterValues.",
            False,
        )
    filled = pieces[0] + "".join(
        quote(v, safe="") + p for v, p in zip(values, pieces[1:], strict=False)
    )
    return f"{head}{sep}{host}{slash}{filled}{mark}{query}"


def _with_body_parameters(text: str, pairs: list[tuple[str, str]]) -> bytes:
    """The body: ``text``, with the connection's body parameters added when it is a
    JSON object."""
    if pairs:
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            doc.update(pairs)
            text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def build_request(
    destination: Doc, connection: Doc, target: Doc, text: str
) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """(method, URL, headers, body) invoking ``destination`` for ``target`` with
    ``text``, before authorization."""
    http = target.get("HttpParameters") or {}
    invocation = connection["AuthParameters"].get("InvocationHttpParameters") or {}
    url = _fill_path(
        endpoint_url(destination["InvocationEndpoint"]), http.get("PathParameterValues") or []
    )
    query = dict(http.get("QueryStringParameters") or {})
    query.update(params_of(invocation, "QueryStringParameters"))
    url = with_query(url, list(query.items()))
    headers = {k.lower(): (k, v) for k, v in DEFAULT_HEADERS}
    given = list((http.get("HeaderParameters") or {}).items())
    for key, value in given + params_of(invocation, "HeaderParameters"):
        if key.lower() not in WIRE_HEADERS:
            headers[key.lower()] = (key, value)
    body = _with_body_parameters(text, params_of(invocation, "BodyParameters"))
    return destination["HttpMethod"], url, list(headers.values()), body


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return float(value.strip())
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - clock.time()
    except (TypeError, ValueError):
        return None


class ApiDestinationInvoker:
    """Sends events to API destinations, each destination at its own rate."""

    def __init__(self, store: EventsStore, tokens: OAuthTokens, send: Send = request) -> None:
        self.store = store
        self.tokens = tokens
        self.send = send
        self._next: dict[str, float] = {}
        """destination ARN -> the earliest ``clock.monotonic()`` its next request may go."""

    async def invoke(self, rule: Doc, target: Doc, event: Doc) -> None:
        """One try of delivering ``event`` to the API destination ``target`` names;
        raises ``Undelivered``."""
        destination = self.store.api_destinations.get(target["Arn"])
        if destination is None:
            raise Undelivered(
                "RESOURCE_NOT_FOUND", f"API destination {target['Arn']} does not exist.", False
            )
        connection = self._connection(destination)
        method, url, headers, body = build_request(
            destination, connection, target, target_input(target, event, rule)
        )
        await self._pace(destination)
        connection = self._connection(destination)  # it may have changed while waiting
        name, value = await self._authorization(connection)
        headers = [h for h in headers if h[0].lower() != name.lower()] + [(name, value)]
        try:
            answer = await self.send(method, url, headers, body)
        except HttpError as err:
            raise Undelivered(
                "SDK_CLIENT_ERROR",
                f"Unable to invoke ApiDestination endpoint: {err.message}",
                err.retryable,
            ) from None
        self._judge(answer, connection)

    def forget(self, arn: str) -> None:
        """A deleted destination's pacing."""
        self._next.pop(arn, None)

    def _connection(self, destination: Doc) -> Doc:
        connection = self.store.connections.get(destination["ConnectionArn"])
        if connection is None:
            raise Undelivered(
                "RESOURCE_NOT_FOUND",
                f"Connection {destination['ConnectionArn']} of API destination "
                f"{destination['Name']} does not exist.",
                False,
            )
        if connection["ConnectionState"] in ("DEAUTHORIZED", "DEAUTHORIZING"):
            why = connection.get("StateReason") or "it was de-authorized"
            raise Undelivered(
                "NO_PERMISSIONS",
                f"Connection {connection['Name']} is not authorized: {why}",
                False,
            )
        return connection

    async def _pace(self, destination: Doc) -> None:
        arn = destination["ApiDestinationArn"]
        rate = destination.get("InvocationRateLimitPerSecond") or 300
        now = clock.monotonic()
        slot = max(now, self._next.get(arn, now))
        self._next[arn] = slot + 1.0 / rate
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _authorization(self, connection: Doc) -> tuple[str, str]:
        """The header that authorizes a request through ``connection``."""
        auth = connection["AuthParameters"]
        kind = connection["AuthorizationType"]
        if kind == "BASIC":
            basic = auth["BasicAuthParameters"]
            pair = f"{basic['Username']}:{basic['Password']}".encode()
            return "Authorization", "Basic " + base64.b64encode(pair).decode()
        if kind == "API_KEY":
            key = auth["ApiKeyAuthParameters"]
            return key["ApiKeyName"].strip(), key["ApiKeyValue"].strip()
        try:
            return "Authorization", "Bearer " + await self.tokens.bearer(connection)
        except TokenError as err:
            raise Undelivered(
                "NO_PERMISSIONS",
                f"Unable to obtain an OAuth token for connection {connection['Name']}: {err}",
                False,
            ) from None

    def _judge(self, answer: Response, connection: Doc) -> None:
        """What the endpoint's answer means: nothing when it took the event, else
        ``Undelivered``."""
        status = answer.status
        if 200 <= status < 300:
            return
        why = (
            "Unable to invoke ApiDestination endpoint: The endpoint responded with "
            f"{status} {answer.reason}".rstrip()
            + "."
        )
        if status in UNAUTHORIZED:
            if connection["AuthorizationType"] == "OAUTH_CLIENT_CREDENTIALS":
                self.tokens.forget(connection["ConnectionArn"])
                raise Undelivered("SDK_CLIENT_ERROR", why, True)
            reason = f"The endpoint answered {status}: its credentials were refused."
            self.store.set_connection_state(connection, "DEAUTHORIZED", reason)
            raise Undelivered("SDK_CLIENT_ERROR", why, False)
        if status == 429 or status >= 500:
            wait = retry_after(answer.headers.get("retry-after"))
            if wait is not None and wait < 0:
                raise Undelivered("SDK_CLIENT_ERROR", why, False)
            raise Undelivered("SDK_CLIENT_ERROR", why, True, wait or 0.0)
        raise Undelivered("SDK_CLIENT_ERROR", why, False)
