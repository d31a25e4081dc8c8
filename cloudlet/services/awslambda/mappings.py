"""Event source mappings: SQS queues, DynamoDB streams and Kinesis streams invoking functions.

Why: a mapping is Lambda's own poller, so it must behave like AWS's for code
written against it to be right. This module holds the operations (Create, Get, List,
Update, DeleteEventSourceMapping) and the checks AWS makes when a mapping is made or
changed; what a running mapping does is in ``mapping_pollers.py`` (SQS and DynamoDB
streams) and ``kinesis_source.py`` (Kinesis streams and enhanced fan-out consumers).

- **FilterCriteria** (``filters.py``): records no pattern matches never reach the
  function; SQS messages among them are deleted, as AWS deletes them, and stream records
  are passed over.

Not built: Kafka, MQ and DocumentDB sources; tumbling windows. Those answer
``InvalidParameterValueException`` saying so.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.background import cancelled
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.awslambda import errors, filters
from cloudlet.services.awslambda.mapping_pollers import MappingPollers, queue_url, where
from cloudlet.state.documents import DocumentStore

log = logging.getLogger(__name__)
Doc = dict[str, Any]

SQS_LIMITS = (10, 10000)
"""SQS mappings: default and largest BatchSize."""
STREAM_LIMITS = (100, 10000)


def _source_kind(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) >= 6 and parts[2] == "sqs":
        return "sqs"
    if len(parts) >= 6 and parts[2] == "dynamodb" and "/stream/" in arn:
        return "dynamodb"
    if len(parts) >= 6 and parts[2] == "kinesis" and parts[5].startswith("stream/"):
        return "kinesis"  # a stream, or an enhanced fan-out consumer of one
    raise errors.invalid(
        f"Event source {arn} is not supported by cloudlet: SQS queues, DynamoDB streams and"
        " Kinesis streams are"
    )


class EventSourceMappingOps(MappingPollers):
    """Operations on event source mappings (mixed into the service; pollers inherited)."""

    env: Any

    def _init_mappings(self) -> None:
        self._esm_store = DocumentStore(self.env.database("lambda_mappings"), "mappings")
        self._esms: dict[str, Doc] = {d["UUID"]: d for d in self._esm_store.load("esm")}
        self._pollers: dict[str, asyncio.Task] = {}

    async def _start_mappings(self) -> None:
        for doc in self._esms.values():
            if doc["State"] in ("Enabled", "Creating", "Enabling", "Updating"):
                self._run(doc)

    async def _stop_mappings(self) -> None:
        await cancelled(list(self._pollers.values()))
        self._pollers.clear()
        self._esm_store.close()

    def _save_esm(self, doc: Doc) -> None:
        self._esms[doc["UUID"]] = doc
        self._esm_store.put("esm", doc["UUID"], doc)

    def _esm(self, ctx: Any, mapping_id: str) -> Doc:
        doc = self._esms.get(mapping_id)
        if doc is None or doc["account"] != ctx.account_id or doc["region"] != ctx.region:
            raise errors.not_found(
                f"The resource you requested does not exist. (Service: Lambda, Status Code: 404,"
                f" Request ID: {uuid.uuid4()})"
            )
        return doc

    @staticmethod
    def _esm_out(doc: Doc) -> Doc:
        keys = (
            "UUID",
            "BatchSize",
            "MaximumBatchingWindowInSeconds",
            "EventSourceArn",
            "FunctionArn",
            "LastProcessingResult",
            "State",
            "StateTransitionReason",
            "FunctionResponseTypes",
            "EventSourceMappingArn",
            "StartingPosition",
            "StartingPositionTimestamp",
            "DestinationConfig",
            "MaximumRecordAgeInSeconds",
            "BisectBatchOnFunctionError",
            "MaximumRetryAttempts",
            "ParallelizationFactor",
            "ScalingConfig",
            "FilterCriteria",
            "Tags",
        )
        out = {k: doc[k] for k in keys if k in doc and k != "Tags"}
        if "StartingPositionTimestamp" in out:
            out["StartingPositionTimestamp"] = datetime.fromtimestamp(
                out["StartingPositionTimestamp"], UTC
            )
        out["LastModified"] = datetime.fromtimestamp(doc["modified"], UTC)
        return out

    async def _function_arn(self, ctx: Any, name: str) -> tuple[str, Doc]:
        qualifier = None
        bare = name
        if name.startswith("arn:"):
            parts = name.split(":")
            if len(parts) == 8:
                qualifier, bare = parts[7], ":".join(parts[:7])
        elif ":" in name:
            bare, _, qualifier = name.rpartition(":")
        params: Doc = {"FunctionName": bare}
        if qualifier:
            params["Qualifier"] = qualifier
        config = await self.env.call(
            "lambda",
            "GetFunctionConfiguration",
            params,
            account=ctx.account_id,
            region=ctx.region,
        )
        arn = config["FunctionArn"]
        if qualifier and not arn.endswith(f":{qualifier}"):
            arn = f"{arn}:{qualifier}"
        return arn, config

    def _settings(self, doc: Doc, params: Doc, kind: str) -> None:
        """Apply (and check) the tunable settings of ``params`` to ``doc``."""
        if "FilterCriteria" in params:  # an empty object removes the filters
            kept = filters.check(params["FilterCriteria"] or {})
            if kept:
                doc["FilterCriteria"] = {"Filters": kept}
            else:
                doc.pop("FilterCriteria", None)
        if params.get("TumblingWindowInSeconds"):
            raise errors.invalid("TumblingWindowInSeconds is not supported by cloudlet yet")
        default, largest = SQS_LIMITS if kind == "sqs" else STREAM_LIMITS
        size = int(params.get("BatchSize", doc.get("BatchSize", default)))
        window = int(
            params.get(
                "MaximumBatchingWindowInSeconds", doc.get("MaximumBatchingWindowInSeconds", 0)
            )
        )
        if not 1 <= size <= largest:
            raise errors.invalid(f"BatchSize must be between 1 and {largest}, but was {size}")
        if kind == "sqs" and size > 10 and window < 1:
            raise errors.invalid(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size"
                " is greater than 10"
            )
        if not 0 <= window <= 300:
            raise errors.invalid("MaximumBatchingWindowInSeconds must be between 0 and 300")
        doc["BatchSize"], doc["MaximumBatchingWindowInSeconds"] = size, window
        types = params.get("FunctionResponseTypes", doc.get("FunctionResponseTypes", []))
        if any(t != "ReportBatchItemFailures" for t in types):
            raise errors.invalid(f"FunctionResponseTypes {types} is not valid")
        doc["FunctionResponseTypes"] = list(types)
        if "ScalingConfig" in params:
            doc["ScalingConfig"] = params["ScalingConfig"]
        if kind in ("dynamodb", "kinesis"):
            retries = int(params.get("MaximumRetryAttempts", doc.get("MaximumRetryAttempts", -1)))
            age = int(
                params.get("MaximumRecordAgeInSeconds", doc.get("MaximumRecordAgeInSeconds", -1))
            )
            if not -1 <= retries <= 10000:
                raise errors.invalid("MaximumRetryAttempts must be between -1 and 10000")
            if age != -1 and not 60 <= age <= 604800:
                raise errors.invalid(
                    "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800"
                )
            doc["MaximumRetryAttempts"], doc["MaximumRecordAgeInSeconds"] = retries, age
            doc["BisectBatchOnFunctionError"] = bool(
                params.get(
                    "BisectBatchOnFunctionError", doc.get("BisectBatchOnFunctionError", False)
                )
            )
            doc["ParallelizationFactor"] = int(params.get("ParallelizationFactor", 1))
            destination = params.get("DestinationConfig", doc.get("DestinationConfig"))
            target = ((destination or {}).get("OnFailure") or {}).get("Destination")
            if target and target.split(":")[2:3] not in (["sqs"], ["sns"]):
                raise errors.invalid(
                    f"The destination {target} is not supported by cloudlet: SQS and SNS are"
                )
            doc["DestinationConfig"] = destination or {"OnFailure": {}}

    async def create_event_source_mapping(self, ctx: Any, params: Doc) -> Doc:
        source = params.get("EventSourceArn")
        if not source:
            raise errors.invalid("EventSourceArn is required by cloudlet's supported sources")
        kind = _source_kind(source)
        function_arn, config = await self._function_arn(ctx, params["FunctionName"])
        account, region = where(source)
        if kind == "sqs":
            try:
                attrs = await self.env.call(
                    "sqs",
                    "GetQueueAttributes",
                    {"QueueUrl": queue_url(source), "AttributeNames": ["VisibilityTimeout"]},
                    account=account,
                    region=region,
                )
            except ServiceError:
                raise errors.invalid(f"Queue {source} does not exist") from None
            visibility = int(attrs["Attributes"]["VisibilityTimeout"])
            if visibility < int(config.get("Timeout", 3)):
                raise errors.invalid(
                    f"Queue visibility timeout: {visibility} seconds is less than Function"
                    f" timeout: {config.get('Timeout', 3)} seconds"
                )
        elif kind == "kinesis":
            await self._check_kinesis(source, params)
        else:
            position = params.get("StartingPosition")
            if position not in ("TRIM_HORIZON", "LATEST"):
                raise errors.invalid(
                    "1 validation error detected: Value null at 'startingPosition' failed to"
                    " satisfy constraint: Member must not be null"
                    if position is None
                    else f"StartingPosition {position} is not valid for a DynamoDB stream"
                )
            try:
                await self.env.call(
                    "dynamodbstreams",
                    "DescribeStream",
                    {"StreamArn": source},
                    account=account,
                    region=region,
                )
            except (ServiceError, NotImplementedOperation):
                raise errors.invalid(f"Stream not found: {source}") from None
        for other in self._esms.values():
            if other["EventSourceArn"] == source and other["FunctionArn"] == function_arn:
                raise errors.conflict(
                    f"The event source arn ({source}) and function ({params['FunctionName']})"
                    f" provided mapping already exists. Please update or delete the existing"
                    f" mapping with UUID {other['UUID']}"
                )
        mapping_id = str(uuid.uuid4())
        doc: Doc = {
            "UUID": mapping_id,
            "account": ctx.account_id,
            "region": ctx.region,
            "kind": kind,
            "EventSourceArn": source,
            "FunctionArn": function_arn,
            "EventSourceMappingArn": (
                f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:event-source-mapping:{mapping_id}"
            ),
            "LastProcessingResult": "No records processed",
            "State": "Creating" if params.get("Enabled", True) else "Disabled",
            "StateTransitionReason": "USER_INITIATED",
            "modified": time.time(),
            "Tags": params.get("Tags") or {},
        }
        if kind in ("dynamodb", "kinesis"):
            doc["StartingPosition"] = params["StartingPosition"]
        if kind == "kinesis":
            doc["role"] = config.get("Role", "")
            if doc["StartingPosition"] == "AT_TIMESTAMP":
                when = params["StartingPositionTimestamp"]
                doc["StartingPositionTimestamp"] = (
                    when.timestamp() if hasattr(when, "timestamp") else float(when)
                )
        self._settings(doc, params, kind)
        self._save_esm(doc)
        out = self._esm_out(doc)
        if doc["State"] == "Creating":
            self._run(doc)
        return out

    def get_event_source_mapping(self, ctx: Any, params: Doc) -> Doc:
        return self._esm_out(self._esm(ctx, params["UUID"]))

    async def list_event_source_mappings(self, ctx: Any, params: Doc) -> Doc:
        wanted = None
        if name := params.get("FunctionName"):
            wanted, _ = await self._function_arn(ctx, name)
        docs = [
            d
            for d in self._esms.values()
            if d["account"] == ctx.account_id
            and d["region"] == ctx.region
            and (
                not params.get("EventSourceArn") or d["EventSourceArn"] == params["EventSourceArn"]
            )
            and (wanted is None or d["FunctionArn"] == wanted)
        ]
        start = int(params.get("Marker") or 0)
        size = int(params.get("MaxItems") or 100)
        out: Doc = {"EventSourceMappings": [self._esm_out(d) for d in docs[start : start + size]]}
        if start + size < len(docs):
            out["NextMarker"] = str(start + size)
        return out

    async def update_event_source_mapping(self, ctx: Any, params: Doc) -> Doc:
        doc = dict(self._esm(ctx, params["UUID"]))
        if params.get("FunctionName"):
            doc["FunctionArn"], _ = await self._function_arn(ctx, params["FunctionName"])
        self._settings(doc, params, doc["kind"])
        enabled = params.get("Enabled")
        if enabled is True and doc["State"] == "Disabled":
            doc["State"] = "Enabling"
        elif enabled is False:
            doc["State"] = "Disabling"
        elif doc["State"] == "Enabled":
            doc["State"] = "Updating"
        doc["modified"] = time.time()
        self._save_esm(doc)
        out = self._esm_out(doc)
        await self._halt(doc["UUID"])
        if doc["State"] == "Disabling":
            doc["State"] = "Disabled"
            self._save_esm(doc)
        else:
            self._run(doc)
        return out

    async def delete_event_source_mapping(self, ctx: Any, params: Doc) -> Doc:
        doc = self._esm(ctx, params["UUID"])
        await self._halt(doc["UUID"])
        del self._esms[doc["UUID"]]
        self._esm_store.delete("esm", doc["UUID"])
        return {**self._esm_out(doc), "State": "Deleting"}

    async def _check_kinesis(self, source: str, params: Doc) -> None:
        """A Kinesis source must exist and be given a valid StartingPosition."""
        position = params.get("StartingPosition")
        if position not in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
            raise errors.invalid(
                "1 validation error detected: Value null at 'startingPosition' failed to"
                " satisfy constraint: Member must not be null"
                if position is None
                else f"StartingPosition {position} is not valid for a Kinesis stream"
            )
        if position == "AT_TIMESTAMP" and params.get("StartingPositionTimestamp") is None:
            raise errors.invalid(
                "StartingPositionTimestamp must be set when StartingPosition is AT_TIMESTAMP"
            )
        account, region = where(source)
        consumer = "/consumer/" in source
        try:
            await self.env.call(
                "kinesis",
                "DescribeStreamConsumer" if consumer else "DescribeStreamSummary",
                {"ConsumerARN": source} if consumer else {"StreamARN": source},
                account=account,
                region=region,
            )
        except (ServiceError, NotImplementedOperation):
            what = "Consumer" if consumer else "Stream"
            raise errors.invalid(f"{what} not found: {source}") from None
