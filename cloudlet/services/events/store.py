"""EventBridge state: event buses, rules (with their targets and tags), archives,
replays, connections (with their secrets) and API destinations, in memory and written
through to SQLite; the archived events themselves stay on disk (``archived.py``).

A few hundred documents, read on every PutEvents and rarely written: the
``DocumentStore`` pattern SNS, EC2 and AutoScaling use. Every account and region has a
``default`` bus; it is written down the first time it is looked at, so its creation time
and tags are stable across restarts. Rules are kept by bus, in name order, so a
PutEvents reads only the rules of the bus it names.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.events.archived import ArchivedEvents
from cloudlet.services.events.common import DEFAULT_BUS, bus_arn
from cloudlet.state.documents import DocumentStore

Doc = dict[str, Any]


class EventsStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.docs = DocumentStore(conn, "events_resources")
        self.buses: dict[str, Doc] = {d["Arn"]: d for d in self.docs.load("bus")}
        self.rules: dict[str, dict[str, Doc]] = {}
        """bus ARN -> rule name -> rule."""
        for rule in self.docs.load("rule"):
            self.rules.setdefault(rule["BusArn"], {})[rule["Name"]] = rule
        self.archives: dict[str, Doc] = {d["ArchiveArn"]: d for d in self.docs.load("archive")}
        self.replays: dict[str, Doc] = {d["ReplayArn"]: d for d in self.docs.load("replay")}
        self.connections: dict[str, Doc] = {
            d["ConnectionArn"]: d for d in self.docs.load("connection")
        }
        self.api_destinations: dict[str, Doc] = {
            d["ApiDestinationArn"]: d for d in self.docs.load("api-destination")
        }
        self.archived = ArchivedEvents(conn)

    def close(self) -> None:
        self.docs.close()

    # -- buses ---------------------------------------------------------------------------

    def bus(self, account: str, region: str, name: str) -> Doc | None:
        arn = bus_arn(region, account, name)
        found = self.buses.get(arn)
        if found is None and name == DEFAULT_BUS:
            now = clock.time()
            found = {
                "Name": DEFAULT_BUS,
                "Arn": arn,
                "Account": account,
                "Region": region,
                "CreationTime": now,
                "LastModifiedTime": now,
                "Tags": {},
            }
            self.save_bus(found)
        return found

    def buses_of(self, account: str, region: str) -> list[Doc]:
        self.bus(account, region, DEFAULT_BUS)
        mine = [b for b in self.buses.values() if (b["Account"], b["Region"]) == (account, region)]
        return sorted(mine, key=lambda b: b["Name"])

    def save_bus(self, bus: Doc) -> None:
        self.buses[bus["Arn"]] = bus
        self.docs.put("bus", bus["Arn"], bus)

    def delete_bus(self, bus: Doc) -> None:
        for rule in list(self.rules.get(bus["Arn"], {}).values()):
            self.delete_rule(rule)
        self.rules.pop(bus["Arn"], None)
        self.buses.pop(bus["Arn"], None)
        self.docs.delete("bus", bus["Arn"])

    # -- rules ---------------------------------------------------------------------------

    def rule(self, bus: Doc, name: str) -> Doc | None:
        return self.rule_by(bus["Arn"], name)

    def rule_by(self, bus_arn: str, name: str) -> Doc | None:
        return self.rules.get(bus_arn, {}).get(name)

    def rules_of(self, bus: Doc) -> list[Doc]:
        return sorted(self.rules.get(bus["Arn"], {}).values(), key=lambda r: r["Name"])

    def all_rules(self) -> list[Doc]:
        return [r for rules in self.rules.values() for r in rules.values()]

    def save_rule(self, rule: Doc) -> None:
        self.rules.setdefault(rule["BusArn"], {})[rule["Name"]] = rule
        self.docs.put("rule", rule["Arn"], rule)

    def delete_rule(self, rule: Doc) -> None:
        self.rules.get(rule["BusArn"], {}).pop(rule["Name"], None)
        self.docs.delete("rule", rule["Arn"])

    # -- archives and replays -----------------------------------------------------------

    def archives_of(self, bus_arn: str) -> list[Doc]:
        return [a for a in self.archives.values() if a["EventSourceArn"] == bus_arn]

    def save_archive(self, archive: Doc) -> None:
        self.archives[archive["ArchiveArn"]] = archive
        self.docs.put("archive", archive["ArchiveArn"], archive)

    def delete_archive(self, archive: Doc) -> None:
        self.archives.pop(archive["ArchiveArn"], None)
        self.docs.delete("archive", archive["ArchiveArn"])
        self.archived.drop(archive["ArchiveArn"])

    def save_replay(self, replay: Doc) -> None:
        self.replays[replay["ReplayArn"]] = replay
        self.docs.put("replay", replay["ReplayArn"], replay)

    # -- connections and API destinations ----------------------------------------------

    def connection_named(self, account: str, region: str, name: str) -> Doc | None:
        prefix = f"arn:aws:events:{region}:{account}:connection/{name}/"
        return next((c for a, c in self.connections.items() if a.startswith(prefix)), None)

    def save_connection(self, connection: Doc) -> None:
        self.connections[connection["ConnectionArn"]] = connection
        self.docs.put("connection", connection["ConnectionArn"], connection)

    def set_connection_state(
        self, connection: Doc, state: str, reason: str | None = None, authorized: bool = False
    ) -> None:
        """Move ``connection`` to ``state`` (with ``reason`` as its StateReason, or none)."""
        connection["ConnectionState"] = state
        if reason:
            connection["StateReason"] = reason[:512]
        else:
            connection.pop("StateReason", None)
        if authorized:
            connection["LastAuthorizedTime"] = clock.time()
        if connection["ConnectionArn"] in self.connections:
            self.save_connection(connection)

    def delete_connection(self, connection: Doc) -> None:
        self.connections.pop(connection["ConnectionArn"], None)
        self.docs.delete("connection", connection["ConnectionArn"])

    def api_destination_named(self, account: str, region: str, name: str) -> Doc | None:
        prefix = f"arn:aws:events:{region}:{account}:api-destination/{name}/"
        return next((d for a, d in self.api_destinations.items() if a.startswith(prefix)), None)

    def save_api_destination(self, destination: Doc) -> None:
        self.api_destinations[destination["ApiDestinationArn"]] = destination
        self.docs.put("api-destination", destination["ApiDestinationArn"], destination)

    def delete_api_destination(self, destination: Doc) -> None:
        self.api_destinations.pop(destination["ApiDestinationArn"], None)
        self.docs.delete("api-destination", destination["ApiDestinationArn"])
