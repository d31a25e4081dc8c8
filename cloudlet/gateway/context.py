"""RequestContext: everything one request carries through the handler chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cloudlet.core.ids import DEFAULT_ACCOUNT

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel

    from cloudlet.auth import Principal
    from cloudlet.protocols.base import HttpRequest


@dataclass(slots=True)
class RequestContext:
    request: HttpRequest
    request_id: str
    service_name: str | None = None
    service_model: ServiceModel | None = None
    protocol: str | None = None
    operation: OperationModel | None = None
    params: dict[str, Any] = field(default_factory=dict)
    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT
    access_key: str | None = None
    principal: Principal | None = None
    signing_service: str | None = None
    signed_region: str | None = None
    """The region a SigV4 signature's credential scope names; None when the request is
    unsigned or signed with SigV2 (which names none)."""
    presigned: bool = False
    """The signature is in the query (a presigned URL), not in a header."""
    allows: Callable[[str, str], bool] | None = None
    """Strict mode: whether the caller may do an action on a resource (ARN), for a
    handler that authorizes parts of a request itself (S3's DeleteObjects, per key).
    None in open mode: everything is allowed."""
    handler: Callable[..., Any] | None = None
    """Set by a service's ``prepare_request`` to answer this request with another of its
    coroutines than the operation's handler (an S3 GetObject through an Object Lambda
    access point is answered by the access point's function, not by the bucket)."""

    @property
    def host(self) -> str:
        """The Host the client used (for URLs we hand back, e.g. queue URLs)."""
        return self.request.headers.get("host", "localhost:4566")

    @property
    def operation_name(self) -> str:
        return self.operation.name if self.operation is not None else ""
