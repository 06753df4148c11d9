"""A tiny Lambda handler for testing the Lambda service stand-in itself."""

from __future__ import annotations

import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "raise" in event:
        raise ValueError(event["raise"])
    time.sleep(float(event.get("sleep", 0)))
    return {
        "pid": os.getpid(),
        "request_id": context.aws_request_id,
        "function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
