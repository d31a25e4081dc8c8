"""Dashboards: validation of the body as CloudWatch's console would read it, and storage.

A dashboard is a JSON document with a ``widgets`` array; CloudWatch checks it
against a JSON schema and reports each problem as a ``DataPath`` + ``Message``
pair. We check the parts that decide whether a dashboard can render (object
body, widgets array, each widget's type and required properties, integer
geometry) and report them the same way.
"""

from __future__ import annotations

import json
import re

from cloudlet.services.cloudwatch import errors
from cloudlet.services.cloudwatch.store import Store
from cloudlet.state.db import Transaction

WIDGET_TYPES = ("metric", "text", "log", "alarm", "explorer", "custom")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def arn(account: str, name: str) -> str:
    return f"arn:aws:cloudwatch::{account}:dashboard/{name}"


def problems(body: str) -> list[dict[str, str]]:
    """Each schema problem of a dashboard body as ``{DataPath, Message}``."""
    try:
        doc = json.loads(body)
    except ValueError:
        return [{"DataPath": "", "Message": "The field DashboardBody must be a valid JSON object"}]
    if not isinstance(doc, dict):
        return [{"DataPath": "", "Message": "Should be object"}]
    if "widgets" not in doc:
        return [{"DataPath": "", "Message": "Should have required property 'widgets'"}]
    widgets = doc["widgets"]
    if not isinstance(widgets, list):
        return [{"DataPath": "/widgets", "Message": "Should be array"}]
    out = []
    for i, w in enumerate(widgets):
        path = f"/widgets/{i}"
        if not isinstance(w, dict):
            out.append({"DataPath": path, "Message": "Should be object"})
            continue
        if "type" not in w:
            out.append({"DataPath": path, "Message": "Should have required property 'type'"})
        elif w["type"] not in WIDGET_TYPES:
            out.append(
                {
                    "DataPath": f"{path}/type",
                    "Message": "Should be equal to one of the allowed values",
                }
            )
        if (
            w.get("type") in ("metric", "text", "log", "alarm", "explorer")
            and "properties" not in w
        ):
            out.append({"DataPath": path, "Message": "Should have required property 'properties'"})
        for dim in ("x", "y", "width", "height"):
            if dim in w and (not isinstance(w[dim], int) or isinstance(w[dim], bool)):
                out.append({"DataPath": f"{path}/{dim}", "Message": "Should be integer"})
    return out


class Dashboards:
    def __init__(self, store: Store, clock: object) -> None:
        self.store = store
        self.clock = clock

    def put(self, account: str, name: str, body: str) -> list[dict[str, str]]:
        if not _NAME.match(name):
            raise errors.invalid_value(f"The value {name} for parameter DashboardName is invalid.")
        found = problems(body)
        if found:
            detail = json.dumps(
                [{"dataPath": p["DataPath"], "message": p["Message"]} for p in found], indent=2
            )
            raise errors.dashboard_invalid(
                f"The dashboard body is invalid, there are {len(found)} validation errors: "
                f"{detail}",
                found,
            )
        with Transaction(self.store.conn):
            self.store.put_dashboard(account, name, body, self.clock.time())  # type: ignore[attr-defined]
        return []

    def get(self, account: str, name: str) -> dict:
        for n, body, _ in self.store.dashboards(account, name):
            if n == name:
                return {
                    "DashboardArn": arn(account, name),
                    "DashboardBody": body,
                    "DashboardName": name,
                }
        raise errors.dashboard_not_found(f"Dashboard {name} does not exist")

    def list(self, account: str, prefix: str) -> list[dict]:
        return [
            {
                "DashboardName": n,
                "DashboardArn": arn(account, n),
                "LastModified": modified,
                "Size": len(body.encode()),
            }
            for n, body, modified in self.store.dashboards(account, prefix)
        ]

    def delete(self, account: str, names: list[str]) -> None:
        have = {n for n, _, _ in self.store.dashboards(account)}
        missing = [n for n in names if n not in have]
        if missing:
            raise errors.dashboard_not_found(f"Dashboard {missing[0]} does not exist")
        with Transaction(self.store.conn):
            self.store.delete_dashboards(account, names)
