"""Time and peak memory of a data export against the size of the archive it streams.

An account with FILES stored images of FILE_MB each and MESSAGES chat messages, on a throwaway
SQLite database and local storage; the archive is consumed chunk by chunk as a response would
send it. Run twice: once for time, once under tracemalloc (which slows Python) for memory.
"""

# ruff: noqa: T201  (printing the figures is this script's whole output)

import argparse
import asyncio
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import timedelta
from pathlib import Path

# Run as a plain script (python bench/export_memory.py): make the app package importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from app.main import create_app  # noqa: E402
from app.models import Asset, Chat, ChatMessage  # noqa: E402
from app.models.base import utcnow  # noqa: E402
from app.profile.export import export_archive  # noqa: E402
from tests.conftest import make_settings, run_migrations  # noqa: E402
from tests.factories import create_user  # noqa: E402


async def measure(folder: Path, *, files: int, file_mb: float, messages: int, trace: bool) -> str:
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    run_migrations(url)
    app = create_app(make_settings(database_url=url, data_dir=folder / "data"))
    ports = app.state.ports
    user = await create_user(app)
    owner = uuid.UUID(user.id)
    blob = os.urandom(int(file_mb * 1024 * 1024))
    assets = []
    for _ in range(files):
        path = f"{owner}/ref/{uuid.uuid4().hex}.png"
        await ports.storage.put("user_assets", path, blob, content_type="image/png", upsert=False)
        assets.append(
            {
                "id": uuid.uuid4(),
                "user_id": owner,
                "type": "ref",
                "bucket": "user_assets",
                "path": path,
                "content_type": "image/png",
                "width": 10,
                "height": 10,
                "size_bytes": len(blob),
                "sha256": "0" * 64,
            }
        )
    chat_id, now = uuid.uuid4(), utcnow()
    async with ports.database.engine.begin() as connection:
        if assets:
            await connection.execute(insert(Asset), assets)
        await connection.execute(
            insert(Chat), [{"id": chat_id, "user_id": owner, "session_name": "Bench"}]
        )
        if messages:
            await connection.execute(
                insert(ChatMessage),
                [
                    {
                        "id": uuid.uuid4(),
                        "chat_id": chat_id,
                        "sender": "user",
                        "content": "Warmer colours and a bigger headline, please. " * 5,
                        "created_at": now + timedelta(microseconds=index),
                    }
                    for index in range(messages)
                ],
            )
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    total = largest = chunks = 0
    async for chunk in export_archive(ports, owner):
        total += len(chunk)
        largest = max(largest, len(chunk))
        chunks += 1
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    await ports.close()
    memory = f", peak traced memory {peak / 1e6:.1f} MB" if trace else ""
    return (
        f"{files} files of {file_mb} MB, {messages} messages: archive {total / 1e6:.1f} MB in "
        f"{chunks} chunks (largest {largest / 1e6:.2f} MB), {elapsed:.2f} s{memory}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--file-mb", type=float, default=2.0)
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    for trace in (False, True):
        with tempfile.TemporaryDirectory() as folder:
            print(
                asyncio.run(
                    measure(
                        Path(folder),
                        files=args.files,
                        file_mb=args.file_mb,
                        messages=args.messages,
                        trace=trace,
                    )
                )
            )


if __name__ == "__main__":
    main()
