"""Kinetics-400 in the layout the published code reads: split CSVs, a ``replacement/`` folder, broken/short lists.

Layout under ``root`` (what the published Kinetics extractor writes and its loader reads):

* ``train.csv``, ``validate.csv``, ``test.csv`` with the columns ``label,youtube_id,time_start,time_end,split``
  (the official Kinetics annotation files; split ``"val"`` reads ``validate.csv``);
* ``<split>/<youtube_id>_<time_start:06d>_<time_end:06d>/`` frame folders (``01.jpg, 02.jpg, ...``);
* ``replacement/<same name>/`` -- the re-downloaded copies of corrupted videos, used when the split folder is
  missing or does not hold the expected number of frames;
* ``broken_videos.txt`` (one video path per line) and ``short_videos.txt`` (``path,count``): the videos the
  extractor could not decode or that gave fewer frames.

As published, a clip is kept only if one of its two folders holds exactly ``require_frames`` files (8 when the
root folder is named ``kinetics_64x64x8``, else 16), the others are skipped and counted, and the classes are
the sorted labels of the kept clips of the split.

Example:
    >>> kinetics_clip_name("abc", 5, 15)
    'abc_000005_000015'
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporal_condense.data.frames import FrameFolderDataset
from temporal_condense.errors import TemporalCondenseError

__all__ = [
    "BROKEN_LIST",
    "KINETICS_COLUMNS",
    "SHORT_LIST",
    "Kinetics400CSV",
    "KineticsEntry",
    "kinetics_clip_name",
    "read_broken_list",
    "read_kinetics_csv",
    "read_short_list",
]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
KINETICS_COLUMNS: tuple[str, ...] = ("label", "youtube_id", "time_start", "time_end", "split")
BROKEN_LIST = "broken_videos.txt"
SHORT_LIST = "short_videos.txt"


def kinetics_clip_name(youtube_id: str, time_start: int, time_end: int) -> str:
    """The published clip folder name ``<youtube_id>_<time_start:06d>_<time_end:06d>``."""
    return f"{youtube_id}_{int(time_start):06d}_{int(time_end):06d}"


@dataclass(frozen=True)
class KineticsEntry:
    """One row of a Kinetics annotation CSV."""

    label: str
    youtube_id: str
    time_start: int
    time_end: int
    split: str

    @property
    def name(self) -> str:
        """The clip's folder name."""
        return kinetics_clip_name(self.youtube_id, self.time_start, self.time_end)


def read_kinetics_csv(path: PathLike) -> list[KineticsEntry]:
    """Parse a Kinetics annotation CSV (``label,youtube_id,time_start,time_end,split``; extra columns ignored).

    Raises:
        TemporalCondenseError: Missing file or column, or a row with an empty field or a non-integer time (the
            message names the file and line).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "train.csv"
        >>> _ = p.write_text("label,youtube_id,time_start,time_end,split\\nyoga,abc,5,15,train\\n")
        >>> read_kinetics_csv(p)[0].name
        'abc_000005_000015'
    """
    file = Path(path)
    if not file.is_file():
        raise TemporalCondenseError(f"Kinetics annotation file not found: {file}")
    with open(file, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = tuple(reader.fieldnames or ())
        absent = [c for c in KINETICS_COLUMNS if c not in header]
        if absent:
            raise TemporalCondenseError(
                f"Kinetics file {file} must have columns {KINETICS_COLUMNS}, missing {tuple(absent)} (header {header})"
            )
        rows = []
        for row in reader:
            values = {c: (row.get(c) or "").strip() for c in KINETICS_COLUMNS}
            if not all(values.values()):
                raise TemporalCondenseError(f"Kinetics file {file} line {reader.line_num}: empty field in {values}")
            try:
                start, end = int(values["time_start"]), int(values["time_end"])
            except ValueError:
                raise TemporalCondenseError(
                    f"Kinetics file {file} line {reader.line_num}: time_start and time_end must be integers, "
                    f"got {values['time_start']!r} and {values['time_end']!r}"
                ) from None
            rows.append(KineticsEntry(values["label"], values["youtube_id"], start, end, values["split"]))
    return rows


def read_broken_list(path: PathLike) -> list[str]:
    """Read a published ``broken_videos.txt``: one video path per line (blank lines ignored; missing file: ``[]``)."""
    file = Path(path)
    if not file.is_file():
        return []
    return [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_short_list(path: PathLike) -> dict[str, int]:
    """Read a published ``short_videos.txt``: ``path,count`` per line (missing file: ``{}``).

    Raises:
        TemporalCondenseError: A line has no integer count after its last comma (names the file and line).
    """
    file = Path(path)
    if not file.is_file():
        return {}
    out: dict[str, int] = {}
    for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        name, _, count = line.strip().rpartition(",")
        try:
            out[name] = int(count)
        except ValueError:
            raise TemporalCondenseError(f"{file} line {n}: expected 'path,count', got {line!r}") from None
    return out


def _count_files(folder: Path) -> int:
    try:
        return sum(1 for n in os.listdir(folder) if not n.startswith("."))
    except OSError:
        return -1


class Kinetics400CSV(FrameFolderDataset):
    """Kinetics-400 read as the published loader reads it (see the module docstring).

    Args:
        root: Dataset folder (``train.csv``, ``train/``, ``replacement/``, ...).
        split: ``"train"``, ``"val"`` (reads ``validate.csv``, frames from ``val/``) or ``"test"``.
        annotations: The CSV (default ``<root>/<train|validate|test>.csv``).
        replacement_dir: Folder of replacement clips under ``root``.
        require_frames: Files a clip folder must hold to be used (default: 8 when ``root`` is named
            ``kinetics_64x64x8``, else 16, as published).
        frames: Frames per returned clip (default ``require_frames``: the whole clip, as published).
        classes: Class names (index = label); default the sorted labels of the kept clips.
        **kwargs: :class:`FrameFolderDataset` options (``size``, ``sampling``, ``flip``, ``seed``, ...).

    Attributes:
        skipped: Names of the clips skipped (no folder with ``require_frames`` files).
        replaced: Names of the clips read from ``replacement/``.
        broken: Entries of ``<root>/broken_videos.txt`` (empty when absent).
        short: Entries of ``<root>/short_videos.txt`` (empty when absent).

    Raises:
        TemporalCondenseError: A row's ``split`` differs from the file's, a label is absent from ``classes``, or
            no clip is left.

    Shape:
        Item ``(video [frames, C, H, W] float32 in [0, 1], label)``.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        *,
        annotations: PathLike | None = None,
        replacement_dir: str = "replacement",
        require_frames: int | None = None,
        frames: int | None = None,
        classes: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        base = Path(root)
        csv_split = "validate" if split == "val" else split
        file = Path(annotations) if annotations is not None else base / f"{csv_split}.csv"
        need = require_frames if require_frames is not None else (8 if base.name == "kinetics_64x64x8" else 16)
        videos: list[Path] = []
        names: list[str] = []
        self.skipped: list[str] = []
        self.replaced: list[str] = []
        for n, entry in enumerate(read_kinetics_csv(file), start=2):
            if entry.split != csv_split:
                raise TemporalCondenseError(
                    f"Kinetics file {file} line {n}: split {entry.split!r} differs from the file's {csv_split!r}"
                )
            folder = base / split / entry.name
            if _count_files(folder) != need:
                folder = base / replacement_dir / entry.name
                if _count_files(folder) != need:
                    self.skipped.append(entry.name)
                    continue
                self.replaced.append(entry.name)
            videos.append(folder)
            names.append(entry.label)
        class_names = tuple(classes) if classes is not None else tuple(sorted(set(names)))
        index = {c: i for i, c in enumerate(class_names)}
        for name, label in zip(videos, names):
            if label not in index:
                raise TemporalCondenseError(
                    f"Kinetics file {file}: label {label!r} of {name.name} is absent from the class list "
                    f"({len(class_names)} classes)"
                )
        if not videos:
            raise TemporalCondenseError(
                f"no Kinetics clip of {file} has a folder with {need} frame files under {base / split} or "
                f"{base / replacement_dir} ({len(self.skipped)} skipped)"
            )
        if self.skipped:
            logger.info("%s: %d clips, skipped %d items", split, len(videos), len(self.skipped))
        self.split = split
        self.broken = read_broken_list(base / BROKEN_LIST)
        self.short = read_short_list(base / SHORT_LIST)
        super().__init__(
            videos,
            [index[y] for y in names],
            class_names,
            frames=need if frames is None else frames,
            source=str(file),
            **kwargs,
        )
