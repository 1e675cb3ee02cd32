"""Video files (``.avi``, ``.mp4``, ...) decoded with PyAV: probing, frame selection, and a direct dataset.

PyAV (the ``av`` package, the FFmpeg libraries in a self-contained wheel) is an optional extra:
``pip install temporal-condense[video]``. It was chosen over the alternatives because its wheels bundle
FFmpeg (no system ``ffmpeg`` binary, unlike the published ``subprocess`` calls), it exposes packet
timestamps (frame counts and fixed-fps selection without decoding) and frame-accurate sequential
decoding, it is maintained by the PyAV organisation with wheels for every CPython/OS, and it needs no
torchvision (which does not import beside the CPU torch here); ``decord`` has had no release since 2022.

Frame selection (:func:`select_frames`), used by both the extractor and :class:`VideoFileDataset`:

* ``frames=N`` -- ``N`` evenly spaced frames: the centres of ``N`` equal segments of the clip;
* ``fps=r`` -- one frame every ``1/r`` seconds from the start (the frame shown at that time);
* ``fps=r`` and ``frames=N`` -- ``N`` frames ``1/r`` apart, centred on the middle of the clip (the published
  Kinetics recipe: 16 frames at 2 fps around the middle);
* neither -- every frame.

Example:
    >>> info = VideoInfo(frames=10, fps=5.0, timestamps=tuple(i / 5 for i in range(10)))
    >>> select_frames(info, frames=4)
    [1, 3, 6, 8]
    >>> select_frames(info, fps=1.0)
    [0, 5]
"""

from __future__ import annotations

import bisect
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from temporal_condense._checks import check_int
from temporal_condense.data.frames import ClipConfig, VideoDataset, _resize, make_config, sample_indices
from temporal_condense.errors import ConfigError, TemporalCondenseError

__all__ = [
    "VIDEO_EXTENSIONS",
    "VideoFileDataset",
    "VideoInfo",
    "list_videos",
    "probe_video",
    "read_frames",
    "require_av",
    "select_frames",
]

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS: tuple[str, ...] = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv")
PathLike = str | os.PathLike[str]


def require_av() -> Any:
    """Import PyAV, or raise :class:`ConfigError` saying how to install it."""
    try:
        import av
    except ImportError:
        raise ConfigError(
            "reading video files needs PyAV: pip install 'temporal-condense[video]' (or pip install av)"
        ) from None
    return av


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns without decoding: frame count, nominal fps, frame timestamps (s)."""

    frames: int
    fps: float
    timestamps: tuple[float, ...]

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one."""
        if not self.timestamps:
            return 0.0
        return self.timestamps[-1] - self.timestamps[0] + 1.0 / self.fps


def probe_video(path: PathLike) -> VideoInfo:
    """Count the frames of a video file and read their timestamps from the packets (no decoding).

    Raises:
        TemporalCondenseError: The file is missing, not a video, or has no video stream / no frame.
        ConfigError: PyAV is not installed.
    """
    av = require_av()
    file = Path(path)
    if not file.is_file():
        raise TemporalCondenseError(f"video file not found: {file}")
    try:
        with av.open(str(file)) as container:
            if not container.streams.video:
                raise TemporalCondenseError(f"no video stream in {file}")
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
            pts: list[int | None] = [p.pts for p in container.demux(stream) if p.size]
            base = float(stream.time_base) if stream.time_base else 0.0
    except av.error.FFmpegError as exc:
        raise TemporalCondenseError(f"cannot read video {file}: {exc}") from None
    if not pts:
        raise TemporalCondenseError(f"video {file} has no frames")
    if base and all(p is not None for p in pts):
        ordered = sorted(float(p) * base for p in pts if p is not None)
        start = ordered[0]
        times = tuple(t - start for t in ordered)
    else:
        times = tuple(i / rate for i in range(len(pts)))
    return VideoInfo(frames=len(pts), fps=rate, timestamps=times)


def select_frames(info: VideoInfo, *, frames: int | None = None, fps: float | None = None) -> list[int]:
    """Frame indices (into the decoded frames) to keep; see the module docstring for the rules.

    Clips shorter than asked give fewer indices (``frames`` mode: all frames; ``fps`` mode: those that fit).

    Raises:
        ConfigError: ``frames`` is not a positive integer or ``fps`` not a positive finite number.
    """
    if frames is not None:
        frames = check_int(frames, "frames")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < math.inf):
        raise ConfigError(f"fps must be a positive finite number, got {fps!r}")
    n = info.frames
    if fps is None:
        if frames is None:
            return list(range(n))
        if n < frames:
            return list(range(n))
        return sample_indices(n, frames, mode="uniform").tolist()
    step = 1.0 / fps
    times = info.timestamps
    if frames is None:
        count = max(1, math.ceil(info.duration * fps - 1e-9))
        targets = [k * step for k in range(count)]
    else:
        middle = info.duration / 2
        start = max(0.0, middle - frames / (2 * fps))
        targets = [start + k * step for k in range(frames)]
        targets = [t for t in targets if t < info.duration - 1e-9]
    return [max(0, bisect.bisect_right(times, t + 1e-9) - 1) for t in targets]


def read_frames(
    path: PathLike,
    indices: Sequence[int],
    *,
    size: tuple[int, int] | None = None,
    channels: int = 3,
    threads: bool = True,
) -> torch.Tensor:
    """Decode the frames ``indices`` (in that order, repeats allowed) of a video file.

    Decoding is sequential and stops after the largest index. If the file decodes to fewer frames than its
    packets promised, the missing indices take the last decoded frame.

    Args:
        path: The video file.
        indices: Frame indices (0-based, in decoding order).
        size: ``(H, W)`` to scale to while converting (FFmpeg's swscale, bilinear); ``None`` keeps the size.
        channels: 3 (RGB) or 1 (grayscale).
        threads: Let FFmpeg decode with several threads.

    Returns:
        uint8 tensor ``[len(indices), channels, H, W]``.

    Raises:
        TemporalCondenseError: The file cannot be decoded or has no frame.
        ConfigError: PyAV is missing, or a bad argument.
    """
    av = require_av()
    if channels not in (1, 3):
        raise ConfigError(f"channels must be 1 or 3, got {channels!r}")
    want = [int(i) for i in indices]
    if not want or min(want) < 0:
        raise ConfigError(f"indices must be a non-empty list of frame indices >= 0, got {list(indices)[:8]}")
    needed = set(want)
    last = max(want)
    fmt = "rgb24" if channels == 3 else "gray"
    kw: dict[str, Any] = {"format": fmt}
    if size is not None:
        kw.update(height=int(size[0]), width=int(size[1]), interpolation="BILINEAR")
    got: dict[int, torch.Tensor] = {}
    last_frame: Any = None
    decoded = 0
    file = Path(path)

    def convert(frame: Any) -> torch.Tensor:
        arr = frame.to_ndarray(**kw)
        return torch.from_numpy(arr.reshape(arr.shape[0], arr.shape[1], channels).copy()).permute(2, 0, 1)

    try:
        with av.open(str(file)) as container:
            stream = container.streams.video[0]
            if threads:
                stream.thread_type = "AUTO"
            for i, frame in enumerate(container.decode(stream)):
                decoded = i + 1
                last_frame = frame
                if i in needed:
                    got[i] = convert(frame).contiguous()
                if i >= last:
                    break
            if decoded <= last and last_frame is not None:
                logger.warning("video %s decoded to %d frames, fewer than indexed; repeating its last", file, decoded)
                tail = convert(last_frame).contiguous()
                for i in needed:
                    if i >= decoded:
                        got[i] = tail
    except (av.error.FFmpegError, IndexError) as exc:
        raise TemporalCondenseError(f"cannot decode video {file}: {exc}") from None
    if not decoded:
        raise TemporalCondenseError(f"video {file} decoded to no frame")
    out = [got[i] for i in want]
    return torch.stack(out)


def list_videos(root: PathLike, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[Path]:
    """Video files under ``root`` (recursively, hidden files skipped), sorted by relative path.

    Raises:
        TemporalCondenseError: ``root`` is not a folder.
    """
    base = Path(root)
    if not base.is_dir():
        raise TemporalCondenseError(f"video folder not found: {base}")
    exts = tuple(e.lower() for e in extensions)
    found = [
        p
        for p in base.rglob("*")
        if p.is_file()
        and p.suffix.lower() in exts
        and not any(part.startswith(".") for part in p.relative_to(base).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(base).as_posix())


class VideoFileDataset(VideoDataset):
    """Clips decoded straight from video files, for users who do not want frames on disk.

    Items follow the frame-folder datasets: ``(video float32 [T, C, H, W] in [0, 1], label)``, with the same
    temporal sampling (``"uniform"`` or ``"random"`` with ``stride``), resize, flip and ``short`` policy, and
    the same per-item determinism. Decoding a video costs far more than reading a few JPEGs: for repeated
    epochs extract the frames once (:mod:`temporal_condense.data.extract`) or :meth:`preload`.

    Args:
        videos: One video file per clip.
        labels: Class of each clip.
        classes: Class names (index = label).
        frames, size, channels, sampling, stride, flip, short, seed: As in
            :class:`~temporal_condense.data.FrameFolderDataset`.

    Raises:
        TemporalCondenseError: A file is missing. ConfigError: PyAV is missing or an argument is bad.

    Shape:
        Item ``(video [frames, C, H, W] float32 in [0, 1], label)``.
    """

    def __init__(
        self,
        videos: Sequence[PathLike],
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
        seed: int = 0,
    ) -> None:
        require_av()
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
        if len(videos) != len(labels):
            raise ConfigError(f"videos and labels must have the same length, got {len(videos)} and {len(labels)}")
        self.classes = tuple(str(c) for c in classes)
        if not self.classes:
            raise ConfigError("classes must not be empty")
        self.videos = [Path(v) for v in videos]
        if not self.videos:
            raise ConfigError("videos must not be empty")
        for p, y in zip(self.videos, labels):
            if isinstance(y, bool) or not isinstance(y, int) or not 0 <= y < len(self.classes):
                raise TemporalCondenseError(f"label of video {p} must be in [0, {len(self.classes)}), got {y!r}")
            if not p.is_file():
                raise TemporalCondenseError(f"video file not found: {p}")
        self.labels = list(labels)
        self.seed = self.config.seed
        self.epoch = 0
        self._info: dict[int, VideoInfo] = {}

    @classmethod
    def from_folder(cls, root: PathLike, **kwargs: Any) -> VideoFileDataset:
        """Class folders of video files: ``root/<class name>/<video>.mp4`` (classes sorted by name).

        Example:
            >>> ds = VideoFileDataset.from_folder("videos/train", frames=8, size=64)  # doctest: +SKIP
        """
        base = Path(root)
        if not base.is_dir():
            raise TemporalCondenseError(f"video folder not found: {base}")
        names = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not names:
            raise TemporalCondenseError(f"no class folders in {base}")
        videos: list[Path] = []
        labels: list[int] = []
        for i, name in enumerate(names):
            found = list_videos(base / name)
            videos += found
            labels += [i] * len(found)
        if not videos:
            raise TemporalCondenseError(f"no video files ({', '.join(VIDEO_EXTENSIONS)}) under {base}")
        return cls(videos, labels, names, **kwargs)

    def info(self, index: int) -> VideoInfo:
        """Frame count and timestamps of clip ``index`` (probed once, then cached)."""
        i = self._check_index(index)
        if i not in self._info:
            self._info[i] = probe_video(self.videos[i])
        return self._info[i]

    def _video(self, index: int, generator: torch.Generator) -> torch.Tensor:
        cfg = self.config
        length = self.info(index).frames
        if length < cfg.frames and cfg.short == "error":
            raise TemporalCondenseError(
                f"video {self.videos[index]} has {length} frame(s), fewer than frames={cfg.frames} "
                "(pass short='loop' or short='pad' to accept short clips)"
            )
        idx = sample_indices(
            length, cfg.frames, mode=cfg.sampling, stride=cfg.stride, short=cfg.short, generator=generator
        )
        clip = read_frames(self.videos[index], idx.tolist(), channels=cfg.channels)
        out = _resize(clip.to(torch.float32).div_(255.0), cfg.size)
        if cfg.flip and bool(torch.rand(1, generator=generator) < 0.5):
            out = out.flip(-1)
        return out.contiguous()

    def __repr__(self) -> str:
        c = self.config
        return (
            f"VideoFileDataset(videos={len(self)}, classes={self.num_classes}, frames={c.frames}, size={c.size}, "
            f"sampling={c.sampling!r})"
        )
