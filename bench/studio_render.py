"""Median render time of a 1280x720 studio thumbnail, against a flat Pillow PNG in the same run."""

# ruff: noqa: T201  (printing the figures is this script's whole output)

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

# Run as a plain script (python bench/studio_render.py): make the app package importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.providers.studio import VIBES, StudioBrief, render_thumbnail  # noqa: E402

WIDTH, HEIGHT = 1280, 720


def sample_selfie() -> bytes:
    """A phone-sized portrait JPEG, so decoding and scaling cost what they cost in production."""
    portrait = Image.linear_gradient("L").resize((1200, 1600)).convert("RGB")
    draw = ImageDraw.Draw(portrait)
    draw.ellipse([330, 300, 870, 1000], fill=(236, 188, 150))
    draw.rectangle([200, 1100, 1000, 1600], fill=(30, 60, 140))
    buffer = io.BytesIO()
    portrait.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def flat_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), (32, 32, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def median_seconds(work: Callable[[int], object], runs: int) -> float:
    work(0)  # warm-up: font loading and glyph caches are a one-off cost per process
    timings = []
    for run in range(runs):
        started = time.perf_counter()
        work(run)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30, help="timed runs per case (default 30)")
    runs = parser.parse_args().runs
    selfie = sample_selfie()

    def render(selfie_bytes: bytes | None) -> Callable[[int], object]:
        def one(run: int) -> bytes:
            brief = StudioBrief(
                width=WIDTH,
                height=HEIGHT,
                headline="I tried this for 30 days",
                subtext="What nobody tells you about it",
                vibe=VIBES[run % len(VIBES)],
                selfie=selfie_bytes,
            )
            return render_thumbnail(brief, seed="bench", variant=run)

        return one

    baseline = median_seconds(lambda _run: flat_png(), runs)
    without_selfie = median_seconds(render(None), runs)
    with_selfie = median_seconds(render(selfie), runs)

    print(f"studio renderer, {WIDTH}x{HEIGHT}, median of {runs} runs (vibes and layouts rotate)")
    print(f"  baseline: flat image, create + PNG encode   {baseline * 1000:8.1f} ms")
    print(
        f"  thumbnail without selfie                    {without_selfie * 1000:8.1f} ms"
        f"   {without_selfie / baseline:5.1f}x baseline"
    )
    print(
        f"  thumbnail with selfie (1200x1600 JPEG)      {with_selfie * 1000:8.1f} ms"
        f"   {with_selfie / baseline:5.1f}x baseline"
    )


if __name__ == "__main__":
    main()
