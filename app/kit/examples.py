"""Examples of request bodies for the OpenAPI schema: every body the API takes shows one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SchemaHook = Callable[[dict[str, Any]], None]


def body_examples(*examples: dict[str, Any], also: SchemaHook | None = None) -> SchemaHook:
    """`json_schema_extra` for a request model: its examples (and another hook, when it has one).

    They are in the model's schema, so Swagger UI and ReDoc prefill them and schemathesis sends
    them: each must be a request the API accepts, ids aside (they are placeholders).
    """

    def extra(schema: dict[str, Any]) -> None:
        if also is not None:
            also(schema)
        schema["examples"] = [dict(example) for example in examples]

    return extra
