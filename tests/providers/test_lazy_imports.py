"""Provider adapters leave their SDKs unimported until a render needs them (cold starts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["google.genai", "httpx", "PIL"]


def test_importing_the_adapters_loads_no_sdk() -> None:
    code = (
        "import json, sys\n"
        "import app.providers.gemini, app.providers.seedream, app.providers.output\n"
        f"print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert json.loads(result.stdout) == []
