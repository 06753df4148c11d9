"""Size of the Vercel / Lambda bundle: requirements.txt installed as Vercel does, plus our code.

Vercel installs the runtime dependencies with `pip install --target <dir> -r requirements.txt`
and ships them without .pyc files; the unzipped total must stay under 250 MB (AWS Lambda's zip
deployments have the same limit). Run: python bench/bundle_size.py [--python-version 3.12]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT  # noqa: E402

LIMIT_BYTES = 250 * 1024 * 1024
MIB = 1024 * 1024
# What the function needs at run time (vercel.json's excludeFiles leaves out the rest).
SOURCE = ("api", "app", "migrations", "alembic.ini", "requirements.txt")


def install(target: Path, python_version: str | None) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "-r",
        str(ROOT / "requirements.txt"),
    ]
    if python_version:
        # Wheels for the runtime's interpreter and Linux, whatever this machine runs.
        command += [
            "--python-version",
            python_version,
            "--implementation",
            "cp",
            "--platform",
            "manylinux2014_x86_64",
            "--platform",
            "manylinux_2_28_x86_64",
            "--only-binary=:all:",
        ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"pip install failed with exit code {result.returncode}")


def sizes_by_distribution(target: Path) -> Counter[str]:
    """Bytes per installed distribution, read from each wheel's RECORD."""
    owner: dict[Path, str] = {}
    for record in target.glob("*.dist-info/RECORD"):
        name = record.parent.name.split("-")[0]
        with record.open(newline="") as handle:
            for row in csv.reader(handle):
                if row:
                    owner[(target / row[0]).resolve()] = name
    sizes: Counter[str] = Counter()
    for path in target.rglob("*"):
        if path.is_file() and not path.is_symlink():
            sizes[owner.get(path.resolve(), "(not in any RECORD)")] += path.stat().st_size
    return sizes


def source_bytes() -> int:
    total = 0
    for name in SOURCE:
        path = ROOT / name
        files = [path] if path.is_file() else path.rglob("*")
        total += sum(
            file.stat().st_size
            for file in files
            if file.is_file() and "__pycache__" not in file.parts
        )
    return total


def report(sizes: Counter[str], ours: int, top: int) -> None:
    dependencies = sum(sizes.values())
    total = dependencies + ours
    print(f"{'largest distributions':<32}{'MiB':>9}{'share':>8}")
    for name, size in sizes.most_common(top):
        print(f"{name:<32}{size / MIB:>9.2f}{size / total:>8.1%}")
    print(f"{'dependencies (' + str(len(sizes)) + ')':<32}{dependencies / MIB:>9.2f}")
    print(f"{'our code (' + ', '.join(SOURCE[:3]) + ')':<32}{ours / MIB:>9.2f}")
    print(f"{'bundle, unzipped':<32}{total / MIB:>9.2f}")
    print(f"{'of the 250 MB limit':<32}{total / LIMIT_BYTES:>9.1%}")
    print(f"headroom: {(LIMIT_BYTES - total) / MIB:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--python-version", help="install wheels for this Python (e.g. 3.12) on Linux x86_64"
    )
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mugshot-bundle-") as folder:
        target = Path(folder)
        install(target, args.python_version)
        report(sizes_by_distribution(target), source_bytes(), args.top)


if __name__ == "__main__":
    main()
