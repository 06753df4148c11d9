"""The direction parser: many phrasings, several directions per message, and what it must not
misread; applying edits to a style; the colour table; the text model's answer shape."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import ImageColor

from app.chat.colours import CSS_COLOURS, parse_colour
from app.chat.directions import (
    VIBES,
    Colour,
    DirectionEdit,
    ModelDirections,
    Style,
    apply_edit,
    parse_directions,
)
from app.providers.studio import VIBES as STUDIO_VIBES


def understood(message: str) -> dict[str, Any]:
    """The edit without its empty fields; colours as their hex value."""
    edit = parse_directions(message).model_dump(exclude_defaults=True)
    for field in ("background_color", "accent_color"):
        if field in edit:
            edit[field] = edit[field]["hex"]
    return edit


class TestText:
    @pytest.mark.parametrize(
        ("message", "expected"),
        [
            ("change the headline to: I QUIT SUGAR", {"headline": "I QUIT SUGAR"}),
            ("change the headline to I QUIT SUGAR", {"headline": "I QUIT SUGAR"}),
            ('use "Big News Today" as the headline', {"headline": "Big News Today"}),
            ("headline “Curly Quotes” please", {"headline": "Curly Quotes"}),
            ("make the headline 'Single Quotes'", {"headline": "Single Quotes"}),
            ("headline: Don't give up!", {"headline": "Don't give up!"}),
            ("make it say STOP DOING THIS", {"headline": "STOP DOING THIS"}),
            (
                "the title should say 10 things I wish I knew",
                {"headline": "10 things I wish I knew"},
            ),
            ("set the title to: $10,000 in 30 days", {"headline": "$10,000 in 30 days"}),
            ("change the headline to: SALT AND PEPPER", {"headline": "SALT AND PEPPER"}),
            ('"Just the words"', {"headline": "Just the words"}),
            ("subtext: 30 days later", {"subtext": "30 days later"}),
            ('subtitle "what nobody tells you"', {"subtext": "what nobody tells you"}),
            (
                "make the subtext say why nobody talks about this",
                {"subtext": "why nobody talks about this"},
            ),
            ("change the tagline to: Watch till the end", {"subtext": "Watch till the end"}),
            (
                '"Big News" and "read the story"',
                {"headline": "Big News", "subtext": "read the story"},
            ),
        ],
    )
    def test_new_text(self, message: str, expected: dict[str, Any]) -> None:
        assert understood(message) == expected

    def test_text_after_a_colon_stops_where_another_direction_starts(self) -> None:
        assert understood("change the headline to: I QUIT SUGAR and make the background red") == {
            "headline": "I QUIT SUGAR",
            "background_color": "#ff0000",
        }
        assert understood("headline: WOW! make the accent gold") == {
            "headline": "WOW!",
            "accent_color": "#ffd700",
        }

    @pytest.mark.parametrize(
        "message",
        [
            "remove the subtext",
            "no subtext please",
            "get rid of the subtitle",
            "drop the tagline",
            "without subtext",
            "delete the small text",
            "set the subtext to none",
        ],
    )
    def test_remove_subtext(self, message: str) -> None:
        assert understood(message) == {"remove_subtext": True}


class TestColours:
    @pytest.mark.parametrize(
        ("message", "field", "value"),
        [
            ("make the background red", "background_color", "#ff0000"),
            ("red background", "background_color", "#ff0000"),
            ("background: #ff8800", "background_color", "#ff8800"),
            ("background #f80", "background_color", "#ff8800"),
            ("change the bg to navy blue", "background_color", "#1b2a5c"),
            ("use a dark green backdrop", "background_color", "#006400"),
            ("let's do a light blue background", "background_color", "#add8e6"),
            ("the background should be Royal Blue", "background_color", "#4169e1"),
            ("neon green background", "background_color", "#39ff14"),
            ('make the background "teal"', "background_color", "#008080"),
            ("make it red", "background_color", "#ff0000"),
            ("paint it dark slate grey", "background_color", "#2f4f4f"),
            ("accent colour to yellow", "accent_color", "#ffff00"),
            ("make the accents hot pink", "accent_color", "#ff69b4"),
            ("highlight color: orange", "accent_color", "#ffa500"),
        ],
    )
    def test_colour_by_name(self, message: str, field: str, value: str) -> None:
        assert understood(message) == {field: value}

    def test_a_shade_word_before_a_colour_outside_the_table(self) -> None:
        edit = parse_directions("make the background deep teal")
        assert edit.background_color is not None
        assert edit.background_color.name == "deep teal"
        assert edit.background_color.hex not in {"#008080", CSS_COLOURS["darkcyan"]}

    def test_background_and_accent_in_one_clause(self) -> None:
        assert understood("red background with yellow accents") == {
            "background_color": "#ff0000",
            "accent_color": "#ffff00",
        }


class TestSizeSideVibeVariant:
    @pytest.mark.parametrize(
        ("message", "size"),
        [
            ("make the headline bigger", "bigger"),
            ("bigger headline", "bigger"),
            ("increase the title size", "bigger"),
            ("make the text larger", "bigger"),
            ("make the headline much bigger", "much_bigger"),
            ("make the headline HUGE", "much_bigger"),
            ("headline a lot bigger", "much_bigger"),
            ("shrink the headline a bit", "smaller"),
            ("smaller title", "smaller"),
            ("make the font way smaller", "much_smaller"),
            ("tiny headline", "much_smaller"),
        ],
    )
    def test_headline_size(self, message: str, size: str) -> None:
        assert understood(message) == {"headline_size": size}

    @pytest.mark.parametrize(
        ("message", "side"),
        [
            ("put me on the left", "left"),
            ("move the person to the right side", "right"),
            ("my face on the left please", "left"),
            ("selfie on the right", "right"),
            ("text on the right", "left"),
            ("put the headline on the left", "right"),
            ("swap sides", "swap"),
            ("flip the photo to the other side", "swap"),
        ],
    )
    def test_person_side(self, message: str, side: str) -> None:
        assert understood(message) == {"person_side": side}

    @pytest.mark.parametrize(
        ("message", "vibe"),
        [
            ("make it more dramatic", "dramatic"),
            ("go neon", "neon"),
            ("switch to a minimal style", "minimal"),
            ("cinematic look please", "dramatic"),
            ("make it fun", "playful"),
            ("more professional", "professional"),
            ("change the vibe to bold", "bold"),
            ("cyberpunk vibe", "neon"),
        ],
    )
    def test_vibe(self, message: str, vibe: str) -> None:
        assert understood(message) == {"vibe": vibe}

    @pytest.mark.parametrize(
        "message",
        ["another variant", "try again", "one more", "regenerate", "go", "new version please"],
    )
    def test_another_variant(self, message: str) -> None:
        assert understood(message) == {"new_variant": True}

    def test_vibes_are_the_studios(self) -> None:
        assert set(VIBES) == set(STUDIO_VIBES)


class TestSeveralDirections:
    def test_background_and_bigger_headline(self) -> None:
        assert understood("make the background red and the headline bigger") == {
            "background_color": "#ff0000",
            "headline_size": "bigger",
        }

    def test_four_directions_and_one_it_cannot_do(self) -> None:
        edit = parse_directions(
            'Headline "I QUIT SUGAR", a black background, put me on the right, '
            "make me look shocked. Then another variant"
        )
        assert edit.headline == "I QUIT SUGAR"
        assert edit.background_color == Colour(name="black", hex="#000000")
        assert edit.person_side == "right"
        assert edit.new_variant
        assert edit.not_understood == ["make me look shocked"]


class TestNotMisread:
    @pytest.mark.parametrize(
        "message",
        [
            "change the headline to red",  # a headline colour, which the studio does not set
            "make the headline bold",
            "remove the background",
            "make the person bigger",
            "bigger",
            "the background is red already",
            "the background looks great",
            "don't make the background red",
            "keep the subtext",
            "I have a simple question",
            "that was fun",
            "make the small text bigger",
            "what do you think?",
        ],
    )
    def test_asks_for_nothing(self, message: str) -> None:
        edit = parse_directions(message)
        assert not edit.asks_for_something(), edit
        assert edit.not_understood, "it should say what it did not understand"

    @pytest.mark.parametrize("message", ["hello", "thanks!", "ok", "looks good, thanks"])
    def test_small_talk_is_neither_a_direction_nor_a_failure(self, message: str) -> None:
        assert parse_directions(message) == DirectionEdit()

    def test_words_inside_new_text_are_not_directions(self) -> None:
        assert understood('headline: "Make the background red, bigger!"') == {
            "headline": "Make the background red, bigger!"
        }
        assert understood("change the headline to: Don't remove the subtext") == {
            "headline": "Don't remove the subtext"
        }

    def test_saying_something_is_not_a_new_headline(self) -> None:
        assert understood("I'd say make it red") == {"background_color": "#ff0000"}

    def test_a_colour_in_a_vibe_word_stays_a_colour(self) -> None:
        assert understood("go with a neon pink background") == {"background_color": "#ff10f0"}


STYLE = Style(headline="Old", subtext="Sub", vibe="bold", has_person=True)


class TestApply:
    def test_applies_and_lists_each_change(self) -> None:
        edit = parse_directions("make the background red and the headline bigger")
        style, outcome = apply_edit(STYLE, edit, source="parser")
        assert style.background_color == "#ff0000"
        assert style.headline_scale == 1.25
        assert [change.field for change in outcome.applied] == [
            "background_color",
            "headline_scale",
        ]
        assert outcome.applied[0].summary == "background → red (#ff0000)"
        assert outcome.changes_project

    def test_what_changes_nothing_says_why(self) -> None:
        already = Style(
            headline="Old", subtext=None, vibe="neon", background_color="#ff0000", has_person=False
        )
        edit = DirectionEdit(
            headline="Old",
            remove_subtext=True,
            background_color=Colour(name="red", hex="#ff0000"),
            vibe="neon",
            person_side="left",
        )
        style, outcome = apply_edit(already, edit, source="parser")
        assert style == already
        assert outcome.applied == []
        assert not outcome.wants_render
        assert len(outcome.unchanged) == 5
        assert "There is no photo of a person in this project to move." in outcome.unchanged

    def test_the_headline_scale_is_bounded(self) -> None:
        style = STYLE
        for _ in range(6):
            style, _ = apply_edit(
                style, DirectionEdit(headline_size="much_bigger"), source="parser"
            )
        assert style.headline_scale == 2.0
        _, outcome = apply_edit(style, DirectionEdit(headline_size="bigger"), source="parser")
        assert outcome.unchanged == ["The headline is already at its largest size."]
        smaller, _ = apply_edit(style, DirectionEdit(headline_size="smaller"), source="parser")
        assert smaller.headline_scale == 1.6

    def test_swap_needs_a_side_to_swap_from(self) -> None:
        _, outcome = apply_edit(STYLE, DirectionEdit(person_side="swap"), source="parser")
        assert outcome.applied == []
        on_left = Style(headline="", subtext=None, vibe=None, person_side="left", has_person=True)
        style, _ = apply_edit(on_left, DirectionEdit(person_side="swap"), source="parser")
        assert style.person_side == "right"

    def test_another_variant_renders_without_changing_the_project(self) -> None:
        style, outcome = apply_edit(STYLE, DirectionEdit(new_variant=True), source="parser")
        assert style == STYLE
        assert outcome.wants_render
        assert not outcome.changes_project


class TestColourTable:
    def test_css_names_match_the_css_values(self) -> None:
        # Pillow ships the CSS colour keywords too: an independent check of the table.
        assert set(CSS_COLOURS) == set(ImageColor.colormap)
        for name, value in CSS_COLOURS.items():
            assert ImageColor.getrgb(value) == ImageColor.getrgb(name), name

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("Royal Blue", "#4169e1"),
            ("grey", "#808080"),
            ("#36F", "#3366ff"),
            ("burgundy", "#800020"),
        ],
    )
    def test_parse_colour(self, text: str, value: str) -> None:
        found = parse_colour(text)
        assert found is not None
        assert found[1] == value

    @pytest.mark.parametrize("text", ["", "bluish", "#12345", "add", "the sky"])
    def test_not_a_colour(self, text: str) -> None:
        assert parse_colour(text) is None


class TestModelAnswer:
    def test_colours_are_normalised_and_unknown_ones_reported(self) -> None:
        answer = ModelDirections(
            headline="  I QUIT SUGAR ",
            background_color="Crimson",
            accent_color="the colour of envy",
            headline_size="bigger",
            not_understood=["make me look shocked", " "],
        )
        edit = answer.to_edit()
        assert edit.headline == "I QUIT SUGAR"
        assert edit.background_color == Colour(name="crimson", hex="#dc143c")
        assert edit.accent_color is None
        assert edit.headline_size == "bigger"
        assert edit.not_understood == ["make me look shocked", "the colour 'the colour of envy'"]

    def test_overlong_text_is_cut_to_the_project_limits(self) -> None:
        edit = ModelDirections(headline="x" * 500, subtext="y" * 500).to_edit()
        assert edit.headline is not None
        assert len(edit.headline) == 200
        assert edit.subtext is not None
        assert len(edit.subtext) == 300


class TestBounds:
    @pytest.mark.parametrize(
        "message",
        [
            "headline: " + "a, " * 1330,
            "change the title to x, " * 180,
            "it says x and " * 280,
            '"x" ' * 900,
            "make the background red and " * 140,
            "\x00\u202e" * 2000,
        ],
    )
    def test_crafted_messages_stay_small(self, message: str) -> None:
        edit = parse_directions(message[:4000])
        assert len(edit.not_understood) <= 9
        assert len(edit.model_dump_json()) < 4000

    def test_many_unknown_parts_are_summarised(self) -> None:
        edit = parse_directions(", ".join(f"wibble {n}" for n in range(20)))
        assert edit.not_understood[-1] == "… and 12 more"
        assert len(edit.not_understood) == 9
