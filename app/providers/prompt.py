"""One prompt builder for every image model, from the person's brief."""

from __future__ import annotations

from app.chat.colours import colour_name
from app.providers.base import Brief

_PLATFORM_NAMES = {
    "youtube": "YouTube video thumbnail",
    "youtube_shorts": "YouTube Shorts cover",
    "instagram_post": "Instagram post",
    "instagram_story": "Instagram story",
    "tiktok": "TikTok cover",
    "twitter": "X/Twitter post image",
    "linkedin": "LinkedIn post image",
    "custom": "social media thumbnail",
}


def _orientation(width: int, height: int) -> str:
    if width > height:
        return "landscape"
    if height > width:
        return "portrait"
    return "square"


def _colour(value: str) -> str:
    name = colour_name(value)
    return value if name == value else f"{name} ({value})"


def build_prompt(brief: Brief, *, selfies: int = 0, references: int = 0) -> str:
    platform = _PLATFORM_NAMES.get(brief.platform, "social media thumbnail")
    lines = [
        f"Design a {platform}, {_orientation(brief.width, brief.height)} "
        f"{brief.width}x{brief.height} pixels, eye-catching at small sizes.",
    ]
    if brief.headline:
        lines.append(
            f'Render the headline text exactly as "{brief.headline}" in large, bold, '
            "high-contrast letters that stay legible on a phone."
        )
    if brief.subtext:
        lines.append(f'Add the smaller supporting text "{brief.subtext}" below the headline.')
    if brief.headline and brief.headline_scale >= 1.2:
        lines.append("Make the headline extra large, dominating the frame.")
    elif brief.headline and brief.headline_scale <= 0.85:
        lines.append("Keep the headline smaller than usual, leaving room for the picture.")
    if brief.vibe:
        lines.append(f"Overall style and mood: {brief.vibe}.")
    if brief.background_color:
        lines.append(f"Background colour: {_colour(brief.background_color)}.")
    if brief.accent_color:
        lines.append(f"Accent colour for highlights and shapes: {_colour(brief.accent_color)}.")
    if selfies:
        lines.append(
            "Feature the person from the provided selfie photo"
            + (" (several angles are provided)" if selfies > 1 else "")
            + " as the main subject with an expressive face; keep their likeness faithful."
        )
        if brief.person_side:
            lines.append(
                f"Place the person on the {brief.person_side} side of the frame, "
                "with the text on the other side."
            )
    if brief.mode == "copy":
        lines.append(
            "Recreate the composition, layout and colour scheme of the provided example "
            "thumbnail, with the new headline and subject in place of the original ones."
        )
    elif references:
        lines.append("Use the provided reference images for style, colours and props.")
    if brief.instruction:
        lines.append(f"Additional direction from the creator: {brief.instruction.strip()}")
    lines.append("No watermarks, no borders, no extra text beyond what is asked.")
    return " ".join(lines)


def build_video_prompt(brief: Brief, *, duration: int) -> str:
    """A short clip for the same brief: an intro or an animated thumbnail, no burnt-in text.

    Video models draw letters poorly, so the headline sets the subject and the studio's still
    (the poster) carries the words.
    """
    platform = _PLATFORM_NAMES.get(brief.platform, "social media thumbnail").replace(
        "thumbnail", "intro"
    )
    lines = [
        f"A {duration}-second {_orientation(brief.width, brief.height)} video clip to open a "
        f"{platform}: one striking scene with smooth, energetic camera motion.",
    ]
    if brief.headline:
        lines.append(f'The scene illustrates the idea "{brief.headline}".')
    if brief.subtext:
        lines.append(f"Context: {brief.subtext}.")
    if brief.vibe:
        lines.append(f"Overall style and mood: {brief.vibe}.")
    if brief.instruction:
        lines.append(f"Additional direction from the creator: {brief.instruction.strip()}")
    lines.append("No on-screen text, no captions, no watermarks.")
    return " ".join(lines)
