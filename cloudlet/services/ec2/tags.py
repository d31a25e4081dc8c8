"""Tags on any EC2 resource, by resource id (ids are unique across kinds and regions)."""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2.store import Store

_TYPES = {
    "i": "instance",
    "sg": "security-group",
    "vpc": "vpc",
    "subnet": "subnet",
    "igw": "internet-gateway",
    "rtb": "route-table",
    "acl": "network-acl",
    "eni": "network-interface",
    "key": "key-pair",
    "ami": "image",
    "r": "reservation",
    "lt": "launch-template",
    "pcx": "vpc-peering-connection",
    "dopt": "dhcp-options",
    "eigw": "egress-only-internet-gateway",
    "pl": "prefix-list",
}


def resource_type(resource_id: str) -> str:
    return _TYPES.get(resource_id.split("-", 1)[0], "unknown")


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class Tags:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.by_id: dict[str, dict[str, str]] = {}
        for doc in store.load("tags"):
            self.by_id[doc["id"]] = doc["tags"]

    def of(self, resource_id: str) -> dict[str, str]:
        return self.by_id.get(resource_id, {})

    def _save(self, resource_id: str) -> None:
        tags = self.by_id.get(resource_id)
        if tags:
            self.store.put("tags", resource_id, {"id": resource_id, "tags": tags})
        else:
            self.by_id.pop(resource_id, None)
            self.store.delete("tags", resource_id)

    @staticmethod
    def check(tags: list[dict[str, Any]], system: bool = False) -> None:
        """Refuse empty, long and (unless AWS itself sets them: ``system``) ``aws:`` keys."""
        for tag in tags:
            key = tag.get("Key")
            if not key:
                raise ServiceError("InvalidParameterValue", "Tag key cannot be null or empty")
            if len(key) > 128 or (key.lower().startswith("aws:") and not system):
                raise ServiceError(
                    "InvalidParameterValue",
                    f"Value ({key}) for parameter key is invalid. "
                    "Tag keys starting with 'aws:' are reserved for internal use",
                )

    def add(self, resource_id: str, tags: list[dict[str, Any]], system: bool = False) -> None:
        """Add or replace ``tags``; ``aws:`` keys only when AWS itself sets them (``system``)."""
        self.check(tags, system)
        current = self.by_id.setdefault(resource_id, {})
        for tag in tags:
            current[tag["Key"]] = tag.get("Value") or ""
        if len(current) > 50:
            raise ServiceError(
                "TagLimitExceeded", "The maximum number of Tags for a resource has been reached."
            )
        self._save(resource_id)

    def remove(self, resource_id: str, tags: list[dict[str, Any]] | None) -> None:
        current = self.by_id.get(resource_id)
        if not current:
            return
        if not tags:
            current.clear()
        for tag in tags or []:
            key = tag.get("Key")
            if key in current and ("Value" not in tag or tag["Value"] == current[key]):
                del current[key]
        self._save(resource_id)

    def drop(self, resource_id: str) -> None:
        if self.by_id.pop(resource_id, None) is not None:
            self.store.delete("tags", resource_id)

    def all(self) -> list[dict[str, str]]:
        out = []
        for resource_id, tags in self.by_id.items():
            kind = resource_type(resource_id)
            for key, value in tags.items():
                out.append(
                    {"ResourceId": resource_id, "ResourceType": kind, "Key": key, "Value": value}
                )
        return out
