"""Tests for the built-in studio renderer: size, determinism, layouts, pictures and text fitting."""

import io
import struct
import zlib
from itertools import combinations

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageStat

from app.providers.studio import VIBES, StudioBrief, render_thumbnail, resolve_vibe
from app.providers.studio.fitting import (
    HEADLINE_FONT,
    HEADLINE_TYPE,
    FittedText,
    drawable_text,
    fit_text,
)
from app.providers.studio.layouts import frame_box, plan_layout
from app.providers.studio.lettering import set_text_block
from app.providers.studio.render import stack_tall
from app.providers.studio.styles import VIBE_STYLES

SELFIE_GREEN = (20, 190, 70)


def encoded(image: Image.Image, format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def flat_selfie(colour: tuple[int, int, int] = SELFIE_GREEN) -> bytes:
    return encoded(Image.new("RGB", (480, 640), colour), "JPEG", quality=95)


def brief(**changes: object) -> StudioBrief:
    fields: dict[str, object] = {
        "width": 1280,
        "height": 720,
        "headline": "I tried this for 30 days",
        "subtext": "What nobody tells you",
        "vibe": "bold",
    }
    fields.update(changes)
    return StudioBrief(**fields)  # type: ignore[arg-type]


def decoded(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def mean_difference(first: bytes, second: bytes) -> float:
    difference = ImageChops.difference(
        decoded(first).convert("RGB"), decoded(second).convert("RGB")
    )
    return sum(ImageStat.Stat(difference).mean) / 3


def png_chunk_types(png: bytes) -> list[bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    types: list[bytes] = []
    offset = 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        body = png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) == crc
        types.append(kind)
        offset += 12 + length
    return types


def fit_headline(text: str, width: int, height: int, *, min_size: int) -> FittedText | None:
    return fit_text(
        text, HEADLINE_TYPE, width, height, max_lines=3, min_size=min_size, max_size=1000
    )


def widest_line(fitted: FittedText) -> float:
    font = ImageFont.truetype(
        str(HEADLINE_TYPE.font_path), fitted.size, layout_engine=ImageFont.Layout.BASIC
    )
    return max(font.getlength(" ".join(line)) for line in fitted.lines)


def box_centre(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int]:
    # Boxes may run past the canvas edge; the visible part's centre is what we can sample.
    left, top = max(0, box[0]), max(0, box[1])
    right, bottom = min(width, box[2]), min(height, box[3])
    return (left + right) // 2, (top + bottom) // 2


class TestOutputFormat:
    @pytest.mark.parametrize(
        ("width", "height"),
        [(1280, 720), (1080, 1920), (1080, 1080), (256, 256), (4096, 2304)],
    )
    def test_exact_size(self, width: int, height: int) -> None:
        png = render_thumbnail(brief(width=width, height=height), seed="size", variant=1)
        image = decoded(png)
        assert image.format == "PNG"
        assert image.size == (width, height)
        assert image.mode == "RGB"

    def test_png_carries_pixels_only(self) -> None:
        png = render_thumbnail(brief(selfie=flat_selfie()), seed="chunks", variant=0)
        assert png_chunk_types(png) == [
            b"IHDR",
            *[b"IDAT"] * (len(png_chunk_types(png)) - 2),
            b"IEND",
        ]
        image = decoded(png)
        assert image.info.get("exif") is None
        assert not image.getexif()

    @pytest.mark.parametrize(("width", "height"), [(255, 720), (1280, 4097), (0, 0)])
    def test_size_out_of_range_is_refused(self, width: int, height: int) -> None:
        with pytest.raises(ValueError, match="between 256 and 4096"):
            render_thumbnail(brief(width=width, height=height), seed="size", variant=0)


class TestDeterminism:
    def test_same_inputs_give_identical_bytes(self) -> None:
        request = brief(selfie=flat_selfie(), vibe="dramatic")
        first = render_thumbnail(request, seed="job-1", variant=2)
        second = render_thumbnail(request, seed="job-1", variant=2)
        assert first == second

    def test_seed_changes_the_picture(self) -> None:
        first = render_thumbnail(brief(vibe="playful"), seed="job-1", variant=0)
        second = render_thumbnail(brief(vibe="playful"), seed="job-2", variant=0)
        assert first != second


class TestVariety:
    def test_variants_differ_clearly(self) -> None:
        request = brief(selfie=flat_selfie())
        renders = [render_thumbnail(request, seed="variety", variant=index) for index in range(4)]
        for first, second in combinations(renders, 2):
            assert mean_difference(first, second) > 8

    def test_variant_index_wraps_around_the_layouts(self) -> None:
        for variant in range(4):
            assert plan_layout(1280, 720, variant, True, None) == plan_layout(
                1280, 720, variant + 4, True, None
            )

    def test_vibes_differ_clearly(self) -> None:
        renders = {
            vibe: render_thumbnail(brief(vibe=vibe), seed="vibes", variant=0) for vibe in VIBES
        }
        assert len(VIBES) >= 6
        for first, second in combinations(VIBES, 2):
            assert mean_difference(renders[first], renders[second]) > 10, (first, second)

    @pytest.mark.parametrize(("width", "height"), [(1080, 1920), (1080, 1080)])
    def test_tall_and_square_layouts_keep_text_and_photo_apart(
        self, width: int, height: int
    ) -> None:
        for variant in range(4):
            layout = plan_layout(width, height, variant, True, None)
            assert layout.selfie_box is not None
            text, photo = layout.text_box, layout.selfie_box
            apart = text[2] <= photo[0] or photo[2] <= text[0]
            apart = apart or text[3] <= photo[1] or photo[3] <= text[1]
            assert apart, layout.name

    def test_story_platform_keeps_clear_of_app_chrome(self) -> None:
        for variant in range(4):
            layout = plan_layout(1080, 1920, variant, False, "instagram_story")
            assert layout.text_box[1] >= 1920 * 0.1
            assert layout.text_box[3] <= 1920 * 0.85


class TestSelfie:
    @pytest.mark.parametrize(("width", "height"), [(1280, 720), (1080, 1920), (1080, 1080)])
    @pytest.mark.parametrize("vibe", VIBES)
    def test_selfie_shows_where_the_layout_puts_it(
        self, vibe: str, width: int, height: int
    ) -> None:
        for variant in range(4):
            request = brief(width=width, height=height, vibe=vibe, selfie=flat_selfie())
            image = decoded(render_thumbnail(request, seed="selfie", variant=variant))
            layout = plan_layout(width, height, variant, True, None)
            assert layout.selfie_box is not None
            pixel = image.getpixel(box_centre(layout.selfie_box, width, height))
            assert isinstance(pixel, tuple)
            assert all(abs(got - want) <= 6 for got, want in zip(pixel, SELFIE_GREEN, strict=True))

    def test_selfie_changes_the_output(self) -> None:
        without = render_thumbnail(brief(), seed="selfie", variant=0)
        with_selfie = render_thumbnail(brief(selfie=flat_selfie()), seed="selfie", variant=0)
        assert mean_difference(without, with_selfie) > 5

    def test_exif_orientation_is_applied(self) -> None:
        # Stored sideways: red on the left, blue on the right; EXIF orientation 6 means the
        # camera was turned, so upright the red half is on top.
        sideways = Image.new("RGB", (640, 480), (0, 0, 230))
        ImageDraw.Draw(sideways).rectangle([0, 0, 319, 479], fill=(230, 0, 0))
        exif = Image.Exif()
        exif[0x0112] = 6
        selfie = encoded(sideways, "JPEG", quality=95, exif=exif.tobytes())
        request = brief(width=1080, height=1920, selfie=selfie, vibe="minimal")
        image = decoded(render_thumbnail(request, seed="exif", variant=0))
        layout = plan_layout(1080, 1920, 0, True, None)
        assert layout.selfie_box is not None
        centre_x, centre_y = box_centre(layout.selfie_box, 1080, 1920)
        above = image.getpixel((centre_x, centre_y - 150))
        below = image.getpixel((centre_x, centre_y + 150))
        assert isinstance(above, tuple)
        assert isinstance(below, tuple)
        assert above[0] > 180 > above[2]
        assert below[2] > 180 > below[0]

    def test_reference_tints_the_background(self) -> None:
        reference = encoded(Image.radial_gradient("L").convert("RGB").resize((800, 450)))
        plain = render_thumbnail(brief(headline="", subtext=None), seed="ref", variant=0)
        textured = render_thumbnail(
            brief(headline="", subtext=None, reference=reference), seed="ref", variant=0
        )
        assert mean_difference(plain, textured) > 3


class TestTallStack:
    @pytest.mark.parametrize("vibe", VIBES)
    def test_photo_and_text_stack_in_the_middle(self, vibe: str) -> None:
        """On 9:16 the framed photo and the text stack up centred, the photo taking the rest."""
        style = VIBE_STYLES[vibe]
        for variant in range(4):
            request = brief(width=1080, height=1920, vibe=vibe, selfie=flat_selfie())
            layout = plan_layout(1080, 1920, variant, True, None)
            text = set_text_block((1080, 1920), request, layout, style)
            stacked, moved = stack_tall(layout, text, style.frame, (1080, 1920))
            assert stacked.selfie_box is not None
            assert layout.selfie_box is not None
            photo = frame_box(stacked.selfie_box, style.frame)
            top, bottom = min(photo[1], moved.top), max(photo[3], moved.bottom)
            # Photo and words do not overlap, and the stack sits centred in the layout's span.
            assert photo[3] <= moved.top or moved.bottom <= photo[1]
            span_top = min(layout.selfie_box[1], layout.text_box[1])
            span_bottom = max(layout.selfie_box[3], layout.text_box[3])
            assert abs((top - span_top) - (span_bottom - bottom)) <= 2
            # The frame is as large as the width or the remaining height allows.
            remaining = span_bottom - span_top - text.block.height - 2 * text.gap
            assert photo[3] - photo[1] >= remaining - 2 or (
                photo[2] - photo[0] >= stacked.selfie_box[2] - stacked.selfie_box[0] - 2
            )


class TestText:
    @pytest.mark.parametrize("vibe", VIBES)
    def test_text_stays_inside_its_box(self, vibe: str) -> None:
        headline = " ".join(["Unbelievable"] * 40)
        subtext = "An extremely long subtext that keeps going " * 10
        bare = render_thumbnail(brief(headline="", subtext=None, vibe=vibe), seed="t", variant=0)
        busy = render_thumbnail(
            brief(headline=headline, subtext=subtext, vibe=vibe), seed="t", variant=0
        )
        changed = ImageChops.difference(decoded(bare), decoded(busy)).getbbox()
        assert changed is not None
        left, top, right, bottom = plan_layout(1280, 720, 0, False, None).text_box
        # Shadows and glows may spill a little past the box, never across the picture.
        spill = 60
        assert changed[0] >= left - spill
        assert changed[1] >= top - spill
        assert changed[2] <= right + spill
        assert changed[3] <= bottom + spill

    def test_empty_headline_and_subtext_leave_only_the_background(self) -> None:
        png = render_thumbnail(brief(headline="", subtext=None), seed="e", variant=0)
        with_text = render_thumbnail(brief(), seed="e", variant=0)
        assert decoded(png).size == (1280, 720)
        assert mean_difference(png, with_text) > 3

    def test_subtext_without_headline_renders(self) -> None:
        bare = render_thumbnail(brief(headline="", subtext=None), seed="s", variant=0)
        only_subtext = render_thumbnail(brief(headline="   "), seed="s", variant=0)
        assert mean_difference(bare, only_subtext) > 1

    def test_long_headline_is_ellipsized_to_three_lines(self) -> None:
        words = " ".join(f"word{index}" for index in range(60)).upper()
        fitted = fit_headline(words, 600, 300, min_size=40)
        assert fitted is not None
        assert len(fitted.lines) == 3
        assert fitted.size == 40
        assert fitted.lines[-1][-1].endswith("…")
        assert widest_line(fitted) + 2 * fitted.stroke <= 600

    def test_single_overlong_word_is_cut(self) -> None:
        fitted = fit_headline("A" * 200, 300, 300, min_size=40)
        assert fitted is not None
        assert len(fitted.lines) == 1
        assert fitted.lines[0][0].endswith("…")
        assert widest_line(fitted) + 2 * fitted.stroke <= 300

    def test_short_headline_grows_to_fill_the_box(self) -> None:
        short = fit_headline("WOW", 800, 400, min_size=20)
        longer = fit_headline("WOW THIS IS A LOT MORE TEXT", 800, 400, min_size=20)
        assert short is not None
        assert longer is not None
        assert short.size > longer.size
        assert len(longer.lines) > 1
        assert short.height <= 400
        assert longer.height <= 400
        assert widest_line(longer) + 2 * longer.stroke <= 800

    def test_characters_the_font_lacks_are_dropped_or_simplified(self) -> None:
        assert drawable_text(HEADLINE_FONT, "BIG 😀 WIN 漢字") == "BIG WIN"
        assert drawable_text(HEADLINE_FONT, "CAFÉ\tNIGHT\u200b") == "CAFÉ NIGHT"
        png = render_thumbnail(
            brief(headline="😀😀 Ünïcödé 漢字 ✓", subtext="🔥"), seed="u", variant=0
        )
        assert decoded(png).size == (1280, 720)


class TestResolveVibe:
    @pytest.mark.parametrize(
        ("text", "vibe"),
        [
            ("Bold & loud", "bold"),
            ("neon cyberpunk", "neon"),
            ("clean minimal", "minimal"),
            ("Professional, corporate look", "professional"),
            ("fun and colourful for kids", "playful"),
            ("dark cinematic", "dramatic"),
            ("MINIMAL", "minimal"),
            ("something else entirely", "bold"),
            ("", "bold"),
            (None, "bold"),
        ],
    )
    def test_maps_free_text(self, text: str | None, vibe: str) -> None:
        assert resolve_vibe(text) == vibe

    def test_every_vibe_name_maps_to_itself(self) -> None:
        for vibe in VIBES:
            assert resolve_vibe(vibe) == vibe
