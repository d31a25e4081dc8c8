"""Anomaly detectors (PutAnomalyDetector, DescribeAnomalyDetectors,
DeleteAnomalyDetector) and the bands ``ANOMALY_DETECTION_BAND`` returns.

A detector models a metric and statistic (SINGLE_METRIC) or a metric math
expression (METRIC_MATH), with its training configuration. It is identified by
what it models, so a second PutAnomalyDetector for the same metric and statistic
replaces the configuration, as on AWS. Detectors are written through to SQLite
and reloaded at start, like alarms.

Models (``anomaly_model``, whose docstring says exactly what they compute) are
trained from the stored datapoints when a band is asked for, and cached per
detector and period with the data versions they saw (``Metrics.versions``) and
the hour: a put to one of the detector's metrics (at most once a ``RETRAIN_SECONDS``
for a trained model), a new configuration, or the training window moving on by an
hour retrains; anything else reuses the model.

StateValue: AWS names three values without saying when each applies. Our
reading: PENDING_TRAINING until the two-week window holds ``MIN_POINTS`` periods
with data (five-minute periods; a metric math detector's own period), TRAINED
from then on, and TRAINED_INSUFFICIENT_DATA once a trained detector's window no
longer does (its data aged out or was excluded).

Band alarms need a detector: creating one, or evaluating one whose detector was
deleted, creates it with no configuration (AWS: "If you delete the model without
deleting the alarm, the alarm automatically recreates the model"). GetMetricData
does not create one: a band over a metric without a detector is an error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import ServiceError
from cloudlet.services.cloudwatch import anomaly_model, errors, queries
from cloudlet.services.cloudwatch.anomaly_model import WINDOW, Model
from cloudlet.services.cloudwatch.bands import band_target
from cloudlet.services.cloudwatch.metric_math import MathError, references
from cloudlet.services.cloudwatch.metrics import MetricRef, Metrics, epoch, origin
from cloudlet.services.cloudwatch.statistics import is_valid_stat
from cloudlet.services.cloudwatch.store import Store, canonical_dims
from cloudlet.state.db import Transaction

SINGLE, MATH = "SINGLE_METRIC", "METRIC_MATH"
TYPES = (SINGLE, MATH)
DETECTOR_LIMIT = 500
"""AWS's quota: "Anomaly detection models: 500 per Region, per account"."""
LIMIT_ENV = "CLOUDLET_CLOUDWATCH_ANOMALY_DETECTOR_LIMIT"
STATE_PERIOD = 300
MAX_EXCLUDED = 10
MAX_MATH_QUERIES = 10
RETRAIN_SECONDS = 60.0
"""The least time between two trainings of a model whose metric keeps getting data."""
_LEGACY = ("Namespace", "MetricName", "Dimensions", "Stat")
_UNSUPPORTED_MATH = ("METRICS", "SEARCH", "ANOMALY_DETECTION_BAND")
_AWS_ONLY_STAT = re.compile(r"^(IQM|(p|tc|tm|ts|wm)\d|[ou]\d|(TM|TC|TS|WM|PR)\()")

Key = tuple[str, str, str]


def detector_limit(environ: Mapping[str, str] | None = None) -> int:
    """How many anomaly detectors an account may hold in one Region."""
    return int(seconds_setting(LIMIT_ENV, DETECTOR_LIMIT, low=0, environ=environ))


def closure(target: str, by_id: Mapping[str, dict]) -> list[dict]:
    """The queries ``target`` depends on (itself included), in their given order, with
    ReturnData on ``target`` only: what a metric math detector for it holds."""
    seen: set[str] = set()
    todo = [target]
    while todo:
        qid = todo.pop()
        if qid in seen or qid not in by_id:
            continue
        seen.add(qid)
        expression = by_id[qid].get("Expression")
        if expression:
            ids, funcs = references(expression)
            todo += ids
            if "METRICS" in funcs:
                todo += [k for k, q in by_id.items() if "MetricStat" in q]
    return [{**q, "ReturnData": k == target} for k, q in by_id.items() if k in seen]


def _canonical(qs: list[dict]) -> list:
    """A metric math detector's identity: its queries without labels or spacing."""
    target = next((q["Id"] for q in qs if q.get("ReturnData", True)), "")
    out = []
    for q in closure(target, {q["Id"]: q for q in qs}):
        if "MetricStat" in q:
            ms, metric = q["MetricStat"], q["MetricStat"]["Metric"]
            body: list = [
                metric["Namespace"],
                metric["MetricName"],
                canonical_dims(metric.get("Dimensions")),
                int(ms["Period"]),
                ms["Stat"],
                ms.get("Unit"),
            ]
        else:
            body = [re.sub(r"\s+", "", q["Expression"])]
        out.append([q["Id"], q["ReturnData"], body])
    return sorted(out)


@dataclass
class Detector:
    kind: str
    account_id: str = ""
    """The metric's account (SingleMetricAnomalyDetector.AccountId)."""
    namespace: str = ""
    metric_name: str = ""
    dimensions: list[dict] = field(default_factory=list)
    stat: str = ""
    queries: list[dict] = field(default_factory=list)
    excluded: list[tuple[float, float]] = field(default_factory=list)
    timezone: str | None = None
    periodic_spikes: bool | None = None
    trained: bool = False

    @property
    def key(self) -> str:
        if self.kind == MATH:
            return json.dumps([MATH, _canonical(self.queries)], separators=(",", ":"))
        dims = canonical_dims(self.dimensions)
        who = [self.account_id, self.namespace, self.metric_name, dims, self.stat]
        return json.dumps([SINGLE, *who], separators=(",", ":"))

    def ref(self) -> MetricRef:
        return MetricRef(self.namespace, self.metric_name, canonical_dims(self.dimensions))

    def period(self) -> int:
        """The period its StateValue is judged at."""
        periods = [int(q["MetricStat"]["Period"]) for q in self.queries if "MetricStat" in q]
        return min(periods) if periods else STATE_PERIOD

    def shape(self, state: str) -> dict[str, Any]:
        """As DescribeAnomalyDetectors shows it: a single-metric detector also in the
        deprecated top-level fields, as AWS still returns them."""
        config: dict[str, Any] = {
            "ExcludedTimeRanges": [{"StartTime": s, "EndTime": e} for s, e in self.excluded]
        }
        if self.timezone:
            config["MetricTimezone"] = self.timezone
        metric = {
            "Namespace": self.namespace,
            "MetricName": self.metric_name,
            "Dimensions": list(self.dimensions),
            "Stat": self.stat,
        }
        out: dict[str, Any] = dict(metric) if self.kind == SINGLE else {}
        out.update(Configuration=config, StateValue=state)
        if self.periodic_spikes is not None:
            out["MetricCharacteristics"] = {"PeriodicSpikes": self.periodic_spikes}
        if self.kind == SINGLE:
            out["SingleMetricAnomalyDetector"] = {"AccountId": self.account_id, **metric}
        else:
            out["MetricMathAnomalyDetector"] = {"MetricDataQueries": list(self.queries)}
        return out

    def document(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_document(cls, body: dict[str, Any]) -> Detector:
        det = cls(**body)
        det.excluded = [(float(s), float(e)) for s, e in det.excluded]
        return det


# --- request parsing --------------------------------------------------------------


def identify(account: str, params: dict[str, Any]) -> Detector:
    """The detector a Put/DeleteAnomalyDetector request names, in either of its forms."""
    single = params.get("SingleMetricAnomalyDetector")
    maths = params.get("MetricMathAnomalyDetector")
    legacy = [k for k in _LEGACY if params.get(k)]
    if single is not None and maths is not None:
        raise errors.combination(
            "SingleMetricAnomalyDetector and MetricMathAnomalyDetector cannot be specified "
            "together."
        )
    if (single is not None or maths is not None) and legacy:
        which = "SingleMetricAnomalyDetector" if single is not None else "MetricMathAnomalyDetector"
        raise errors.combination(
            f"When using {which}, you cannot include the parameters Dimensions, MetricName, "
            "Namespace or Stat."
        )
    if maths is not None:
        return _math_detector(maths)
    spec = single if single is not None else params
    where = "SingleMetricAnomalyDetector." if single is not None else ""
    for name in ("Namespace", "MetricName", "Stat"):
        if not spec.get(name):
            raise errors.missing(f"The parameter {where}{name} is required.")
    dims = list(spec.get("Dimensions") or [])
    names = [d["Name"] for d in dims]
    if len(set(names)) != len(names):
        raise errors.invalid_value(f"No duplicate dimension names allowed in {where}Dimensions.")
    stat = spec["Stat"]
    if not is_valid_stat(stat):
        if _AWS_ONLY_STAT.match(stat):
            raise errors.invalid_value(
                f"The statistic {stat} is not supported by cloudlet yet: anomaly detectors "
                "take SampleCount, Average, Sum, Minimum, Maximum or a percentile (pNN)."
            )
        raise errors.bad_value(stat, f"{where}Stat")
    return Detector(
        SINGLE,
        account_id=spec.get("AccountId") or account,
        namespace=spec["Namespace"],
        metric_name=spec["MetricName"],
        dimensions=dims,
        stat=stat,
    )


def _math_detector(maths: dict[str, Any]) -> Detector:
    qs = list(maths.get("MetricDataQueries") or [])
    if not qs:
        raise errors.missing(
            "The parameter MetricMathAnomalyDetector.MetricDataQueries is required."
        )
    queries.validate(qs)
    if sum(1 for q in qs if q.get("ReturnData", True)) != 1:
        raise errors.invalid_value(
            "Exactly one element of MetricMathAnomalyDetector.MetricDataQueries must return "
            "data: the expression the detector models."
        )
    if len(qs) > MAX_MATH_QUERIES:
        raise errors.invalid_value(
            f"Anomaly detection on metric math takes at most {MAX_MATH_QUERIES} metrics and "
            "expressions."
        )
    for q in qs:
        if q.get("Expression"):
            _, funcs = references(q["Expression"])
            for func in _UNSUPPORTED_MATH:
                if func in funcs:
                    raise errors.invalid_value(
                        f"Anomaly detection on metric math does not support {func} ({q['Id']})."
                    )
    periods = {int(q["MetricStat"]["Period"]) for q in qs if "MetricStat" in q}
    if len(periods) > 1:
        raise errors.invalid_value(
            "Anomaly detection on metric math does not support metrics with different periods."
        )
    if any(p < 60 for p in periods):
        raise errors.invalid_value(
            "Anomaly detection on metric math does not support high-resolution metrics."
        )
    return Detector(MATH, queries=qs)


def _configure(det: Detector, params: dict[str, Any]) -> None:
    config = params.get("Configuration") or {}
    ranges = config.get("ExcludedTimeRanges") or []
    if len(ranges) > MAX_EXCLUDED:
        raise errors.invalid_value(
            "The collection Configuration.ExcludedTimeRanges must not have a size greater "
            f"than {MAX_EXCLUDED}."
        )
    det.excluded = []
    for i, r in enumerate(ranges, 1):
        start, end = epoch(r["StartTime"]), epoch(r["EndTime"])
        if start >= end:
            raise errors.invalid_value(
                f"The StartTime of Configuration.ExcludedTimeRanges.member.{i} must be before "
                "its EndTime."
            )
        det.excluded.append((start, end))
    tz = config.get("MetricTimezone")
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise errors.bad_value(tz, "Configuration.MetricTimezone") from None
    det.timezone = tz or None
    det.periodic_spikes = (params.get("MetricCharacteristics") or {}).get("PeriodicSpikes")


# --- the engine -------------------------------------------------------------------


class AnomalyEngine:
    def __init__(self, store: Store, metrics: Metrics, clock: Any, limit: int | None = None):
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.limit = detector_limit() if limit is None else limit
        self.detectors: dict[Key, Detector] = {}
        self.models: dict[tuple[str, str, str, int], tuple[tuple, Model | None, float]] = {}
        for account, region, body in store.anomaly_detectors():
            det = Detector.from_document(body)
            self.detectors[(account, region, det.key)] = det

    # --- operations -----------------------------------------------------------------

    def put(self, account: str, region: str, params: dict[str, Any]) -> None:
        det = identify(account, params)
        _configure(det, params)
        old = self.detectors.get((account, region, det.key))
        if old is None:
            self._check_room(account, region)
        else:
            det.trained = old.trained
        self._save(account, region, det)

    def delete(self, account: str, region: str, params: dict[str, Any]) -> None:
        det = identify(account, params)
        if self.detectors.pop((account, region, det.key), None) is None:
            raise errors.resource_not_found("No anomaly detector exists for that metric.")
        self._forget(account, region, det.key)
        with Transaction(self.store.conn):
            self.store.delete_anomaly_detector(account, region, det.key)

    def describe(self, account: str, region: str, params: dict[str, Any]) -> list[Detector]:
        """The detectors DescribeAnomalyDetectors' filters select, in a stable order."""
        types = params.get("AnomalyDetectorTypes") or [SINGLE]
        for t in types:
            if t not in TYPES:
                raise errors.bad_value(t, "AnomalyDetectorTypes")
        namespace, name = params.get("Namespace"), params.get("MetricName")
        wanted = {(d["Name"], d["Value"]) for d in params.get("Dimensions") or []}

        def selected(det: Detector) -> bool:
            if det.kind == MATH:  # the filters name a metric: they select single metrics
                return True
            have = {(d["Name"], d["Value"]) for d in det.dimensions}
            return (
                (not namespace or det.namespace == namespace)
                and (not name or det.metric_name == name)
                and wanted <= have
            )

        found = [
            det
            for (acct, reg, _), det in self.detectors.items()
            if (acct, reg) == (account, region) and det.kind in types and selected(det)
        ]
        return sorted(found, key=lambda d: d.key)

    def state(self, account: str, region: str, det: Detector) -> str:
        if self.model(account, region, det, det.period()) is not None:
            return "TRAINED"
        return "TRAINED_INSUFFICIENT_DATA" if det.trained else "PENDING_TRAINING"

    def _check_room(self, account: str, region: str) -> None:
        held = sum(1 for a, r, _ in self.detectors if (a, r) == (account, region))
        if held >= self.limit:
            raise errors.limit_exceeded(
                f"The maximum number of anomaly detection models ({self.limit}) for this "
                f"account in {region} has been reached."
            )

    def _save(self, account: str, region: str, det: Detector) -> None:
        self.detectors[(account, region, det.key)] = det
        self._forget(account, region, det.key)
        with Transaction(self.store.conn):
            self.store.save_anomaly_detector(account, region, det.key, det.document())

    def _forget(self, account: str, region: str, key: str) -> None:
        for k in [k for k in self.models if k[:3] == (account, region, key)]:
            del self.models[k]

    def ensure(self, account: str, region: str, det: Detector) -> Detector:
        """The detector for what ``det`` models, created (unconfigured) when missing."""
        found = self.detectors.get((account, region, det.key))
        if found is None:
            self._check_room(account, region)
            self._save(account, region, det)
            found = det
        return found

    def ensure_for_alarm(
        self, account: str, region: str, metrics: list[dict], threshold_id: str
    ) -> None:
        """Create the detector a band alarm's ThresholdMetricId needs (PutMetricAlarm)."""
        by_id = {q["Id"]: q for q in metrics}
        target = band_target(by_id[threshold_id]["Expression"]) or ""
        det, _ = self._detector_for(account, target, by_id)
        self.ensure(account, region, det)

    # --- models and bands -------------------------------------------------------------

    def model(self, account: str, region: str, det: Detector, period: int) -> Model | None:
        """``det``'s model at ``period``, retrained only when its inputs changed, and a
        trained one at most every ``RETRAIN_SECONDS`` (a metric put every second, under
        an alarm evaluated every second, would otherwise retrain on two weeks of data
        each second)."""
        now = self.clock.time()
        fingerprint = (self._versions(account, region, det), math.floor(now / 3600))
        cache_key = (account, region, det.key, period)
        cached = self.models.get(cache_key)
        if cached is not None and (
            cached[0] == fingerprint
            or (
                cached[1] is not None
                and cached[0][1] == fingerprint[1]
                and now - cached[2] < RETRAIN_SECONDS
            )
        ):
            return cached[1]
        model = anomaly_model.train(
            self._training(account, region, det, period, now),
            period,
            excluded=det.excluded,
            tz=ZoneInfo(det.timezone) if det.timezone else None,
            periodic_spikes=bool(det.periodic_spikes),
        )
        self.models[cache_key] = (fingerprint, model, now)
        if model is not None and not det.trained and (account, region, det.key) in self.detectors:
            det.trained = True
            with Transaction(self.store.conn):
                self.store.save_anomaly_detector(account, region, det.key, det.document())
        return model

    def _versions(self, account: str, region: str, det: Detector) -> tuple:
        if det.kind == SINGLE:
            return (self.metrics.version(det.account_id, region, det.ref()),)
        return tuple(
            self.metrics.version(account, region, MetricRef.of(q["MetricStat"]["Metric"]))
            for q in det.queries
            if "MetricStat" in q
        )

    def _training(
        self, account: str, region: str, det: Detector, period: int, now: float
    ) -> dict[float, float]:
        """One value per period of the two weeks before ``now`` (the open period too:
        a put always reaches the model, and robust training shrugs off its partial
        value)."""
        begin = math.floor((now - WINDOW) / period) * period
        end = now + 1
        if det.kind == SINGLE:
            raw = self.metrics.series(
                det.account_id, region, det.ref(), begin, end, period, det.stat
            )
            return {t: v for t, (v, _) in raw.items()}
        try:
            results = queries.run(self.metrics, account, region, det.queries, begin, end)
        except ServiceError:
            return {}
        chosen = next((r for r in results if r.return_data), None)
        return dict(chosen.points) if chosen is not None else {}

    def _detector_for(
        self, account: str, target: str, by_id: Mapping[str, dict]
    ) -> tuple[Detector, int]:
        """The detector a band over query ``target`` reads, and the band's period."""
        q = by_id.get(target)
        if q is None:
            raise MathError(f"Unrecognized metric id {target}")
        if "MetricStat" in q:
            ms, metric = q["MetricStat"], q["MetricStat"]["Metric"]
            det = Detector(
                SINGLE,
                account_id=q.get("AccountId") or account,
                namespace=metric["Namespace"],
                metric_name=metric["MetricName"],
                dimensions=list(metric.get("Dimensions") or []),
                stat=ms["Stat"],
            )
            return det, int(ms["Period"])
        det = Detector(MATH, queries=closure(target, by_id))
        return det, det.period()

    def bands(self, account: str, region: str, create: bool) -> queries.Bands:
        """What ``queries.run`` calls for ``ANOMALY_DETECTION_BAND``; ``create``: make a
        missing detector (alarms) instead of failing (GetMetricData)."""

        def band(
            target: str, by_id: dict[str, dict], stddevs: float, start: float, end: float
        ) -> tuple[dict[float, float], dict[float, float]]:
            det, period = self._detector_for(account, target, by_id)
            found = self.detectors.get((account, region, det.key))
            if found is None and not create:
                what = (
                    f"metric {det.namespace}/{det.metric_name} with statistic {det.stat}"
                    if det.kind == SINGLE
                    else f"expression {target}"
                )
                raise MathError(
                    f"No anomaly detection model exists for the {what}: create one with "
                    "PutAnomalyDetector."
                )
            model = self.model(account, region, found or self.ensure(account, region, det), period)
            upper: dict[float, float] = {}
            lower: dict[float, float] = {}
            if model is None:
                return upper, lower
            t = origin(start, period)
            stop = min(end, self.clock.time() + 1)
            while t < stop:
                if t >= model.first:
                    lower[t], upper[t] = model.band(t, stddevs)
                t += period
            return upper, lower

        return band
