"""The services cloudlet implements, by botocore service name.

Every other botocore service is still recognised on the wire and answers 501
``NotImplemented`` in its own protocol. Implementations are imported when the
server starts, so a broken one fails loudly at start-up, not on first use.
"""

from __future__ import annotations

import importlib

from cloudlet.services.base import Service, ServiceEnv

IMPLEMENTED: dict[str, str] = {
    "s3": "cloudlet.services.s3.api:S3Service",
    "s3control": "cloudlet.services.s3.control:S3ControlService",
    "sqs": "cloudlet.services.sqs.api:SqsService",
    "dynamodb": "cloudlet.services.dynamodb.api:DynamoDBService",
    "dynamodbstreams": "cloudlet.services.dynamodb.streams:StreamsService",
    "cloudwatch": "cloudlet.services.cloudwatch.api:CloudWatchService",
    "ec2": "cloudlet.services.ec2.api:Ec2Service",
    "elbv2": "cloudlet.services.elbv2.api:Elbv2Service",
    "elb": "cloudlet.services.elb.api:ElbService",
    "autoscaling": "cloudlet.services.autoscaling.api:AutoScalingService",
    "acm": "cloudlet.services.acm.api:AcmService",
    "acm-pca": "cloudlet.services.acmpca.api:AcmPcaService",
    "iam": "cloudlet.services.iam.api:IamService",
    "sts": "cloudlet.services.sts.api:StsService",
    "logs": "cloudlet.services.logs.api:LogsService",
    "sns": "cloudlet.services.sns.api:SnsService",
    "lambda": "cloudlet.services.awslambda.api:LambdaService",
    "events": "cloudlet.services.events.api:EventsService",
    "kinesis": "cloudlet.services.kinesis.api:KinesisService",
    "pipes": "cloudlet.services.pipes.api:PipesService",
    "firehose": "cloudlet.services.firehose.api:FirehoseService",
}


def create_services(env: ServiceEnv) -> dict[str, Service]:
    services: dict[str, Service] = {}
    for name, target in IMPLEMENTED.items():
        module, cls = target.split(":")
        services[name] = getattr(importlib.import_module(module), cls)(env)
    return services
