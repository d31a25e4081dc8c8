"""EventBridge connections and API destinations through boto3 against a real server,
delivering to a small HTTP server of the test's own on 127.0.0.1: connection states
for Basic, API key and OAuth (client credentials against the test server's token
endpoint: token reuse, refresh on a 401 and near expiry, DEAUTHORIZED when no token
is given), secrets never shown, API destination CRUD and AWS's errors, rules delivering
PutEvents events with the connection's authorization, path, query and header
parameters and an InputTransformer, retries on 5xx, no retry on 400 and the dead-letter
message, a de-authorized connection, the rate limit, and everything surviving a
restart."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.names import unique
from tests.services.test_events import ACCOUNT, entry, error, make_queue
from tests.services.test_sns_delivery import receive

NO_RETRIES = Config(retries={"max_attempts": 0})
ROLE = f"arn:aws:iam::{ACCOUNT}:role/eventbridge-invoke"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> object:
        return json.loads(self.body)


class Api:
    """An HTTP server on 127.0.0.1 (a thread running ``http.server``) that records every
    request. ``/token`` issues OAuth tokens (``tok-1``, ``tok-2`` ... living
    ``expires_in`` seconds) while ``token_status`` is 200; any other path answers the
    next of ``statuses`` (a status, or a status and headers), then 200."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.statuses: list[int | tuple[int, dict[str, str]]] = []
        self.token_status = 200
        self.expires_in = 3600
        self.issued = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = Seen(self.command, parts.path, dict(parse_qsl(parts.query)), headers, body)
                status, extra, payload = outer._answer(seen)
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_one

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _answer(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.requests.append(seen)
            if seen.path.startswith("/token"):
                if self.token_status != 200:
                    return self.token_status, {}, b'{"error": "invalid_client"}'
                self.issued += 1
                token = {
                    "access_token": f"tok-{self.issued}",
                    "token_type": "Bearer",
                    "expires_in": self.expires_in,
                }
                return 200, {"Content-Type": "application/json"}, json.dumps(token).encode()
            answer = self.statuses.pop(0) if self.statuses else 200
        status, extra = answer if isinstance(answer, tuple) else (answer, {})
        return status, extra, b"{}"

    def seen(self, prefix: str, count: int = 0, timeout: float = 8.0) -> list[Seen]:
        """The requests to paths under ``prefix``, once there are ``count`` of them (or
        ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [r for r in self.requests if r.path.startswith(prefix)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def api():
    server = Api()
    yield server
    server.close()


@pytest.fixture
def events(cloudlet_server):
    return cloudlet_server.client("events", config=NO_RETRIES)


@pytest.fixture
def sqs(cloudlet_server):
    return cloudlet_server.client("sqs")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def basic_connection(events, name: str | None = None, **auth) -> str:
    out = events.create_connection(
        Name=name or unique("basic"),
        AuthorizationType="BASIC",
        AuthParameters={
            "BasicAuthParameters": {"Username": "alice", "Password": "s3cret"},
            **auth,
        },
    )
    return out["ConnectionArn"]


def oauth_connection(events, api: Api, name: str | None = None, **extra) -> str:
    out = events.create_connection(
        Name=name or unique("oauth"),
        AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
        AuthParameters={
            "OAuthParameters": {
                "AuthorizationEndpoint": f"{api.url}/token",
                "HttpMethod": "POST",
                "ClientParameters": {"ClientID": "app", "ClientSecret": "shh"},
                **extra,
            }
        },
    )
    assert out["ConnectionState"] == "AUTHORIZING"
    return out["ConnectionArn"]


def settled(events, name: str, timeout: float = 5.0) -> dict:
    """The connection once it is no longer AUTHORIZING."""
    deadline = time.monotonic() + timeout
    while True:
        got = events.describe_connection(Name=name)
        if got["ConnectionState"] != "AUTHORIZING" or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def destination(events, connection: str, endpoint: str, method: str = "POST", **kw) -> str:
    out = events.create_api_destination(
        Name=unique("dest"),
        ConnectionArn=connection,
        InvocationEndpoint=endpoint,
        HttpMethod=method,
        **kw,
    )
    return out["ApiDestinationArn"]


def rule_to(events, arn: str, **target) -> tuple[str, str]:
    """A rule sending events of a new source to ``arn``: (source, rule name)."""
    source, name = unique("com.example"), unique("rule")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))
    out = events.put_targets(
        Rule=name, Targets=[{"Id": "api", "Arn": arn, "RoleArn": ROLE, **target}]
    )
    assert out["FailedEntryCount"] == 0
    return source, name


def name_of(arn: str) -> str:
    return arn.split("/")[1]


def attributes(message: dict) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}


def test_basic_and_api_key_connections_states_and_hidden_secrets(events):
    name = unique("basic")
    out = events.create_connection(
        Name=name,
        Description="orders",
        AuthorizationType="BASIC",
        AuthParameters={
            "BasicAuthParameters": {"Username": "alice", "Password": "s3cret"},
            "InvocationHttpParameters": {
                "HeaderParameters": [
                    {"Key": "X-Team", "Value": "blue", "IsValueSecret": False},
                    {"Key": "X-Token", "Value": "hidden-value", "IsValueSecret": True},
                ]
            },
        },
    )
    assert out["ConnectionState"] == "CREATING"
    assert re.fullmatch(
        rf"arn:aws:events:us-east-1:{ACCOUNT}:connection/{name}/{UUID}", out["ConnectionArn"]
    )
    got = events.describe_connection(Name=name)
    assert got["ConnectionState"] == "AUTHORIZED" and got["AuthorizationType"] == "BASIC"
    assert got["Description"] == "orders" and "LastAuthorizedTime" in got
    secret = got["SecretArn"]
    assert re.fullmatch(
        rf"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:events!connection/{name}/"
        rf"{UUID}-[A-Za-z0-9]{{6}}",
        secret,
    )
    assert got["AuthParameters"] == {
        "BasicAuthParameters": {"Username": "alice"},
        "InvocationHttpParameters": {
            "HeaderParameters": [
                {"Key": "X-Team", "Value": "blue", "IsValueSecret": False},
                {"Key": "X-Token", "IsValueSecret": True},
            ]
        },
    }
    assert "s3cret" not in str(got) and "hidden-value" not in str(got)

    key = unique("apikey")
    events.create_connection(
        Name=key,
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k-1"}},
    )
    assert events.describe_connection(Name=key)["AuthParameters"] == {
        "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key"}
    }
    [listed] = events.list_connections(NamePrefix=name)["Connections"]
    assert listed["Name"] == name and listed["ConnectionState"] == "AUTHORIZED"
    assert "AuthParameters" not in listed and "SecretArn" not in listed
    authorized = events.list_connections(ConnectionState="AUTHORIZED", Limit=100)["Connections"]
    assert {name, key} <= {c["Name"] for c in authorized}

    up = events.update_connection(
        Name=name, Description="new", AuthParameters={"BasicAuthParameters": {"Password": "n3w"}}
    )
    assert up["ConnectionState"] == "UPDATING"
    got = events.describe_connection(Name=name)
    assert (got["Description"], got["ConnectionState"]) == ("new", "AUTHORIZED")

    assert events.deauthorize_connection(Name=name)["ConnectionState"] == "DEAUTHORIZING"
    got = events.describe_connection(Name=name)
    assert got["ConnectionState"] == "DEAUTHORIZED" and "SecretArn" not in got
    assert got["AuthParameters"]["BasicAuthParameters"] == {"Username": "alice"}
    deauthorized = events.list_connections(ConnectionState="DEAUTHORIZED")["Connections"]
    assert name in {c["Name"] for c in deauthorized}
    events.update_connection(Name=name, AuthParameters={"BasicAuthParameters": {"Password": "x"}})
    got = events.describe_connection(Name=name)
    assert got["ConnectionState"] == "AUTHORIZED" and got["SecretArn"].startswith("arn:aws:")

    deleted = events.delete_connection(Name=name)
    assert deleted["ConnectionState"] == "DELETING"
    assert deleted["ConnectionArn"] == out["ConnectionArn"]
    with pytest.raises(ClientError) as exc:
        events.describe_connection(Name=name)
    assert error(exc) == (
        "ResourceNotFoundException",
        f"Failed to describe the connection(s). Connection '{name}' does not exist.",
        400,
    )


def test_connection_errors(events):
    name = unique("dup")
    basic_connection(events, name)
    cases = [
        (
            {"Name": name, "AuthorizationType": "BASIC"},
            {"BasicAuthParameters": {"Username": "a", "Password": "b"}},
            "ResourceAlreadyExistsException",
        ),
        (
            {"Name": unique("c"), "AuthorizationType": "BASIC"},
            {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}},
            "ValidationException",
        ),
        (
            {"Name": unique("c"), "AuthorizationType": "DIGEST"},
            {"BasicAuthParameters": {"Username": "a", "Password": "b"}},
            "ValidationException",
        ),
        (
            {"Name": unique("c"), "AuthorizationType": "BASIC"},
            {"BasicAuthParameters": {"Username": "a:b", "Password": "b"}},
            "ValidationException",
        ),
    ]
    for params, auth, code in cases:
        with pytest.raises(ClientError) as exc:
            events.create_connection(AuthParameters=auth, **params)
        assert error(exc)[0] == code, params
    endpoint = "http://example.com/token"
    with pytest.raises(ClientError) as exc:
        events.create_connection(
            Name=unique("c"),
            AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
            AuthParameters={
                "OAuthParameters": {
                    "AuthorizationEndpoint": endpoint,
                    "HttpMethod": "POST",
                    "ClientParameters": {"ClientID": "a", "ClientSecret": "b"},
                }
            },
        )
    assert error(exc) == (
        "ValidationException",
        "Failed to create the connection(s). Parameter AuthorizationEndpoint is not valid. "
        f"Reason: Endpoint '{endpoint}' is invalid, please provide a valid HTTPS endpoint URL.",
        400,
    )
    for call, action in (
        (events.delete_connection, "delete"),
        (events.deauthorize_connection, "deauthorize"),
        (events.update_connection, "update"),
    ):
        with pytest.raises(ClientError) as exc:
            call(Name="nope")
        assert error(exc) == (
            "ResourceNotFoundException",
            f"Failed to {action} the connection(s). Connection 'nope' does not exist.",
            400,
        )


def test_oauth_connection_authorizes_with_client_credentials(events, api):
    name = unique("oauth")
    oauth_connection(
        events,
        api,
        name,
        OAuthHttpParameters={
            "HeaderParameters": [{"Key": "X-Tenant", "Value": "t1"}],
            "QueryStringParameters": [{"Key": "realm", "Value": "r"}],
            "BodyParameters": [{"Key": "audience", "Value": "orders", "IsValueSecret": True}],
        },
    )
    got = settled(events, name)
    assert got["ConnectionState"] == "AUTHORIZED" and "LastAuthorizedTime" in got
    assert got["AuthParameters"]["OAuthParameters"] == {
        "ClientParameters": {"ClientID": "app"},
        "AuthorizationEndpoint": f"{api.url}/token",
        "HttpMethod": "POST",
        "OAuthHttpParameters": {
            "HeaderParameters": [{"Key": "X-Tenant", "Value": "t1", "IsValueSecret": False}],
            "QueryStringParameters": [{"Key": "realm", "Value": "r", "IsValueSecret": False}],
            "BodyParameters": [{"Key": "audience", "IsValueSecret": True}],
        },
    }
    [token] = api.seen("/token", 1)
    assert token.method == "POST" and token.query == {"realm": "r"}
    assert token.headers["authorization"] == basic("app", "shh")
    assert token.headers["x-tenant"] == "t1"
    assert token.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(token.body.decode())) == {
        "grant_type": "client_credentials",
        "audience": "orders",
    }

    api.token_status = 401
    refused = unique("oauth")
    oauth_connection(events, api, refused)
    got = settled(events, refused)
    assert got["ConnectionState"] == "DEAUTHORIZED"
    assert "401" in got["StateReason"] and f"{api.url}/token" in got["StateReason"]


def test_api_destination_crud_and_errors(events, api):
    connection = basic_connection(events)
    name = unique("dest")
    out = events.create_api_destination(
        Name=name,
        Description="hook",
        ConnectionArn=connection,
        InvocationEndpoint=f"{api.url}/hook",
        HttpMethod="POST",
    )
    arn = out["ApiDestinationArn"]
    assert re.fullmatch(rf"arn:aws:events:us-east-1:{ACCOUNT}:api-destination/{name}/{UUID}", arn)
    assert out["ApiDestinationState"] == "ACTIVE"
    got = events.describe_api_destination(Name=name)
    assert got["ApiDestinationArn"] == arn and got["Description"] == "hook"
    assert got["ConnectionArn"] == connection and got["InvocationEndpoint"] == f"{api.url}/hook"
    assert (got["HttpMethod"], got["InvocationRateLimitPerSecond"]) == ("POST", 300)
    assert [
        d["Name"] for d in events.list_api_destinations(NamePrefix=name)["ApiDestinations"]
    ] == [name]
    by_connection = events.list_api_destinations(ConnectionArn=connection)["ApiDestinations"]
    assert [d["ApiDestinationArn"] for d in by_connection] == [arn]
    assert "Description" not in by_connection[0]
    events.update_api_destination(Name=name, HttpMethod="PUT", InvocationRateLimitPerSecond=10)
    got = events.describe_api_destination(Name=name)
    assert (got["HttpMethod"], got["InvocationRateLimitPerSecond"]) == ("PUT", 10)
    assert destination(events, connection, "https://example.com/orders/*")  # HTTPS anywhere

    endpoint = "http://example.com/hook"
    with pytest.raises(ClientError) as exc:
        destination(events, connection, endpoint)
    assert error(exc) == (
        "ValidationException",
        "Failed to create the api-destination(s). Parameter InvocationEndpoint is not valid. "
        f"Reason: Endpoint '{endpoint}' is invalid, please provide a valid HTTPS endpoint URL.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        destination(events, connection, f"{api.url}/hook", "TRACE")
    assert error(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        destination(events, connection, f"{api.url}/hook", InvocationRateLimitPerSecond=301)
    assert error(exc)[0] == "LimitExceededException"
    gone = connection.rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    with pytest.raises(ClientError) as exc:
        destination(events, gone, f"{api.url}/hook")
    assert error(exc) == (
        "ResourceNotFoundException",
        f"Failed to create the api-destination(s). Connection '{gone}' does not exist.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        events.create_api_destination(
            Name=name, ConnectionArn=connection, InvocationEndpoint=f"{api.url}/x", HttpMethod="GET"
        )
    assert error(exc)[0] == "ResourceAlreadyExistsException"
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern='{"source": ["x"]}')
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=rule, Targets=[{"Id": "api", "Arn": arn}])
    assert error(exc) == ("ValidationException", f"RoleArn is required for target {arn}.", 400)

    events.deauthorize_connection(Name=name_of(connection))
    assert events.describe_api_destination(Name=name)["ApiDestinationState"] == "INACTIVE"
    events.delete_api_destination(Name=name)
    with pytest.raises(ClientError) as exc:
        events.describe_api_destination(Name=name)
    assert error(exc) == (
        "ResourceNotFoundException",
        f"Failed to describe the api-destination(s). An api-destination '{name}' does not exist.",
        400,
    )


def test_a_rule_delivers_with_auth_parameters_and_an_input_transformer(events, api):
    connection = basic_connection(
        events,
        InvocationHttpParameters={
            "HeaderParameters": [{"Key": "X-Source", "Value": "connection", "IsValueSecret": True}],
            "QueryStringParameters": [{"Key": "env", "Value": "conn"}],
            "BodyParameters": [{"Key": "origin", "Value": "cloudlet", "IsValueSecret": True}],
        },
    )
    arn = destination(events, connection, f"{api.url}/orders/*/items/*", "PUT")
    source, rule = rule_to(
        events,
        arn,
        HttpParameters={
            "PathParameterValues": ["o-1", "a b"],
            "HeaderParameters": {"X-Target": "t", "X-Source": "target"},
            "QueryStringParameters": {"env": "target", "page": "2"},
        },
        InputTransformer={
            "InputPathsMap": {"id": "$.detail.id"},
            "InputTemplate": '{"order": <id>, "rule": "<aws.events.rule-name>"}',
        },
    )
    key = events.create_connection(
        Name=unique("apikey"),
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k-1"}},
    )["ConnectionArn"]
    keyed = destination(events, key, f"{api.url}/keyed")
    events.put_targets(Rule=rule, Targets=[{"Id": "keyed", "Arn": keyed, "RoleArn": ROLE}])

    event_id = events.put_events(Entries=[entry(source, {"id": "o-1"})])["Entries"][0]["EventId"]
    [sent] = api.seen("/orders", 1)
    assert sent.method == "PUT" and sent.path == "/orders/o-1/items/a%20b"
    assert sent.query == {"env": "conn", "page": "2"}  # the connection's value wins
    assert sent.headers["authorization"] == basic("alice", "s3cret")
    assert sent.headers["user-agent"] == "Amazon/EventBridge/ApiDestinations"
    assert sent.headers["content-type"] == "application/json; charset=utf-8"
    assert sent.headers["range"] == "bytes=0-1048575"
    assert sent.headers["connection"] == "close"
    assert (sent.headers["x-target"], sent.headers["x-source"]) == ("t", "connection")
    assert sent.json() == {"order": "o-1", "rule": rule, "origin": "cloudlet"}
    [plain] = api.seen("/keyed", 1)
    assert plain.method == "POST" and plain.headers["x-api-key"] == "k-1"
    assert "authorization" not in plain.headers
    assert plain.json()["id"] == event_id and plain.json()["detail"] == {"id": "o-1"}


def test_oauth_tokens_are_reused_and_refreshed(events, api):
    name = unique("oauth")
    connection = oauth_connection(events, api, name)
    assert settled(events, name)["ConnectionState"] == "AUTHORIZED"
    source, _ = rule_to(events, destination(events, connection, f"{api.url}/hook"))
    events.put_events(Entries=[entry(source, {"n": 1}), entry(source, {"n": 2})])
    hooks = api.seen("/hook", 2)
    assert [h.headers["authorization"] for h in hooks] == ["Bearer tok-1"] * 2
    assert len(api.seen("/token")) == 1  # the authorization's token, reused

    api.expires_in = 61  # the next token is within a minute of expiring after a second
    api.statuses = [401]
    events.put_events(Entries=[entry(source, {"n": 3})])
    hooks = api.seen("/hook", 4)
    assert [h.headers["authorization"] for h in hooks[2:]] == ["Bearer tok-1", "Bearer tok-2"]
    assert hooks[3].json()["detail"] == {"n": 3}
    time.sleep(1.2)
    events.put_events(Entries=[entry(source, {"n": 4})])
    hooks = api.seen("/hook", 5)
    assert hooks[4].headers["authorization"] == "Bearer tok-3"
    assert len(api.seen("/token")) == 3


def test_retries_on_5xx_no_retry_on_400_and_the_dead_letter_queue(events, sqs, api):
    dlq_url, dlq_arn = make_queue(sqs)
    arn = destination(events, basic_connection(events), f"{api.url}/hook")
    source, rule = rule_to(
        events,
        arn,
        RetryPolicy={"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
        DeadLetterConfig={"Arn": dlq_arn},
    )
    api.statuses = [500, (429, {"Retry-After": "0"})]
    events.put_events(Entries=[entry(source, {"n": 1})])
    tries = api.seen("/hook", 3)
    assert [t.json()["detail"] for t in tries] == [{"n": 1}] * 3
    assert tries[1].at - tries[0].at >= 0.9  # the backoff between tries

    api.statuses = [400]
    event_id = events.put_events(Entries=[entry(source, {"n": 2})])["Entries"][0]["EventId"]
    [message] = receive(sqs, dlq_url, 1, MessageAttributeNames=["All"])
    assert json.loads(message["Body"])["id"] == event_id
    got = attributes(message)
    assert got["ERROR_CODE"] == "SDK_CLIENT_ERROR" and "400" in got["ERROR_MESSAGE"]
    assert (got["RULE_ARN"], got["TARGET_ARN"]) == (events.describe_rule(Name=rule)["Arn"], arn)
    assert got["RETRY_ATTEMPTS"] == "0" and "EXHAUSTED_RETRY_CONDITION" not in got
    time.sleep(1.2)
    assert len(api.seen("/hook")) == 4  # a 400 is not tried again

    api.statuses = [503, 503, 503]
    events.put_events(Entries=[entry(source, {"n": 3})])
    [message] = receive(sqs, dlq_url, 1, timeout=10, MessageAttributeNames=["All"])
    got = attributes(message)
    assert got["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert got["RETRY_ATTEMPTS"] == "2" and "503" in got["ERROR_MESSAGE"]
    assert len(api.seen("/hook")) == 7


def test_a_deauthorized_connection_fails_its_deliveries(events, sqs, api):
    dlq_url, dlq_arn = make_queue(sqs)
    connection = basic_connection(events)
    name = unique("dest")
    arn = events.create_api_destination(
        Name=name, ConnectionArn=connection, InvocationEndpoint=f"{api.url}/hook", HttpMethod="POST"
    )["ApiDestinationArn"]
    source, _ = rule_to(events, arn, DeadLetterConfig={"Arn": dlq_arn})
    api.statuses = [401]  # the endpoint refuses the credentials: the connection is de-authorized
    events.put_events(Entries=[entry(source, {"n": 1})])
    [message] = receive(sqs, dlq_url, 1, MessageAttributeNames=["All"])
    assert attributes(message)["ERROR_CODE"] == "SDK_CLIENT_ERROR"
    got = events.describe_connection(Name=name_of(connection))
    assert got["ConnectionState"] == "DEAUTHORIZED" and "401" in got["StateReason"]
    assert events.describe_api_destination(Name=name)["ApiDestinationState"] == "INACTIVE"

    events.put_events(Entries=[entry(source, {"n": 2})])
    [message] = receive(sqs, dlq_url, 1, MessageAttributeNames=["All"])
    assert attributes(message)["ERROR_CODE"] == "NO_PERMISSIONS"
    assert len(api.seen("/hook")) == 1  # nothing was sent through the de-authorized connection

    events.update_connection(
        Name=name_of(connection), AuthParameters={"BasicAuthParameters": {"Password": "fixed"}}
    )
    events.put_events(Entries=[entry(source, {"n": 3})])
    sent = api.seen("/hook", 2)
    assert sent[1].headers["authorization"] == basic("alice", "fixed")


def test_the_rate_limit_spaces_invocations(events, api):
    arn = destination(
        events, basic_connection(events), f"{api.url}/hook", InvocationRateLimitPerSecond=5
    )
    source, _ = rule_to(events, arn)
    events.put_events(Entries=[entry(source, {"n": n}) for n in range(10)])
    sent = api.seen("/hook", 10, timeout=10)
    assert sorted(s.json()["detail"]["n"] for s in sent) == list(range(10))
    span = sent[-1].at - sent[0].at
    assert 1.5 <= span <= 3.5, span  # 5 a second: 10 requests over ~1.8 s


def test_connections_and_api_destinations_survive_a_restart(tmp_path, api):
    with CloudletServer.start(data_dir=tmp_path) as srv:
        events = srv.client("events", config=NO_RETRIES)
        connection = basic_connection(events, "keep")
        oauth_connection(events, api, "tokens")
        assert settled(events, "tokens")["ConnectionState"] == "AUTHORIZED"
        secret = events.describe_connection(Name="keep")["SecretArn"]
        arn = events.create_api_destination(
            Name="hook",
            ConnectionArn=connection,
            InvocationEndpoint=f"{api.url}/hook",
            HttpMethod="POST",
            InvocationRateLimitPerSecond=50,
        )["ApiDestinationArn"]
        events.put_rule(Name="to-hook", EventPattern='{"source": ["keep"]}')
        events.put_targets(Rule="to-hook", Targets=[{"Id": "api", "Arn": arn, "RoleArn": ROLE}])
    with CloudletServer.start(data_dir=tmp_path) as srv:
        events = srv.client("events", config=NO_RETRIES)
        got = events.describe_connection(Name="keep")
        assert (got["ConnectionArn"], got["ConnectionState"]) == (connection, "AUTHORIZED")
        assert got["SecretArn"] == secret and "s3cret" not in str(got)
        assert events.describe_connection(Name="tokens")["ConnectionState"] == "AUTHORIZED"
        got = events.describe_api_destination(Name="hook")
        assert (got["ApiDestinationArn"], got["InvocationRateLimitPerSecond"]) == (arn, 50)
        [target] = events.list_targets_by_rule(Rule="to-hook")["Targets"]
        assert target == {"Id": "api", "Arn": arn, "RoleArn": ROLE}
        events.put_events(Entries=[entry("keep", {"after": "restart"})])
        [sent] = api.seen("/hook", 1)
        assert sent.headers["authorization"] == basic("alice", "s3cret")
        assert sent.json()["detail"] == {"after": "restart"}
