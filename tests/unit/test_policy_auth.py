"""Temporary keys in the authenticator: session tokens and expiry (``ExpiredToken``)."""

from __future__ import annotations

import pytest
from botocore.auth import SigV4Auth
from botocore.credentials import Credentials

from cloudlet.auth import Authenticator, CredentialStore, Principal, credential_scope
from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from tests.unit.test_auth import ENDPOINT, signed


def _request(token: str | None):
    creds = Credentials("ASIATEMP", "temp-secret", token)
    return signed(SigV4Auth(creds, "sqs", "us-east-1"), "GET", f"{ENDPOINT}/")


def test_temporary_keys_need_their_token_and_expire():
    store = CredentialStore("root", "root-secret")
    role = Principal.assumed_role("111122223333", "worker", "s1", "ASIATEMP", "AROAEXAMPLE")
    store.add_key("ASIATEMP", "temp-secret", role, session_token="tok", expires=clock.time() + 60)
    auth = Authenticator("strict", store)
    req = _request("tok")
    assert auth.authenticate(req, credential_scope(req)) == role
    assert role.user_id == "AROAEXAMPLE:s1" and role.name == "worker"
    for token in (None, "other"):
        req = _request(token)
        with pytest.raises(ServiceError) as exc:
            auth.authenticate(req, credential_scope(req))
        assert exc.value.code == "InvalidClientTokenId"
    store.add_key("ASIATEMP", "temp-secret", role, session_token="tok", expires=clock.time() - 1)
    req = _request("tok")
    with pytest.raises(ServiceError) as exc:
        auth.authenticate(req, credential_scope(req))
    assert exc.value.code == "ExpiredToken"
    store.sweep(clock.time())
    assert store.key("ASIATEMP") is None
    assert store.key("root") is not None
