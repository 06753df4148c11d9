"""Colour names people type in a chat, to sRGB hex: the CSS named colours plus common extras."""

from __future__ import annotations

import colorsys
import re

# The CSS Color Module named colours (keyword, value).
_CSS = """
aliceblue f0f8ff antiquewhite faebd7 aqua 00ffff aquamarine 7fffd4 azure f0ffff beige f5f5dc
bisque ffe4c4 black 000000 blanchedalmond ffebcd blue 0000ff blueviolet 8a2be2 brown a52a2a
burlywood deb887 cadetblue 5f9ea0 chartreuse 7fff00 chocolate d2691e coral ff7f50
cornflowerblue 6495ed cornsilk fff8dc crimson dc143c cyan 00ffff darkblue 00008b
darkcyan 008b8b darkgoldenrod b8860b darkgray a9a9a9 darkgreen 006400 darkgrey a9a9a9
darkkhaki bdb76b darkmagenta 8b008b darkolivegreen 556b2f darkorange ff8c00 darkorchid 9932cc
darkred 8b0000 darksalmon e9967a darkseagreen 8fbc8f darkslateblue 483d8b darkslategray 2f4f4f
darkslategrey 2f4f4f darkturquoise 00ced1 darkviolet 9400d3 deeppink ff1493 deepskyblue 00bfff
dimgray 696969 dimgrey 696969 dodgerblue 1e90ff firebrick b22222 floralwhite fffaf0
forestgreen 228b22 fuchsia ff00ff gainsboro dcdcdc ghostwhite f8f8ff gold ffd700
goldenrod daa520 gray 808080 grey 808080 green 008000 greenyellow adff2f honeydew f0fff0
hotpink ff69b4 indianred cd5c5c indigo 4b0082 ivory fffff0 khaki f0e68c lavender e6e6fa
lavenderblush fff0f5 lawngreen 7cfc00 lemonchiffon fffacd lightblue add8e6 lightcoral f08080
lightcyan e0ffff lightgoldenrodyellow fafad2 lightgray d3d3d3 lightgreen 90ee90 lightgrey d3d3d3
lightpink ffb6c1 lightsalmon ffa07a lightseagreen 20b2aa lightskyblue 87cefa
lightslategray 778899 lightslategrey 778899 lightsteelblue b0c4de lightyellow ffffe0 lime 00ff00
limegreen 32cd32 linen faf0e6 magenta ff00ff maroon 800000 mediumaquamarine 66cdaa
mediumblue 0000cd mediumorchid ba55d3 mediumpurple 9370db mediumseagreen 3cb371
mediumslateblue 7b68ee mediumspringgreen 00fa9a mediumturquoise 48d1cc mediumvioletred c71585
midnightblue 191970 mintcream f5fffa mistyrose ffe4e1 moccasin ffe4b5 navajowhite ffdead
navy 000080 oldlace fdf5e6 olive 808000 olivedrab 6b8e23 orange ffa500 orangered ff4500
orchid da70d6 palegoldenrod eee8aa palegreen 98fb98 paleturquoise afeeee palevioletred db7093
papayawhip ffefd5 peachpuff ffdab9 peru cd853f pink ffc0cb plum dda0dd powderblue b0e0e6
purple 800080 rebeccapurple 663399 red ff0000 rosybrown bc8f8f royalblue 4169e1
saddlebrown 8b4513 salmon fa8072 sandybrown f4a460 seagreen 2e8b57 seashell fff5ee
sienna a0522d silver c0c0c0 skyblue 87ceeb slateblue 6a5acd slategray 708090 slategrey 708090
snow fffafa springgreen 00ff7f steelblue 4682b4 tan d2b48c teal 008080 thistle d8bfd8
tomato ff6347 turquoise 40e0d0 violet ee82ee wheat f5deb3 white ffffff whitesmoke f5f5f5
yellow ffff00 yellowgreen 9acd32
"""

# Names people use that CSS does not define (or defines as something else in everyday speech).
_EXTRA = """
navyblue 1b2a5c babyblue 89cff0 electricblue 0a84ff neonblue 1f51ff neongreen 39ff14
neonpink ff10f0 neonyellow e7ff1f neonorange ff6700 neonpurple bc13fe burgundy 800020
wine 722f37 mint 98ff98 mintgreen 98ff98 cream fffdd0 offwhite f8f5ee charcoal 36454f
mustard ffdb58 emerald 50c878 ruby e0115f sapphire 0f52ba peach ffcba4 lilac c8a2c8
mauve e0b0ff rose ff007f scarlet ff2400 cherry d2042d cobalt 0047ab jade 00a86b
lemon fff44f bronze cd7f32 copper b87333 sand c2b280 sage 9caf88 olivegreen 708238
forest 228b22 bloodred 8a0303 firered e8290b sunsetorange fd5e53 amber ffbf00
champagne f7e7ce rosegold b76e79 pastelpink ffd1dc pastelblue aec6cf pastelgreen 77dd77
pastelyellow fdfd96 pastelpurple b39eb5 darkpurple 301934 lightpurple b19cd9 brightred ff1a1a
brightblue 0096ff brightgreen 66ff00 brightyellow ffea00 brightpink ff007f brightorange ff9f00
"""


def _table(text: str) -> dict[str, str]:
    items = text.split()
    return {items[i]: "#" + items[i + 1] for i in range(0, len(items), 2)}


CSS_COLOURS: dict[str, str] = _table(_CSS)
COLOURS: dict[str, str] = {**CSS_COLOURS, **_table(_EXTRA)}
# Shade words that may come before a colour the table does not name with them.
_MODIFIERS = frozenset(
    {"dark", "deep", "light", "pale", "pastel", "bright", "vivid", "neon", "hot", "soft"}
)
_HEX = re.compile(r"#(?:[0-9a-f]{6}|[0-9a-f]{3})\Z")
_LONGEST_NAME_WORDS = 3


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(channel * 255))):02x}" for channel in rgb)


def _rgb(value: str) -> tuple[float, float, float]:
    return (int(value[1:3], 16) / 255, int(value[3:5], 16) / 255, int(value[5:7], 16) / 255)


def _modified(modifier: str, value: str) -> str:
    hue, lightness, saturation = colorsys.rgb_to_hls(*_rgb(value))
    if modifier in {"dark", "deep"}:
        lightness *= 0.55 if modifier == "dark" else 0.7
    elif modifier in {"light", "pale", "pastel", "soft"}:
        lightness += (1 - lightness) * 0.5
        if modifier != "light":
            saturation *= 0.7
    else:  # bright, vivid, neon, hot: full saturation at a middle lightness
        saturation, lightness = 1.0, max(0.45, min(lightness, 0.6))
    return _hex(colorsys.hls_to_rgb(hue, lightness, saturation))


def normalise_hex(text: str) -> str | None:
    value = text.strip().lower()
    if not value.startswith("#"):
        value = "#" + value
    if not _HEX.match(value):
        return None
    if len(value) == 4:
        value = "#" + "".join(char * 2 for char in value[1:])
    return value


def colour_from_words(words: list[str]) -> tuple[str, str] | None:
    """`(name, hex)` for words that are exactly one colour ("dark red", "#ff8800"), else None."""
    if not words:
        return None
    if len(words) == 1 and words[0].startswith("#"):
        value = normalise_hex(words[0])
        return (value, value) if value else None
    key = "".join(words).replace("-", "")
    name = " ".join(words)
    if key in COLOURS:
        return name, COLOURS[key]
    if len(words) > 1 and words[0] in _MODIFIERS:
        base = "".join(words[1:])
        if base in COLOURS:
            return name, _modified(words[0], COLOURS[base])
    return None


def find_colour(words: list[str]) -> tuple[int, int, str, str] | None:
    """The first, longest colour phrase in a list of lower-case words.

    Returns (start, end, name, hex) with words[start:end] being the phrase.
    """
    for start in range(len(words)):
        for length in range(min(_LONGEST_NAME_WORDS + 1, len(words) - start), 0, -1):
            found = colour_from_words(words[start : start + length])
            if found is not None:
                return start, start + length, found[0], found[1]
    return None


def parse_colour(text: str) -> tuple[str, str] | None:
    """A colour written on its own, as a name or hex ("Royal Blue", "#36f"); None if not one."""
    words = re.findall(r"#[0-9a-f]+|[a-z]+", text.strip().lower())
    return colour_from_words(words)


def colour_name(value: str) -> str:
    """The table's name for a hex value, or the hex itself."""
    for name, known in CSS_COLOURS.items():
        if known == value:
            return name
    return value
