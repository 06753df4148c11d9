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
from app.providers.studio.cutout import cut_out_person, cutout_available  # noqa: E402

WIDTH, HEIGHT = 1280, 720
MODELS = Path(__file__).resolve().parent.parent / ".data" / "models"


def sample_portrait() -> bytes | None:
    """A real person for the cutout: matplotlib's sample portrait (a dev dependency)."""
    try:
        import matplotlib
    except ImportError:
        return None
    return (Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").read_bytes()


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


def median_seconds(
    work: Callable[[int], object], runs: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    work(0)  # warm-up: font loading and glyph caches are a one-off cost per process
    timings = []
    for run in range(runs):
        started = clock()
        work(run)
        timings.append(clock() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30, help="timed runs per case (default 30)")
    runs = parser.parse_args().runs
    selfie = sample_selfie()

    def render(
        selfie_bytes: bytes | None, models: Path | None = None, cached: bool = True
    ) -> Callable[[int], object]:
        def one(run: int) -> bytes:
            if not cached:
                cut_out_person.cache_clear()
            brief = StudioBrief(
                width=WIDTH,
                height=HEIGHT,
                headline="I tried this for 30 days",
                subtext="What nobody tells you about it",
                vibe=VIBES[run % len(VIBES)],
                selfie=selfie_bytes,
            )
            return render_thumbnail(brief, seed="bench", variant=run, cutout_models=models)

        return one

    baseline = median_seconds(lambda _run: flat_png(), runs)
    without_selfie = median_seconds(render(None), runs)
    with_selfie = median_seconds(render(selfie), runs)
    portrait = sample_portrait()
    cutout = portrait is not None and cutout_available(MODELS)
    if cutout:
        # CPU time: what a render worker spends, whatever else shares the machine.
        framed = median_seconds(render(portrait), runs, time.process_time)
        cut = median_seconds(render(portrait, MODELS, cached=False), runs, time.process_time)
        cut_cached = median_seconds(render(portrait, MODELS), runs, time.process_time)

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
    if not cutout:
        print("  cutout: skipped (needs requirements-cutout.txt, make models and matplotlib)")
        return
    print(f"  portrait framed (512x600 JPEG), CPU         {framed * 1000:8.1f} ms")
    print(
        f"  portrait cut out each render, CPU           {cut * 1000:8.1f} ms"
        f"   +{(cut - framed) * 1000:.1f} ms"
    )
    print(
        f"  portrait cut out once per worker, CPU       {cut_cached * 1000:8.1f} ms"
        f"   +{(cut_cached - framed) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
