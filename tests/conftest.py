"""Shared test set-up: the conformance tally, the ``aws`` CLI fixture and a strict server.

The cloudlet fixtures come from the ``cloudlet.testing`` plugin, which pip
registers when the project is installed (the README's install command).

The per-protocol pass counts are read from the test reports (not from module
state) so they are right under pytest-xdist too.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.cli import aws_cli

_CASE = re.compile(r"test_protocols\.py::test_(input|output)\[(?:legacy-)?([^:]+):")


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    passed: Counter = Counter()
    failed: Counter = Counter()
    skipped: Counter = Counter()
    for outcome, bucket in (("passed", passed), ("failed", failed), ("skipped", skipped)):
        for report in terminalreporter.stats.get(outcome, []):
            m = _CASE.search(getattr(report, "nodeid", ""))
            if m and getattr(report, "when", "call") in ("call", "setup"):
                bucket[(m.group(2), m.group(1))] += 1
    if not passed and not failed:
        return
    terminalreporter.section("protocol conformance (cases per protocol)")
    for key in sorted(set(passed) | set(failed) | set(skipped)):
        proto, direction = key
        terminalreporter.write_line(
            f"{proto:42s} {direction:6s} passed {passed[key]:4d}  failed {failed[key]:4d}"
            + (f"  client-only {skipped[key]}" if skipped[key] else "")
        )


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    """A ``cloudlet serve --auth strict`` with a data dir, one per test module."""
    from cloudlet.testing import CloudletServer

    srv = CloudletServer.start(auth="strict", data_dir=tmp_path_factory.mktemp("strict"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def aws(cloudlet_server, tmp_path):
    """The AWS CLI (``python -m awscli``) pointed at the session's server: ``aws(*args)``."""
    return aws_cli(cloudlet_server.endpoint, tmp_path)
