"""Amazon EventBridge Pipes: pipes that really read their sources and deliver.

A pipe reads an SQS queue, a DynamoDB stream or a Kinesis stream (``queues.py``,
``streams.py``), drops what its FilterCriteria do not match (``filters.py``), may pass
each batch through a Lambda enrichment, and delivers to an SQS queue, SNS topic, Lambda
function, EventBridge bus, Kinesis stream or CloudWatch Logs group (``targets.py``),
shaped by input templates (``transform.py``). Its state changes settle in the
background as AWS's do (``runner.py``); pipes and their source positions are durable
(``store.py``). The operations read like the API reference: find the pipe, check the
request (``validation.py`` for the model's constraints, ``checks.py`` for what a pipe
may be), hand the change to the runner, shape the answer (``model.py``).

Each execution (a batch through the pipe) logs its steps as ``LogConfiguration``
asks (``execlog.py``), written to CloudWatch Logs, Firehose or S3 after the fact
(``logship.py``).

Not built: Kafka, MQ and self-managed sources, Step Functions / API Gateway / API
destination enrichments and the other targets; each is refused naming what cloudlet
supports.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.pipes import checks, errors, validation
from cloudlet.services.pipes.model import TRANSITIONAL, Pipe, brief, described, pipe_arn, summary
from cloudlet.services.pipes.runner import Runner
from cloudlet.services.pipes.store import PipeStore

Result = dict[str, Any]
LIST_LIMIT = 100
CONFIG_KEYS = (
    "Source",
    "SourceParameters",
    "Enrichment",
    "EnrichmentParameters",
    "Target",
    "TargetParameters",
    "RoleArn",
    "Description",
    "LogConfiguration",
)


class PipesService(Service):
    name = "pipes"

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = PipeStore(env.database("pipes"))
        self.runner = Runner(env, self.store)

    async def start(self) -> None:
        self.runner.resume()

    async def stop(self) -> None:
        await self.runner.close()
        self.store.close()

    # -- finding a pipe ------------------------------------------------------------------

    def _pipe(self, ctx: Any, name: str) -> Pipe:
        pipe = self.store.get(pipe_arn(ctx.region, ctx.account_id, name))
        if pipe is None:
            raise errors.not_found(name)
        return pipe

    def _by_arn(self, arn: str) -> Pipe:
        pipe = self.store.get(arn)
        if pipe is None:
            raise errors.not_found_arn(arn)
        return pipe

    @staticmethod
    def _config(pipe: Pipe) -> Result:
        return {
            "Source": pipe.source,
            "SourceParameters": pipe.source_parameters,
            "Enrichment": pipe.enrichment,
            "EnrichmentParameters": pipe.enrichment_parameters,
            "Target": pipe.target,
            "TargetParameters": pipe.target_parameters,
            "RoleArn": pipe.role_arn,
            "Description": pipe.description,
            "LogConfiguration": pipe.log_configuration,
        }

    @staticmethod
    def _apply(pipe: Pipe, cfg: Result, source_parameters: Result) -> None:
        pipe.source_parameters = source_parameters
        pipe.enrichment = cfg.get("Enrichment") or None
        pipe.enrichment_parameters = dict(cfg.get("EnrichmentParameters") or {})
        pipe.target = cfg["Target"]
        pipe.target_parameters = dict(cfg.get("TargetParameters") or {})
        pipe.role_arn = cfg["RoleArn"]
        pipe.description = cfg.get("Description")
        pipe.log_configuration = checks.log_configuration(cfg.get("LogConfiguration"))

    # -- create, describe, list, update, delete ----------------------------------------

    def create_pipe(self, ctx: Any, params: Result) -> Result:
        validation.check("CreatePipe", params)
        name = params["Name"]
        arn = pipe_arn(ctx.region, ctx.account_id, name)
        if arn in self.store.pipes:
            raise errors.conflict(f"Pipe {name} already exists.", name)
        source_parameters = checks.config(params, ctx.region)
        now = clock.time()
        pipe = Pipe(
            name=name,
            arn=arn,
            account=ctx.account_id,
            region=ctx.region,
            source=params["Source"],
            target=params["Target"],
            role_arn=params["RoleArn"],
            created=now,
            modified=now,
            desired=params.get("DesiredState") or "RUNNING",
            tags=dict(params.get("Tags") or {}),
            kms_key=params.get("KmsKeyIdentifier") or None,
        )
        self._apply(pipe, {k: params.get(k) for k in CONFIG_KEYS}, source_parameters)
        self.runner.change(pipe, "CREATING")
        return brief(pipe)

    def describe_pipe(self, ctx: Any, params: Result) -> Result:
        validation.check("DescribePipe", params)
        return described(self._pipe(ctx, params["Name"]))

    def list_pipes(self, ctx: Any, params: Result) -> Result:
        validation.check("ListPipes", params)
        pipes = sorted(
            (
                p
                for p in self.store.pipes.values()
                if p.account == ctx.account_id and p.region == ctx.region
            ),
            key=lambda p: p.name,
        )
        tests = (
            ("NamePrefix", lambda p, v: p.name.startswith(v)),
            ("SourcePrefix", lambda p, v: p.source.startswith(v)),
            ("TargetPrefix", lambda p, v: p.target.startswith(v)),
            ("DesiredState", lambda p, v: p.desired == v),
            ("CurrentState", lambda p, v: p.state == v),
        )
        for key, test in tests:
            if params.get(key):
                pipes = [p for p in pipes if test(p, params[key])]
        if token := params.get("NextToken"):
            after = _decode_token(token)
            pipes = [p for p in pipes if p.name > after]
        limit = int(params.get("Limit") or LIST_LIMIT)
        page = pipes[:limit]
        out: Result = {"Pipes": [summary(p) for p in page]}
        if len(pipes) > limit:
            out["NextToken"] = base64.urlsafe_b64encode(page[-1].name.encode()).decode()
        return out

    async def update_pipe(self, ctx: Any, params: Result) -> Result:
        validation.check("UpdatePipe", params)
        pipe = self._pipe(ctx, params["Name"])
        self._settled(pipe, "updated")
        cfg = checks.merged(self._config(pipe), params)
        source_parameters = checks.config(cfg, pipe.region)
        await self.runner.halt(pipe.arn)
        self._apply(pipe, cfg, source_parameters)
        if params.get("DesiredState"):
            pipe.desired = params["DesiredState"]
        if "KmsKeyIdentifier" in params:
            pipe.kms_key = params["KmsKeyIdentifier"] or None
        pipe.modified = clock.time()
        self.runner.change(pipe, "UPDATING")
        return brief(pipe)

    async def delete_pipe(self, ctx: Any, params: Result) -> Result:
        validation.check("DeletePipe", params)
        pipe = self._pipe(ctx, params["Name"])
        if pipe.state == "DELETING":
            raise errors.in_state(pipe.name, pipe.state, "deleted")
        await self.runner.halt(pipe.arn)
        pipe.desired = "DELETED"
        pipe.modified = clock.time()
        self.runner.change(pipe, "DELETING")
        return brief(pipe)

    # -- start, stop -------------------------------------------------------------------

    def _settled(self, pipe: Pipe, action: str) -> None:
        if pipe.state in TRANSITIONAL:
            raise errors.in_state(pipe.name, pipe.state, action)

    def start_pipe(self, ctx: Any, params: Result) -> Result:
        validation.check("StartPipe", params)
        pipe = self._pipe(ctx, params["Name"])
        self._settled(pipe, "started")
        if pipe.state == "CREATE_FAILED":
            raise errors.in_state(pipe.name, pipe.state, "started")
        pipe.desired = "RUNNING"
        if pipe.state != "RUNNING":
            pipe.modified = clock.time()
            self.runner.change(pipe, "STARTING")
        else:
            self.store.save(pipe)
        return brief(pipe)

    async def stop_pipe(self, ctx: Any, params: Result) -> Result:
        validation.check("StopPipe", params)
        pipe = self._pipe(ctx, params["Name"])
        self._settled(pipe, "stopped")
        if pipe.state == "CREATE_FAILED":
            raise errors.in_state(pipe.name, pipe.state, "stopped")
        pipe.desired = "STOPPED"
        if pipe.state != "STOPPED":
            await self.runner.halt(pipe.arn)
            pipe.modified = clock.time()
            self.runner.change(pipe, "STOPPING")
        else:
            self.store.save(pipe)
        return brief(pipe)

    # -- tags --------------------------------------------------------------------------

    def tag_resource(self, ctx: Any, params: Result) -> Result:
        validation.check("TagResource", params)
        pipe = self._by_arn(params["resourceArn"])
        tags = {**pipe.tags, **params["tags"]}
        if len(tags) > 50:
            raise errors.invalid_field("tags", "A pipe can have at most 50 tags")
        pipe.tags = tags
        self.store.save(pipe)
        return {}

    def untag_resource(self, ctx: Any, params: Result) -> Result:
        validation.check("UntagResource", params)
        pipe = self._by_arn(params["resourceArn"])
        for key in params["tagKeys"]:
            pipe.tags.pop(key, None)
        self.store.save(pipe)
        return {}

    def list_tags_for_resource(self, ctx: Any, params: Result) -> Result:
        validation.check("ListTagsForResource", params)
        return {"tags": dict(self._by_arn(params["resourceArn"]).tags)}


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise errors.invalid_field("nextToken", f"Invalid NextToken: {token}") from None
