"""The studio's person cutout on the real models: the photo's own background stays out of the
render, photos without a person fall back to the framed photo, and renders stay reproducible."""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib
import pytest
from PIL import Image, ImageOps, ImageStat

from app.config import Settings
from app.providers.studio import StudioBrief, render_thumbnail
from app.providers.studio.cutout import (
    MODEL_FILES,
    cut_out_person,
    cutout_available,
    models_present,
)
from app.providers.studio.fitting import HEADLINE_FONT, ROUNDED_FONT
from app.providers.studio.layouts import plan_layout
from app.providers.studio.styles import VIBE_STYLES

ROOT = Path(__file__).resolve().parents[2]
# A portrait of Grace Hopper against a blue studio sky and a flag, shipped with matplotlib.
PORTRAIT = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
# Sky to the right of her head, clear of the hat and the flag (photo pixels, 512x600).
SKY = (430, 20, 510, 280)
FACE_CENTRE = (265, 240)
# Vibes whose own backgrounds hold no sky blue (neon's grid glows in similar blues).
SKYLESS_VIBES = ("bold", "professional", "playful", "dramatic", "minimal")


@pytest.fixture(scope="module")
def models() -> Path:
    directory = Settings().cutout_models_dir
    assert directory is not None
    directory = directory if directory.is_absolute() else ROOT / directory
    if not cutout_available(directory):
        pytest.fail(
            f"cutout models or runtime missing in {directory}: `make test` installs "
            "requirements-cutout.txt and runs scripts/fetch_cutout_models.py"
        )
    return directory


@pytest.fixture(scope="module")
def portrait() -> bytes:
    return PORTRAIT.read_bytes()


def encoded(image: Image.Image, format: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, quality=92)
    return buffer.getvalue()


def decoded(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def brief(selfie: bytes | None, vibe: str = "bold", width: int = 1280, height: int = 720):
    return StudioBrief(
        width=width,
        height=height,
        headline="I tried this for 30 days",
        subtext="What nobody tells you",
        vibe=vibe,
        selfie=selfie,
    )


def sky_colour(photo: bytes) -> tuple[int, int, int]:
    region = Image.open(io.BytesIO(photo)).convert("RGB").crop(SKY)
    red, green, blue = (round(value) for value in ImageStat.Stat(region).mean)
    return red, green, blue


def count_near(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 25) -> int:
    """Pixels whose every channel is within tolerance of the colour."""
    bands = [
        band.point(lambda value, c=c: 255 if abs(value - c) <= tolerance else 0)
        for band, c in zip(image.split(), colour, strict=True)
    ]
    both = Image.composite(bands[0], Image.new("L", image.size, 0), bands[1])
    every = Image.composite(both, Image.new("L", image.size, 0), bands[2])
    return every.histogram()[255]


def person_box(variant: int, width: int = 1280, height: int = 720) -> tuple[int, int, int, int]:
    layout = plan_layout(width, height, variant, True, None, cutout=True)
    assert layout.selfie_box is not None
    left, top, right, bottom = layout.selfie_box
    return max(0, left), max(0, top), min(width, right), min(height, bottom)


class TestModels:
    def test_the_fetch_script_put_both_models_and_their_licence(self, models: Path) -> None:
        assert models_present(models)
        assert {path.name for path in models.iterdir()} >= {*MODEL_FILES, "LICENSE-mediapipe.txt"}
        assert (models / "selfie_segmentation.tflite").stat().st_size == 249_505

    def test_without_the_models_nothing_is_cut_out(self, portrait: bytes, tmp_path: Path) -> None:
        assert cut_out_person(portrait, tmp_path) is None
        assert cut_out_person(portrait, None) is None


class TestFaceGuard:
    def test_the_face_is_found_where_it_is(self, models: Path, portrait: bytes) -> None:
        person = cut_out_person(portrait, models)
        assert person is not None
        left, top, right, bottom = person.face
        offset = (512 - person.image.width, 600 - person.image.height)
        centre = ((left + right) / 2 + offset[0], (top + bottom) / 2 + offset[1])
        assert math.dist(centre, FACE_CENTRE) < 40
        assert 150 < right - left < 260
        assert person.cut_at_bottom

    def test_a_mirrored_photo_mirrors_the_face_box(self, models: Path, portrait: bytes) -> None:
        mirrored = encoded(ImageOps.mirror(Image.open(io.BytesIO(portrait))))
        straight, flipped = cut_out_person(portrait, models), cut_out_person(mirrored, models)
        assert straight is not None
        assert flipped is not None
        # Both crops end at the photo's edges, so mirror the face box within each crop.
        straight_centre = (straight.face[0] + straight.face[2]) / 2
        flipped_centre = flipped.image.width - (flipped.face[0] + flipped.face[2]) / 2
        assert abs(straight_centre - flipped_centre) < 12

    @pytest.mark.parametrize("scene", ["gradient", "landscape"])
    def test_a_photo_without_a_person_is_framed(self, models: Path, scene: str) -> None:
        if scene == "gradient":
            picture = Image.linear_gradient("L").resize((640, 480)).convert("RGB")
        else:
            picture = Image.new("RGB", (960, 540), (110, 170, 230))
            picture.paste((60, 130, 60), (0, 330, 960, 540))
            picture.paste((250, 220, 120), (700, 60, 800, 160))
        photo = encoded(picture)
        assert cut_out_person(photo, models) is None
        for variant in range(4):
            with_models = render_thumbnail(
                brief(photo), seed="s", variant=variant, cutout_models=models
            )
            framed = render_thumbnail(brief(photo), seed="s", variant=variant)
            assert with_models == framed


class TestBackgroundRemoved:
    @pytest.mark.parametrize("vibe", SKYLESS_VIBES)
    def test_the_photo_sky_never_reaches_the_render(
        self, models: Path, portrait: bytes, vibe: str
    ) -> None:
        sky = sky_colour(portrait)
        for variant in range(4):
            box = person_box(variant)
            cut = decoded(
                render_thumbnail(
                    brief(portrait, vibe), seed="s", variant=variant, cutout_models=models
                )
            )
            framed = decoded(render_thumbnail(brief(portrait, vibe), seed="s", variant=variant))
            bare = decoded(render_thumbnail(brief(None, vibe), seed="s", variant=variant))
            # The vibe has no such colour of its own, the framed photo shows the sky plainly...
            assert count_near(bare, sky) < 50
            assert count_near(framed, sky) > 20_000
            # ...and around the cut-out person at most the odd edge pixel is left of it.
            assert count_near(cut.crop(box), sky) < 300

    def test_a_person_in_a_wide_photo_is_cut_out_of_it(self, models: Path, portrait: bytes) -> None:
        wall = (120, 160, 90)
        wide = Image.new("RGB", (1600, 600), wall)
        wide.paste(Image.open(io.BytesIO(portrait)), (900, 0))
        photo = encoded(wide)
        person = cut_out_person(photo, models)
        assert person is not None
        # The crop holds the person, not the empty wall to their left.
        assert person.image.width < 700
        render = decoded(render_thumbnail(brief(photo), seed="s", variant=0, cutout_models=models))
        assert count_near(render.crop(person_box(0)), wall, 20) < 300


class TestReproducible:
    def test_the_same_inputs_give_the_same_bytes(self, models: Path, portrait: bytes) -> None:
        renders = []
        for _ in range(2):
            cut_out_person.cache_clear()
            renders.append(
                render_thumbnail(brief(portrait, "neon"), seed="s", variant=1, cutout_models=models)
            )
        assert renders[0] == renders[1]

    def test_variants_cut_out_once_and_differ(self, models: Path, portrait: bytes) -> None:
        cut_out_person.cache_clear()
        pngs = {
            render_thumbnail(brief(portrait), seed="s", variant=variant, cutout_models=models)
            for variant in range(4)
        }
        assert len(pngs) == 4
        assert cut_out_person.cache_info().misses == 1


class TestLayouts:
    @pytest.mark.parametrize(("width", "height"), [(1280, 720), (1080, 1080), (1080, 1920)])
    def test_the_person_runs_off_the_bottom_edge(self, width: int, height: int) -> None:
        for variant in range(4):
            layout = plan_layout(width, height, variant, True, None, cutout=True)
            assert layout.cutout
            assert layout.selfie_box is not None
            assert layout.selfie_box[3] == height

    def test_story_platforms_keep_the_person_on_the_canvas_edge(self) -> None:
        layout = plan_layout(1080, 1920, 0, True, "tiktok", cutout=True)
        assert layout.selfie_box is not None
        assert layout.selfie_box[3] == 1920
        # The text still keeps clear of the app's chrome at the top.
        assert layout.text_box[1] >= 0.11 * 1920

    def test_tall_layouts_leave_no_empty_third(self) -> None:
        for variant in range(4):
            layout = plan_layout(1080, 1920, variant, True, None, cutout=True)
            assert layout.selfie_box is not None
            for third in range(3):
                band = (third * 640, (third + 1) * 640)
                used: set[int] = set()
                for box in (layout.text_box, layout.selfie_box):
                    used.update(range(max(band[0], box[1]), min(band[1], box[3])))
                assert len(used) > 0.6 * 640, (layout.name, third)


class TestTypefaces:
    def test_vibes_share_a_few_distinct_headline_faces(self) -> None:
        faces = {style.headline_type.font_path for style in VIBE_STYLES.values()}
        assert 2 < len(faces) < len(VIBE_STYLES)
        assert HEADLINE_FONT in faces
        assert ROUNDED_FONT in faces
        assert all(path.is_file() for path in faces)
