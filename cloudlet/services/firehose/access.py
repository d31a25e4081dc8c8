"""What a delivery stream's roles may do, and where its delivery errors are logged.

Why: on AWS, Firehose writes to S3, invokes the transformation and reads a Kinesis
source *as the role* the configuration names; a role whose policies do not allow
``s3:PutObject`` on the object (``lambda:InvokeFunction`` on the function,
``kinesis:GetRecords`` ... on the stream) makes delivery fail and retry, not the API
call. In strict mode ``role_may`` evaluates the role's identity policies through IAM
for exactly that; open mode evaluates nothing, and a role IAM does not know is not
governed (cloudlet's rule for principals IAM does not know). The role's trust policy
and the resource's own policy (a bucket policy) are not consulted.

``log_error`` writes a delivery or transformation error to the destination's
``CloudWatchLoggingOptions`` log group and stream when logging is on, in the JSON AWS
logs (``deliveryStreamARN``, ``destination``, ``deliveryStreamVersionId``,
``message``, ``errorCode``); a log group that is missing or refuses is passed over.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import NotImplementedOperation, ServiceError

log = logging.getLogger(__name__)
SESSION = "AWSFirehoseToS3"


def role_may(env: Any, role_arn: str | None, action: str, resource: str) -> bool:
    """Strict mode: whether ``role_arn``'s policies allow ``action`` on ``resource`` (a
    configuration naming no role is not governed)."""
    return not role_arn or env.role_may(role_arn, (action,), resource, session=SESSION)


async def log_error(env: Any, stream: Any, options: dict[str, Any] | None, **fields: Any) -> None:
    """Log one error to the destination's CloudWatch Logs group and stream, if enabled."""
    options = options or {}
    group, name = options.get("LogGroupName"), options.get("LogStreamName")
    if not options.get("Enabled") or not group or not name:
        return
    message = {
        "deliveryStreamARN": stream.arn,
        "deliveryStreamVersionId": stream.version,
        **fields,
    }
    params = {
        "logGroupName": group,
        "logStreamName": name,
        "logEvents": [{"timestamp": int(clock.time() * 1000), "message": json.dumps(message)}],
    }
    try:
        await env.call("logs", "PutLogEvents", params, account=stream.account, region=stream.region)
    except (ServiceError, NotImplementedOperation) as err:
        log.debug("firehose %s: logging to %s/%s failed: %s", stream.name, group, name, err)
