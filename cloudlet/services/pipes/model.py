"""A pipe as plain data, its ARN, and the shapes DescribePipe and ListPipes show.

Why a document: a pipe is read on every poll and written when its state or its source
position moves, and there are few of them; it is held in memory and written through as
one JSON document (``store.py``). Its parameters are kept as the API names them
(``SourceParameters`` ...), defaults filled in, so DescribePipe shows them as given.
``position`` is where the pipe has read its stream source to (per shard: the last
sequence number delivered, whether the shard is finished), so a restarted server
resumes there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import utc_datetime

Doc = dict[str, Any]

TRANSITIONAL = ("CREATING", "STARTING", "STOPPING", "UPDATING", "DELETING")


@dataclass
class Pipe:
    name: str
    arn: str
    account: str
    region: str
    source: str
    target: str
    role_arn: str
    created: float
    modified: float
    desired: str = "RUNNING"
    state: str = "CREATING"
    reason: str | None = None
    description: str | None = None
    source_parameters: Doc = field(default_factory=dict)
    enrichment: str | None = None
    enrichment_parameters: Doc = field(default_factory=dict)
    target_parameters: Doc = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    kms_key: str | None = None
    settle_at: float = 0.0
    """When the transitional ``state`` ends (CREATING ... DELETING)."""
    position: Doc = field(default_factory=dict)
    log_configuration: Doc = field(default_factory=dict)
    """``LogConfiguration`` as given (``OutputFormat`` filled in), empty when never set."""

    @property
    def kind(self) -> str:
        """The source's kind: ``sqs``, ``kinesis`` or ``dynamodb``."""
        return source_kind(self.source) or ""

    def to_doc(self) -> Doc:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Doc) -> Pipe:
        return cls(**doc)


def pipe_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:pipes:{region}:{account}:pipe/{name}"


def source_kind(arn: str) -> str | None:
    """``sqs``, ``kinesis`` or ``dynamodb`` for the sources cloudlet reads; None else."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return None
    if parts[2] == "sqs":
        return "sqs"
    if parts[2] == "kinesis" and parts[5].startswith("stream/") and "/consumer/" not in arn:
        return "kinesis"
    if parts[2] == "dynamodb" and "/stream/" in parts[5]:
        return "dynamodb"
    return None


def where(arn: str) -> tuple[str, str]:
    """(account, region) of an ARN."""
    parts = arn.split(":")
    return parts[4], parts[3]


def queue_url(arn: str) -> str:
    """The URL SQS's operations take for a queue's ARN."""
    _, _, _, _, account, name = arn.split(":", 5)
    return f"http://localhost/{account}/{name}"


def _wire(params: Doc) -> Doc:
    """Stored parameters as the wire shape wants them (epoch seconds as datetimes)."""
    out: Doc = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out[key] = _wire(value)
        elif key == "StartingPositionTimestamp" and isinstance(value, int | float):
            out[key] = datetime.fromtimestamp(value, UTC)
        else:
            out[key] = value
    return out


def summary(pipe: Pipe) -> Doc:
    """A pipe as ListPipes shows it."""
    out: Doc = {
        "Name": pipe.name,
        "Arn": pipe.arn,
        "DesiredState": pipe.desired,
        "CurrentState": pipe.state,
        "CreationTime": utc_datetime(pipe.created),
        "LastModifiedTime": utc_datetime(pipe.modified),
        "Source": pipe.source,
        "Target": pipe.target,
    }
    if pipe.reason:
        out["StateReason"] = pipe.reason
    if pipe.enrichment:
        out["Enrichment"] = pipe.enrichment
    return out


def brief(pipe: Pipe) -> Doc:
    """What Create/Update/Start/Stop/DeletePipe answer."""
    return {
        "Arn": pipe.arn,
        "Name": pipe.name,
        "DesiredState": pipe.desired,
        "CurrentState": pipe.state,
        "CreationTime": utc_datetime(pipe.created),
        "LastModifiedTime": utc_datetime(pipe.modified),
    }


def described(pipe: Pipe) -> Doc:
    out = summary(pipe)
    out["RoleArn"] = pipe.role_arn
    out["Tags"] = dict(pipe.tags)
    out["SourceParameters"] = _wire(pipe.source_parameters)
    out["TargetParameters"] = _wire(pipe.target_parameters)
    out["EnrichmentParameters"] = _wire(pipe.enrichment_parameters)
    if pipe.description is not None:
        out["Description"] = pipe.description
    if pipe.kms_key:
        out["KmsKeyIdentifier"] = pipe.kms_key
    if pipe.log_configuration:
        out["LogConfiguration"] = pipe.log_configuration
    return out
