"""What the SNS test modules share: the SNS and SQS clients."""

from __future__ import annotations

import pytest


@pytest.fixture
def sns(aws_client):
    return aws_client("sns")


@pytest.fixture
def sqs(aws_client):
    return aws_client("sqs")
