"""DynamoDB's expression engine: condition, filter, key, update and projection
expressions, and the legacy parameters they replaced.

Pure Python over wire-form items (``{"S": "x"}``...): no HTTP, no storage. The
engine compiles each expression of a request once against the request's
``ExpressionContext`` (then calls ``check_unused``), and applies the result per
item. Every error is a ``ValidationException`` carrying DynamoDB's own message.

Modules: ``tokens`` and ``parser`` (syntax), ``context`` (placeholders and the
checks all kinds share), ``conditions``, ``keys``, ``update``, ``projection``,
``legacy``, ``ordering`` (how values compare), ``document`` (path access) and
``reserved`` (the reserved words).
"""

from cloudlet.services.dynamodb.expressions.conditions import Condition, compile_condition
from cloudlet.services.dynamodb.expressions.context import ExpressionContext
from cloudlet.services.dynamodb.expressions.document import get_path, project
from cloudlet.services.dynamodb.expressions.keys import (
    KeyCondition,
    compile_key_condition,
    legacy_key_condition,
)
from cloudlet.services.dynamodb.expressions.legacy import (
    legacy_condition,
    legacy_filter,
    legacy_update,
)
from cloudlet.services.dynamodb.expressions.ordering import compare, equals
from cloudlet.services.dynamodb.expressions.projection import (
    Projection,
    compile_projection,
    legacy_projection,
)
from cloudlet.services.dynamodb.expressions.reserved import RESERVED_WORDS, is_reserved
from cloudlet.services.dynamodb.expressions.update import Update, compile_update

__all__ = [
    "RESERVED_WORDS",
    "Condition",
    "ExpressionContext",
    "KeyCondition",
    "Projection",
    "Update",
    "compare",
    "compile_condition",
    "compile_key_condition",
    "compile_projection",
    "compile_update",
    "equals",
    "get_path",
    "is_reserved",
    "legacy_condition",
    "legacy_filter",
    "legacy_key_condition",
    "legacy_projection",
    "legacy_update",
    "project",
]
