"""The load balancer engine without HTTP: rule matching, redirects, target choice."""

from __future__ import annotations

from cloudlet.services.elbv2 import rules
from cloudlet.services.elbv2.health import HealthCheck, TargetPool
from cloudlet.services.elbv2.proxy import Request


def _req(target: str = "/", method: str = "GET", **headers: str) -> Request:
    return Request(method, target, "HTTP/1.1", list(headers.items()), "10.1.2.3")


def test_conditions() -> None:
    path = {"Field": "path-pattern", "Values": ["/api/*", "/v?/x"]}
    assert rules.condition_matches(path, _req("/api/users?a=1"))
    assert rules.condition_matches(path, _req("/v2/x"))
    assert not rules.condition_matches(path, _req("/API/users"))  # paths are case-sensitive
    host = {"Field": "host-header", "HostHeaderConfig": {"Values": ["*.example.com"]}}
    assert rules.condition_matches(host, _req(Host="WWW.Example.com:80"))
    assert not rules.condition_matches(host, _req(Host="example.org"))
    header = {
        "Field": "http-header",
        "HttpHeaderConfig": {"HttpHeaderName": "User-Agent", "Values": ["*Mobile*"]},
    }
    assert rules.condition_matches(header, _req(**{"user-agent": "x Mobile y"}))
    query = {"Field": "query-string", "QueryStringConfig": {"Values": [{"Value": "on"}]}}
    assert rules.condition_matches(query, _req("/?debug=on"))
    assert not rules.condition_matches(query, _req("/?debug=off"))
    method = {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}}
    assert rules.condition_matches(method, _req(method="POST"))
    source = {"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}
    assert rules.condition_matches(source, _req())


def test_redirect_placeholders() -> None:
    config = {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_302"}
    reply = rules.redirect(
        {"Host": "#{host}", "Path": "/#{path}", "Query": "#{query}", **config},
        _req("/a/b?x=1", Host="site.test"),
        80,
    )
    assert reply.status == 302
    assert dict(reply.headers)["Location"] == "https://site.test/a/b?x=1"


def test_matcher_ranges() -> None:
    check = HealthCheck(matcher="200,300-302")
    assert check.matches(200) and check.matches(301) and not check.matches(404)


def test_pick_round_robin_fail_open_and_least_outstanding() -> None:
    pool = TargetPool("tg", HealthCheck())
    pool.add("a", 1, "127.0.0.1")
    pool.add("b", 2, "127.0.0.1")
    # nothing healthy yet: an ALB fails open over every registered target
    assert {pool.pick().id for _ in range(4)} == {"a", "b"}
    pool.targets[("a", 1)].state = "healthy"
    assert {pool.pick().id for _ in range(4)} == {"a"}
    pool.targets[("b", 2)].state = "healthy"
    pool.algorithm = lambda: "least_outstanding_requests"
    pool.targets[("a", 1)].outstanding = 3
    assert {pool.pick().id for _ in range(4)} == {"b"}
    classic = TargetPool("clb", HealthCheck(), fail_open=False)
    classic.add("i-1", 0, "127.0.0.1")
    assert classic.pick() is None
    pool.remove("a", 1, 0)
    assert ("a", 1) not in pool.targets
