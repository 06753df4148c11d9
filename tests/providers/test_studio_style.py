"""The studio honours the style a chat direction sets: background and accent colours, headline
scale and the person's side, each checked on rendered pixels."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from app.config import Settings
from app.providers.studio import VIBES, render_thumbnail
from app.providers.studio.cutout import cutout_available
from app.providers.studio.layouts import plan_layout
from app.providers.studio.lettering import set_text_block
from app.providers.studio.palette import contrast, hex_to_rgb, varied_palette, with_colours
from app.providers.studio.styles import VIBE_STYLES
from tests.providers.test_studio import (
    SELFIE_GREEN,
    box_centre,
    brief,
    decoded,
    flat_selfie,
    mean_difference,
)
from tests.providers.test_studio_cutout import PORTRAIT

SIZES = [(1280, 720), (1080, 1920), (1080, 1080)]


def share_near(png: bytes, colour: tuple[int, int, int], tolerance: int = 60) -> float:
    """The share of pixels within `tolerance` of colour on every channel."""
    data = decoded(png).convert("RGB").resize((160, 90)).tobytes()
    pixels = [data[i : i + 3] for i in range(0, len(data), 3)]
    close = sum(
        1
        for pixel in pixels
        if all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))
    )
    return close / len(pixels)


def navy_pixels(image: Image.Image) -> int:
    """Dark pixels that are not a shade of red: a navy uniform on a red background."""
    data = image.tobytes()
    pixels = (data[i : i + 3] for i in range(0, len(data), 3))
    return sum(1 for r, g, b in pixels if max(r, g, b) < 70 and r - b < 15)


class TestBackgroundColour:
    @pytest.mark.parametrize("vibe", VIBES)
    def test_the_background_takes_the_colour(self, vibe: str) -> None:
        green = (0, 160, 0)
        before = render_thumbnail(brief(vibe=vibe), seed="bg", variant=0)
        after = render_thumbnail(brief(vibe=vibe, background_color="#00a000"), seed="bg", variant=0)
        assert mean_difference(before, after) > 10
        # The gradient runs to a darker shade and the vibe paints over it, so count the pixels
        # near the colour or its shade.
        darker = (0, 96, 0)
        assert share_near(after, green) + share_near(after, darker) > 0.25
        assert share_near(before, green) + share_near(before, darker) < 0.1

    @pytest.mark.parametrize("vibe", VIBES)
    @pytest.mark.parametrize("colour", ["#ffffff", "#000000", "#ffd700", "#000080"])
    def test_the_headline_stays_legible(self, vibe: str, colour: str) -> None:
        style = VIBE_STYLES[vibe]
        palette = with_colours(
            style.palette, background=hex_to_rgb(colour), accent=None, text_on_accent=False
        )
        assert contrast(palette.headline, palette.background_start) >= 3
        assert contrast(palette.subtext, palette.background_start) >= 3

    def test_subtext_on_a_pill_stays_legible_on_the_accent(self) -> None:
        palette = with_colours(
            VIBE_STYLES["bold"].palette,
            background=None,
            accent=hex_to_rgb("#111111"),
            text_on_accent=True,
        )
        assert contrast(palette.subtext, palette.accent) >= 3

    def test_the_colour_is_the_same_in_every_variant(self) -> None:
        # The variant's small hue turn leaves a colour the person chose alone.
        for seed in range(8):
            palette = with_colours(
                varied_palette(VIBE_STYLES["minimal"].palette, random.Random(seed)),
                background=(51, 102, 255),
                accent=(255, 0, 0),
                text_on_accent=False,
            )
            assert (palette.background_start, palette.accent) == ((51, 102, 255), (255, 0, 0))


class TestAccentColour:
    def test_the_accent_changes_the_picture(self) -> None:
        before = render_thumbnail(brief(vibe="bold"), seed="accent", variant=0)
        after = render_thumbnail(
            brief(vibe="bold", accent_color="#00ffff"), seed="accent", variant=0
        )
        assert mean_difference(before, after) > 5
        assert share_near(after, (0, 255, 255), 50) > share_near(before, (0, 255, 255), 50) + 0.02


class TestHeadlineScale:
    @pytest.mark.parametrize(("width", "height"), SIZES)
    @pytest.mark.parametrize("selfie", [False, True])
    def test_scale_orders_the_headline_size(self, width: int, height: int, selfie: bool) -> None:
        style = VIBE_STYLES["bold"]
        for variant in range(4):
            layout = plan_layout(width, height, variant, selfie, None)
            sizes = []
            for scale in (0.5, 0.8, 1.0, 1.25, 1.5):
                plan = set_text_block(
                    (width, height),
                    brief(width=width, height=height, headline_scale=scale),
                    layout,
                    style,
                )
                assert plan.block.headline is not None
                sizes.append(plan.block.headline.size)
                left, top, right, bottom = plan.box
                assert 0 <= left < right <= width
                assert 0 <= top < bottom <= height
            assert sizes == sorted(sizes), (layout.name, sizes)
            assert sizes[0] < sizes[1] < sizes[2], (layout.name, sizes)
            assert sizes[3] > sizes[2], (layout.name, sizes)

    def test_a_bigger_headline_beside_a_photo_is_clearly_bigger(self) -> None:
        style = VIBE_STYLES["bold"]
        layout = plan_layout(1280, 720, 0, True, None)
        natural = set_text_block((1280, 720), brief(), layout, style).block.headline
        bigger = set_text_block(
            (1280, 720), brief(headline_scale=1.25), layout, style
        ).block.headline
        assert natural is not None
        assert bigger is not None
        assert bigger.size >= natural.size * 1.15

    def test_the_render_changes(self) -> None:
        natural = render_thumbnail(brief(), seed="scale", variant=0)
        smaller = render_thumbnail(brief(headline_scale=0.65), seed="scale", variant=0)
        bigger = render_thumbnail(
            brief(headline_scale=1.5, selfie=flat_selfie()), seed="s", variant=0
        )
        with_photo = render_thumbnail(brief(selfie=flat_selfie()), seed="s", variant=0)
        assert mean_difference(natural, smaller) > 5
        assert mean_difference(with_photo, bigger) > 5
        # Scale 1 is today's picture, byte for byte.
        assert render_thumbnail(brief(headline_scale=1.0), seed="scale", variant=0) == natural


class TestPersonSide:
    @pytest.mark.parametrize(("width", "height"), SIZES)
    @pytest.mark.parametrize("side", ["left", "right"])
    @pytest.mark.parametrize("cutout", [False, True])
    def test_every_variant_puts_the_photo_on_that_side(
        self, width: int, height: int, side: str, cutout: bool
    ) -> None:
        for variant in range(4):
            layout = plan_layout(width, height, variant, True, None, side, cutout=cutout)
            assert layout.cutout == cutout
            assert layout.selfie_box is not None
            centre_x = (layout.selfie_box[0] + layout.selfie_box[2]) / 2
            assert (centre_x < width / 2) == (side == "left"), (layout.name, variant)
            text_centre = (layout.text_box[0] + layout.text_box[2]) / 2
            assert (text_centre > centre_x) == (side == "left"), layout.name

    @pytest.mark.parametrize("side", ["left", "right"])
    def test_the_photo_is_drawn_there(self, side: str) -> None:
        width, height = 1280, 720
        for variant in range(4):
            png = render_thumbnail(
                brief(selfie=flat_selfie(), person_side=side), seed="side", variant=variant
            )
            layout = plan_layout(width, height, variant, True, None, side)
            assert layout.selfie_box is not None
            x, y = box_centre(layout.selfie_box, width, height)
            pixel = decoded(png).getpixel((x, y))
            assert isinstance(pixel, tuple)
            assert all(abs(a - b) <= 6 for a, b in zip(pixel, SELFIE_GREEN, strict=True))
            assert (x < width / 2) == (side == "left")

    def test_mirrored_layouts_differ_from_the_originals(self) -> None:
        right = render_thumbnail(
            brief(selfie=flat_selfie(), person_side="right"), seed="m", variant=0
        )
        left = render_thumbnail(
            brief(selfie=flat_selfie(), person_side="left"), seed="m", variant=0
        )
        assert ImageChops.difference(decoded(left), decoded(right)).getbbox() is not None
        assert mean_difference(left, right) > 10

    def test_without_a_photo_the_side_changes_nothing(self) -> None:
        plain = render_thumbnail(brief(), seed="none", variant=2)
        assert render_thumbnail(brief(person_side="left"), seed="none", variant=2) == plain
        assert replace(brief(), person_side="left").selfie is None


class TestCutOutPerson:
    @pytest.mark.parametrize(("width", "height"), SIZES)
    @pytest.mark.parametrize("side", ["left", "right"])
    def test_a_bigger_headline_keeps_off_the_face(self, width: int, height: int, side: str) -> None:
        style = VIBE_STYLES["bold"]
        for variant in range(4):
            layout = plan_layout(width, height, variant, True, None, side, cutout=True)
            assert layout.selfie_box is not None
            person_left, person_top, person_right, person_bottom = layout.selfie_box
            centre, reach = (person_left + person_right) / 2, (person_right - person_left) / 4
            above = layout.text_box[3] <= person_top + (person_bottom - person_top) * 0.05
            request = brief(width=width, height=height)
            natural = set_text_block((width, height), request, layout, style)
            bigger = set_text_block(
                (width, height), replace(request, headline_scale=1.5), layout, style
            )
            assert natural.block.headline is not None
            assert bigger.block.headline is not None
            assert bigger.block.headline.size > natural.block.headline.size, layout.name
            left, _, right, bottom = bigger.box
            assert 0 <= left < right <= width
            # Beside the person the text stops short of the face; above, it stays above.
            if above:
                assert bottom <= max(layout.text_box[3], person_top), layout.name
            elif side == "left":
                assert left >= min(layout.text_box[0], centre + reach) - 1, layout.name
            else:
                assert right <= max(layout.text_box[2], centre - reach) + 1, layout.name

    @pytest.mark.parametrize("side", ["left", "right"])
    def test_the_person_is_cut_out_on_that_side(self, side: str) -> None:
        models = Settings().cutout_models_dir
        assert models is not None
        models = models if models.is_absolute() else Path(__file__).parents[2] / models
        if not cutout_available(models):
            pytest.fail(f"cutout models or runtime missing in {models}")
        request = brief(
            selfie=PORTRAIT.read_bytes(),
            person_side=side,
            background_color="#ff0000",
            headline_scale=1.5,
        )
        for variant in range(4):
            png = render_thumbnail(request, seed="cut", variant=variant, cutout_models=models)
            assert png == render_thumbnail(
                request, seed="cut", variant=variant, cutout_models=models
            )
            # Her navy uniform fills the bottom of the person's half; red fills the other.
            bottom = decoded(png).convert("RGB").resize((160, 90)).crop((0, 60, 160, 90))
            left, right = (
                navy_pixels(bottom.crop((0, 0, 80, 30))),
                navy_pixels(bottom.crop((80, 0, 160, 30))),
            )
            person, other = (left, right) if side == "left" else (right, left)
            assert person > 2 * other + 100, (variant, left, right)
