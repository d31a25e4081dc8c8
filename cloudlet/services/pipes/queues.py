"""SQS queues as pipe sources.

Why this way (the user guide's "Amazon SQS as a source"): the pipe long-polls the queue
with ReceiveMessage, as any consumer would, gathering up to ``BatchSize`` messages for
at most ``MaximumBatchingWindowInSeconds``. Messages no filter matches are deleted at
once. A batch the pipe delivers is deleted; messages whose delivery failed are left
alone, so they become visible again after the queue's visibility timeout and the queue's
own redrive policy moves them to its dead-letter queue (a pipe's DeadLetterConfig is for
stream sources only). When the target names only some events as failed, only those
messages stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudlet.core.source_records import receive_batch, sqs_record
from cloudlet.services.pipes.filters import matches
from cloudlet.services.pipes.model import queue_url, where

if TYPE_CHECKING:
    from cloudlet.services.pipes.runner import Runner

Doc = dict[str, Any]


async def read_queue(runner: Runner, arn: str) -> None:
    """Poll the pipe's queue until the pipe is stopped (its task cancelled) or gone."""
    pipe = runner.store.get(arn)
    if pipe is None:
        return
    source = pipe.source
    url = queue_url(source)
    account, region = where(source)

    async def sqs(operation: str, params: Doc) -> Doc:
        return await runner.env.call("sqs", operation, params, account=account, region=region)

    while (pipe := runner.store.get(arn)) is not None:
        params = pipe.source_parameters.get("SqsQueueParameters") or {}
        size = params.get("BatchSize", 10)
        window = params.get("MaximumBatchingWindowInSeconds", 0)
        batch = await receive_batch(sqs, url, size, window)
        if (pipe := runner.store.get(arn)) is None:
            return
        records = [sqs_record(m, source) for m in batch]
        patterns = runner.patterns(pipe)
        kept = [matches(patterns, r) for r in records]
        await _delete(sqs, url, [r for r, k in zip(records, kept, strict=True) if not k])
        records = [r for r, k in zip(records, kept, strict=True) if k]
        if not records:
            continue
        failed = await runner.process(pipe, records)
        await _delete(sqs, url, [r for i, r in enumerate(records) if i not in failed])


async def _delete(sqs: Any, url: str, records: list[Doc]) -> None:
    for start in range(0, len(records), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": r["receiptHandle"]}
            for i, r in enumerate(records[start : start + 10])
        ]
        await sqs("DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
