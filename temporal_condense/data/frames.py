"""Frame-folder video datasets: temporal sampling, resize, flip, preloading and the single-frame view.

A *frame folder* is a directory of still images (``frame000001.jpg``, ``00.jpg``, ...) that together form
one clip, the layout the published video-distillation benchmarks read. :class:`FrameFolderDataset` turns a
list of such folders and their labels into a torch ``Dataset`` whose item is
``(video float32 [T, C, H, W] in [0, 1], label int)``.

Randomness (random temporal offset, flip, the frame of the single-frame view) is a deterministic function of
``(seed, epoch, index)``: the same item gives the same clip in any order and under any number of DataLoader
workers; call :meth:`VideoDataset.set_epoch` to draw new clips for a new epoch.

Example:
    >>> from temporal_condense.data.frames import sample_indices
    >>> sample_indices(32, 4, mode="uniform").tolist()
    [4, 12, 20, 28]
"""

from __future__ import annotations

import logging
import operator
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from temporal_condense._checks import check_choice, check_int, validate_config
from temporal_condense.errors import ConfigError, ShapeError, TemporalCondenseError
from temporal_condense.seeds import seeded_generator

__all__ = [
    "IMAGE_EXTENSIONS",
    "ClipConfig",
    "FrameFolderDataset",
    "SingleFrameView",
    "VideoDataset",
    "list_frames",
    "load_frame",
    "sample_indices",
]

logger = logging.getLogger(__name__)

SamplingMode = Literal["uniform", "random"]
ShortPolicy = Literal["error", "loop", "pad"]
SAMPLING_MODES: tuple[str, ...] = ("uniform", "random")
SHORT_POLICIES: tuple[str, ...] = ("error", "loop", "pad")
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

def item_generator(seed: int, epoch: int, index: int, salt: int = 0) -> torch.Generator:
    """A CPU generator seeded from ``(seed, epoch, index, salt)`` (independent of access order)."""
    return seeded_generator(seed, "item", epoch, index, salt)


# --------------------------------------------------------------------------------------------------------------
# temporal sampling
# --------------------------------------------------------------------------------------------------------------


def sample_indices(
    length: int,
    frames: int,
    *,
    mode: str = "uniform",
    stride: int = 4,
    short: str = "error",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Choose ``frames`` frame indices (0-based) out of a clip of ``length`` frames.

    * ``"uniform"`` (evaluation): the centres of ``frames`` equal segments,
      ``index_i = floor((2 i + 1) * length / (2 * frames))``. Deterministic; ``length == frames`` gives
      ``0 .. frames-1``.
    * ``"random"`` (training, the published loaders): ``frames`` consecutive frames ``stride`` apart, starting
      at a random offset; the stride shrinks to ``length // frames`` when the clip is too short for it
      (as in the published code), and the offset is uniform over every start that fits.

    Clips shorter than ``frames``: ``short="error"`` raises; ``"loop"`` plays the clip again from its start
    (``index_i = (offset + i) mod length``, random offset in ``"random"`` mode); ``"pad"`` repeats the last
    frame.

    Args:
        length: Number of frames in the clip (``>= 1``).
        frames: Number of frames to return (``>= 1``).
        mode: ``"uniform"`` or ``"random"``.
        stride: Frame gap in ``"random"`` mode (the published ``FRAME_GAP`` is 4).
        short: ``"error"``, ``"loop"`` or ``"pad"``.
        generator: Random source for ``"random"`` mode (``None``: torch's global generator).

    Returns:
        int64 tensor of ``frames`` indices in ``[0, length)``, non-decreasing unless ``short="loop"``.

    Raises:
        ConfigError: an argument is invalid, or the clip is short and ``short="error"``.

    Shape:
        Output ``[frames]``.

    Example:
        >>> sample_indices(8, 8).tolist()
        [0, 1, 2, 3, 4, 5, 6, 7]
        >>> sample_indices(3, 5, short="pad").tolist()
        [0, 1, 2, 2, 2]
    """
    check_int(length, "length")
    check_int(frames, "frames")
    check_int(stride, "stride")
    check_choice(mode, "mode", SAMPLING_MODES)
    check_choice(short, "short", SHORT_POLICIES)
    steps = torch.arange(frames, dtype=torch.int64)
    if length < frames:
        if short == "error":
            raise ConfigError(
                f"clip has {length} frame(s) but frames={frames} were requested "
                "(pass short='loop' or short='pad' to accept short clips)"
            )
        if short == "pad":
            return steps.clamp(max=length - 1)
        offset = 0
        if mode == "random":
            offset = int(torch.randint(length, (1,), generator=generator))
        return (steps + offset) % length
    if mode == "uniform":
        return ((2 * steps + 1) * length) // (2 * frames)
    step = max(1, min(stride, length // frames))
    span = (frames - 1) * step + 1
    start = int(torch.randint(length - span + 1, (1,), generator=generator))
    return start + steps * step


# --------------------------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------------------------


class ClipConfig(BaseModel):
    """How a clip is turned into a tensor (validated, frozen).

    Attributes:
        frames: Frames per clip ``T``.
        size: ``(H, W)`` to resize every frame to, or ``None`` to keep the stored size.
        channels: 3 (RGB) or 1 (grayscale).
        sampling: ``"uniform"`` (evaluation) or ``"random"`` (training offset).
        stride: Frame gap of ``"random"`` sampling.
        flip: Horizontal flip with probability 1/2, the same for all frames of a clip.
        short: Policy for clips with fewer than ``frames`` frames: ``"error"``, ``"loop"`` or ``"pad"``.
        seed: Seed of the per-item random draws.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    frames: int = Field(16, ge=1)
    size: tuple[int, int] | None = None
    channels: Literal[1, 3] = 3
    sampling: SamplingMode = "uniform"
    stride: int = Field(4, ge=1)
    flip: bool = False
    short: ShortPolicy = "error"
    seed: int = 0

    @field_validator("size")
    @classmethod
    def _positive_size(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and (v[0] < 1 or v[1] < 1):
            raise ValueError(f"size must be two integers >= 1 (H, W), got {v}")
        return v


def make_config(model: type[BaseModel], **kwargs: Any) -> Any:
    """Build a pydantic config, turning a ValidationError into a :class:`ConfigError` naming the field."""
    return validate_config(model, kwargs)


# --------------------------------------------------------------------------------------------------------------
# frames on disk
# --------------------------------------------------------------------------------------------------------------


def _natural_key(name: str) -> list[Any]:
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def list_frames(folder: str | os.PathLike[str], extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """List the image files of a frame folder in natural order (``frame2`` before ``frame10``).

    Raises:
        TemporalCondenseError: the folder does not exist or holds no image file.

    Example:
        >>> import tempfile
        >>> list_frames(tempfile.mkdtemp())  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        temporal_condense.errors.TemporalCondenseError: no frames ...
    """
    path = Path(folder)
    if not path.is_dir():
        raise TemporalCondenseError(f"video folder not found: {path}")
    exts = tuple(e.lower() for e in extensions)
    names = [n for n in os.listdir(path) if n.lower().endswith(exts) and not n.startswith(".")]
    if not names:
        raise TemporalCondenseError(f"no frames (files ending in {exts}) in video folder {path}")
    return [path / n for n in sorted(names, key=_natural_key)]


def load_frame(path: str | os.PathLike[str], channels: int = 3) -> torch.Tensor:
    """Read one image file into a uint8 tensor ``[C, H, W]`` (Pillow, no torchvision).

    Raises:
        TemporalCondenseError: the file is missing or not a readable image (the message names the file).

    Shape:
        Output ``[channels, H, W]``, dtype uint8.
    """
    mode = "RGB" if channels == 3 else "L"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                rgb = img.convert(mode)
                width, height = rgb.size
                raw = bytearray(rgb.tobytes())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TemporalCondenseError(
            f"frame {path} is refused as a possible decompression bomb (more than Pillow's "
            f"MAX_IMAGE_PIXELS={Image.MAX_IMAGE_PIXELS} pixels): {exc}"
        ) from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise TemporalCondenseError(f"cannot read frame {path}: {exc}") from None
    data = torch.frombuffer(raw, dtype=torch.uint8)
    return data.view(height, width, channels).permute(2, 0, 1).contiguous()


def _resize(x: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """Bilinear (antialiased) resize of float ``[N, C, H, W]`` in [0, 1]; identity at the same size."""
    if size is None or tuple(x.shape[-2:]) == tuple(size):
        return x
    out = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return out.clamp_(0.0, 1.0)


# --------------------------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------------------------


class VideoDataset(Dataset[tuple[torch.Tensor, int]]):
    """Base class of the library's video datasets (frame folders and the built-in :class:`MovingShapes`).

    Item: ``(video float32 [T, C, H, W] in [0, 1], label int)``. Subclasses implement ``_video`` and may
    override ``_frame``. Attributes ``classes`` (names, index = label) and ``labels`` (one per item).
    """

    classes: tuple[str, ...]
    labels: list[int]
    seed: int
    epoch: int = 0

    def _video(self, index: int, generator: torch.Generator) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _frame(self, index: int, generator: torch.Generator) -> torch.Tensor:
        """One random frame ``[C, H, W]`` of clip ``index`` (default: decode the clip and pick one)."""
        video = self._video(index, generator)
        t = int(torch.randint(video.shape[0], (1,), generator=generator))
        return video[t].contiguous()

    # -- protocol ----------------------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        """Number of classes (``len(classes)``)."""
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.labels)

    def _check_index(self, index: int) -> int:
        if isinstance(index, bool):
            raise ConfigError(f"index must be an integer, got {index!r}")
        if not isinstance(index, int):
            try:
                index = operator.index(index)  # numpy / 0-d integer tensor scalars; 0.5 is refused, not floored
            except (TypeError, ValueError, RuntimeError):
                raise ConfigError(f"index must be an integer, got {index!r} ({type(index).__name__})") from None
        n = len(self)
        if not -n <= index < n:
            raise ConfigError(f"index must be in [{-n}, {n}), got {index}")
        return index % n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        i = self._check_index(index)
        video = self._video(i, item_generator(self.seed, self.epoch, i))
        return video, self.labels[i]

    def set_epoch(self, epoch: int) -> None:
        """Select the random draws of ``epoch`` (offsets, flips, single frames are functions of it)."""
        self.epoch = check_int(epoch, "epoch", minimum=0)

    def class_counts(self) -> torch.Tensor:
        """Number of clips per class, int64 ``[num_classes]``."""
        return torch.bincount(torch.as_tensor(self.labels, dtype=torch.int64), minlength=self.num_classes)

    def single_frame(self) -> SingleFrameView:
        """The single-frame view for stage 1: item ``(image [C, H, W], label)``, one random frame per clip."""
        return SingleFrameView(self)

    def preload(
        self, progress: bool = True, *, dtype: torch.dtype = torch.float32, num_workers: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Load every item of the current epoch into one tensor.

        Args:
            progress: Show a tqdm bar.
            dtype: ``torch.float32`` (values in [0, 1]) or ``torch.uint8`` (values ``round(255 x)``, 4x less
                memory; divide by 255 to get floats back).
            num_workers: DataLoader workers that decode in parallel (results are identical to 0 workers).

        Returns:
            ``(videos [N, T, C, H, W], labels [N] int64)``.

        Raises:
            ShapeError: clips differ in shape (set ``size``).
        """
        return _preload(self, progress, dtype, num_workers, what="videos")


class SingleFrameView(Dataset[tuple[torch.Tensor, int]]):
    """One random frame per clip of a :class:`VideoDataset`, for stage-1 (image) distillation.

    The frame is drawn uniformly over the whole clip from ``(seed, epoch, index)``: fixed within an epoch
    (and therefore identical under any DataLoader worker count), new after ``set_epoch``. Resize and flip of
    the parent dataset apply.

    Shape:
        Item ``(image [C, H, W] float32 in [0, 1], label)``.

    Example:
        >>> from temporal_condense.data import MovingShapes
        >>> view = MovingShapes(videos_per_class=1, frames=4, size=(16, 16)).single_frame()
        >>> view[0][0].shape
        torch.Size([3, 16, 16])
    """

    _SALT = 1

    def __init__(self, parent: VideoDataset) -> None:
        self.parent = parent

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names of the parent dataset."""
        return self.parent.classes

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return self.parent.num_classes

    @property
    def labels(self) -> list[int]:
        """Labels, one per clip."""
        return self.parent.labels

    def class_counts(self) -> torch.Tensor:
        """Number of images (= clips) per class, int64 ``[num_classes]``."""
        return self.parent.class_counts()

    def set_epoch(self, epoch: int) -> None:
        """Draw new frames (sets the parent's epoch too)."""
        self.parent.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.parent)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        i = self.parent._check_index(index)
        gen = item_generator(self.parent.seed, self.parent.epoch, i, self._SALT)
        return self.parent._frame(i, gen), self.parent.labels[i]

    def preload(
        self, progress: bool = True, *, dtype: torch.dtype = torch.float32, num_workers: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Load one frame per clip: ``(images [N, C, H, W], labels [N] int64)`` (see ``VideoDataset.preload``)."""
        return _preload(self, progress, dtype, num_workers, what="frames")


def _iterate(ds: Dataset[tuple[torch.Tensor, int]], num_workers: int) -> Iterator[tuple[torch.Tensor, int]]:
    if num_workers == 0:
        for i in range(len(ds)):  # type: ignore[arg-type]
            yield ds[i]
        return
    loader = DataLoader(ds, batch_size=None, shuffle=False, num_workers=num_workers)
    for x, y in loader:
        yield x, int(y)


def _preload(
    ds: VideoDataset | SingleFrameView, progress: bool, dtype: torch.dtype, num_workers: int, what: str
) -> tuple[torch.Tensor, torch.Tensor]:
    if dtype not in (torch.float32, torch.uint8):
        raise ConfigError(f"dtype must be torch.float32 or torch.uint8, got {dtype}")
    check_int(num_workers, "num_workers", minimum=0)
    n = len(ds)
    if n == 0:
        raise ConfigError("cannot preload an empty dataset (0 items)")
    labels = torch.as_tensor(ds.labels, dtype=torch.int64).clone()
    out: torch.Tensor | None = None
    bar = tqdm(_iterate(ds, num_workers), total=n, disable=not progress, desc=f"preload {what}", unit="clip")
    for i, (x, _) in enumerate(bar):
        if out is None:
            out = torch.empty((n, *x.shape), dtype=dtype)
        elif x.shape != out.shape[1:]:
            raise ShapeError(
                f"item {i} has shape {tuple(x.shape)}, expected {tuple(out.shape[1:])} like item 0 "
                "(pass size=(H, W) so that every clip is resized to one size)"
            )
        out[i] = x.mul(255.0).round_().to(torch.uint8) if dtype == torch.uint8 else x
    bar.close()
    assert out is not None
    return out, labels


class FrameFolderDataset(VideoDataset):
    """Clips stored as folders of frames, with labels: the base of the published-layout loaders.

    Args:
        videos: One frame folder per clip.
        labels: Class index of each clip.
        classes: Class names; ``labels`` must lie in ``[0, len(classes))``.
        frames: Frames per returned clip ``T``.
        size: ``(H, W)`` (or an int for a square) to resize to (bilinear, antialiased), or ``None`` to keep the
            stored size.
        channels: 3 (RGB) or 1 (grayscale).
        sampling: ``"uniform"`` (evaluation) or ``"random"`` (training: random offset, ``stride`` apart).
        stride: Frame gap of random sampling (published: 4).
        flip: Random horizontal flip, same for every frame (do not use on direction-sensitive data, e.g. SSv2).
        short: Clips shorter than ``frames``: ``"error"`` (default), ``"loop"`` or ``"pad"``.
        missing: Folders that do not exist: ``"error"`` (default, checked at construction) or ``"skip"``.
        seed: Seed of the per-item random draws.
        source: Where the list came from (a split file), named in error messages.

    Raises:
        TemporalCondenseError: a folder is missing (``missing="error"``), a label is out of range, or no clip is
            left.

    Shape:
        Item ``(video [T, C, H, W] float32 in [0, 1], label)``.

    Example:
        >>> ds = FrameFolderDataset(["clip_a"], [0], ["walk"], missing="skip")  # doctest: +SKIP
    """

    def __init__(
        self,
        videos: Sequence[str | os.PathLike[str]],
        labels: Sequence[int],
        classes: Sequence[str],
        *,
        frames: int = 16,
        size: tuple[int, int] | int | None = None,
        channels: int = 3,
        sampling: str = "uniform",
        stride: int = 4,
        flip: bool = False,
        short: str = "error",
        missing: str = "error",
        seed: int = 0,
        source: str | None = None,
    ) -> None:
        self.config: ClipConfig = make_config(
            ClipConfig,
            frames=frames,
            size=(size, size) if isinstance(size, int) else (tuple(size) if size is not None else None),
            channels=channels,
            sampling=sampling,
            stride=stride,
            flip=flip,
            short=short,
            seed=seed,
        )
        check_choice(missing, "missing", ("error", "skip"))
        if len(videos) != len(labels):
            raise ConfigError(f"videos and labels must have the same length, got {len(videos)} and {len(labels)}")
        self.classes = tuple(str(c) for c in classes)
        if not self.classes:
            raise ConfigError("classes must not be empty")
        where = f" (listed in {source})" if source else ""
        paths = [Path(v) for v in videos]
        keep = []
        missing_paths = []
        for p, y in zip(paths, labels):
            if isinstance(y, bool) or not isinstance(y, int) or not 0 <= y < len(self.classes):
                raise TemporalCondenseError(
                    f"label of video folder {p}{where} must be in [0, {len(self.classes)}), got {y!r}"
                )
            if p.is_dir():
                keep.append((p, y))
            else:
                missing_paths.append(p)
        if missing_paths:
            if missing == "error":
                raise TemporalCondenseError(
                    f"video folder not found: {missing_paths[0]}{where}; {len(missing_paths)} of {len(paths)} "
                    "listed folder(s) are missing (pass missing='skip' to drop them)"
                )
            logger.warning("skipped %d missing video folder(s)%s, e.g. %s", len(missing_paths), where, missing_paths[0])
        if not keep:
            raise TemporalCondenseError(f"no video folders left{where} (0 of {len(paths)} exist)")
        self.videos: list[Path] = [p for p, _ in keep]
        self.labels = [y for _, y in keep]
        self.seed = self.config.seed
        self.epoch = 0
        self.source = source
        self._listing: dict[int, list[Path]] = {}

    # -- properties ----------------------------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        """Frames per returned clip ``T``."""
        return self.config.frames

    def frame_files(self, index: int) -> list[Path]:
        """The image files of clip ``index`` in temporal order (cached after the first call)."""
        i = self._check_index(index)
        files = self._listing.get(i)
        if files is None:
            files = list_frames(self.videos[i])
            self._listing[i] = files
        return files

    def frame_indices(self, index: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The frame indices (into :meth:`frame_files`) that item ``index`` uses in the current epoch."""
        i = self._check_index(index)
        gen = generator if generator is not None else item_generator(self.seed, self.epoch, i)
        return self._indices(i, gen)

    def _indices(self, i: int, gen: torch.Generator) -> torch.Tensor:
        cfg = self.config
        length = len(self.frame_files(i))
        if length < cfg.frames and cfg.short == "error":
            raise TemporalCondenseError(
                f"video folder {self.videos[i]} has {length} frame(s), fewer than frames={cfg.frames} "
                "(pass short='loop' or short='pad' to accept short clips)"
            )
        return sample_indices(length, cfg.frames, mode=cfg.sampling, stride=cfg.stride, short=cfg.short, generator=gen)

    def _finish(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """uint8 [N, C, H, W] -> float32 in [0, 1], resized, maybe flipped (one draw for the whole clip)."""
        out = _resize(x.to(torch.float32).div_(255.0), self.config.size)
        if self.config.flip and bool(torch.rand(1, generator=gen) < 0.5):
            out = out.flip(-1)
        return out.contiguous()

    def _load(self, files: Sequence[Path], folder: Path) -> torch.Tensor:
        imgs = [load_frame(f, self.config.channels) for f in files]
        first = imgs[0].shape
        for f, im in zip(files, imgs):
            if im.shape != first:
                raise ShapeError(
                    f"frame {f} has size {tuple(im.shape)}, expected {tuple(first)} like the others in {folder}"
                )
        return torch.stack(imgs)

    def _video(self, index: int, generator: torch.Generator) -> torch.Tensor:
        idx = self._indices(index, generator)
        files = self.frame_files(index)
        unique = sorted(set(idx.tolist()))
        loaded = self._load([files[k] for k in unique], self.videos[index])
        pos = {k: j for j, k in enumerate(unique)}
        clip = loaded[torch.tensor([pos[k] for k in idx.tolist()], dtype=torch.int64)]
        return self._finish(clip, generator)

    def _frame(self, index: int, generator: torch.Generator) -> torch.Tensor:
        files = self.frame_files(index)
        t = int(torch.randint(len(files), (1,), generator=generator))
        img = self._load([files[t]], self.videos[index])
        return self._finish(img, generator)[0].contiguous()

    def __repr__(self) -> str:
        c = self.config
        return (
            f"{type(self).__name__}(videos={len(self)}, classes={self.num_classes}, frames={c.frames}, "
            f"size={c.size}, sampling={c.sampling!r}, flip={c.flip})"
        )
