"""Loaders for the published video-distillation benchmarks, in the layouts their public code reads.

=============  =================================================================================================
dataset        layout
=============  =================================================================================================
UCF101         ``<root>/jpegs_112/<folder_name>/frame000001.jpg ...`` + ``<root>/ucf101_splits1.csv``
miniUCF        same frames, split file ``<root>/ucf50_splits1.csv`` (the 50-class UCF50 subset, split 1)
HMDB51         ``<root>/jpegs_112/<folder_name>/...`` + ``<root>/hmdb51_splits.csv``
SSv2           ``<root>/frame/<video id>/...`` + ``<root>/class_list.json`` + ``<root>/annot_<split>.json``
Kinetics-400   ``<root>/<split>/<class name>/<video>/...`` (frame folders grouped by class)
=============  =================================================================================================

Split CSVs have the header ``folder_name,label,split``; class indices are the sorted class names of the whole
file (so train and test share one mapping). SSv2 annotations are ``[{"id": "74225", "class": 140}, ...]`` with
``class`` an index into ``class_list.json`` (a class name is accepted too).

Example:
    >>> import temporal_condense.data as tcd
    >>> train = tcd.MiniUCF("data/UCF101", split="train", sampling="random")  # doctest: +SKIP
    >>> video, label = train[0]  # float32 [16, 3, 112, 112]  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporal_condense._checks import check_choice
from temporal_condense.data.frames import FrameFolderDataset
from temporal_condense.errors import ConfigError, TemporalCondenseError

__all__ = [
    "HMDB51",
    "UCF101",
    "Kinetics400",
    "MiniUCF",
    "SSv2",
    "SplitEntry",
    "read_split_csv",
    "read_ssv2_annotations",
]

PathLike = str | os.PathLike[str]
SPLIT_COLUMNS: tuple[str, ...] = ("folder_name", "label", "split")


@dataclass(frozen=True)
class SplitEntry:
    """One row of a split CSV: frame folder name, class name, split name."""

    folder_name: str
    label: str
    split: str


def read_split_csv(path: PathLike) -> list[SplitEntry]:
    """Parse a split CSV with the header ``folder_name,label,split`` (UCF101, miniUCF, HMDB51).

    Raises:
        TemporalCondenseError: the file is missing, a column is missing, or a row has an empty field
            (the message names the file and line).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
        >>> _ = p.write_text("folder_name,label,split\\nv_a,Walk,train\\n")
        >>> read_split_csv(p)
        [SplitEntry(folder_name='v_a', label='Walk', split='train')]
    """
    file = Path(path)
    if not file.is_file():
        raise TemporalCondenseError(f"split file not found: {file}")
    with open(file, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = tuple(reader.fieldnames or ())
        absent = [c for c in SPLIT_COLUMNS if c not in header]
        if absent:
            raise TemporalCondenseError(
                f"split file {file} must have columns {SPLIT_COLUMNS}, missing {tuple(absent)} (header {header})"
            )
        rows = []
        for row in reader:
            values = [(row.get(c) or "").strip() for c in SPLIT_COLUMNS]
            if not all(values):
                raise TemporalCondenseError(
                    f"split file {file} line {reader.line_num}: empty field in {dict(zip(SPLIT_COLUMNS, values))}"
                )
            rows.append(SplitEntry(*values))
    if not rows:
        raise TemporalCondenseError(f"split file {file} has no rows")
    return rows


def read_ssv2_annotations(annotations: PathLike, class_list: PathLike) -> tuple[list[tuple[str, int]], tuple[str, ...]]:
    """Parse SSv2 ``annot_<split>.json`` and ``class_list.json``.

    Returns:
        ``([(video id, class index), ...], class names)``.

    Raises:
        TemporalCondenseError: a file is missing or malformed, or a ``class`` is absent from the class list
            (the message names the annotation file and the video id).
    """
    classes_file, annot_file = Path(class_list), Path(annotations)
    names = _read_json(classes_file)
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise TemporalCondenseError(f"class list {classes_file} must be a non-empty JSON list of class names")
    index = {n: i for i, n in enumerate(names)}
    items = _read_json(annot_file)
    if not isinstance(items, list):
        raise TemporalCondenseError(f"annotation file {annot_file} must be a JSON list of {{'id', 'class'}} objects")
    out: list[tuple[str, int]] = []
    for k, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item or "class" not in item:
            raise TemporalCondenseError(
                f"annotation file {annot_file} entry {k} must have 'id' and 'class', got {item!r}"
            )
        vid, cls = str(item["id"]), item["class"]
        if isinstance(cls, str) and cls in index:
            label = index[cls]
        elif isinstance(cls, int) and not isinstance(cls, bool) and 0 <= cls < len(names):
            label = cls
        elif isinstance(cls, str) and cls.isdigit() and int(cls) < len(names):
            label = int(cls)
        else:
            raise TemporalCondenseError(
                f"annotation file {annot_file}: class {cls!r} of video {vid!r} is absent from the class list "
                f"{classes_file} ({len(names)} classes)"
            )
        out.append((vid, label))
    return out, tuple(names)


def _read_json(file: Path) -> Any:
    if not file.is_file():
        raise TemporalCondenseError(f"file not found: {file}")
    try:
        with open(file, encoding="utf-8") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TemporalCondenseError(f"cannot parse JSON file {file}: {exc}") from None


class _CsvFrameDataset(FrameFolderDataset):
    """UCF101 / miniUCF / HMDB51: ``<root>/<frames_dir>/<folder_name>`` + a split CSV."""

    default_split_file: str = ""

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        *,
        split_file: PathLike | None = None,
        frames_dir: str = "jpegs_112",
        classes: Sequence[str] | None = None,
        frames: int = 16,
        **kwargs: Any,
    ) -> None:
        root = Path(root)
        file = Path(split_file) if split_file is not None else root / self.default_split_file
        rows = read_split_csv(file)
        available = tuple(sorted({r.split for r in rows}))
        check_choice(split, "split", available)
        names = tuple(classes) if classes is not None else tuple(sorted({r.label for r in rows}))
        index = {n: i for i, n in enumerate(names)}
        chosen = [r for r in rows if r.split == split]
        for r in chosen:
            if r.label not in index:
                raise TemporalCondenseError(
                    f"split file {file}: label {r.label!r} of {r.folder_name!r} is absent from the class list "
                    f"({len(names)} classes)"
                )
        self.split = split
        super().__init__(
            [root / frames_dir / r.folder_name for r in chosen],
            [index[r.label] for r in chosen],
            names,
            frames=frames,
            source=str(file),
            **kwargs,
        )


class UCF101(_CsvFrameDataset):
    """UCF101 split 1 (101 classes): ``<root>/jpegs_112/<folder>/frame*.jpg`` + ``ucf101_splits1.csv``.

    Args:
        root: Dataset folder (holding ``jpegs_112/`` and the split CSV).
        split: ``"train"`` or ``"test"`` (any value of the CSV's ``split`` column).
        split_file: Split CSV (default ``<root>/ucf101_splits1.csv``).
        frames_dir: Folder of frame folders under ``root``.
        classes: Class names (index = label); default the sorted labels of the whole CSV.
        frames: Frames per clip (published: 16).
        **kwargs: :class:`FrameFolderDataset` options (``size``, ``sampling``, ``stride``, ``flip``, ``short``,
            ``missing``, ``seed``, ``channels``).

    Shape:
        Item ``(video [frames, C, H, W] float32 in [0, 1], label)``.
    """

    default_split_file = "ucf101_splits1.csv"


class MiniUCF(_CsvFrameDataset):
    """miniUCF: the 50 UCF50 classes of UCF101 split 1 (split file ``ucf50_splits1.csv``); see :class:`UCF101`."""

    default_split_file = "ucf50_splits1.csv"


class HMDB51(_CsvFrameDataset):
    """HMDB51 (51 classes): ``<root>/jpegs_112/<folder>/...`` + ``hmdb51_splits.csv``; see :class:`UCF101`."""

    default_split_file = "hmdb51_splits.csv"


class SSv2(FrameFolderDataset):
    """Something-Something V2 (174 classes): ``<root>/frame/<id>/`` + ``class_list.json`` + ``annot_<split>.json``.

    Args:
        root: Dataset folder.
        split: ``"train"`` or ``"val"`` (selects ``annot_<split>.json``).
        annotations: Annotation JSON (default ``<root>/annot_<split>.json``).
        class_list: Class list JSON (default ``<root>/class_list.json``); all its classes are ``classes``.
        frames_dir: Folder of frame folders under ``root``.
        frames: Frames per clip (published: 8 frames of 64x64).
        **kwargs: :class:`FrameFolderDataset` options. Leave ``flip=False``: SSv2 classes such as
            "pushing something from left to right" change meaning under a flip.

    Shape:
        Item ``(video [frames, C, H, W] float32 in [0, 1], label)``.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        *,
        annotations: PathLike | None = None,
        class_list: PathLike | None = None,
        frames_dir: str = "frame",
        frames: int = 8,
        **kwargs: Any,
    ) -> None:
        root = Path(root)
        annot = Path(annotations) if annotations is not None else root / f"annot_{split}.json"
        clist = Path(class_list) if class_list is not None else root / "class_list.json"
        items, names = read_ssv2_annotations(annot, clist)
        self.split = split
        super().__init__(
            [root / frames_dir / vid for vid, _ in items],
            [y for _, y in items],
            names,
            frames=frames,
            source=str(annot),
            **kwargs,
        )


class Kinetics400(FrameFolderDataset):
    """Kinetics-400 as frame folders grouped by class: ``<root>/<split>/<class name>/<video>/``.

    Args:
        root: Dataset folder.
        split: Sub-folder (``"train"``, ``"val"``, ``"test"``).
        classes: Class names (index = label), e.g. the training classes when loading ``"val"``; default the
            sorted class folders of the split. A class folder absent from ``classes`` raises.
        frames: Frames per clip (published: 8 frames of 64x64).
        **kwargs: :class:`FrameFolderDataset` options.

    Shape:
        Item ``(video [frames, C, H, W] float32 in [0, 1], label)``.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        *,
        classes: Sequence[str] | None = None,
        frames: int = 8,
        **kwargs: Any,
    ) -> None:
        base = Path(root) / split
        if not base.is_dir():
            raise TemporalCondenseError(f"Kinetics-400 split folder not found: {base}")
        class_dirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not class_dirs:
            raise TemporalCondenseError(f"no class folders in {base}")
        names = tuple(classes) if classes is not None else tuple(p.name for p in class_dirs)
        if not names:
            raise ConfigError("classes must not be empty")
        index = {n: i for i, n in enumerate(names)}
        videos, labels = [], []
        for cdir in class_dirs:
            if cdir.name not in index:
                raise TemporalCondenseError(f"class folder {cdir} is absent from the class list ({len(names)} classes)")
            for v in sorted(p for p in cdir.iterdir() if p.is_dir() and not p.name.startswith(".")):
                videos.append(v)
                labels.append(index[cdir.name])
        self.split = split
        super().__init__(videos, labels, names, frames=frames, source=str(base), **kwargs)
