"""Video datasets: frame folders in the published layouts, temporal sampling, and the built-in ``MovingShapes``.

Every dataset is a torch ``Dataset`` whose item is ``(video float32 [T, C, H, W] in [0, 1], label int)``, with
``classes``, ``num_classes``, ``labels``, ``class_counts()``, ``preload(progress=True)`` and ``single_frame()``
(one random frame per clip, for stage-1 image distillation). Video files are read by :class:`VideoFileDataset`
or turned into frame folders by ``python -m temporal_condense.data.extract`` (PyAV, the ``video`` extra). See
``docs/data.md``.

Example:
    >>> from temporal_condense.data import MovingShapes
    >>> train = MovingShapes("train", frames=8, size=(24, 24), videos_per_class=2)
    >>> videos, labels = train.preload(progress=False)
    >>> videos.shape, labels.tolist()[:4]
    (torch.Size([16, 8, 3, 24, 24]), [0, 0, 1, 1])
"""

from __future__ import annotations

from temporal_condense.data.builtin import MOTIONS, SHAPES, MovingShapes, MovingShapesConfig
from temporal_condense.data.folders import ClassFolders, class_folder_split
from temporal_condense.data.frames import (
    IMAGE_EXTENSIONS,
    ClipConfig,
    FrameFolderDataset,
    SingleFrameView,
    VideoDataset,
    list_frames,
    load_frame,
    sample_indices,
)
from temporal_condense.data.kinetics import (
    Kinetics400CSV,
    KineticsEntry,
    kinetics_clip_name,
    read_broken_list,
    read_kinetics_csv,
    read_short_list,
)
from temporal_condense.data.published import (
    HMDB51,
    UCF101,
    Kinetics400,
    MiniUCF,
    SplitEntry,
    SSv2,
    read_split_csv,
    read_ssv2_annotations,
)
from temporal_condense.data.source import VideoSource
from temporal_condense.data.tensors import as_tensors, single_frames
from temporal_condense.data.video import (
    VIDEO_EXTENSIONS,
    VideoFileDataset,
    VideoInfo,
    list_videos,
    probe_video,
    read_frames,
    select_frames,
)

__all__ = [
    "HMDB51",
    "IMAGE_EXTENSIONS",
    "MOTIONS",
    "SHAPES",
    "UCF101",
    "VIDEO_EXTENSIONS",
    "ClassFolders",
    "ClipConfig",
    "FrameFolderDataset",
    "Kinetics400",
    "Kinetics400CSV",
    "KineticsEntry",
    "MiniUCF",
    "MovingShapes",
    "MovingShapesConfig",
    "SSv2",
    "SingleFrameView",
    "SplitEntry",
    "VideoDataset",
    "VideoFileDataset",
    "VideoInfo",
    "VideoSource",
    "as_tensors",
    "class_folder_split",
    "kinetics_clip_name",
    "list_frames",
    "list_videos",
    "load_frame",
    "probe_video",
    "read_broken_list",
    "read_frames",
    "read_kinetics_csv",
    "read_short_list",
    "read_split_csv",
    "read_ssv2_annotations",
    "sample_indices",
    "select_frames",
    "single_frames",
]
