"""Extract frames from video files into the frame-folder layout the loaders read.

One command turns a folder of videos into frame folders::

    python -m temporal_condense.data.extract SRC DST --frames 16 --size 112 112 --workers 2

* Every video under ``SRC`` (recursively) becomes the folder ``DST/<relative path without extension>/`` holding
  ``frame000001.jpg, frame000002.jpg, ...`` (the UCF101/HMDB51 ``jpegs_112`` naming); ``--flat`` puts every
  clip directly under ``DST/<video name>/`` (the layout of ``jpegs_112/`` with a split CSV). Class folders
  in ``SRC`` (``train/<class>/<video>.mp4``) therefore give the class-folder layout of
  :class:`~temporal_condense.data.Kinetics400`.
* Frames: ``--frames N`` evenly spaced, ``--fps R`` one every ``1/R`` s, both: ``N`` frames at ``R`` fps
  around the middle (the published Kinetics recipe), neither: all frames; ``--size H W`` scales them.
* Parallel worker processes with a progress bar; resumable: a clip is written to a hidden ``.partial`` folder
  and renamed into place when complete, and clips whose folder exists are skipped.
* Files that cannot be decoded are listed in ``DST/broken_videos.txt`` (one path per line) and clips that
  gave fewer frames than asked in ``DST/short_videos.txt`` (``path,count``) -- the files the published
  Kinetics extractor writes -- instead of aborting the run.

Example:
    >>> report = extract_videos("videos/", "frames/", frames=16, size=(112, 112))  # doctest: +SKIP
    >>> report.done, report.broken  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from temporal_condense._checks import check_int
from temporal_condense.data.kinetics import BROKEN_LIST, SHORT_LIST, read_broken_list, read_short_list
from temporal_condense.data.video import (
    VIDEO_EXTENSIONS,
    list_videos,
    probe_video,
    read_frames,
    require_av,
    select_frames,
)
from temporal_condense.errors import ConfigError, TemporalCondenseError
from temporal_condense.io import atomic_write

__all__ = ["ExtractionReport", "extract_video", "extract_videos", "main"]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


@dataclass
class ExtractionReport:
    """What one :func:`extract_videos` run did.

    Attributes:
        done: Clips extracted by this run.
        skipped: Clips whose folder already existed (finished by an earlier run).
        broken: Videos that could not be decoded, with the reason.
        short: Videos that gave fewer frames than asked, with the number written.
        frames: Frames written by this run.
        seconds: Wall time of this run.
    """

    done: int = 0
    skipped: int = 0
    broken: dict[str, str] = field(default_factory=dict)
    short: dict[str, int] = field(default_factory=dict)
    frames: int = 0
    seconds: float = 0.0


def extract_video(
    src: PathLike,
    dst: PathLike,
    *,
    frames: int | None = None,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    quality: int = 90,
    pattern: str = "frame{:06d}.jpg",
    threads: bool = True,
) -> int:
    """Extract the selected frames of one video into the folder ``dst`` (atomically); return how many.

    The frames are written into ``<dst parent>/.<dst name>.partial`` and the folder is renamed to ``dst`` once
    complete, so ``dst`` exists only for finished clips.

    Args:
        src: The video file.
        dst: The frame folder to create (must not exist).
        frames: Evenly spaced frames to keep (with ``fps``: frames around the middle).
        fps: Frames per second to keep.
        size: ``(H, W)`` to scale to.
        quality: JPEG quality (1-95).
        pattern: File name of frame ``i`` (1-based), ``str.format`` style.
        threads: Let FFmpeg decode with several threads.

    Raises:
        TemporalCondenseError: The video cannot be decoded or ``dst`` exists.
        ConfigError: Bad arguments or PyAV missing.
    """
    quality = check_int(quality, "quality")
    if size is not None:
        size = (check_int(size[0], "size[0]"), check_int(size[1], "size[1]"))
    out = Path(dst)
    if out.exists():
        raise TemporalCondenseError(f"frame folder already exists: {out}")
    info = probe_video(src)
    indices = select_frames(info, frames=frames, fps=fps)
    clip = read_frames(src, indices, size=size, threads=threads)
    partial = out.parent / f".{out.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    for i, img in enumerate(clip):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(partial / pattern.format(i + 1), quality=quality)
    os.replace(partial, out)
    return int(clip.shape[0])


def _target(src: Path, root: Path, dst: Path, flat: bool) -> Path:
    rel = src.relative_to(root)
    return dst / rel.stem if flat else dst / rel.with_suffix("")


def _work(job: tuple[str, str, int | None, float | None, tuple[int, int] | None, int, bool]) -> tuple[str, int, str]:
    src, dst, frames, fps, size, quality, threads = job
    try:
        n = extract_video(src, dst, frames=frames, fps=fps, size=size, quality=quality, threads=threads)
    except Exception as exc:  # any failure on one file is listed, never aborts the run
        return src, -1, f"{type(exc).__name__}: {exc}"
    return src, n, ""


def _write_lists(dst: Path, broken: dict[str, str], short: dict[str, int], finished: set[str]) -> None:
    """Merge this run's lists with the previous ones (videos finished since are dropped from 'broken')."""
    old_broken = [b for b in read_broken_list(dst / BROKEN_LIST) if b not in finished and b not in broken]
    all_broken = old_broken + sorted(broken)
    all_short = {**read_short_list(dst / SHORT_LIST), **short}
    for name, lines in ((BROKEN_LIST, all_broken), (SHORT_LIST, [f"{k},{v}" for k, v in sorted(all_short.items())])):
        if lines or (dst / name).exists():
            _write_text(dst / name, "".join(f"{line}\n" for line in lines))


def _write_text(path: Path, text: str) -> None:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    atomic_write(path, write)


def extract_videos(
    src: PathLike,
    dst: PathLike,
    *,
    frames: int | None = None,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    workers: int = 1,
    flat: bool = False,
    quality: int = 90,
    extensions: Sequence[str] = VIDEO_EXTENSIONS,
    progress: bool = True,
) -> ExtractionReport:
    """Extract every video under ``src`` into frame folders under ``dst`` (see the module docstring).

    Args:
        src: Folder of video files (searched recursively).
        dst: Output folder (created).
        frames: Evenly spaced frames per clip (with ``fps``: frames around the middle).
        fps: Frames per second to keep.
        size: ``(H, W)`` to scale every frame to.
        workers: Worker processes (1: in this process).
        flat: ``DST/<video name>/`` instead of mirroring the sub-folders of ``src``.
        quality: JPEG quality.
        extensions: Video file extensions to take.
        progress: Show a progress bar.

    Returns:
        The :class:`ExtractionReport`; the broken and short lists are also written to ``dst``.

    Raises:
        TemporalCondenseError: ``src`` is not a folder, or ``flat`` and two videos share a name.
        ConfigError: Bad arguments or PyAV missing.
    """
    import time

    require_av()
    workers = check_int(workers, "workers")
    if frames is not None:
        check_int(frames, "frames")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0):
        raise ConfigError(f"fps must be a positive number, got {fps!r}")
    root, out = Path(src), Path(dst)
    videos = list_videos(root, extensions)
    targets = [_target(v, root, out, flat) for v in videos]
    if flat and len(set(targets)) != len(targets):
        seen: dict[Path, Path] = {}
        for v, t in zip(videos, targets):
            if t in seen:
                raise TemporalCondenseError(f"flat=True but {seen[t]} and {v} both map to {t}")
            seen[t] = v
    out.mkdir(parents=True, exist_ok=True)
    report = ExtractionReport()
    start = time.perf_counter()
    threads = workers == 1
    jobs = []
    for v, t in zip(videos, targets):
        if t.is_dir():
            report.skipped += 1
        else:
            jobs.append((str(v), str(t), frames, fps, size, quality, threads))
    bar = tqdm(total=len(jobs), disable=not progress, desc="extract", unit="video")
    finished: set[str] = set()
    try:
        if workers == 1 or len(jobs) <= 1:
            results = map(_work, jobs)
            for res in results:
                _record(report, res, frames, finished)
                bar.update()
        else:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            with multiprocessing.get_context(method).Pool(workers) as pool:
                for res in pool.imap_unordered(_work, jobs):
                    _record(report, res, frames, finished)
                    bar.update()
    finally:
        bar.close()
        _write_lists(out, report.broken, report.short, finished)
    report.seconds = time.perf_counter() - start
    if report.broken:
        logger.warning("%d video(s) could not be decoded; listed in %s", len(report.broken), out / BROKEN_LIST)
    return report


def _record(report: ExtractionReport, res: tuple[str, int, str], frames: int | None, finished: set[str]) -> None:
    src, n, err = res
    if n < 0:
        report.broken[src] = err
        return
    report.done += 1
    report.frames += n
    finished.add(src)
    if frames is not None and n < frames:
        report.short[src] = n


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m temporal_condense.data.extract SRC DST [options]``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m temporal_condense.data.extract",
        description="Extract frames from video files into frame folders (resumable; broken files are listed).",
    )
    parser.add_argument("src", help="folder of video files (searched recursively)")
    parser.add_argument("dst", help="output folder of frame folders")
    parser.add_argument("--frames", type=int, default=None, help="evenly spaced frames per clip")
    parser.add_argument("--fps", type=float, default=None, help="frames per second (with --frames: around the middle)")
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=None, help="resize frames")
    parser.add_argument("--workers", type=int, default=max(1, min(8, os.cpu_count() or 1)), help="processes")
    parser.add_argument("--flat", action="store_true", help="DST/<video name>/ instead of mirroring sub-folders")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        report = extract_videos(
            args.src,
            args.dst,
            frames=args.frames,
            fps=args.fps,
            size=tuple(args.size) if args.size else None,
            workers=args.workers,
            flat=args.flat,
            quality=args.quality,
            progress=not args.quiet,
        )
    except (TemporalCondenseError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"extracted {report.done} clip(s) ({report.frames} frames, {report.seconds:.1f} s), skipped {report.skipped} "
        f"finished, {len(report.broken)} broken, {len(report.short)} short"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
