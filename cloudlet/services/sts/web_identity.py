"""Web identity tokens checked as STS checks them before AssumeRoleWithWebIdentity.

A web identity token is an OpenID Connect ID token: a JWT signed by its issuer. STS
trusts it only when the signature verifies against a key the issuer publishes, so
this module does what AWS does, for real: it fetches
``<issuer>/.well-known/openid-configuration``, then the document's ``jwks_uri``,
and verifies the signature (RS256/384/512, ES256/384) with ``cryptography``. Key sets
are cached per issuer for ``JWKS_TTL`` seconds; a token naming a key the cached set
lacks fetches the set again (issuers rotate keys), at most every ``REFETCH_SECONDS``.

Issuers are reached with ``core/http_client``: ``https`` with the machine's trusted
CAs, or ``http`` on a loopback host only (what IAM lets a provider URL be), so a test
can run its own issuer. The times (``exp``, ``nbf``, ``iat``) are checked with
``SKEW_SECONDS`` of tolerance, against ``core.clock``.

Errors are STS's (``ServiceError``): ``InvalidIdentityToken`` for a token that is no
JWT, has no key or a bad signature; ``ExpiredTokenException`` once ``exp`` has
passed; ``IDPRejectedClaim`` for a token not valid yet; ``IDPCommunicationError``
when the issuer cannot be reached at all.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from cloudlet.core import http_client
from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.core.http_client import is_loopback

JWKS_TTL = 300.0
REFETCH_SECONDS = 10.0
SKEW_SECONDS = 60
FETCH_TIMEOUT = 5.0

NOT_JWT = (
    "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
)
NO_KEY = (
    "Couldn't retrieve verification key from your identity provider,  please reference "
    "AssumeRoleWithWebIdentity documentation for requirements"
)
NOT_VALIDATED = (
    "The web identity token that was passed could not be validated by AWS. Get a new "
    "identity token from the identity provider and then retry the request."
)
UNREACHABLE = (
    "The request could not be fulfilled because the identity provider (IDP) that was asked "
    "to verify the incoming identity token could not be reached."
)

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
    "ES256": hashes.SHA256,
    "ES384": hashes.SHA384,
}
_CURVES: dict[str, tuple[str, ec.EllipticCurve, int]] = {
    "ES256": ("P-256", ec.SECP256R1(), 32),
    "ES384": ("P-384", ec.SECP384R1(), 48),
}


def invalid_token(message: str) -> ServiceError:
    return ServiceError("InvalidIdentityToken", message, 400)


@dataclass(frozen=True, slots=True)
class Token:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _int(part: str) -> int:
    return int.from_bytes(_b64(part), "big")


def decode(text: str) -> Token:
    """The JWT's parts, unverified (``InvalidIdentityToken`` when it is no JWT)."""
    parts = text.strip().split(".")
    if len(parts) != 3:
        raise invalid_token(NOT_JWT)
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
        signature = _b64(parts[2])
    except (ValueError, binascii.Error):
        raise invalid_token(NOT_JWT) from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise invalid_token(NOT_JWT)
    return Token(header, claims, f"{parts[0]}.{parts[1]}".encode(), signature)


def check_times(claims: dict[str, Any], now: float) -> None:
    """``exp`` must be ahead of ``now``, ``nbf`` and ``iat`` not (with ``SKEW_SECONDS``)."""
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise invalid_token("Missing a required claim: exp")
    if now >= exp + SKEW_SECONDS:
        raise ServiceError(
            "ExpiredTokenException",
            f"Token expired: current date/time {int(now)} must be before the expiration "
            f"date/time{int(exp)}",
            400,
        )
    for name in ("nbf", "iat"):
        value = claims.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if value > now + SKEW_SECONDS:
                raise ServiceError(
                    "IDPRejectedClaim",
                    f"Token is not valid yet: {name} {int(value)} is after the current "
                    f"date/time {int(now)}",
                    403,
                )


def _fetchable(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return bool(host) and (
        parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))
    )


async def _get_json(url: str) -> Any:
    """The JSON document at ``url``; None when there is no usable one."""
    if not _fetchable(url):
        return None
    try:
        response = await http_client.request(
            "GET", url, [("Accept", "application/json")], timeout=FETCH_TIMEOUT
        )
    except http_client.HttpError:
        raise ServiceError("IDPCommunicationError", UNREACHABLE, 400) from None
    if response.status != 200:
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        return None


def _public_key(jwk: dict[str, Any], alg: str) -> Any:
    """The key a JWK describes, if it is one ``alg`` verifies with (None otherwise)."""
    try:
        if alg.startswith("RS") and jwk.get("kty") == "RSA":
            return rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"])).public_key()
        if alg in _CURVES and jwk.get("kty") == "EC":
            name, curve, _ = _CURVES[alg]
            if jwk.get("crv") != name:
                return None
            numbers = ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), curve)
            return numbers.public_key()
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None
    return None


def _verifies(key: Any, alg: str, token: Token) -> bool:
    algorithm = _HASHES[alg]()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(token.signature, token.signing_input, padding.PKCS1v15(), algorithm)
        else:
            size = _CURVES[alg][2]
            if len(token.signature) != 2 * size:
                return False
            r = int.from_bytes(token.signature[:size], "big")
            s = int.from_bytes(token.signature[size:], "big")
            key.verify(utils.encode_dss_signature(r, s), token.signing_input, ec.ECDSA(algorithm))
    except InvalidSignature:
        return False
    return True


class KeySets:
    """Each issuer's published signing keys (its JWKS), fetched and cached."""

    def __init__(self, ttl: float = JWKS_TTL) -> None:
        self.ttl = ttl
        self._sets: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    async def _keys(self, issuer: str, *, refresh: bool = False) -> list[dict[str, Any]]:
        now = clock.monotonic()
        cached = self._sets.get(issuer)
        if cached is not None and now - cached[0] < (REFETCH_SECONDS if refresh else self.ttl):
            return cached[1]
        config = await _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        jwks_uri = config.get("jwks_uri") if isinstance(config, dict) else None
        jwks = await _get_json(jwks_uri) if isinstance(jwks_uri, str) else None
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys, list):
            raise invalid_token(NO_KEY)
        keys = [k for k in keys if isinstance(k, dict) and k.get("use", "sig") == "sig"]
        if len(self._sets) > 1000:
            self._sets.clear()
        self._sets[issuer] = (now, keys)
        return keys

    async def verify(self, token: Token, issuer: str) -> None:
        """Raise unless ``token`` is signed by one of ``issuer``'s published keys."""
        alg = token.header.get("alg")
        if alg not in _HASHES:
            raise invalid_token(NOT_VALIDATED)
        candidates = self._candidates(await self._keys(issuer), token, alg)
        if not candidates:  # a key the cached set lacks: the issuer may have rotated
            candidates = self._candidates(await self._keys(issuer, refresh=True), token, alg)
        if not candidates:
            raise invalid_token(NO_KEY)
        if not any(_verifies(key, alg, token) for key in candidates):
            raise invalid_token(NOT_VALIDATED)

    @staticmethod
    def _candidates(keys: list[dict[str, Any]], token: Token, alg: str) -> list[Any]:
        kid = token.header.get("kid")
        out = []
        for jwk in keys:
            if kid is not None and jwk.get("kid") != kid:
                continue
            if jwk.get("alg", alg) != alg:
                continue
            key = _public_key(jwk, alg)
            if key is not None:
                out.append(key)
        return out
