"""Your own clips in the generic class-folder layout: ``root/<class>/<clip>/<frames>``.

Every sub-folder of ``root`` is a class (sorted names give the labels), every sub-folder of a class is a clip,
and its image files are the frames (natural order, as :func:`~temporal_condense.data.list_frames`). The split
comes from a text file of ``<class>/<clip> <train|test>`` lines, or from a ratio: ``test_ratio`` of every
class's clips (at least one when the class has two or more) go to the test split, chosen from a seed.

Example:
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for c in ("jump", "walk"):
    ...     for k in range(3):
    ...         (root / c / f"clip{k}").mkdir(parents=True)
    ...         for t in range(4):
    ...             Image.new("RGB", (8, 8)).save(root / c / f"clip{k}" / f"{t}.jpg")
    >>> train = ClassFolders(root, "train", test_ratio=0.34, frames=4)
    >>> test = ClassFolders(root, "test", test_ratio=0.34, frames=4)
    >>> train.classes, len(train), len(test), tuple(train[0][0].shape)
    (('jump', 'walk'), 4, 2, (4, 3, 8, 8))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from temporal_condense.data.frames import FrameFolderDataset
from temporal_condense.errors import ConfigError
from temporal_condense.seeds import seeded_generator

__all__ = ["ClassFolders", "class_folder_split"]

SPLITS: tuple[str, ...] = ("train", "test")


def _subfolders(path: Path) -> list[str]:
    return sorted(n for n in os.listdir(path) if not n.startswith(".") and (path / n).is_dir())


def class_folder_split(
    root: str | os.PathLike[str],
    *,
    split_file: str | os.PathLike[str] | None = None,
    test_ratio: float = 0.2,
    seed: int = 0,
) -> tuple[tuple[str, ...], dict[str, list[tuple[Path, int]]]]:
    """Classes and the ``{"train": [(clip folder, label)], "test": [...]}`` split of a class-folder layout.

    Args:
        root: The folder holding one sub-folder per class.
        split_file: Lines ``<class>/<clip> <train|test>`` (blank lines and ``#`` comments skipped); clips not
            listed are left out.
        test_ratio: Without ``split_file``: share of each class's clips for testing (``0 < test_ratio < 1``).
        seed: Without ``split_file``: seeds the choice of test clips.

    Returns:
        ``(classes, split)``.

    Raises:
        ConfigError: ``root`` missing or without classes, a class without clips, a bad split-file line, or an
            empty split.
    """
    base = Path(root)
    if not base.is_dir():
        raise ConfigError(f"root must be an existing folder of class folders, got {str(base)!r}")
    classes = tuple(_subfolders(base))
    if not classes:
        raise ConfigError(f"root {str(base)!r} holds no class folders (expected root/<class>/<clip>/<frames>)")
    split: dict[str, list[tuple[Path, int]]] = {"train": [], "test": []}
    if split_file is not None:
        index = {c: i for i, c in enumerate(classes)}
        path = Path(split_file)
        if not path.is_file():
            raise ConfigError(f"split_file must be an existing text file, got {str(path)!r}")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = text.split()
            if len(parts) != 2 or parts[1] not in SPLITS or parts[0].count("/") != 1:
                raise ConfigError(
                    f"{str(path)!r} line {number} must read '<class>/<clip> <train|test>', got {line.strip()!r}"
                )
            cls, clip = parts[0].split("/")
            if cls not in index:
                raise ConfigError(f"{str(path)!r} line {number} names class {cls!r}, not a folder of {str(base)!r}")
            split[parts[1]].append((base / cls / clip, index[cls]))
    else:
        if not 0.0 < float(test_ratio) < 1.0:
            raise ConfigError(f"test_ratio must be in (0, 1), got {test_ratio!r}")
        for label, cls in enumerate(classes):
            clips = _subfolders(base / cls)
            if not clips:
                raise ConfigError(f"class folder {str(base / cls)!r} holds no clip folders")
            n_test = max(1, round(test_ratio * len(clips))) if len(clips) > 1 else 0
            order = seeded_generator(seed, "class_folder_split", cls)
            chosen = set(torch.randperm(len(clips), generator=order)[:n_test].tolist())
            for i, clip in enumerate(clips):
                split["test" if i in chosen else "train"].append((base / cls / clip, label))
    for name, entries in split.items():
        if not entries:
            raise ConfigError(f"the {name} split of {str(base)!r} is empty")
    return classes, split


class ClassFolders(FrameFolderDataset):
    """One split of a class-folder layout as a :class:`~temporal_condense.data.FrameFolderDataset`.

    Args:
        root: ``root/<class>/<clip>/<frames>``.
        split: ``"train"`` or ``"test"``.
        split_file: See :func:`class_folder_split`.
        test_ratio: See :func:`class_folder_split`.
        split_seed: Seeds the ratio split (the same for both splits, so they never overlap).
        **kwargs: :class:`~temporal_condense.data.FrameFolderDataset` options (``frames``, ``size``,
            ``channels``, ``sampling``, ``seed``...).

    Shape:
        Item ``(video [T, C, H, W] float32 in [0, 1], label)``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        split_file: str | os.PathLike[str] | None = None,
        test_ratio: float = 0.2,
        split_seed: int = 0,
        **kwargs: Any,
    ) -> None:
        if split not in SPLITS:
            raise ConfigError(f"split must be one of {SPLITS}, got {split!r}")
        classes, entries = class_folder_split(root, split_file=split_file, test_ratio=test_ratio, seed=split_seed)
        source = str(split_file) if split_file is not None else f"{root} (test_ratio={test_ratio})"
        super().__init__(
            [p for p, _ in entries[split]], [y for _, y in entries[split]], classes, source=source, **kwargs
        )
