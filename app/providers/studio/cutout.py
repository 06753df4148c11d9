"""Person cutout: lifts the person in a selfie off their own background.

Runs MediaPipe's selfie segmentation and short-range face detector (Apache-2.0, fetched by
scripts/fetch_cutout_models.py) on Google's LiteRT runtime, CPU only. The runtime and numpy are
optional (requirements-cutout.txt): without them, or without the model files, or when the photo
shows no clear person, cut_out_person returns None and the studio frames the photo instead.
"""

from __future__ import annotations

import functools
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from app.providers.studio.layouts import Box

if TYPE_CHECKING:
    import numpy as np

SEGMENTATION_MODEL = "selfie_segmentation.tflite"
FACE_MODEL = "face_detection_short_range.tflite"
MODEL_FILES = (SEGMENTATION_MODEL, FACE_MODEL)

# Photos are worked on at most this size: enough for a person filling a 4K frame's height.
WORKING_SIDE = 1536
SEGMENTATION_SIDE = 256
FACE_SIDE = 128
FACE_MIN_SCORE = 0.6
# The face detector's anchors (BlazeFace short range): a 16x16 grid with 2 anchors per cell,
# then an 8x8 grid with 6, each row of the output matching one anchor in that order.
_ANCHOR_GRIDS = ((16, 2), (8, 6))
# Blobs of the mask are told apart on a grid this many cells a side.
_BLOB_GRID = 64
# Of the cleaned mask, as a share of the square the person was segmented in.
MIN_PERSON_AREA = 0.04
MAX_PERSON_AREA = 0.9
# Of the face box, how much the person mask must cover for the two models to agree.
MIN_FACE_COVERAGE = 0.4


@dataclass(frozen=True, slots=True)
class Cutout:
    """The person on a transparent background, cropped to them, and where their face is."""

    image: Image.Image  # RGBA
    face: Box  # in image pixels
    # The person runs off the photo's bottom edge (a bust): keep that edge on the canvas edge.
    cut_at_bottom: bool


@dataclass(frozen=True, slots=True)
class _Face:
    box: tuple[float, float, float, float]  # left, top, right, bottom in photo pixels
    score: float


@functools.cache
def _runtime_available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def models_present(models_dir: Path | None) -> bool:
    return models_dir is not None and all((models_dir / name).is_file() for name in MODEL_FILES)


def cutout_available(models_dir: Path | None) -> bool:
    return models_present(models_dir) and _runtime_available()


class _Model:
    """One LiteRT interpreter, loaded once per process; calls are serialised (it is stateful)."""

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        # One thread: renders already run one per core, and the result stays reproducible.
        self._interpreter: Any = Interpreter(model_path=str(path), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._outputs = {
            detail["name"]: detail["index"] for detail in self._interpreter.get_output_details()
        }
        self._lock = threading.Lock()

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        with self._lock:
            self._interpreter.set_tensor(self._input, tensor)
            self._interpreter.invoke()
            return {
                name: self._interpreter.get_tensor(i).copy() for name, i in self._outputs.items()
            }


@functools.cache
def _model(path: Path) -> _Model:
    return _Model(path)


def _decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as source:
        source.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
        photo = ImageOps.exif_transpose(source).convert("RGB")
    if max(photo.size) > WORKING_SIDE:
        photo.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BILINEAR)
    return photo


@functools.cache
def _anchor_centres() -> np.ndarray:
    import numpy as np

    centres = [
        ((column + 0.5) / grid, (row + 0.5) / grid)
        for grid, per_cell in _ANCHOR_GRIDS
        for row in range(grid)
        for column in range(grid)
        for _ in range(per_cell)
    ]
    return np.asarray(centres, dtype=np.float32)


def _detect_in(photo: Image.Image, region: Box, models_dir: Path) -> _Face | None:
    """The likeliest face in one square-ish region of the photo, in photo pixels."""
    import numpy as np

    left, top, right, bottom = region
    side = max(right - left, bottom - top)
    # Letterboxed into the detector's square input, as MediaPipe feeds it (zero borders).
    square = Image.new("RGB", (side, side))
    square.paste(photo.crop(region), ((side - (right - left)) // 2, (side - (bottom - top)) // 2))
    pixels = square.resize((FACE_SIDE, FACE_SIDE), Image.Resampling.BILINEAR)
    tensor = np.asarray(pixels, dtype=np.float32)[np.newaxis] / 127.5 - 1.0
    outputs = _model(models_dir / FACE_MODEL).run(tensor)
    boxes = outputs["regressors"][0]  # per anchor: dx, dy, w, h, then 6 keypoints (x, y)
    logits = np.clip(outputs["classificators"][0, :, 0].astype(np.float64), -100, 100)
    scores = 1 / (1 + np.exp(-logits))
    best = int(np.argmax(scores))
    if scores[best] < FACE_MIN_SCORE:
        return None
    centres = _anchor_centres()
    # Offsets and sizes are in input pixels, relative to the anchor centre.
    centre_x = centres[:, 0] + boxes[:, 0] / FACE_SIDE
    centre_y = centres[:, 1] + boxes[:, 1] / FACE_SIDE
    half_w, half_h = boxes[:, 2] / FACE_SIDE / 2, boxes[:, 3] / FACE_SIDE / 2
    corners = np.stack(
        [centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h], axis=1
    )
    # Blend the detections that overlap the best one, weighted by score (steadier than one box).
    chosen = corners[best]
    inter_w = np.clip(
        np.minimum(corners[:, 2], chosen[2]) - np.maximum(corners[:, 0], chosen[0]), 0, None
    )
    inter_h = np.clip(
        np.minimum(corners[:, 3], chosen[3]) - np.maximum(corners[:, 1], chosen[1]), 0, None
    )
    inter = inter_w * inter_h
    areas = (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])
    union = areas + areas[best] - inter
    overlapping = (inter / np.maximum(union, 1e-6) > 0.3) & (scores >= FACE_MIN_SCORE)
    weights = scores[overlapping]
    box = (corners[overlapping] * weights[:, np.newaxis]).sum(axis=0) / weights.sum()
    pad_x = (side - (right - left)) / 2
    pad_y = (side - (bottom - top)) / 2
    to_photo = [
        left + box[0] * side - pad_x,
        top + box[1] * side - pad_y,
        left + box[2] * side - pad_x,
        top + box[3] * side - pad_y,
    ]
    return _Face(
        (
            float(max(left, to_photo[0])),
            float(max(top, to_photo[1])),
            float(min(right, to_photo[2])),
            float(min(bottom, to_photo[3])),
        ),
        float(scores[best]),
    )


def _detect_face(photo: Image.Image, models_dir: Path) -> _Face | None:
    """The most confident face: in the whole photo, then in squares along a long photo."""
    width, height = photo.size
    regions: list[Box] = [(0, 0, width, height)]
    short, long = min(width, height), max(width, height)
    if long > short * 1.3:
        # A wide photo's face is small in the letterboxed whole; squares see it larger.
        steps = 3
        for step in range(steps):
            offset = round((long - short) * step / (steps - 1))
            regions.append(
                (offset, 0, offset + short, height)
                if width > height
                else (0, offset, width, offset + short)
            )
    found = [face for region in regions if (face := _detect_in(photo, region, models_dir))]
    return max(found, key=lambda face: face.score, default=None)


def _segment(photo: Image.Image, region: Box, models_dir: Path) -> Image.Image:
    """Person probability (L, 0-255) at the model's 256x256 resolution for one photo region."""
    import numpy as np

    # Stretched to the square input, as MediaPipe does for this model.
    pixels = photo.crop(region).resize(
        (SEGMENTATION_SIDE, SEGMENTATION_SIDE), Image.Resampling.BILINEAR
    )
    tensor = np.asarray(pixels, dtype=np.float32)[np.newaxis] / 255.0
    (mask,) = _model(models_dir / SEGMENTATION_MODEL).run(tensor).values()
    return Image.fromarray(np.rint(np.clip(mask[0, :, :, 0], 0, 1) * 255).astype(np.uint8), "L")


def _person_square(mask: Image.Image, region: Box, face: _Face) -> Box:
    """A square around the person (the mask's bounds and the face), in photo pixels."""
    left, top, right, bottom = region
    scale_x = (right - left) / mask.width
    scale_y = (bottom - top) / mask.height
    bounds = mask.point(lambda value: 255 if value >= 128 else 0).getbbox()
    x0, y0, x1, y1 = face.box
    if bounds is not None:
        x0 = min(x0, left + bounds[0] * scale_x)
        y0 = min(y0, top + bounds[1] * scale_y)
        x1 = max(x1, left + bounds[2] * scale_x)
        y1 = max(y1, top + bounds[3] * scale_y)
    side = max(x1 - x0, y1 - y0) * 1.1
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    return (
        round(centre_x - side / 2),
        round(centre_y - side / 2),
        round(centre_x + side / 2),
        round(centre_y + side / 2),
    )


def _keep_person(mask: Image.Image, face: Box) -> Image.Image | None:
    """The mask with only the blob the face belongs to; None when the face is not in it."""
    # Blobs are found on a coarse grid (Pillow's flood fill is Python): a cell counts when any
    # of its pixels does, which also keeps a hand joined to the body across a thin gap.
    cell = SEGMENTATION_SIDE // _BLOB_GRID
    coarse = mask.point(lambda value: 255 if value >= 128 else 0).reduce(cell)
    coarse = coarse.point(lambda value: 255 if value else 0)
    left, top, right, bottom = (round(value / cell) for value in face)
    centre = ((left + right) / 2, (top + bottom) / 2)
    seeds = [
        (x, y)
        for y in range(max(0, top), min(_BLOB_GRID, bottom + 1))
        for x in range(max(0, left), min(_BLOB_GRID, right + 1))
        if coarse.getpixel((x, y)) == 255
    ]
    if not seeds:
        return None
    seed = min(seeds, key=lambda point: (point[0] - centre[0]) ** 2 + (point[1] - centre[1]) ** 2)
    ImageDraw.floodfill(coarse, seed, 128)
    blob = coarse.point(lambda value: 255 if value == 128 else 0)
    blob = blob.resize(mask.size, Image.Resampling.BILINEAR).point(lambda v: 255 if v else 0)
    # Softened a little so the blob's edge does not cut into the model's own soft edge.
    return ImageChops.multiply(mask, blob.filter(ImageFilter.GaussianBlur(1.5)))


# A job's variants share one selfie: a worker that renders several cuts it out once.
@functools.lru_cache(maxsize=4)
def cut_out_person(data: bytes, models_dir: Path | None) -> Cutout | None:
    """The person in the photo on a transparent background, or None when there is no clear one.

    Deterministic for the same bytes on the same machine. CPU-bound: run it in the render pool.
    The result is shared between calls: never draw on its image.
    """
    if not cutout_available(models_dir):
        return None
    assert models_dir is not None
    photo = _decode(data)
    face = _detect_face(photo, models_dir)
    if face is None:
        return None
    whole = (0, 0, photo.width, photo.height)
    # A second pass on a square around the person: the model sees them larger and unstretched.
    square = _person_square(_segment(photo, whole, models_dir), whole, face)
    side = square[2] - square[0]
    mask_small = _segment(photo, square, models_dir)
    scale = SEGMENTATION_SIDE / side
    face_small = (
        round((face.box[0] - square[0]) * scale),
        round((face.box[1] - square[1]) * scale),
        round((face.box[2] - square[0]) * scale),
        round((face.box[3] - square[1]) * scale),
    )
    cleaned = _keep_person(mask_small, face_small)
    if cleaned is None:
        return None
    area = sum(value * count for value, count in enumerate(cleaned.histogram())) / 255
    if not MIN_PERSON_AREA <= area / SEGMENTATION_SIDE**2 <= MAX_PERSON_AREA:
        return None
    face_region = cleaned.crop(face_small)
    coverage = sum(v * c for v, c in enumerate(face_region.histogram())) / 255
    if coverage < MIN_FACE_COVERAGE * max(1, face_region.width * face_region.height):
        return None

    # Upscale the soft mask to the square's size, then firm up its edge: the model's edge ramp
    # is several source pixels wide, which would leave a halo of background.
    alpha_square = cleaned.resize((side, side), Image.Resampling.BILINEAR)
    alpha_square = alpha_square.point(lambda value: max(0, min(255, (value - 64) * 2)))
    alpha = Image.new("L", photo.size, 0)
    alpha.paste(alpha_square, square[:2])
    bounds = alpha.point(lambda value: 255 if value >= 32 else 0).getbbox()
    if bounds is None:
        return None
    person = photo.convert("RGBA")
    person.putalpha(alpha)
    person = person.crop(bounds)
    face_box = (
        round(face.box[0]) - bounds[0],
        round(face.box[1]) - bounds[1],
        round(face.box[2]) - bounds[0],
        round(face.box[3]) - bounds[1],
    )
    return Cutout(person, face_box, cut_at_bottom=bounds[3] >= photo.height - 2)
