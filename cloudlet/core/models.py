"""botocore's service models, loaded once per process.

Why here and not in the gateway: the gateway decodes requests with these models, and a
service sometimes needs the same model for a rule of its own (which S3 actions act on
objects, DynamoDB Streams' length bounds). Both take it from this cache, so a model is
parsed once, and services do not import the gateway.
"""

from __future__ import annotations

from functools import cache

from botocore.loaders import Loader
from botocore.model import ServiceModel

_loader = Loader()


def load_raw_model(name: str) -> dict:
    """botocore's service-2 document for a service, as a dict (not cached)."""
    return _loader.load_service_model(name, "service-2")


@cache
def load_model(name: str) -> ServiceModel:
    """botocore's ServiceModel for a service (cached for the process)."""
    return ServiceModel(load_raw_model(name), service_name=name)
