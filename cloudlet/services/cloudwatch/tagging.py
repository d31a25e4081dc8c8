"""TagResource, UntagResource and ListTagsForResource: CloudWatch's one way of tagging,
for every resource kind that has tags.

Why one place: the operations take any CloudWatch ARN, so they find what it names
(an alarm, a user's Contributor Insights rule, a metric stream) and keep the tags with
it, in that resource's own document. A resource can hold 50 tags; an ARN naming nothing
answers ``ResourceNotFoundException``.
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.cloudwatch import errors
from cloudlet.services.cloudwatch.alarms import AlarmEngine
from cloudlet.services.cloudwatch.insights import Insights
from cloudlet.services.cloudwatch.metric_streams import MetricStreams
from cloudlet.services.cloudwatch.stream_config import MAX_TAGS

Result = dict[str, Any]


class TaggingOps:
    """Mixed into the CloudWatch service, whose engines hold the tagged resources."""

    alarms: AlarmEngine
    insights: Insights
    streams: MetricStreams

    def _alarm(self, ctx: Any, arn: str) -> dict:
        prefix = f"arn:aws:cloudwatch:{ctx.region}:{ctx.account_id}:alarm:"
        alarm = (
            self.alarms.get(ctx.account_id, ctx.region, arn[len(prefix) :])
            if arn.startswith(prefix)
            else None
        )
        if alarm is None:
            raise errors.resource_not_found(f"The resource {arn} does not exist.")
        return alarm

    def tag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        arn = params["ResourceARN"]
        rule = self.insights.user_rule(ctx.account_id, ctx.region, arn)
        if rule is not None:
            self.insights.set_tags(ctx.account_id, ctx.region, rule, [*rule.tags, *params["Tags"]])
            return {}
        stream = self.streams.by_arn(ctx.account_id, ctx.region, arn)
        if stream is not None:
            self.streams.set_tags(stream, [*stream.tags, *params["Tags"]])
            return {}
        alarm = self._alarm(ctx, arn)
        tags = {t["Key"]: t["Value"] for t in alarm.get("_tags", [])}
        tags.update({t["Key"]: t["Value"] for t in params["Tags"]})
        if len(tags) > MAX_TAGS:
            raise errors.invalid_value(f"A resource can have at most {MAX_TAGS} tags.")
        alarm["_tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        self.alarms.save(ctx.account_id, ctx.region, alarm)
        return {}

    def untag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        arn = params["ResourceARN"]
        drop = set(params["TagKeys"])
        rule = self.insights.user_rule(ctx.account_id, ctx.region, arn)
        if rule is not None:
            kept = [t for t in rule.tags if t["Key"] not in drop]
            self.insights.set_tags(ctx.account_id, ctx.region, rule, kept)
            return {}
        stream = self.streams.by_arn(ctx.account_id, ctx.region, arn)
        if stream is not None:
            self.streams.set_tags(stream, [t for t in stream.tags if t["Key"] not in drop])
            return {}
        alarm = self._alarm(ctx, arn)
        alarm["_tags"] = [t for t in alarm.get("_tags", []) if t["Key"] not in drop]
        self.alarms.save(ctx.account_id, ctx.region, alarm)
        return {}

    def list_tags_for_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        arn = params["ResourceARN"]
        rule = self.insights.user_rule(ctx.account_id, ctx.region, arn)
        if rule is not None:
            return {"Tags": list(rule.tags)}
        stream = self.streams.by_arn(ctx.account_id, ctx.region, arn)
        if stream is not None:
            return {"Tags": list(stream.tags)}
        return {"Tags": list(self._alarm(ctx, arn).get("_tags", []))}
