"""OpenID Connect providers in IAM and STS AssumeRoleWithWebIdentity with real boto3, against
a real OIDC issuer: a thread in this module serves a discovery document and a JWKS on
127.0.0.1, and its tokens are signed with keys made here (RS256 and ES256). Covers the
provider CRUD and its errors, trust policies with ``Federated`` principals and ``sub``/``aud``
conditions, bad signatures, unknown keys and issuers, expiry, strict mode (the call is
unsigned there too), durability, and boto3's own web identity credential provider
(``AWS_ROLE_ARN`` + ``AWS_WEB_IDENTITY_TOKEN_FILE``) in a subprocess."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from cloudlet.testing import CloudletServer
from tests.services.names import unique

ACCOUNT = "000000000000"
CLIENT_ID = "cloudlet-client"
THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
NO_RETRY = Config(retries={"total_max_attempts": 1})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int, size: int | None = None) -> str:
    size = size or (value.bit_length() + 7) // 8
    return _b64(value.to_bytes(size, "big"))


class Issuer:
    """An OIDC issuer on a loopback port: discovery, JWKS, and tokens it signs."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/keys"}
                elif self.path == "/keys":
                    issuer.fetches += 1
                    body = issuer.jwks()
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.name = self.url.split("://", 1)[1]  # the provider's name in ARNs and keys
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def jwks(self) -> dict:
        rn = self.rsa.public_key().public_numbers()
        en = self.ec.public_key().public_numbers()
        return {
            "keys": [
                {"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256", "n": _uint(rn.n),
                 "e": _uint(rn.e)},
                {"kty": "EC", "kid": "ec1", "use": "sig", "alg": "ES256", "crv": "P-256",
                 "x": _uint(en.x, 32), "y": _uint(en.y, 32)},
            ]
        }  # fmt: skip

    def token(self, *, alg: str = "RS256", kid: str | None = None, key=None, **claims) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": CLIENT_ID, "sub": "repo:me", "iat": now,
                "nbf": now, "exp": now + 600, **claims}  # fmt: skip
        header = {"alg": alg, "typ": "JWT", "kid": kid or ("rsa1" if alg == "RS256" else "ec1")}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
        data = signing_input.encode()
        if alg == "RS256":
            signature = (key or self.rsa).sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = utils.decode_dss_signature(
                (key or self.ec).sign(data, ec.ECDSA(hashes.SHA256()))
            )
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64(signature)}"


@pytest.fixture(scope="module")
def issuer():
    iss = Issuer()
    try:
        yield iss
    finally:
        iss.stop()


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def message(exc) -> str:
    return exc.value.response["Error"]["Message"]


def register(server, issuer: Issuer) -> str:
    """The issuer as a provider of ``server``'s account (once per server)."""
    iam = server.client("iam")
    arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer.name}"
    try:
        iam.create_open_id_connect_provider(Url=issuer.url, ClientIDList=[CLIENT_ID])
    except ClientError as err:
        assert err.response["Error"]["Code"] == "EntityAlreadyExists"
    return arn


def web_role(server, issuer: Issuer, condition: dict | None = None) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer.name}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if condition:
        statement["Condition"] = condition
    trust = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    name = unique("web")
    return server.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"][
        "Arn"
    ]


def assume(server, role_arn: str, token: str, session: str = "sess1", **kwargs) -> dict:
    sts = server.client("sts", config=NO_RETRY)
    return sts.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName=session, WebIdentityToken=token, **kwargs
    )


def keyed_sts(server, creds: dict):
    return server.client(
        "sts",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


@pytest.fixture(scope="module")
def server(cloudlet_server, issuer):
    register(cloudlet_server, issuer)
    return cloudlet_server


def test_provider_crud_and_errors(aws_client):
    iam = aws_client("iam")
    host = f"{uuid.uuid4().hex[:10]}.example.com"
    url = f"https://{host}/realms/main"
    arn = iam.create_open_id_connect_provider(
        Url=url,
        ClientIDList=["app-1", "app-1"],
        ThumbprintList=[THUMBPRINT],
        Tags=[{"Key": "team", "Value": "a"}],
    )["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}/realms/main"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == f"{host}/realms/main"
    assert got["ClientIDList"] == ["app-1"] and got["ThumbprintList"] == [THUMBPRINT]
    assert got["Tags"] == [{"Key": "team", "Value": "a"}] and got["CreateDate"]
    listed = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert {"Arn": arn} in listed

    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url=url + "/", ClientIDList=["x"])
    assert code(exc) == "EntityAlreadyExists"
    assert message(exc) == f"Provider with url {url} already exists."
    for bad in (f"http://{host}", "ftp://x.example.com", f"https://{host}/?q=1"):
        with pytest.raises(ClientError) as exc:
            iam.create_open_id_connect_provider(Url=bad)
        assert code(exc) == "InvalidInput"

    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-2")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-2")
    iam.remove_client_id_from_open_id_connect_provider(
        OpenIDConnectProviderArn=arn, ClientID="app-1"
    )
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="zz")
    iam.update_open_id_connect_provider_thumbprint(
        OpenIDConnectProviderArn=arn, ThumbprintList=["A" * 40]
    )
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == ["app-2"] and got["ThumbprintList"] == ["a" * 40]
    with pytest.raises(ClientError) as exc:
        iam.update_open_id_connect_provider_thumbprint(
            OpenIDConnectProviderArn=arn, ThumbprintList=["z" * 40]
        )
    assert code(exc) == "InvalidInput"

    iam.tag_open_id_connect_provider(
        OpenIDConnectProviderArn=arn, Tags=[{"Key": "env", "Value": "dev"}]
    )
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["team"])
    tags = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]
    assert tags == [{"Key": "env", "Value": "dev"}]

    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)  # idempotent, as AWS
    with pytest.raises(ClientError) as exc:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert code(exc) == "NoSuchEntity"
    assert message(exc) == f"OpenIDConnect Provider not found for arn {arn}"
    with pytest.raises(ClientError) as exc:
        iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[])
    assert code(exc) == "NoSuchEntity"


def test_at_most_100_providers(aws_client):
    iam = aws_client("iam")
    existing = len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"])
    prefix = uuid.uuid4().hex[:8]
    made = []
    try:
        for i in range(100 - existing):
            url = f"https://p{i}-{prefix}.example.com"
            made.append(iam.create_open_id_connect_provider(Url=url)["OpenIDConnectProviderArn"])
        with pytest.raises(ClientError) as exc:
            iam.create_open_id_connect_provider(Url=f"https://one-more-{prefix}.example.com")
        assert code(exc) == "LimitExceeded"
    finally:
        for arn in made:
            iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_assume_role_with_web_identity_rs256_and_es256(server, issuer):
    role_arn = web_role(server, issuer)
    role_name = role_arn.rsplit("/", 1)[1]
    before = issuer.fetches
    for alg, session in (("RS256", "rs-session"), ("ES256", "es-session")):
        out = assume(server, role_arn, issuer.token(alg=alg), session, DurationSeconds=900)
        assumed = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session}"
        assert out["AssumedRoleUser"]["Arn"] == assumed
        assert out["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
        assert out["SubjectFromWebIdentityToken"] == "repo:me"
        assert out["Audience"] == CLIENT_ID
        assert out["Provider"] == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer.name}"
        assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
        me = keyed_sts(server, out["Credentials"]).get_caller_identity()
        assert me["Arn"] == assumed and me["Account"] == ACCOUNT
    assert issuer.fetches - before <= 1  # the key set is cached


def test_trust_conditions_on_sub_and_aud(server, issuer):
    iam = server.client("iam")
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer.name}"
    iam.add_client_id_to_open_id_connect_provider(
        OpenIDConnectProviderArn=provider, ClientID="second-client"
    )
    role_arn = web_role(
        server,
        issuer,
        {
            "StringEquals": {f"{issuer.name}:aud": CLIENT_ID},
            "StringLike": {f"{issuer.name}:sub": "repo:me*"},
        },
    )
    out = assume(server, role_arn, issuer.token(sub="repo:me:ref:main"))
    assert out["SubjectFromWebIdentityToken"] == "repo:me:ref:main"
    for token in (issuer.token(sub="repo:other"), issuer.token(aud="second-client")):
        with pytest.raises(ClientError) as exc:
            assume(server, role_arn, token)
        assert code(exc) == "AccessDenied"
        assert message(exc) == "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    with pytest.raises(ClientError) as exc:
        assume(server, role_arn, issuer.token(aud="not-registered"))
    assert (code(exc), message(exc)) == ("InvalidIdentityToken", "Incorrect token audience")


def test_bad_tokens_are_refused(server, issuer):
    role_arn = web_role(server, issuer)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ClientError) as exc:
        assume(server, role_arn, issuer.token(key=stranger))
    assert code(exc) == "InvalidIdentityToken"
    assert "could not be validated" in message(exc)
    with pytest.raises(ClientError) as exc:
        assume(server, role_arn, issuer.token(kid="unknown-kid"))
    assert code(exc) == "InvalidIdentityToken"
    assert message(exc).startswith("Couldn't retrieve verification key from your identity")
    with pytest.raises(ClientError) as exc:
        assume(server, role_arn, "not.a-jwt")
    assert code(exc) == "InvalidIdentityToken"

    now = int(time.time())
    with pytest.raises(ClientError) as exc:
        assume(server, role_arn, issuer.token(iat=now - 7200, exp=now - 3600))
    assert code(exc) == "ExpiredTokenException"
    assert message(exc).startswith("Token expired: current date/time")
    with pytest.raises(ClientError) as exc:
        assume(server, role_arn, issuer.token(nbf=now + 3600, exp=now + 7200))
    assert code(exc) == "IDPRejectedClaim"

    with pytest.raises(ClientError) as exc:
        assume(server, role_arn, issuer.token(iss="http://127.0.0.1:9/unknown"))
    assert code(exc) == "InvalidIdentityToken"
    assert message(exc) == (
        "No OpenIDConnect provider found in your account for http://127.0.0.1:9/unknown"
    )
    missing = role_arn + "-missing"
    with pytest.raises(ClientError) as exc:
        assume(server, missing, issuer.token())
    assert code(exc) == "AccessDenied"


def test_unreachable_issuer_is_idp_communication_error(server, issuer):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    iam = server.client("iam")
    arn = iam.create_open_id_connect_provider(Url=url, ClientIDList=[CLIENT_ID])[
        "OpenIDConnectProviderArn"
    ]
    try:
        role_arn = web_role(server, issuer)
        with pytest.raises(ClientError) as exc:
            assume(server, role_arn, issuer.token(iss=url))
        assert code(exc) == "IDPCommunicationError"
    finally:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_strict_mode_takes_the_unsigned_call(strict_server, issuer):
    register(strict_server, issuer)
    role_arn = web_role(strict_server, issuer, {"StringEquals": {f"{issuer.name}:sub": "repo:me"}})
    out = assume(strict_server, role_arn, issuer.token(alg="ES256"))
    me = keyed_sts(strict_server, out["Credentials"]).get_caller_identity()
    assert me["Arn"].endswith(f"/{role_arn.rsplit('/', 1)[1]}/sess1")
    with pytest.raises(ClientError) as exc:
        assume(strict_server, role_arn, issuer.token(sub="repo:other"))
    assert code(exc) == "AccessDenied"
    # Only that action goes unsigned: anything else still needs a signature.
    from botocore import UNSIGNED

    unsigned = strict_server.client("sts", config=Config(signature_version=UNSIGNED))
    with pytest.raises(ClientError) as exc:
        unsigned.get_caller_identity()
    assert code(exc) == "MissingAuthenticationToken"


def test_providers_and_web_identity_keys_survive_a_restart(tmp_path, issuer):
    data = tmp_path / "data"
    srv = CloudletServer.start(data_dir=data)
    try:
        provider = register(srv, issuer)
        creds = assume(srv, web_role(srv, issuer), issuer.token())["Credentials"]
    finally:
        srv.stop()
    srv = CloudletServer.start(data_dir=data)
    try:
        got = srv.client("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=provider)
        assert got["ClientIDList"] == [CLIENT_ID]
        assert keyed_sts(srv, creds).get_caller_identity()["Arn"].endswith("/sess1")
    finally:
        srv.stop()


def test_boto3_web_identity_credential_provider(server, issuer, tmp_path):
    role_arn = web_role(server, issuer)
    token_file = tmp_path / "token"
    token_file.write_text(issuer.token())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ROLE_ARN=role_arn,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
        AWS_ROLE_SESSION_NAME="from-env",
        AWS_ENDPOINT_URL=server.endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    script = (
        "import boto3, json\n"
        "session = boto3.Session()\n"
        "me = session.client('sts').get_caller_identity()\n"
        "print(json.dumps({'arn': me['Arn'], 'method': session.get_credentials().method}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["method"] == "assume-role-with-web-identity"
    assert (
        out["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_arn.rsplit('/', 1)[1]}/from-env"
    )
