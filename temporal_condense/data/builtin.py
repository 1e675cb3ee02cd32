"""``MovingShapes``: a built-in, procedurally generated video dataset whose label needs the motion.

Each clip shows one shape (the *appearance*) gliding across a coloured, noisy background in one of a few
directions (the *motion*); ``label = appearance * num_motions + motion``. The image is a torus: the object
leaves on one side and re-enters on the other, and its start position is uniform. Hence in **every single
frame** the object's position is uniform over the image whatever the direction, and nothing else in a frame
(size, colour, orientation, noise) depends on the direction: a single-frame classifier can recognise the shape
but cannot beat chance on the motion; only the order of frames tells it.

Example:
    >>> from temporal_condense.data import MovingShapes
    >>> ds = MovingShapes("train", frames=8, size=(24, 24), videos_per_class=2)
    >>> video, label = ds[0]
    >>> video.shape, ds.num_classes, ds.classes[1]
    (torch.Size([8, 3, 24, 24]), 8, 'circle/left')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from temporal_condense.data.frames import VideoDataset, make_config
from temporal_condense.errors import ConfigError
from temporal_condense.seeds import seeded_generator

__all__ = ["MOTIONS", "PALETTE", "PHOTOS", "SHAPES", "MovingShapes", "MovingShapesConfig", "load_photo"]

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "ring")
MOTIONS: dict[str, tuple[float, float]] = {  # unit (dx, dy) in image coordinates (y grows downwards)
    "right": (1.0, 0.0),
    "left": (-1.0, 0.0),
    "down": (0.0, 1.0),
    "up": (0.0, -1.0),
}
# Object colours of the appearances with ``colour_coded=True`` (bright, far apart in RGB).
PALETTE: tuple[tuple[float, float, float], ...] = (
    (1.0, 0.25, 0.25),
    (0.25, 1.0, 0.25),
    (0.35, 0.45, 1.0),
    (1.0, 1.0, 0.3),
    (1.0, 0.3, 1.0),
)
# The photograph of each appearance with ``texture="photo"`` (files shipped inside scikit-image's wheel, in
# ``skimage/data``; nothing is downloaded): a cat, a cup of coffee, an astronaut, a rocket, a motorcycle.
PHOTOS: tuple[str, ...] = ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png")
PHOTO_SIZE = 64  # photos are centre-cropped to a square and resized to this side (antialiased) once
SPLITS: tuple[str, ...] = ("train", "test")
_CHUNK = 64  # clips rendered per vectorized step (bounds peak memory; fixed so that results never depend on it)


class MovingShapesConfig(BaseModel):
    """Parameters of :class:`MovingShapes` (validated, frozen)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    split: str = "train"
    frames: int = Field(16, ge=2)
    size: tuple[int, int] = (48, 48)
    videos_per_class: int = Field(50, ge=1)
    shapes: tuple[str, ...] = ("circle", "square", "triangle", "cross")
    motions: tuple[str, ...] = ("right", "left")
    speed: tuple[float, float] = (1.0, 2.5)
    drift: float = Field(0.25, ge=0.0)
    radius: tuple[float, float] = (0.15, 0.25)
    rotation: float = Field(20.0, ge=0.0, le=180.0)
    noise: float = Field(0.05, ge=0.0)
    channels: int = Field(3, ge=1, le=3)
    colour_coded: bool = False
    texture: Literal["flat", "photo"] = "flat"
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> MovingShapesConfig:
        if self.texture == "photo" and self.colour_coded:
            raise ValueError("colour_coded must be False with texture='photo' (the photo gives the colours)")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if min(self.size) < 8:
            raise ValueError(f"size must be at least (8, 8), got {self.size}")
        for name, values, allowed in (("shapes", self.shapes, SHAPES), ("motions", self.motions, tuple(MOTIONS))):
            bad = [v for v in values if v not in allowed]
            if bad or not values or len(set(values)) != len(values):
                raise ValueError(f"{name} must be distinct names from {allowed}, got {values}")
        if len(self.motions) < 2:
            raise ValueError(f"motions must name at least 2 directions, got {self.motions}")
        if not 0 < self.speed[0] <= self.speed[1]:
            raise ValueError(f"speed must be (low, high) pixels/frame with 0 < low <= high, got {self.speed}")
        if not 0 < self.radius[0] <= self.radius[1] <= 0.3:
            raise ValueError(
                f"radius must be (low, high) fractions of min(size) with 0 < low <= high <= 0.3, got {self.radius}"
            )
        return self


class MovingShapes(VideoDataset):
    """Built-in video dataset: classes = shape x direction of motion; deterministic from ``seed``.

    Generated at construction (vectorized torch, stored as uint8; ~1000 clips of 16x48x48 in about a second on a
    CPU). Train and test splits use different random streams of the same ``seed``.

    The image is a torus: an object leaving on one side re-enters on the opposite side (near a border it is
    seen in two pieces).

    Per clip (all drawn from the seed): start position uniform on the image torus; speed uniform in ``speed``
    pixels/frame along the class direction plus a small perpendicular drift in ``[-drift, drift]``; radius a
    uniform fraction ``radius`` of the smaller side; an orientation uniform in ``[-rotation, rotation]`` degrees
    (fixed over the clip); a random dark background colour (each channel uniform in [0, 0.35]) and a random
    bright object colour (each channel uniform in [0.65, 1]); uniform pixel
    noise of std ``noise``; soft (anti-aliased) edges.

    Args:
        split: ``"train"`` or ``"test"``.
        frames: Frames per clip.
        size: ``(H, W)`` (an int means square); at least 8x8 (ConvNet3D needs about 43x43 and 8 frames).
        videos_per_class: Clips per class (default 50 for train, 20 for test).
        shapes: Appearances, from ``SHAPES`` ("circle", "square", "triangle", "cross", "ring").
        motions: Directions, from "right", "left", "down", "up".
        speed: ``(low, high)`` pixels per frame.
        drift: Largest perpendicular speed (pixels per frame).
        radius: ``(low, high)`` object radius as a fraction of ``min(size)``.
        rotation: Largest rotation of the shape in degrees (fixed over a clip; 180 = any orientation).
        noise: Standard deviation of the pixel noise.
        channels: 3 (RGB) or 1.
        colour_coded: If True, the object colour is the appearance's colour from ``PALETTE`` (with a small
            jitter) instead of a random bright colour, so a single frame tells the appearance at a glance
            while the motion still needs the order of frames. The quickstart uses this: with a few clips
            per class on a CPU, shapes alone are barely learnable (see ``docs/data.md``).
        texture: ``"flat"`` (one colour per object) or ``"photo"``: the object shows a real photograph,
            ``PHOTOS[appearance]`` (its own crop of it per clip), moving and rotating with the object, so the
            appearance is a real image cut out by the shape. Needs the scikit-image package, whose wheel ships
            the photographs (``pip install "temporal-condense[photos]"``).
        seed: Seed of everything.

    Attributes:
        classes: ``"shape/motion"`` names; label ``= appearance * num_motions + motion``.
        centers: float32 ``[N, T, 2]`` object centre ``(x, y)`` per frame, in pixels, on the image torus.
        velocities: float32 ``[N, 2]`` pixels per frame.

    Shape:
        Item ``(video [frames, channels, H, W] float32 in [0, 1], label)``; clips are stored class-major
        (clip i has label ``i // videos_per_class``).
    """

    def __init__(
        self,
        split: str = "train",
        *,
        frames: int = 16,
        size: tuple[int, int] | int = (48, 48),
        videos_per_class: int | None = None,
        shapes: Sequence[str] = ("circle", "square", "triangle", "cross"),
        motions: Sequence[str] = ("right", "left"),
        speed: tuple[float, float] = (1.0, 2.5),
        drift: float = 0.25,
        radius: tuple[float, float] = (0.15, 0.25),
        rotation: float = 20.0,
        noise: float = 0.05,
        channels: int = 3,
        colour_coded: bool = False,
        texture: str = "flat",
        seed: int = 0,
    ) -> None:
        if videos_per_class is None:
            videos_per_class = 20 if split == "test" else 50
        self.config: MovingShapesConfig = make_config(
            MovingShapesConfig,
            split=split,
            frames=frames,
            size=(size, size) if isinstance(size, int) else tuple(size),
            videos_per_class=videos_per_class,
            shapes=tuple(shapes),
            motions=tuple(motions),
            speed=tuple(speed),
            drift=drift,
            radius=tuple(radius),
            rotation=rotation,
            noise=noise,
            channels=channels,
            colour_coded=colour_coded,
            texture=texture,
            seed=seed,
        )
        cfg = self.config
        self.split = cfg.split
        self.seed = cfg.seed
        self.epoch = 0
        self.shapes = cfg.shapes
        self.motions = cfg.motions
        self.videos_per_class = cfg.videos_per_class
        self.classes = tuple(f"{s}/{m}" for s in cfg.shapes for m in cfg.motions)
        n = self.num_classes * cfg.videos_per_class
        label_t = torch.arange(self.num_classes).repeat_interleave(cfg.videos_per_class)
        self.labels = label_t.tolist()
        self._videos, self.centers, self.velocities = _generate(cfg, label_t, n)

    # -- class structure ------------------------------------------------------------------------------------------
    @property
    def num_shapes(self) -> int:
        """Number of appearances."""
        return len(self.shapes)

    @property
    def num_motions(self) -> int:
        """Number of motions."""
        return len(self.motions)

    @property
    def frames(self) -> int:
        """Frames per clip."""
        return self.config.frames

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)``."""
        return self.config.size

    def _check_label(self, label: Any) -> None:
        t = torch.as_tensor(label)
        if t.is_floating_point() or bool(((t < 0) | (t >= self.num_classes)).any()):
            raise ConfigError(f"label must be an integer in [0, {self.num_classes}), got {label!r}")

    def class_appearance(self, label: Any) -> Any:
        """Appearance (shape) index of ``label`` (an int, or an int64 tensor elementwise)."""
        self._check_label(label)
        return label // self.num_motions

    def class_motion(self, label: Any) -> Any:
        """Motion index of ``label`` (an int, or an int64 tensor elementwise)."""
        self._check_label(label)
        return label % self.num_motions

    # -- data -----------------------------------------------------------------------------------------------------
    def _video(self, index: int, generator: torch.Generator) -> torch.Tensor:
        return self._videos[index].to(torch.float32).div_(255.0)

    def _frame(self, index: int, generator: torch.Generator) -> torch.Tensor:
        t = int(torch.randint(self.config.frames, (1,), generator=generator))
        return self._videos[index, t].to(torch.float32).div_(255.0)

    def tensors(self, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """All clips at once, without a progress bar.

        Returns:
            ``(videos [N, T, C, H, W], labels [N] int64)``; float32 in [0, 1], or the stored uint8 (a copy).
        """
        if dtype == torch.uint8:
            return self._videos.clone(), torch.tensor(self.labels, dtype=torch.int64)
        if dtype != torch.float32:
            raise ConfigError(f"dtype must be torch.float32 or torch.uint8, got {dtype}")
        return self._videos.to(torch.float32).div_(255.0), torch.tensor(self.labels, dtype=torch.int64)

    def preload(
        self, progress: bool = True, *, dtype: torch.dtype = torch.float32, num_workers: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Same as :meth:`tensors` (the data is already in memory; ``progress``/``num_workers`` are ignored)."""
        return self.tensors(dtype)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"MovingShapes(split={c.split!r}, classes={self.num_classes} ({len(c.shapes)} shapes x "
            f"{len(c.motions)} motions), videos={len(self)}, frames={c.frames}, size={c.size}, seed={c.seed})"
        )


# ----------------------------------------------------------------------------------------------------------------
# generation
# ----------------------------------------------------------------------------------------------------------------


def _sdf(shape: str, u: torch.Tensor, v: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Signed distance (negative inside) of ``shape`` with radius ``r`` at object coordinates ``(u, v)``."""
    if shape == "circle":
        return torch.sqrt(u * u + v * v) - r
    if shape == "square":
        return torch.maximum(u.abs(), v.abs()) - 0.85 * r
    if shape == "triangle":
        d = None
        for k in range(3):
            a = math.pi / 2 + 2 * math.pi * k / 3
            e = u * math.cos(a) + v * math.sin(a)
            d = e if d is None else torch.maximum(d, e)
        assert d is not None
        return d - 0.6 * r
    if shape == "cross":
        arm = 0.35 * r
        bar1 = torch.maximum(u.abs() - r, v.abs() - arm)
        bar2 = torch.maximum(u.abs() - arm, v.abs() - r)
        return torch.minimum(bar1, bar2)
    if shape == "ring":
        return (torch.sqrt(u * u + v * v) - 0.8 * r).abs() - 0.3 * r
    raise ConfigError(f"shape must be one of {SHAPES}, got {shape!r}")  # pragma: no cover - validated earlier


def load_photo(name: str, channels: int = 3, size: int = PHOTO_SIZE) -> torch.Tensor:
    """One of scikit-image's shipped photographs, centre-cropped to a square and resized (antialiased).

    Args:
        name: A file name of ``PHOTOS`` (any file of ``skimage/data`` that PIL reads).
        channels: 3 (RGB) or 1 (the mean of RGB).
        size: Side of the result.

    Returns:
        float32 ``[channels, size, size]`` in [0, 1].

    Raises:
        ConfigError: scikit-image is not installed, or it has no such file.

    Example:
        >>> load_photo("chelsea.png", size=16).shape  # doctest: +SKIP
        torch.Size([3, 16, 16])
    """
    import importlib.resources
    import importlib.util

    from PIL import Image

    if importlib.util.find_spec("skimage") is None:
        raise ConfigError(
            'texture="photo" needs the scikit-image package, whose wheel ships the photographs: '
            'pip install "temporal-condense[photos]"'
        )
    path = importlib.resources.files("skimage") / "data" / name
    if not path.is_file():
        raise ConfigError(f"photo must be a file of skimage/data such as {PHOTOS}, got {name!r}")
    with path.open("rb") as f, Image.open(f) as im:
        rgb = torch.frombuffer(bytearray(im.convert("RGB").tobytes()), dtype=torch.uint8)
        h, w = im.height, im.width
    img = rgb.view(h, w, 3).permute(2, 0, 1).float().div_(255.0)
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    img = img[:, top : top + side, left : left + side]
    img = torch.nn.functional.interpolate(img[None], size=(size, size), mode="bilinear", antialias=True)[0]
    img = img.clamp_(0.0, 1.0)
    return img.mean(0, keepdim=True) if channels == 1 else img


def _chunks(shape_idx: torch.Tensor) -> list[tuple[int, int]]:
    """Ranges ``[lo, hi)`` of at most ``_CHUNK`` consecutive clips of one shape (clips are class-major)."""
    out = []
    n = int(shape_idx.numel())
    lo = 0
    while lo < n:
        hi = lo + 1
        while hi < n and hi - lo < _CHUNK and int(shape_idx[hi]) == int(shape_idx[lo]):
            hi += 1
        out.append((lo, hi))
        lo = hi
    return out


def _generate(cfg: MovingShapesConfig, labels: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render all clips; returns ``(videos uint8 [N, T, C, H, W], centers [N, T, 2], velocities [N, 2])``."""
    H, W = cfg.size
    T, C, M = cfg.frames, cfg.channels, len(cfg.motions)
    g = seeded_generator(cfg.seed, "MovingShapes", cfg.split)
    f64 = torch.float64
    shape_idx = labels // M
    motion_idx = labels % M
    dirs = torch.tensor([MOTIONS[m] for m in cfg.motions], dtype=f64)[motion_idx]  # [N, 2]
    perp = torch.stack([-dirs[:, 1], dirs[:, 0]], dim=1)
    # per-clip parameters (drawn in a fixed order, all at once)
    LY, LX = H, W  # the scene torus is the image itself
    extent = torch.tensor([LX, LY], dtype=f64)
    start = torch.rand(n, 2, generator=g, dtype=f64) * extent
    speed = cfg.speed[0] + (cfg.speed[1] - cfg.speed[0]) * torch.rand(n, generator=g, dtype=f64)
    drift = cfg.drift * (2 * torch.rand(n, generator=g, dtype=f64) - 1)
    radius = min(H, W) * (cfg.radius[0] + (cfg.radius[1] - cfg.radius[0]) * torch.rand(n, generator=g, dtype=f64))
    angle = math.radians(cfg.rotation) * (2 * torch.rand(n, generator=g, dtype=f64) - 1)
    bg = 0.35 * torch.rand(n, C, generator=g)  # dark background, bright object: colours random, polarity fixed
    obj = 0.65 + 0.35 * torch.rand(n, C, generator=g)
    if cfg.colour_coded:  # appearance colour + jitter (drawn after the others: other streams unchanged)
        palette = torch.tensor(PALETTE, dtype=torch.float32)[shape_idx % len(PALETTE), :C]
        obj = (palette + 0.1 * (2 * torch.rand(n, C, generator=g) - 1)).clamp(0.0, 1.0)
    photos = None
    if cfg.texture == "photo":  # each clip sees its own part of its appearance's photo (drawn last)
        photos = torch.stack([load_photo(PHOTOS[a % len(PHOTOS)], C) for a in range(len(cfg.shapes))])
        offset = 0.3 * (2 * torch.rand(n, 2, generator=g) - 1)
    velocity = dirs * speed[:, None] + perp * drift[:, None]
    t = torch.arange(T, dtype=f64)
    centers = torch.remainder(start[:, None, :] + t[None, :, None] * velocity[:, None, :], extent)  # [N, T, 2]

    ys = torch.arange(H, dtype=torch.float32) + 0.5
    xs = torch.arange(W, dtype=torch.float32) + 0.5
    out = torch.empty((n, T, C, H, W), dtype=torch.uint8)
    cen32 = centers.to(torch.float32)
    cos_a, sin_a = torch.cos(angle).float(), torch.sin(angle).float()
    # colours pre-scaled to [0, 255] with the +0.5 of round-half-up folded in (the uint8 cast truncates)
    base = (bg * 255.0 + 0.5)[:, None, :, None, None]
    diff = ((obj - bg) * 255.0)[:, None, :, None, None]
    amp = cfg.noise * 255.0 * math.sqrt(12.0)  # uniform noise in [-amp/2, amp/2] has std noise * 255
    for lo, hi in _chunks(shape_idx):
        cx = cen32[lo:hi, :, 0, None, None]
        cy = cen32[lo:hi, :, 1, None, None]
        dx = torch.remainder(xs - cx + LX / 2, LX) - LX / 2  # [b, T, 1, W], wrap-aware offsets on the scene
        dy = torch.remainder(ys[:, None] - cy + LY / 2, LY) - LY / 2  # [b, T, H, 1]
        name = cfg.shapes[int(shape_idx[lo])]
        r = radius[lo:hi].float()[:, None, None, None]
        if name in ("circle", "ring"):  # rotation invariant
            u, v = dx, dy
        else:
            ca, sa = cos_a[lo:hi, None, None, None], sin_a[lo:hi, None, None, None]
            u = ca * dx + sa * dy  # [b, T, H, W]
            v = ca * dy - sa * dx
        alpha = torch.sigmoid(_sdf(name, u, v, r).mul_(-2.0)).unsqueeze(2)  # ~1 px soft edge; [b, T, 1, H, W]
        if photos is None:
            frame = torch.addcmul(base[lo:hi], diff[lo:hi], alpha)  # [b, T, C, H, W]
        else:  # the photo spans the object's radius in object coordinates: it moves and turns with the object
            b = hi - lo
            grid = torch.stack(torch.broadcast_tensors(u / r, v / r), dim=-1) * 0.7  # [b, T, H, W, 2]
            grid = grid + offset[lo:hi, None, None, None, :]
            photo = photos[int(shape_idx[lo])].expand(b * T, -1, -1, -1)
            tex = torch.nn.functional.grid_sample(
                photo, grid.reshape(b * T, H, W, 2), mode="bilinear", padding_mode="border", align_corners=False
            ).view(b, T, C, H, W)
            frame = torch.lerp(base[lo:hi].expand(b, T, C, H, W), tex.mul_(255.0).add_(0.5), alpha)
        if cfg.noise > 0:
            noise = torch.rand(frame.shape, generator=g)
            frame.add_(noise.sub_(0.5).mul_(amp))
        out[lo:hi] = frame.clamp_(0.0, 255.0).to(torch.uint8)
    return out, centers.to(torch.float32), velocity.to(torch.float32)
