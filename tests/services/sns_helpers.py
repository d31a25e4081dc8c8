"""What the SNS test modules share: unique names and the SNS and SQS clients."""

from __future__ import annotations

import uuid

import pytest


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sns(aws_client):
    return aws_client("sns")


@pytest.fixture
def sqs(aws_client):
    return aws_client("sqs")
