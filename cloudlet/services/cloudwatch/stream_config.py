"""A metric stream's configuration: PutMetricStream's checks, and which metrics and
statistics the stream sends.

Why a module of its own: the API reference's rules (names of ``A-Z a-z 0-9 - _``, include
*or* exclude filters, 1,000 names across the filters, 100 statistics configurations of up
to 100 metrics and 20 statistics, percentiles only for the OpenTelemetry formats) are
checked once here, and the delivery loop (``metric_streams``) asks the resulting
``MetricStream`` what to send without knowing the wire shape.

A JSON stream may add any CloudWatch statistic beyond the four it always sends:
percentiles, and the trimmed and winsorized means, trimmed counts and sums, percentile
ranks and IQM of ``extended_stats``; the OpenTelemetry formats take percentiles only, as
the API reference says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cloudlet.services.cloudwatch import errors, extended_stats
from cloudlet.services.cloudwatch.statistics import percentile_of

FORMATS = ("json", "opentelemetry0.7", "opentelemetry1.0")
RUNNING, STOPPED = "running", "stopped"
MAX_FILTER_NAMES = 1000
MAX_STAT_CONFIGS = 100
MAX_STAT_METRICS = 100
MAX_STATS = 20
MAX_TAGS = 50
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_PRINTABLE = re.compile(r"^[\x20-\x7e]*\S[\x20-\x7e]*$")
_FIREHOSE = re.compile(r"^arn:aws[a-z-]*:firehose:[a-z0-9-]+:(\d{12}):deliverystream/[\w.-]{1,64}$")
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def stream_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:metric-stream/{name}"


@dataclass
class MetricStream:
    """One stream, as stored; ``cursor`` is the start (epoch seconds) of the first minute
    not yet sent, ``seen`` the rowid of the newest datapoint already accounted for."""

    name: str
    account: str
    region: str
    firehose_arn: str
    role_arn: str
    output_format: str
    include: list[dict[str, Any]] = field(default_factory=list)
    exclude: list[dict[str, Any]] = field(default_factory=list)
    statistics: list[dict[str, Any]] = field(default_factory=list)
    linked_accounts: bool = False
    state: str = RUNNING
    created: float = 0.0
    updated: float = 0.0
    cursor: float = 0.0
    seen: int = 0
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return stream_arn(self.region, self.account, self.name)

    # --- what is sent --------------------------------------------------------------

    def wants(self, namespace: str, name: str) -> bool:
        """Whether the filters let metric ``name`` of ``namespace`` through."""
        if self.include:
            return any(_matches(f, namespace, name) for f in self.include)
        return not any(_matches(f, namespace, name) for f in self.exclude)

    def extra_statistics(self, namespace: str, name: str) -> list[str]:
        """The additional statistics configured for a metric, in the order given."""
        out: list[str] = []
        for config in self.statistics:
            if any(
                m["Namespace"] == namespace and m["MetricName"] == name
                for m in config["IncludeMetrics"]
            ):
                out.extend(s for s in config["AdditionalStatistics"] if s not in out)
        return out

    # --- shapes ----------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "FirehoseArn": self.firehose_arn,
            "RoleArn": self.role_arn,
            "OutputFormat": self.output_format,
            "IncludeFilters": self.include,
            "ExcludeFilters": self.exclude,
            "StatisticsConfigurations": self.statistics,
            "IncludeLinkedAccountsMetrics": self.linked_accounts,
            "State": self.state,
            "CreationDate": self.created,
            "LastUpdateDate": self.updated,
            "Cursor": self.cursor,
            "Seen": self.seen,
            "Tags": self.tags,
        }

    @classmethod
    def load(cls, account: str, region: str, doc: dict[str, Any]) -> MetricStream:
        return cls(
            name=doc["Name"],
            account=account,
            region=region,
            firehose_arn=doc["FirehoseArn"],
            role_arn=doc["RoleArn"],
            output_format=doc["OutputFormat"],
            include=doc.get("IncludeFilters") or [],
            exclude=doc.get("ExcludeFilters") or [],
            statistics=doc.get("StatisticsConfigurations") or [],
            linked_accounts=bool(doc.get("IncludeLinkedAccountsMetrics")),
            state=doc.get("State", RUNNING),
            created=float(doc.get("CreationDate", 0.0)),
            updated=float(doc.get("LastUpdateDate", 0.0)),
            cursor=float(doc.get("Cursor", 0.0)),
            seen=int(doc.get("Seen", 0)),
            tags=doc.get("Tags") or [],
        )

    def shape(self) -> dict[str, Any]:
        """GetMetricStream's answer."""
        return {
            "Arn": self.arn,
            "Name": self.name,
            "IncludeFilters": self.include,
            "ExcludeFilters": self.exclude,
            "FirehoseArn": self.firehose_arn,
            "RoleArn": self.role_arn,
            "State": self.state,
            "CreationDate": self.created,
            "LastUpdateDate": self.updated,
            "OutputFormat": self.output_format,
            "StatisticsConfigurations": self.statistics,
            "IncludeLinkedAccountsMetrics": self.linked_accounts,
        }

    def entry(self) -> dict[str, Any]:
        """ListMetricStreams' entry."""
        return {
            "Arn": self.arn,
            "CreationDate": self.created,
            "LastUpdateDate": self.updated,
            "Name": self.name,
            "FirehoseArn": self.firehose_arn,
            "State": self.state,
            "OutputFormat": self.output_format,
        }


def tag_list(tags: list[dict[str, str]]) -> list[dict[str, str]]:
    """Tags merged by key (the last value wins), at most ``MAX_TAGS`` of them."""
    merged = {t["Key"]: t["Value"] for t in tags}
    if len(merged) > MAX_TAGS:
        raise errors.invalid_value(f"A resource can have at most {MAX_TAGS} tags.")
    return [{"Key": k, "Value": v} for k, v in merged.items()]


def _matches(flt: dict[str, Any], namespace: str, name: str) -> bool:
    names = flt.get("MetricNames")
    return flt["Namespace"] == namespace and (not names or name in names)


# --- PutMetricStream's checks ------------------------------------------------------------


def check_name(name: Any, parameter: str = "Name") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise errors.invalid_value(
            f"The value {name} for parameter {parameter} is invalid: a metric stream name is 1 "
            "to 255 characters of A-Z, a-z, 0-9, hyphen (-) and underscore (_)."
        )
    return name


def configure(params: dict[str, Any], account: str) -> dict[str, Any]:
    """PutMetricStream's parameters, checked: the configuration fields of a
    ``MetricStream`` (``include``, ``exclude``, ``statistics`` ...)."""
    check_name(params.get("Name"))
    output = params.get("OutputFormat")
    if output not in FORMATS:
        raise errors.bad_value(output, "OutputFormat")
    firehose, role = params.get("FirehoseArn"), params.get("RoleArn")
    match = _FIREHOSE.match(firehose or "")
    if match is None:
        raise errors.invalid_value(
            f"The value {firehose} for parameter FirehoseArn is invalid: it must be the ARN "
            "of a Firehose delivery stream (arn:aws:firehose:region:account:deliverystream/"
            "name)."
        )
    if match.group(1) != account:
        raise errors.invalid_value(
            f"The Firehose delivery stream {firehose} must be in the same account as the "
            "metric stream."
        )
    if not _ROLE.match(role or ""):
        raise errors.invalid_value(
            f"The value {role} for parameter RoleArn is invalid: it must be the ARN of an IAM "
            "role (arn:aws:iam::account:role/name)."
        )
    include = _filters(params.get("IncludeFilters"), "IncludeFilters")
    exclude = _filters(params.get("ExcludeFilters"), "ExcludeFilters")
    if include and exclude:
        raise errors.combination(
            "You cannot specify both IncludeFilters and ExcludeFilters in the same metric stream."
        )
    names = sum(1 + len(f.get("MetricNames") or []) for f in include or exclude)
    if names > MAX_FILTER_NAMES:
        raise errors.invalid_value(
            f"The filters of a metric stream can hold at most {MAX_FILTER_NAMES} names "
            f"(namespaces and metric names together); these hold {names}."
        )
    return {
        "firehose_arn": firehose,
        "role_arn": role,
        "output_format": output,
        "include": include,
        "exclude": exclude,
        "statistics": _statistics(params.get("StatisticsConfigurations"), output),
        "linked_accounts": bool(params.get("IncludeLinkedAccountsMetrics")),
    }


def _filters(given: Any, parameter: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, flt in enumerate(given or [], 1):
        where = f"{parameter}.member.{i}"
        namespace = flt.get("Namespace")
        if namespace is None:
            raise errors.missing(f"The parameter {where}.Namespace is required.")
        _printable(namespace, f"{where}.Namespace")
        if namespace.startswith(":"):
            raise errors.bad_value(namespace, f"{where}.Namespace")
        clean: dict[str, Any] = {"Namespace": namespace}
        names = flt.get("MetricNames")
        if names:
            for j, name in enumerate(names, 1):
                _printable(name, f"{where}.MetricNames.member.{j}")
            clean["MetricNames"] = list(dict.fromkeys(names))
        out.append(clean)
    return out


def _printable(value: Any, parameter: str) -> None:
    if not isinstance(value, str) or len(value) > 255 or not _PRINTABLE.match(value):
        raise errors.invalid_value(
            f"The value {value} for parameter {parameter} is invalid: it must be 1 to 255 "
            "ASCII printable characters, at least one of them not whitespace."
        )


def _statistics(given: Any, output: str) -> list[dict[str, Any]]:
    configs = given or []
    if len(configs) > MAX_STAT_CONFIGS:
        raise errors.invalid_value(
            "The collection StatisticsConfigurations must not have a size greater than "
            f"{MAX_STAT_CONFIGS}."
        )
    out = []
    for i, config in enumerate(configs, 1):
        where = f"StatisticsConfigurations.member.{i}"
        metrics = config.get("IncludeMetrics") or []
        stats = config.get("AdditionalStatistics") or []
        if not metrics:
            raise errors.missing(f"The parameter {where}.IncludeMetrics is required.")
        if not stats:
            raise errors.missing(f"The parameter {where}.AdditionalStatistics is required.")
        if len(metrics) > MAX_STAT_METRICS:
            raise errors.invalid_value(
                f"The collection {where}.IncludeMetrics must not have a size greater than "
                f"{MAX_STAT_METRICS}."
            )
        if len(stats) > MAX_STATS:
            raise errors.invalid_value(
                f"The collection {where}.AdditionalStatistics must not have a size greater "
                f"than {MAX_STATS}."
            )
        for j, metric in enumerate(metrics, 1):
            _printable(metric.get("Namespace"), f"{where}.IncludeMetrics.member.{j}.Namespace")
            _printable(metric.get("MetricName"), f"{where}.IncludeMetrics.member.{j}.MetricName")
        for j, stat in enumerate(stats, 1):
            _check_statistic(stat, output, f"{where}.AdditionalStatistics.member.{j}")
        out.append(
            {
                "IncludeMetrics": [
                    {"Namespace": m["Namespace"], "MetricName": m["MetricName"]} for m in metrics
                ],
                "AdditionalStatistics": list(dict.fromkeys(stats)),
            }
        )
    return out


def _check_statistic(stat: Any, output: str, parameter: str) -> None:
    p = percentile_of(stat) if isinstance(stat, str) else None
    if p is not None:
        if output != "json" and not 0 < p < 100:
            raise errors.invalid_value(
                f"The value {stat} for parameter {parameter} is invalid: the OpenTelemetry "
                "formats stream percentiles strictly between p0 and p100 (the minimum and "
                "maximum are always sent)."
            )
        return
    if output == "json" and isinstance(stat, str):
        try:
            if extended_stats.parse(stat) is not None:
                return
        except extended_stats.BadStatistic as bad:
            raise errors.invalid_value(
                f"The value {stat} for parameter {parameter} is invalid: {bad}."
            ) from None
    allowed = "percentile statistics (p90, p99.9 ...)" if output != "json" else "statistics"
    raise errors.invalid_value(
        f"The value {stat} for parameter {parameter} is invalid: a stream in the {output} "
        f"format streams CloudWatch {allowed}."
    )
