"""The metric stream operations (PutMetricStream, GetMetricStream, ListMetricStreams,
DeleteMetricStream, StartMetricStreams, StopMetricStreams) and what strict mode checks
for them.

Why a mixin of its own: the handlers only find the stream, hand the work to
``MetricStreams`` (``metric_streams``) and shape the answer; keeping them here keeps
``api.py`` to the other operation groups. Strict mode authorizes each operation on the
stream's ARN (``arn:aws:cloudwatch:<region>:<account>:metric-stream/<name>``), and
Start/StopMetricStreams on every stream named: "an all or nothing operation", as the API
reference says, so a caller refused one of them changes none.
"""

from __future__ import annotations

import base64
from typing import Any

from cloudlet.services.cloudwatch import errors
from cloudlet.services.cloudwatch.metric_streams import MetricStreams
from cloudlet.services.cloudwatch.stream_config import RUNNING, STOPPED, check_name, stream_arn

Result = dict[str, Any]
LIST_LIMIT = 500
_BY_NAME = ("PutMetricStream", "GetMetricStream", "DeleteMetricStream")
_BY_NAMES = ("StartMetricStreams", "StopMetricStreams")
_BY_ARN = ("TagResource", "UntagResource", "ListTagsForResource")


class MetricStreamOps:
    """Mixed into the CloudWatch service; ``streams`` is its ``MetricStreams``."""

    streams: MetricStreams

    def put_metric_stream(self, ctx: Any, params: dict[str, Any]) -> Result:
        stream = self.streams.put(ctx.account_id, ctx.region, params)
        return {"Arn": stream.arn}

    def get_metric_stream(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = check_name(params["Name"])
        return self.streams.get(ctx.account_id, ctx.region, name).shape()

    def list_metric_streams(self, ctx: Any, params: dict[str, Any]) -> Result:
        size = params.get("MaxResults") or LIST_LIMIT
        if not 1 <= size <= LIST_LIMIT:
            raise errors.bad_value(size, "MaxResults")
        after = ""
        if params.get("NextToken"):
            try:
                after = base64.b64decode(params["NextToken"], validate=True).decode()
            except ValueError:
                raise errors.invalid_next_token() from None
        found = [s for s in self.streams.list(ctx.account_id, ctx.region) if s.name > after]
        out: Result = {"Entries": [s.entry() for s in found[:size]]}
        if len(found) > size:
            out["NextToken"] = base64.b64encode(found[size - 1].name.encode()).decode()
        return out

    def delete_metric_stream(self, ctx: Any, params: dict[str, Any]) -> Result:
        """Deleting a stream that does not exist succeeds (the operation models no
        not-found error)."""
        self.streams.delete(ctx.account_id, ctx.region, check_name(params["Name"]))
        return {}

    def start_metric_streams(self, ctx: Any, params: dict[str, Any]) -> Result:
        names = [check_name(n, "Names") for n in params["Names"]]
        self.streams.set_state(ctx.account_id, ctx.region, names, RUNNING)
        return {}

    def stop_metric_streams(self, ctx: Any, params: dict[str, Any]) -> Result:
        names = [check_name(n, "Names") for n in params["Names"]]
        self.streams.set_state(ctx.account_id, ctx.region, names, STOPPED)
        return {}

    # --- strict mode -----------------------------------------------------------------

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """The metric stream a stream operation names, the resource a tagging operation
        names; "*" for the rest (CloudWatch has no resource policies)."""
        if operation in _BY_NAME and isinstance(params.get("Name"), str):
            return stream_arn(ctx.region, ctx.account_id, params["Name"]), None
        if operation in _BY_ARN and isinstance(params.get("ResourceARN"), str):
            return params["ResourceARN"], None
        return "*", None

    def authorization_checks(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[tuple[str, str, str | None], ...] | None:
        """Start/StopMetricStreams: their action on each stream named."""
        if operation not in _BY_NAMES:
            return None
        return tuple(
            (f"cloudwatch:{operation}", stream_arn(ctx.region, ctx.account_id, str(n)), None)
            for n in params.get("Names") or []
        )
