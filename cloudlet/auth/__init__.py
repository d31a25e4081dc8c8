"""Authentication: who sent a request, and whether its signature holds.

Public surface used by the gateway (everything else in this package is an
implementation detail):

- ``credential_scope(req)``: a cheap parse of the SigV4 (or SigV2) credential
  in the Authorization header or presigned query, used for service detection,
  region and account in every mode. No verification.
- ``Authenticator(mode, credentials).authenticate(req, scope)``: in ``open``
  mode returns a principal for whatever key was sent; in ``strict`` mode
  verifies the signature and raises ``ServiceError`` (``InvalidClientTokenId``,
  ``SignatureDoesNotMatch``, ``RequestExpired``, ``AccessDenied`` ...). It also
  unwraps ``aws-chunked`` bodies in place (verifying chunk signatures in strict
  mode) and merges their trailing headers into ``req.headers``.
- ``CredentialStore``: the seam for IAM. It knows the root keys; the IAM
  service registers users' access keys here, STS its temporary keys, and IAM
  plugs in its compiled policies (``policies``).
- ``Authenticator.authorize(ctx, service)``: strict mode's policy evaluation
  (``authorizer``, over the engine in ``policy``).
- ``decode_aws_chunked`` / ``decode_aws_chunked_body`` / ``ChunkVerifier``:
  the aws-chunked decoder on its own, for code that holds a raw body.

Modules: ``scope`` (credential parse), ``sigv4``, ``sigv2``, ``chunked``,
``credentials``, ``authenticator``, ``errors`` (the AWS error for each failure),
``policy`` (the policy language), ``actions`` (operation -> IAM action),
``authorizer`` (strict mode's evaluation of a request).
"""

from cloudlet.auth.authenticator import Authenticator, AuthMode
from cloudlet.auth.chunked import (
    AwsChunkedDecoder,
    ChunkVerifier,
    decode_aws_chunked,
    decode_aws_chunked_body,
)
from cloudlet.auth.credentials import ANONYMOUS, AccessKey, CredentialStore, Principal
from cloudlet.auth.errors import AuthError
from cloudlet.auth.scope import Scope, SignatureKind, credential_scope

__all__ = [
    "ANONYMOUS",
    "AccessKey",
    "AuthError",
    "AuthMode",
    "Authenticator",
    "AwsChunkedDecoder",
    "ChunkVerifier",
    "CredentialStore",
    "Principal",
    "Scope",
    "SignatureKind",
    "credential_scope",
    "decode_aws_chunked",
    "decode_aws_chunked_body",
]
