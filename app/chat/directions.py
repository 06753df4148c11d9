"""Chat directions: what a message asks to change, as a structured edit, and applying it.

`parse_directions` is a small deterministic parser for the common directions (new headline or
subtext, background and accent colours, bigger or smaller headline, a vibe, the person's side,
removing the subtext, another variant). The text model, when configured, answers in the same
`DirectionEdit` shape; `apply_edit` then turns an edit into changes of a thumbnail's `Style`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.chat.colours import colour_from_words, find_colour, parse_colour
from app.models import Project

Vibe = Literal["bold", "professional", "playful", "dramatic", "minimal", "neon"]
VIBES: tuple[str, ...] = get_args(Vibe)
HeadlineSize = Literal["bigger", "much_bigger", "smaller", "much_smaller"]
PersonSide = Literal["left", "right"]
HexColour = Annotated[str, StringConstraints(pattern=r"^#[0-9a-f]{6}$")]
EditField = Literal[
    "headline",
    "subtext",
    "background_color",
    "accent_color",
    "headline_scale",
    "vibe",
    "person_side",
    "variant",
]

HEADLINE_MAX = 200
SUBTEXT_MAX = 300
SCALE_FACTORS: dict[str, float] = {
    "bigger": 1.25,
    "much_bigger": 1.5,
    "smaller": 0.8,
    "much_smaller": 0.65,
}
MIN_HEADLINE_SCALE = 0.5
MAX_HEADLINE_SCALE = 2.0
_NOTE_MAX = 160
MAX_NOTES = 8
# Bounds on the work one message can cause (a message is at most 4,000 characters).
_MAX_CUTS_CHECKED = 40
_MAX_INTRODUCED_TEXTS = 12


class Colour(BaseModel):
    name: str = Field(max_length=60, examples=["red"])
    hex: HexColour = Field(examples=["#ff0000"])


class DirectionEdit(BaseModel):
    """What one message asks for, before it meets the project. Unset fields change nothing."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "background_color": {"name": "red", "hex": "#ff0000"},
                    "headline_size": "bigger",
                    "not_understood": ["make me look shocked"],
                }
            ]
        }
    )

    headline: str | None = Field(default=None, max_length=HEADLINE_MAX)
    subtext: str | None = Field(default=None, max_length=SUBTEXT_MAX)
    remove_subtext: bool = False
    background_color: Colour | None = None
    accent_color: Colour | None = None
    headline_size: HeadlineSize | None = None
    vibe: Vibe | None = None
    person_side: PersonSide | Literal["swap"] | None = None
    new_variant: bool = False
    not_understood: list[str] = Field(default_factory=list)

    def asks_for_something(self) -> bool:
        return bool(
            self.headline is not None
            or self.subtext is not None
            or self.remove_subtext
            or self.background_color
            or self.accent_color
            or self.headline_size
            or self.vibe
            or self.person_side
            or self.new_variant
        )


class AppliedEdit(BaseModel):
    field: EditField
    value: str | float | None
    summary: str = Field(examples=["background → red (#ff0000)"])


class EditOutcome(BaseModel):
    """What a message changed: stored on the message as `edits`."""

    applied: list[AppliedEdit] = Field(default_factory=list)
    unchanged: list[str] = Field(
        default_factory=list, description="Understood, but it would change nothing (and why)."
    )
    not_understood: list[str] = Field(default_factory=list)
    source: Literal["parser", "model"] = "parser"

    @property
    def changes_project(self) -> bool:
        return any(edit.field != "variant" for edit in self.applied)

    @property
    def wants_render(self) -> bool:
        return bool(self.applied)


@dataclass(frozen=True, slots=True)
class Style:
    """The parts of a thumbnail a direction can change."""

    headline: str
    subtext: str | None
    vibe: str | None
    background_color: str | None = None
    accent_color: str | None = None
    headline_scale: float = 1.0
    person_side: str | None = None
    has_person: bool = False


def project_style(project: Project) -> Style:
    return Style(
        headline=project.headline,
        subtext=project.subtext,
        vibe=project.vibe,
        background_color=project.background_color,
        accent_color=project.accent_color,
        headline_scale=project.headline_scale,
        person_side=project.person_side,
        has_person=bool(project.selfie_asset_ids),
    )


def store_style(project: Project, style: Style) -> None:
    project.headline = style.headline
    project.subtext = style.subtext
    project.vibe = style.vibe
    project.background_color = style.background_color
    project.accent_color = style.accent_color
    project.headline_scale = style.headline_scale
    project.person_side = style.person_side


# --------------------------------------------------------------------------------------------
# Vocabulary

_BACKGROUND = frozenset({"background", "backgrounds", "bg", "backdrop"})
_ACCENT = frozenset({"accent", "accents", "highlight", "highlights"})
_HEADLINE = frozenset(
    {"headline", "title", "heading", "header", "text", "words", "lettering", "font", "type"}
)
_SUBTEXT = frozenset(
    {"subtext", "subtitle", "subheading", "subhead", "tagline", "caption", "subline", "strapline"}
)
_SUBTEXT_PAIRS = frozenset(
    {
        ("small", "text"),
        ("smaller", "text"),
        ("secondary", "text"),
        ("second", "line"),
        ("sub", "text"),
        ("sub", "title"),
        ("bottom", "text"),
        ("supporting", "text"),
        ("little", "text"),
    }
)
_PERSON = frozenset(
    {
        "me",
        "myself",
        "person",
        "face",
        "selfie",
        "photo",
        "picture",
        "subject",
        "portrait",
        "guy",
        "girl",
        "man",
        "woman",
        "him",
        "her",
        "cutout",
    }
)
_BIGGER = frozenset({"bigger", "larger", "big", "large", "enlarge", "increase", "grow", "taller"})
_MUCH_BIGGER = frozenset({"huge", "massive", "giant", "enormous", "gigantic"})
_SMALLER = frozenset({"smaller", "small", "shrink", "reduce", "decrease", "less", "shorter"})
_MUCH_SMALLER = frozenset({"tiny", "minuscule"})
_INTENSIFIERS = frozenset({"much", "way", "lot", "far", "significantly", "really", "very"})
_VIBE_WORDS: dict[str, str] = {
    **{vibe: vibe for vibe in VIBES},
    "loud": "bold",
    "punchy": "bold",
    "hype": "bold",
    "energetic": "bold",
    "aggressive": "bold",
    "corporate": "professional",
    "business": "professional",
    "businesslike": "professional",
    "serious": "professional",
    "formal": "professional",
    "polished": "professional",
    "fun": "playful",
    "funny": "playful",
    "cute": "playful",
    "colorful": "playful",
    "colourful": "playful",
    "cheerful": "playful",
    "silly": "playful",
    "whimsical": "playful",
    "cartoony": "playful",
    "cinematic": "dramatic",
    "moody": "dramatic",
    "epic": "dramatic",
    "intense": "dramatic",
    "suspenseful": "dramatic",
    "gritty": "dramatic",
    "mysterious": "dramatic",
    "minimalist": "minimal",
    "minimalistic": "minimal",
    "clean": "minimal",
    "cleaner": "minimal",
    "simple": "minimal",
    "simpler": "minimal",
    "understated": "minimal",
    "cyberpunk": "neon",
    "synthwave": "neon",
    "vaporwave": "neon",
    "retro": "neon",
    "glowing": "neon",
    "futuristic": "neon",
}
_VIBE_NOUNS = frozenset(
    {"vibe", "vibes", "style", "look", "feel", "mood", "theme", "aesthetic", "version"}
)
_VIBE_VERBS = frozenset({"make", "go", "switch", "change", "turn", "try", "more", "it", "be"})
_NEGATIONS = frozenset(
    {"don't", "dont", "not", "never", "keep", "leave", "doesn't", "shouldn't", "already"}
)
# "The background is red" describes; "the background should be red" directs.
_DESCRIBING = frozenset({"is", "was", "are", "were", "looks", "seems", "isn't"})
_DIRECTING = frozenset(
    {"should", "must", "make", "change", "set", "use", "want", "need", "let's", "could", "can"}
)
_REMOVE = frozenset(
    {"remove", "delete", "drop", "lose", "hide", "ditch", "kill", "clear", "erase", "cut", "no"}
)
_REMOVE_PHRASES = ("get rid of", "take out", "take away", "without")
_EMPTY_VALUES = frozenset({"none", "nothing", "empty", "blank"})
_VARIANT_NOUNS = (
    "variant|variation|version|take|option|render|one|try|shot|attempt|design|idea|pass"
)
_VARIANT = re.compile(
    rf"\b(?:(?:another|new|different|fresh|other)\s+(?:{_VARIANT_NOUNS})s?"
    rf"|one\s+more|once\s+more|more\s+(?:{_VARIANT_NOUNS})s"
    r"|try\s+(?:it\s+)?again|again|re-?generate|re-?roll|re-?render|re-?do|re-?run"
    r"|render(?:\s+it)?|generate(?:\s+it)?|go\s+ahead|do\s+it|run\s+it|surprise\s+me)\b"
)
_JUST_GO = frozenset({"go", "go go", "go ahead", "do it"})
_MAKE_IT = re.compile(
    r"\b(?:make|turn|paint|colou?r|change)\s+(?:it|everything|this|the\s+(?:whole\s+thing|"
    r"thumbnail|image|picture))\b"
)
_SWAP = re.compile(r"\b(?:swap|switch|flip|mirror)\b|\bother\s+side\b")
_FILLER = frozenset(
    "please pls thanks thank you ok okay hi hey hello cool great nice also and then now just "
    "can could would will you i it that this the a an love like looks good awesome perfect "
    "yes yeah sure lets let's us go".split()
)

# Text that introduces a new headline or subtext without quotes. Group "target" names it.
_TEXT_TARGETS = (
    r"headline|title|heading|header|main\s+text|text|subtext|subtitle|sub-?title|tagline|"
    r"caption|subheading|it|that"
)
_SAY_INTRO = re.compile(
    rf"\b(?P<target>{_TEXT_TARGETS})\s+(?:should\s+|to\s+|must\s+|will\s+|can\s+)?"
    r"(?:say|says|saying|read|reads|reading)\b\s*:?\s*"
    r"|\b(?:saying|reading)\b\s*:?\s*",
    re.IGNORECASE,
)
_TO_INTRO = re.compile(
    r"\b(?:change|set|update|rename|replace|switch|make|turn)\s+(?:the\s+|my\s+|your\s+)?"
    rf"(?P<target>{_TEXT_TARGETS})\s+(?:text\s+|copy\s+|line\s+)?(?:to|into|as|with)\s*:?\s+",
    re.IGNORECASE,
)
_COLON_INTRO = re.compile(
    rf"\b(?P<target>{_TEXT_TARGETS}|new\s+headline|new\s+subtext)?\s*(?:\bto\s*)?:\s*",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"\"([^\"]{1,300})\"|(?<![\w])'([^']{1,300})'(?![\w])")
_PLACEHOLDER = re.compile(r"\ue000(\d+)\ue001")
_SEPARATORS = re.compile(
    r"\s*(?:[;\n]+|[.!?]+(?=\s|$)|,\s*(?:and\s+|then\s+)?|\b(?:and\s+then|and|then|also|plus|"
    r"with|but)\b)\s*",
    re.IGNORECASE,
)
_WORD = re.compile(r"\ue000\d+\ue001|#[0-9a-f]{3,6}\b|[a-z0-9]+(?:'[a-z]+)?")
_CURLY = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'"})
# First words that show "to ..." describes a change rather than quoting new text.
_NOT_TEXT_STARTS = frozenset(
    {"be", "a", "an", "the", "something", "more", "less", "left", "right", "other", "look"}
    | _BIGGER
    | _MUCH_BIGGER
    | _SMALLER
    | _MUCH_SMALLER
    | set(_VIBE_WORDS)
)


@dataclass(slots=True)
class _Text:
    value: str
    target: str | None  # "headline", "subtext", or None when the clause decides


@dataclass(slots=True)
class _Clause:
    original: str
    words: list[str]


def _target_of(word: str | None) -> str | None:
    if not word:
        return None
    key = re.sub(r"[\s-]+", "", word.lower())
    if key in {"subtext", "subtitle", "tagline", "caption", "subheading", "newsubtext"}:
        return "subtext"
    if key in {"it", "that"}:
        return None
    return "headline"


def _clean_text(value: str) -> str:
    value = " ".join(value.split())
    if value.endswith(".") and not value.endswith(".."):
        value = value[:-1]
    return value.strip()


def _split(text: str) -> list[str]:
    return [part for part in (p.strip() for p in _SEPARATORS.split(text)) if part]


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _understands(text: str) -> bool:
    """Whether the first clause of text is a direction this parser knows."""
    end = _SEPARATORS.search(text.lstrip())
    first = text.lstrip()[: end.start()] if end else text.strip()
    if not first.strip():
        return False
    edit = DirectionEdit()
    return _parse_clause(_Clause(first, _words(first)), [], edit) and edit.asks_for_something()


def _cut_text(text: str) -> tuple[str, str]:
    """Split unquoted new text from directions that follow it in the same message.

    "I QUIT SUGAR and make the background red" → ("I QUIT SUGAR", " and make the ...").
    A separator cuts only when what follows is itself a known direction, so "SALT AND PEPPER"
    stays whole.
    """
    line_end = text.find("\n")
    if line_end >= 0:
        text, rest = text[:line_end], text[line_end:]
    else:
        rest = ""
    for checked, match in enumerate(_SEPARATORS.finditer(text)):
        if checked >= _MAX_CUTS_CHECKED:
            break
        if match.start() == 0:
            continue
        after = text[match.end() :]
        if after and _understands(after):
            kept = text[: match.start()]
            punctuation = match.group(0).strip()
            if punctuation in {"!", "?", "!!", "?!"}:
                kept += punctuation
            return kept, text[match.start() :] + rest
    return text, rest


class _Extraction:
    """New texts pulled out of a message, each replaced by a placeholder."""

    def __init__(self) -> None:
        self.texts: list[_Text] = []

    def hold(self, value: str, target: str | None) -> str:
        self.texts.append(_Text(_clean_text(value), target))
        return f" \ue000{len(self.texts) - 1}\ue001 "

    def restore(self, text: str) -> str:
        return " ".join(
            _PLACEHOLDER.sub(lambda m: f'"{self.texts[int(m.group(1))].value}"', text).split()
        )


def _extract_texts(text: str, extraction: _Extraction) -> str:
    text = _QUOTED.sub(lambda m: extraction.hold(m.group(1) or m.group(2), None), text)
    for pattern in (_SAY_INTRO, _TO_INTRO, _COLON_INTRO):
        position = 0
        for _ in range(_MAX_INTRODUCED_TEXTS):
            match = pattern.search(text, position)
            if match is None:
                break
            after = text[match.end() :]
            if not after.strip() or _PLACEHOLDER.match(after.lstrip()):
                position = match.end()
                continue
            value, rest = _cut_text(after)
            first = _words(value)[:1]
            if (
                pattern is not _COLON_INTRO
                and first
                and (first[0] in _NOT_TEXT_STARTS or colour_from_words(first) is not None)
            ):
                position = match.end()
                continue
            if first and first[0] in _EMPTY_VALUES and len(_words(value)) == 1:
                position = match.end()
                continue
            target = _target_of(match.group("target"))
            held = extraction.hold(value, target)
            text = text[: match.end()] + held + rest
            position = match.end() + len(held)
    return text


def _has_pair(words: list[str], pairs: frozenset[tuple[str, str]]) -> bool:
    return any((first, second) in pairs for first, second in zip(words, words[1:], strict=False))


def _note(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _NOTE_MAX else text[: _NOTE_MAX - 1] + "…"


def _parse_clause(clause: _Clause, texts: list[_Text], edit: DirectionEdit) -> bool:
    """Add what one clause asks for to edit; False when it asks for nothing known."""
    words = clause.words
    lowered = " ".join(words)
    held = [texts[int(m.group(1))] for w in words if (m := _PLACEHOLDER.fullmatch(w))]
    plain = [w for w in words if not _PLACEHOLDER.fullmatch(w)]
    wordset = set(plain)
    subtext_target = bool(wordset & _SUBTEXT) or _has_pair(plain, _SUBTEXT_PAIRS)
    background = bool(wordset & _BACKGROUND)
    accent = bool(wordset & _ACCENT)
    headline_target = bool(wordset & _HEADLINE) and not subtext_target
    person = bool(wordset & _PERSON)
    understood = False

    if subtext_target and (
        wordset & _REMOVE
        or any(phrase in lowered for phrase in _REMOVE_PHRASES)
        or (wordset & _EMPTY_VALUES and not held)
    ):
        edit.remove_subtext = True
        return True
    if wordset & _NEGATIONS or (wordset & _DESCRIBING and not wordset & _DIRECTING):
        return False

    colour = find_colour(plain)
    if held:
        for index, text in enumerate(held):
            target = text.target
            if target is None and (background or accent):
                found = colour_from_words(_words(text.value))
                if found is not None:
                    name, value = found
                    if background:
                        edit.background_color = Colour(name=name, hex=value)
                    else:
                        edit.accent_color = Colour(name=name, hex=value)
                    understood = True
                    continue
            if target is None:
                # A second bare text after a headline is the subtext: "Big News" and "read on".
                second = index > 0 or edit.headline is not None
                target = "subtext" if subtext_target or second else "headline"
            if target == "subtext":
                edit.subtext = text.value[:SUBTEXT_MAX]
            else:
                edit.headline = text.value[:HEADLINE_MAX]
            understood = True

    if colour is not None and (background or accent):
        _, _, name, value = colour
        if background and accent:
            # "red background with yellow accents" is split on "with"; here both are named
            # with one colour, so it goes to the one written closer to it.
            position = colour[0]
            nearest_background = min(
                abs(i - position) for i, w in enumerate(plain) if w in _BACKGROUND
            )
            nearest_accent = min(abs(i - position) for i, w in enumerate(plain) if w in _ACCENT)
            background = nearest_background <= nearest_accent
            accent = not background
        if background:
            edit.background_color = Colour(name=name, hex=value)
        else:
            edit.accent_color = Colour(name=name, hex=value)
        understood = True
    elif (
        colour is not None
        and not (headline_target or subtext_target or person)
        and _MAKE_IT.search(lowered)
    ):
        edit.background_color = Colour(name=colour[2], hex=colour[3])
        understood = True

    sized = _size_of(plain)
    if sized and headline_target and not (person or background or accent):
        edit.headline_size = sized
        understood = True

    side = _side_of(plain, lowered, person=person, headline=headline_target or subtext_target)
    if side is not None:
        edit.person_side = side
        understood = True

    if not understood and not (headline_target or subtext_target or person or background or accent):
        vibe = _vibe_of(plain, colour)
        if vibe is not None:
            edit.vibe = vibe  # type: ignore[assignment]
            understood = True

    if _VARIANT.search(lowered):
        edit.new_variant = True
        understood = True
    return understood


def _size_of(words: list[str]) -> HeadlineSize | None:
    wordset = set(words)
    if wordset & _MUCH_BIGGER:
        return "much_bigger"
    if wordset & _MUCH_SMALLER:
        return "much_smaller"
    much = bool(wordset & _INTENSIFIERS)
    if wordset & _BIGGER:
        return "much_bigger" if much else "bigger"
    if wordset & _SMALLER:
        return "much_smaller" if much else "smaller"
    return None


def _side_of(
    words: list[str], lowered: str, *, person: bool, headline: bool
) -> PersonSide | Literal["swap"] | None:
    sides = [w for w in words if w in {"left", "right"}]
    if person and _SWAP.search(lowered) and not sides:
        return "swap"
    if not sides:
        if not person and not headline and re.search(r"\b(?:swap|switch)\s+sides\b", lowered):
            return "swap"
        return None
    side = sides[-1]
    if person:
        return side  # type: ignore[return-value]
    if headline:
        # The text on one side puts the person on the other.
        return "left" if side == "right" else "right"
    return None


def _vibe_of(words: list[str], colour: tuple[int, int, str, str] | None) -> str | None:
    wordset = set(words)
    colour_words = set(words[colour[0] : colour[1]]) if colour else set()
    for index, word in enumerate(words):
        vibe = _VIBE_WORDS.get(word)
        if vibe is None or word in colour_words:
            continue
        if wordset & _VIBE_NOUNS or wordset & _VIBE_VERBS or index == 0 and len(words) > 1:
            return vibe
    return None


def parse_directions(message: str) -> DirectionEdit:
    """Turn a chat message into a structured edit, deterministically."""
    edit = DirectionEdit()
    if " ".join(_words(message)) in _JUST_GO:
        edit.new_variant = True
        return edit
    text = message.translate(_CURLY)
    skipped = 0
    extraction = _Extraction()
    text = _extract_texts(text, extraction)
    for part in _split(text):
        clause = _Clause(part, _words(part))
        if not clause.words:
            continue
        if _parse_clause(clause, extraction.texts, edit):
            continue
        if set(clause.words) <= _FILLER:
            continue
        skipped += 1
        if skipped <= MAX_NOTES:
            edit.not_understood.append(_note(extraction.restore(part)))
    if skipped > MAX_NOTES:
        edit.not_understood.append(f"… and {skipped - MAX_NOTES} more")
    return edit


# --------------------------------------------------------------------------------------------
# Applying an edit


def _scaled(scale: float, size: str) -> float:
    return round(min(MAX_HEADLINE_SCALE, max(MIN_HEADLINE_SCALE, scale * SCALE_FACTORS[size])), 3)


def _apply_colour(
    style: Style,
    field: Literal["background_color", "accent_color"],
    colour: Colour,
    outcome: EditOutcome,
) -> Style:
    label = "background" if field == "background_color" else "accent colour"
    shown = colour.name if colour.name == colour.hex else f"{colour.name} ({colour.hex})"
    if getattr(style, field) == colour.hex:
        outcome.unchanged.append(f"The {label} is already {shown}.")
        return style
    if field == "background_color":
        style = replace(style, background_color=colour.hex)
    else:
        style = replace(style, accent_color=colour.hex)
    outcome.applied.append(AppliedEdit(field=field, value=colour.hex, summary=f"{label} → {shown}"))
    return style


def apply_edit(
    style: Style, edit: DirectionEdit, *, source: Literal["parser", "model"]
) -> tuple[Style, EditOutcome]:
    """The style after the edit, and what changed; a direction that changes nothing is listed
    under `unchanged` with the reason."""
    outcome = EditOutcome(not_understood=list(edit.not_understood), source=source)
    applied, unchanged = outcome.applied, outcome.unchanged

    if edit.headline is not None:
        headline = edit.headline.strip()
        if not headline:
            unchanged.append("An empty headline was not applied.")
        elif headline == style.headline:
            unchanged.append(f'The headline already reads "{headline}".')
        else:
            style = replace(style, headline=headline)
            applied.append(
                AppliedEdit(field="headline", value=headline, summary=f'headline → "{headline}"')
            )
    if edit.subtext is not None and edit.subtext.strip():
        subtext = edit.subtext.strip()
        if subtext == style.subtext:
            unchanged.append(f'The subtext already reads "{subtext}".')
        else:
            style = replace(style, subtext=subtext)
            applied.append(
                AppliedEdit(field="subtext", value=subtext, summary=f'subtext → "{subtext}"')
            )
    elif edit.remove_subtext:
        if not style.subtext:
            unchanged.append("There is no subtext to remove.")
        else:
            style = replace(style, subtext=None)
            applied.append(AppliedEdit(field="subtext", value=None, summary="subtext removed"))

    if edit.background_color is not None:
        style = _apply_colour(style, "background_color", edit.background_color, outcome)
    if edit.accent_color is not None:
        style = _apply_colour(style, "accent_color", edit.accent_color, outcome)

    if edit.headline_size is not None:
        scale = _scaled(style.headline_scale, edit.headline_size)
        if scale == style.headline_scale:
            limit = "largest" if "bigger" in edit.headline_size else "smallest"
            unchanged.append(f"The headline is already at its {limit} size.")
        else:
            word = "bigger" if scale > style.headline_scale else "smaller"
            style = replace(style, headline_scale=scale)
            applied.append(
                AppliedEdit(
                    field="headline_scale",
                    value=scale,
                    summary=f"headline {word} ({round(scale * 100)}% of its natural size)",
                )
            )

    if edit.vibe is not None:
        if (style.vibe or "").strip().lower() == edit.vibe:
            unchanged.append(f"The vibe is already {edit.vibe}.")
        else:
            style = replace(style, vibe=edit.vibe)
            applied.append(
                AppliedEdit(field="vibe", value=edit.vibe, summary=f"vibe → {edit.vibe}")
            )

    if edit.person_side is not None:
        side = edit.person_side
        if not style.has_person:
            unchanged.append("There is no photo of a person in this project to move.")
        elif side == "swap" and style.person_side is None:
            unchanged.append("Say which side the person should be on: left or right.")
        else:
            if side == "swap":
                side = "left" if style.person_side == "right" else "right"
            if side == style.person_side:
                unchanged.append(f"The person is already on the {side}.")
            else:
                style = replace(style, person_side=side)
                applied.append(
                    AppliedEdit(field="person_side", value=side, summary=f"person on the {side}")
                )

    if edit.new_variant:
        applied.append(
            AppliedEdit(field="variant", value=None, summary="a new variant with the same settings")
        )
    return style, outcome


# --------------------------------------------------------------------------------------------
# The text model's answer

MODEL_INSTRUCTION = (
    "You turn a creator's chat message about a thumbnail into a structured edit for the "
    "MugShot Studio thumbnail maker. Fill only the fields the message asks to change and leave "
    "the others null or false. headline and subtext: the new text exactly as the creator wrote "
    "it (keep their wording and capitals, drop surrounding quotes). background_color and "
    "accent_color: a colour name or #rrggbb. headline_size: bigger, much_bigger, smaller or "
    "much_smaller. vibe: one of " + ", ".join(VIBES) + ". person_side: where the person in "
    "the photo should stand (left, right, or swap). remove_subtext: true to drop the subtext. "
    "new_variant: true when they ask for another variant or to render again with the same "
    "settings. not_understood: the parts of the message that ask for something none of these "
    "fields can express, in the creator's words. advice: at most two short sentences of "
    "concrete design advice, or null. Never invent changes the creator did not ask for."
)


class ModelDirections(BaseModel):
    """The JSON shape the text model answers in (its response schema)."""

    headline: str | None = None
    subtext: str | None = None
    remove_subtext: bool | None = None
    background_color: str | None = Field(default=None, description="A colour name or #rrggbb.")
    accent_color: str | None = Field(default=None, description="A colour name or #rrggbb.")
    headline_size: HeadlineSize | None = None
    vibe: Vibe | None = None
    person_side: Literal["left", "right", "swap"] | None = None
    new_variant: bool | None = None
    not_understood: list[str] | None = None
    advice: str | None = None

    def to_edit(self) -> DirectionEdit:
        notes = [_note(text) for text in self.not_understood or () if text.strip()][:MAX_NOTES]
        colours: dict[str, Colour | None] = {}
        for field, value in (
            ("background_color", self.background_color),
            ("accent_color", self.accent_color),
        ):
            found = parse_colour(value) if value and value.strip() else None
            if value and value.strip() and found is None:
                notes.append(_note(f"the colour {value.strip()!r}"))
            colours[field] = Colour(name=found[0][:60], hex=found[1]) if found else None
        headline = self.headline.strip()[:HEADLINE_MAX] if self.headline else None
        subtext = self.subtext.strip()[:SUBTEXT_MAX] if self.subtext else None
        return DirectionEdit(
            headline=headline or None,
            subtext=subtext or None,
            remove_subtext=bool(self.remove_subtext),
            background_color=colours["background_color"],
            accent_color=colours["accent_color"],
            headline_size=self.headline_size,
            vibe=self.vibe,
            person_side=self.person_side,
            new_variant=bool(self.new_variant),
            not_understood=notes,
        )
