"""Bodies of PATCH routes: a field left out stays as it is; some fields cannot be cleared."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import SkipJsonSchema

# `field: T | NotNull = None`: may be left out, and the schema says it is never null. A null
# sent anyway reaches the service, which refuses it with a 422 that names the field.
NotNull = SkipJsonSchema[None]


def drop_null_defaults(schema: dict[str, Any]) -> None:
    """`json_schema_extra` for such models: drop `default: null` where null is not allowed."""
    for field in schema.get("properties", {}).values():
        if "default" in field and field["default"] is None and "anyOf" not in field:
            del field["default"]
