"""What a pipe's configuration may be: the sources, enrichments and targets cloudlet
runs, their parameters, defaults and limits, checked at CreatePipe and UpdatePipe.

Why in one place: CreatePipe and UpdatePipe (which merges its changes into the pipe
first) must refuse the same things the same way: a ``ValidationException`` whose
``fieldList`` names the member at fault. The rules are the user guide's: a source's
batch may not be larger than its target takes (10 for SQS, SNS and event buses, 500 for
Kinesis and Firehose, 10,000 for CloudWatch Logs; any for Lambda), stream sources need a
StartingPosition, a stream's DeadLetterConfig is an SQS queue or SNS topic. What
cloudlet does not run is refused naming what it does: Kafka and MQ sources, Step
Functions / API destination / API Gateway enrichments, the other target kinds, and
``LogConfiguration`` at any level but ``OFF`` (pipe execution logs are not built).

Defaults filled in (so DescribePipe shows them): BatchSize 10 for SQS and 100 for
streams, but no more than the target takes (cloudlet's choice: AWS would refuse the
default as too large for an SQS target), batching window 0, MaximumRetryAttempts and
MaximumRecordAgeInSeconds -1 (forever), ParallelizationFactor 1.
"""

from __future__ import annotations

import copy
from typing import Any

from cloudlet.services.pipes import errors, filters
from cloudlet.services.pipes.model import source_kind
from cloudlet.services.pipes.targets import BATCH_LIMITS, KINDS, SUPPORTED, target_kind
from cloudlet.services.pipes.transform import check_template

Doc = dict[str, Any]
SOURCE_KEYS = {
    "sqs": "SqsQueueParameters",
    "kinesis": "KinesisStreamParameters",
    "dynamodb": "DynamoDBStreamParameters",
}
STREAM_DEFAULTS = {
    "MaximumBatchingWindowInSeconds": 0,
    "MaximumRetryAttempts": -1,
    "MaximumRecordAgeInSeconds": -1,
    "ParallelizationFactor": 1,
}


def config(pipe_params: Doc, region: str) -> Doc:
    """The pipe's checked configuration from CreatePipe's (or a merged UpdatePipe's)
    members: Source, SourceParameters, Enrichment, EnrichmentParameters, Target,
    TargetParameters, LogConfiguration; SourceParameters with defaults filled in."""
    source = pipe_params["Source"]
    kind = source_kind(source)
    if kind is None:
        raise errors.invalid_field(
            "source",
            f"Source {source} is not supported by cloudlet: SQS queues, Kinesis streams"
            " and DynamoDB streams are",
        )
    target = pipe_params["Target"]
    goal = target_kind(target)
    if goal is None:
        raise errors.invalid_field(
            "target", f"Target {target} is not supported by cloudlet: {SUPPORTED} are"
        )
    _check_logging(pipe_params.get("LogConfiguration"), region)
    _check_enrichment(pipe_params.get("Enrichment"), pipe_params.get("EnrichmentParameters"))
    _check_target(goal, pipe_params.get("TargetParameters") or {})
    return _source_parameters(kind, goal, copy.deepcopy(pipe_params.get("SourceParameters") or {}))


def _source_parameters(kind: str, goal: str, params: Doc) -> Doc:
    mine = SOURCE_KEYS[kind]
    for key in params:
        if key != "FilterCriteria" and key != mine:
            raise errors.invalid_field(
                f"sourceParameters.{key[:1].lower()}{key[1:]}",
                f"{key} do not apply to the source: it takes {mine}",
            )
    filters.check(params.get("FilterCriteria"))
    own = params.setdefault(mine, {})
    field = f"sourceParameters.{mine[:1].lower()}{mine[1:]}"
    limit = BATCH_LIMITS.get(goal)
    default = 10 if kind == "sqs" else 100
    own.setdefault("BatchSize", min(default, limit or default))
    own.setdefault("MaximumBatchingWindowInSeconds", 0)
    if limit is not None and own["BatchSize"] > limit:
        raise errors.invalid_field(
            f"{field}.batchSize",
            f"BatchSize {own['BatchSize']} is larger than the target takes: at most {limit}",
        )
    if kind == "sqs":
        if own["BatchSize"] > 10 and own["MaximumBatchingWindowInSeconds"] < 1:
            raise errors.invalid_field(
                f"{field}.maximumBatchingWindowInSeconds",
                "MaximumBatchingWindowInSeconds must be greater than 0 when BatchSize is"
                " greater than 10",
            )
        return params
    position = own.get("StartingPosition")
    if position is None:
        raise errors.invalid_field(
            f"{field}.startingPosition",
            f"1 validation error detected: Value null at '{field}.startingPosition' failed to"
            " satisfy constraint: Member must not be null",
        )
    if position == "AT_TIMESTAMP":
        when = own.get("StartingPositionTimestamp")
        if when is None:
            raise errors.invalid_field(
                f"{field}.startingPositionTimestamp",
                "StartingPositionTimestamp must be set when StartingPosition is AT_TIMESTAMP",
            )
        own["StartingPositionTimestamp"] = (
            when.timestamp() if hasattr(when, "timestamp") else float(when)
        )
    for key, value in STREAM_DEFAULTS.items():
        own.setdefault(key, value)
    age = own["MaximumRecordAgeInSeconds"]
    if age != -1 and age < 60:
        raise errors.invalid_field(
            f"{field}.maximumRecordAgeInSeconds",
            "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800",
        )
    dead = (own.get("DeadLetterConfig") or {}).get("Arn")
    if dead and dead.split(":")[2:3] not in (["sqs"], ["sns"]):
        raise errors.invalid_field(
            f"{field}.deadLetterConfig.arn",
            f"The dead-letter queue {dead} is not supported by cloudlet: SQS queues and SNS"
            " topics are",
        )
    return params


def _check_logging(logging: Doc | None, region: str) -> None:
    if not logging:
        return
    members = (
        ("CloudwatchLogsLogDestination", "LogGroupArn", "log group"),
        ("FirehoseLogDestination", "DeliveryStreamArn", "Firehose stream"),
    )
    for member, key, what in members:
        arn = (logging.get(member) or {}).get(key)
        if arn and arn.split(":")[3:4] != [region]:
            field = f"logConfiguration.{member[:1].lower()}{member[1:]}.{key[:1].lower()}{key[1:]}"
            raise errors.invalid_field(
                field, f"The {what} {arn} is not in the pipe's Region {region}"
            )


def log_configuration(logging: Doc | None) -> Doc:
    """``LogConfiguration`` as DescribePipe shows it: as given, S3's ``OutputFormat``
    ``json`` unless given."""
    out = copy.deepcopy(logging or {})
    if out.get("S3LogDestination"):
        out["S3LogDestination"].setdefault("OutputFormat", "json")
    return out


def _check_enrichment(arn: str | None, params: Doc | None) -> None:
    params = params or {}
    if arn:
        parts = arn.split(":", 6)
        if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
            raise errors.invalid_field(
                "enrichment",
                f"Enrichment {arn} is not supported by cloudlet: Lambda functions are",
            )
    if params.get("HttpParameters"):
        raise errors.invalid_field(
            "enrichmentParameters.httpParameters",
            "HttpParameters apply to API destination and API Gateway enrichments, which"
            " cloudlet does not support",
        )
    check_template(params.get("InputTemplate"), "enrichmentParameters.inputTemplate")


def _check_target(kind: str, params: Doc) -> None:
    mine = KINDS[kind]
    for key in params:
        if key not in ("InputTemplate", mine):
            raise errors.invalid_field(
                f"targetParameters.{key[:1].lower()}{key[1:]}",
                f"{key} do not apply to the target" + (f": it takes {mine}" if mine else ""),
            )
    check_template(params.get("InputTemplate"), "targetParameters.inputTemplate")
    if kind == "kinesis" and "PartitionKey" not in (params.get(mine) or {}):
        raise errors.invalid_field(
            "targetParameters.kinesisStreamParameters.partitionKey",
            "A Kinesis stream target needs KinesisStreamParameters.PartitionKey",
        )


def merged(current: Doc, changes: Doc) -> Doc:
    """UpdatePipe's changes over the pipe's configuration: members given replace theirs;
    within SourceParameters and TargetParameters each service's object is replaced as a
    whole (as the API reference has it), a stream's StartingPosition kept."""
    out = copy.deepcopy(current)
    for key in ("Description", "Enrichment", "EnrichmentParameters", "Target", "RoleArn"):
        if key in changes:
            out[key] = copy.deepcopy(changes[key])
    if "LogConfiguration" in changes:
        out["LogConfiguration"] = changes["LogConfiguration"]
    source = out.setdefault("SourceParameters", {})
    for key, value in (changes.get("SourceParameters") or {}).items():
        if key in ("KinesisStreamParameters", "DynamoDBStreamParameters"):
            old = source.get(key) or {}
            value = {
                **value,
                **{
                    k: old[k] for k in ("StartingPosition", "StartingPositionTimestamp") if k in old
                },
            }
        source[key] = copy.deepcopy(value)
    target = out.setdefault("TargetParameters", {})
    for key, value in (changes.get("TargetParameters") or {}).items():
        target[key] = copy.deepcopy(value)
    if "Target" in changes and target_kind(changes["Target"]) != target_kind(current["Target"]):
        keep = KINDS.get(target_kind(changes["Target"]) or "")
        out["TargetParameters"] = {
            k: v for k, v in target.items() if k == "InputTemplate" or k == keep
        }
    return out
