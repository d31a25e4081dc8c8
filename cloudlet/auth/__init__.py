"""Authentication: who sent a request, and whether its signature holds.

Public surface used by the gateway (everything else in this package is an
implementation detail):

- ``credential_scope(req)``: a cheap parse of the SigV4 (or SigV2) credential
  in the Authorization header or presigned query, used for service detection,
  region and account in every mode. No verification.
- ``Authenticator(mode, credentials).authenticate(req, scope)``: in ``open``
  mode returns a principal for whatever key was sent; in ``strict`` mode
  verifies the signature and raises ``ServiceError`` (``InvalidClientTokenId``,
  ``SignatureDoesNotMatch``, ``RequestExpired``, ``AccessDenied`` ...).
- ``CredentialStore``: the seam for IAM. Today it knows the root keys; the IAM
  service will register users' access keys here, and ``authorize`` is where
  policy evaluation will go.
"""
