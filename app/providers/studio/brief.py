"""What the studio is asked to draw: the brief and the vibe its free-text style resolves to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from app.providers.base import RenderRequest

VIBES: tuple[str, ...] = ("bold", "professional", "playful", "dramatic", "minimal", "neon")
DEFAULT_VIBE = "bold"

# Checked in this order, so on a tie the more specific look wins over the catch-all "bold".
_VIBE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "neon": tuple(
        "neon cyber synth vapor glow arcade gamer gaming 80s retro electric "
        "futuristic night".split()
    ),
    "minimal": tuple(
        "minimal clean simple calm elegant subtle soft airy zen light modern "
        "aesthetic quiet".split()
    ),
    "professional": tuple(
        "professional corporate business pro serious finance educational education "
        "tutorial trustworthy expert formal sleek tech news".split()
    ),
    "playful": tuple(
        "playful fun funny cute colorful colourful happy kids silly cheerful bubbly "
        "vibrant friendly comedy cartoon joyful".split()
    ),
    "dramatic": tuple(
        "dramatic drama dark epic cinematic moody intense mystery horror scary "
        "thriller gritty shocking emotional suspense".split()
    ),
    "bold": tuple(
        "bold loud hype energetic energy viral crazy extreme punchy strong clickbait "
        "exciting insane wild".split()
    ),
}


def resolve_vibe(text: str | None) -> str:
    """Map a free-text vibe ("Bold & loud", "neon cyberpunk", "clean minimal") to one of VIBES.

    Every word of the text scores for the vibes whose keywords it starts with; the best score
    wins and anything unrecognised falls back to "bold".
    """
    if not text:
        return DEFAULT_VIBE
    words = re.findall(r"[a-z0-9]+", text.lower())
    best_vibe, best_score = DEFAULT_VIBE, 0
    for vibe, keywords in _VIBE_KEYWORDS.items():
        score = sum(
            1
            for word in words
            for keyword in keywords
            if word == keyword or (len(keyword) >= 4 and word.startswith(keyword))
        )
        if score > best_score:
            best_vibe, best_score = vibe, score
    return best_vibe


@dataclass(frozen=True, slots=True)
class StudioBrief:
    """What to draw: the exact output size, the words, the vibe and the optional pictures."""

    width: int
    height: int
    headline: str
    subtext: str | None
    vibe: str
    selfie: bytes | None = None
    reference: bytes | None = None
    platform: str | None = None
    # Style the person asked for over the vibe's defaults: "#rrggbb" colours, the headline's
    # size relative to what fits (1 = natural), and the side of the frame the person stands on.
    background_color: str | None = None
    accent_color: str | None = None
    headline_scale: float = 1.0
    person_side: Literal["left", "right"] | None = None


def brief_for(request: RenderRequest) -> StudioBrief:
    """The studio's brief for a render request: its words, size, style and first pictures."""
    selfie = next((i.data for i in request.images if i.role == "selfie"), None)
    reference = next((i.data for i in request.images if i.role != "selfie"), None)
    return StudioBrief(
        width=request.brief.width,
        height=request.brief.height,
        headline=request.brief.headline,
        subtext=request.brief.subtext,
        vibe=request.brief.vibe or "",
        selfie=selfie,
        reference=reference,
        platform=request.brief.platform,
        background_color=request.brief.background_color,
        accent_color=request.brief.accent_color,
        headline_scale=request.brief.headline_scale,
        person_side=request.brief.person_side,
    )
