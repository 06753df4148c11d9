"""The serving process's heap after start-up."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Move every object alive after start-up (modules, schemas, routes, the compiled SQL) out
    of the cyclic garbage collector's reach.

    Those objects live as long as the process, yet a full collection walks all of them: with
    the app loaded that is some 125k objects and about 80 ms during which no request moves,
    which showed up as the slowest percent of requests under load. Frozen, a full collection
    walks only what requests allocated since. Call it once, from the entry point that serves
    (never from tests, which build many apps in one process and must let them go).
    """
    gc.freeze()
