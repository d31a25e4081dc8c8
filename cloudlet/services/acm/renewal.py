"""Renewal: RenewCertificate, ACM's managed renewal, and expiry events.

Why apart: these are what ACM does over time rather than when asked. A background
pass (every ``CLOUDLET_ACM_RENEWAL_INTERVAL`` seconds, default 60):

- renews every certificate ACM issued that is eligible (``views._eligibility``: a
  private certificate; a public one in use or exported since it was issued) once it
  is within 60 days of ``NotAfter``, as ACM does: the ``RenewalSummary`` becomes
  PENDING_AUTO_RENEWAL, and on the next pass the certificate is issued again under
  the same ARN (public ones by this server's CA, with a fresh key; private ones by
  their Private CA) and the summary says SUCCESS, or FAILED with a
  ``RenewalStatusReason`` (``PCA_INVALID_STATE`` when the CA is disabled ...). The
  load balancers serving it load the new certificate by themselves (``elbv2/tls.py``).
  A certificate valid for less than 60 days (``CLOUDLET_ACM_VALIDITY_DAYS``) is thus
  renewed on every other pass;
- sends the "ACM Certificate Approaching Expiration" event (source ``aws.acm``,
  ``detail`` ``{"DaysToExpiry", "CommonName"}``) once a day for each certificate,
  imported ones included, within the account's ``DaysBeforeExpiry`` (45 unless
  PutAccountConfiguration says otherwise) of expiring, on the account's default
  event bus through EventBridge's internal PutServiceEvents, so rules deliver it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.acm import certs
from cloudlet.services.base import InternalContext

log = logging.getLogger(__name__)
Doc = dict[str, Any]
DAY = 86400.0
RENEWAL_WINDOW = 60 * DAY
"""ACM starts renewing an eligible certificate 60 days before it expires."""
DEFAULT_DAYS_BEFORE_EXPIRY = 45
MAX_DAYS_BEFORE_EXPIRY = 45
TOKEN_SECONDS = 3600
TOKEN = re.compile(r"^\w{1,32}$")
FAILURE_REASONS = {
    "InvalidStateException": "PCA_INVALID_STATE",
    "ResourceNotFoundException": "PCA_RESOURCE_NOT_FOUND",
    "InvalidArgsException": "PCA_INVALID_ARGS",
    "InvalidArnException": "PCA_INVALID_ARN",
    "LimitExceededException": "PCA_LIMIT_EXCEEDED",
    "RequestFailedException": "PCA_REQUEST_FAILED",
    "AccessDeniedException": "PCA_ACCESS_DENIED",
}
"""A Private CA's refusal as ACM's ``FailureReason``."""


def renewal_interval() -> float:
    """Seconds between passes: ``CLOUDLET_ACM_RENEWAL_INTERVAL`` (default 60)."""
    return seconds_setting("CLOUDLET_ACM_RENEWAL_INTERVAL", 60.0, low=0.05, high=86400)


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


class RenewalMixin:
    env: Any
    store: Any
    certs: dict[str, Doc]
    configs: dict[str, Doc]
    _busy: set[str]
    _cert: Callable[[Any, str], Doc]
    _save: Callable[[Doc], None]
    _info: Callable[[Doc], certs.Parsed]
    _status: Callable[[Doc], str]
    _eligibility: Callable[[Doc, bool], str]
    _users: Callable[[Any], Awaitable[dict[str, list[str]]]]
    _issue_public: Callable[[str, list[str], str], Doc]
    _issue_private: Callable[[Any, str, str, list[str], str], Awaitable[Doc]]

    def _start_renewals(self) -> None:
        self.env.every(renewal_interval(), self._renewal_pass, "acm managed renewal")

    # -- account configuration ------------------------------------------------------

    def _days_before_expiry(self, account: str, region: str) -> int:
        config = self.configs.get(f"{account}/{region}") or {}
        return int(config.get("DaysBeforeExpiry") or DEFAULT_DAYS_BEFORE_EXPIRY)

    def get_account_configuration(self, ctx: Any, params: Doc) -> Doc:
        days = self._days_before_expiry(ctx.account_id, ctx.region)
        return {"ExpiryEvents": {"DaysBeforeExpiry": days}}

    def put_account_configuration(self, ctx: Any, params: Doc) -> Doc:
        token = params["IdempotencyToken"]
        if not TOKEN.match(token):
            raise _invalid(f"IdempotencyToken '{token}' must be 1 to 32 word characters.")
        days = (params.get("ExpiryEvents") or {}).get("DaysBeforeExpiry")
        if days is not None and not 1 <= days <= MAX_DAYS_BEFORE_EXPIRY:
            raise _invalid(f"DaysBeforeExpiry must be from 1 to {MAX_DAYS_BEFORE_EXPIRY}.")
        place = f"{ctx.account_id}/{ctx.region}"
        config = self.configs.get(place) or {"place": place}
        now = clock.time()
        if config.get("token") == token and now - config.get("token_at", 0) < TOKEN_SECONDS:
            if config.get("token_days") != days:
                raise ServiceError(
                    "ConflictException",
                    "The idempotency token was used with another configuration.",
                    400,
                )
            return {}
        if days is not None:
            config["DaysBeforeExpiry"] = days
        config.update(token=token, token_at=now, token_days=days)
        self.configs[place] = config
        self.store.put("config", place, config)
        return {}

    # -- renewing -------------------------------------------------------------------

    async def renew_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        arn = doc["Arn"]
        if doc.get("revoked"):
            raise _invalid(f"Certificate {arn} has been revoked; it cannot be renewed.")
        if doc["Type"] == "IMPORTED" or (
            doc["Type"] == "AMAZON_ISSUED"
            and not (
                (doc.get("Options") or {}).get("Export") == "ENABLED" and doc.get("exported_at")
            )
        ):
            raise _invalid(
                f"Certificate {arn} is not a private certificate or an exported public"
                " certificate; only those can be renewed with RenewCertificate."
            )
        if arn in self._busy:
            raise ServiceError("RequestInProgressException", f"{arn} is being renewed.", 400)
        failure = await self._renew(ctx, doc)
        if failure is not None:
            raise failure
        return {}

    async def _renew(self, ctx: Any, doc: Doc) -> ServiceError | None:
        """Issue ``doc``'s certificate again (same names, key algorithm and ARN) and
        record the outcome in its ``RenewalSummary``; the refusal, if it failed."""
        arn = doc["Arn"]
        parsed = self._info(doc)
        algorithm = doc.get("algorithm") or "RSA_2048"
        failure: ServiceError | None = None
        self._busy.add(arn)
        try:
            if doc["Type"] == "PRIVATE":
                fresh = await self._issue_private(
                    ctx, doc["ca"], parsed.domain, parsed.sans, algorithm
                )
            else:
                fresh = self._issue_public(parsed.domain, parsed.sans, algorithm)
        except ServiceError as err:
            failure = err
            reason = FAILURE_REASONS.get(getattr(err, "pca_code", ""), "OTHER")
            doc["renewal"] = {
                "RenewalStatus": "FAILED",
                "RenewalStatusReason": reason,
                "UpdatedAt": clock.time(),
            }
        else:
            if doc.get("revoked"):
                return None  # revoked meanwhile: the new certificate is not kept
            doc.update(fresh)
            doc["issued"] = clock.time()
            doc.pop("expiry_event_at", None)
            doc["renewal"] = {"RenewalStatus": "SUCCESS", "UpdatedAt": clock.time()}
        finally:
            self._busy.discard(arn)
        if self.certs.get(arn) is doc:
            self._save(doc)
        return failure

    # -- the background pass --------------------------------------------------------

    async def _renewal_pass(self) -> None:
        now = clock.time()
        await self._managed_renewals(now)
        await self._expiry_events(now)

    async def _managed_renewals(self, now: float) -> None:
        users: dict[tuple[str, str], dict[str, list[str]]] = {}
        for doc in list(self.certs.values()):
            if doc["Type"] == "IMPORTED" or doc.get("revoked") or doc["Arn"] in self._busy:
                continue
            left = self._info(doc).not_after.timestamp() - now
            if left <= 0 or left > RENEWAL_WINDOW:
                continue
            place = (doc["account"], doc["region"])
            ctx = InternalContext(account_id=place[0], region=place[1], service_name="acm")
            if place not in users:
                users[place] = await self._users(ctx)
            if self._eligibility(doc, doc["Arn"] in users[place]) != "ELIGIBLE":
                continue
            if (doc.get("renewal") or {}).get("RenewalStatus") != "PENDING_AUTO_RENEWAL":
                doc["renewal"] = {"RenewalStatus": "PENDING_AUTO_RENEWAL", "UpdatedAt": now}
                self._save(doc)
                continue
            await self._renew(ctx, doc)

    async def _expiry_events(self, now: float) -> None:
        entries: dict[tuple[str, str], list[Doc]] = {}
        for doc in list(self.certs.values()):
            if doc.get("revoked"):
                continue
            parsed = self._info(doc)
            left = parsed.not_after.timestamp() - now
            days = self._days_before_expiry(doc["account"], doc["region"])
            if left <= 0 or left > days * DAY:
                continue
            if now - (doc.get("expiry_event_at") or 0) < DAY:
                continue
            doc["expiry_event_at"] = now
            self._save(doc)
            entries.setdefault((doc["account"], doc["region"]), []).append(
                {
                    "source": "aws.acm",
                    "detail-type": "ACM Certificate Approaching Expiration",
                    "resources": [doc["Arn"]],
                    "detail": {"DaysToExpiry": int(left // DAY), "CommonName": parsed.domain},
                    "time": now,
                }
            )
        for (account, region), batch in entries.items():
            try:
                await self.env.call(
                    "events",
                    "PutServiceEvents",
                    {"Entries": batch},
                    account=account,
                    region=region,
                )
            except (ServiceError, NotImplementedOperation) as err:
                log.debug("ACM expiry events not sent: %s", getattr(err, "message", err))
