"""SNS operations (botocore model ``sns``, query protocol), and SNS's own HTTP routes.

Topic, subscription, publish and data protection operations live in their mixins; this class
wires the store, the signer and the deliverer together, answers the
resource-policy seam (a topic's ``Policy``), Add/RemovePermission, and serves
the pages subscribers reach outside the API under ``/_cloudlet/sns/``:

- ``SimpleNotificationService.pem``: the certificate messages are signed with;
- ``confirm?TopicArn=..&Token=..``: the SubscribeURL (confirms, answers AWS's XML);
- ``unsubscribe?SubscriptionArn=..``: the UnsubscribeURL;
- ``emails``: the mail kept for email subscriptions when no SMTP server is set.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from xml.sax.saxutils import escape

from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import fast_uuid
from cloudlet.protocols.base import HttpResponse
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.sns import errors
from cloudlet.services.sns.data_protection import DataProtectionHandlers
from cloudlet.services.sns.delivery import Deliverer
from cloudlet.services.sns.publish import PublishHandlers
from cloudlet.services.sns.signing import CERT_PATH, Signer
from cloudlet.services.sns.store import SnsStore
from cloudlet.services.sns.subscriptions import SubscriptionHandlers
from cloudlet.services.sns.topics import TopicHandlers

Result = dict[str, Any]
ROUTES = "/_cloudlet/sns/"
_XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"


class SnsService(
    TopicHandlers, SubscriptionHandlers, PublishHandlers, DataProtectionHandlers, Service
):
    name = "sns"
    internal_error = ("InternalError", "Indicates an internal service error.")  # modelled

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = SnsStore(env.database("sns"))
        self.signer = Signer(env.data_dir / "sns" if env.data_dir is not None else None)
        self.delivery = Deliverer(env, self.store, self.signer)
        self.delivery.outbound = self._protect_outbound
        self._dedup = {}

    async def start(self) -> None:
        # The signing key (RSA, made on first start) is prepared in a thread while
        # the server already serves; a delivery needing it sooner waits on its lock.
        warm = asyncio.to_thread(self.signer.sign, {"Type": "Notification"})
        self.env.tasks.append(asyncio.get_running_loop().create_task(warm, name="sns-signing-key"))

    async def stop(self) -> None:
        await self.delivery.stop()
        self.store.close()

    def health(self) -> dict[str, Any]:
        return {
            "state": "running",
            "topics": len(self.store.topics),
            "subscriptions": len(self.store.subscriptions),
        }

    # -- resource policies ---------------------------------------------------------------

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        arn = params.get("TopicArn") or params.get("TargetArn") or params.get("ResourceArn")
        if not arn and params.get("SubscriptionArn"):
            sub = self.store.subscriptions.get(params["SubscriptionArn"])
            arn = sub["TopicArn"] if sub else params["SubscriptionArn"]
        if not arn:
            if operation == "CreateTopic" and params.get("Name"):
                return f"arn:aws:sns:{ctx.region}:{ctx.account_id}:{params['Name']}", None
            return "*", None
        topic = self.store.topics.get(arn)
        return arn, (topic["Attributes"].get("Policy") if topic else None)

    def add_permission(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._topic(params["TopicArn"])
        policy = json.loads(topic["Attributes"]["Policy"])
        label = params["Label"]
        if any(s.get("Sid") == label for s in policy.get("Statement", [])):
            raise errors.invalid_parameter("Statement already exists")
        accounts = [f"arn:aws:iam::{a}:root" for a in params["AWSAccountId"]]
        policy.setdefault("Statement", []).append(
            {
                "Sid": label,
                "Effect": "Allow",
                "Principal": {"AWS": accounts[0] if len(accounts) == 1 else accounts},
                "Action": [f"SNS:{a}" for a in params["ActionName"]],
                "Resource": topic["TopicArn"],
            }
        )
        topic["Attributes"]["Policy"] = json.dumps(policy, separators=(",", ":"))
        self.store.save_topic(topic)
        return {}

    def remove_permission(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._topic(params["TopicArn"])
        policy = json.loads(topic["Attributes"]["Policy"])
        statements = policy.get("Statement", [])
        kept = [s for s in statements if s.get("Sid") != params["Label"]]
        if len(kept) == len(statements):
            raise errors.invalid_parameter("Statement does not exist")
        policy["Statement"] = kept
        topic["Attributes"]["Policy"] = json.dumps(policy, separators=(",", ":"))
        self.store.save_topic(topic)
        return {}

    # -- SNS's own routes ----------------------------------------------------------------

    def claims(self, req: Any) -> bool:
        return req.path.startswith(ROUTES)

    async def serve(self, req: Any, body: bytes) -> HttpResponse:
        try:
            return self._page(req)
        except ServiceError as err:
            # Answered here, in AWS's query error document, as SNS answers its own URLs.
            doc = (
                f'<ErrorResponse xmlns="{_XMLNS}"><Error><Type>Sender</Type>'
                f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message>"
                f"</Error><RequestId>{fast_uuid()}</RequestId></ErrorResponse>"
            )
            return HttpResponse(err.status, [("Content-Type", "text/xml")], doc.encode())

    def _page(self, req: Any) -> HttpResponse:
        path = req.path
        query = {k: v[0] for k, v in req.query_params.items() if v}
        if path == CERT_PATH:
            return HttpResponse(
                200, [("Content-Type", "application/x-pem-file")], self.signer.cert_pem
            )
        if path == ROUTES + "emails":
            if req.method == "DELETE":
                self.delivery.emails.clear()
                return HttpResponse(204, [], b"")
            doc = json.dumps(list(self.delivery.emails)).encode()
            return HttpResponse(200, [("Content-Type", "application/json")], doc)
        if path == ROUTES + "confirm":
            sub = self.store.by_token(query.get("Token", ""))
            if sub is None or sub["TopicArn"] != query.get("TopicArn"):
                raise errors.invalid_parameter("Token")
            arn = self._confirm(sub)
            result = f"<SubscriptionArn>{escape(arn)}</SubscriptionArn>"
            return _xml("ConfirmSubscription", result)
        if path == ROUTES + "unsubscribe":
            sub = self.store.subscriptions.get(query.get("SubscriptionArn", ""))
            if sub is None:
                raise errors.subscription_not_found()
            self._remove_subscription(sub)
            return _xml("Unsubscribe", None)
        raise ServiceError("NotFound", f"no SNS page at {path}", 404)


def _xml(action: str, result: str | None) -> HttpResponse:
    inner = f"<{action}Result>{result}</{action}Result>" if result is not None else ""
    doc = (
        f'<{action}Response xmlns="{_XMLNS}">{inner}'
        f"<ResponseMetadata><RequestId>{fast_uuid()}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    return HttpResponse(200, [("Content-Type", "text/xml")], doc.encode())
