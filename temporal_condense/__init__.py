"""temporal-condense: temporal condensation for dataset distillation of videos.

The core (this namespace)::

    import temporal_condense as tc

    interp = tc.Interpolator(frames=16, mode="linear")      # [B, N_syn, C, H, W] -> [B, 16, C, H, W]
    synset = tc.DynamicMemoryBlock(num_classes=50, videos_per_class=1, frames=16, size=(112, 112), static=images)
    videos, labels = synset(indices)                        # contiguous [B, T, C, H, W], [B]
    matcher = tc.SegmentedMatcher(loss_fn, segments=4, interpolator=interp)

The kit lives in subpackages: :mod:`temporal_condense.models`, :mod:`temporal_condense.data`,
:mod:`temporal_condense.evaluate`, :mod:`temporal_condense.mtt`, :mod:`temporal_condense.losses`,
:mod:`temporal_condense.static`, :mod:`temporal_condense.hooks`, :mod:`temporal_condense.pipeline`,
:mod:`temporal_condense.augment` (the published DSA ``DiffAugment`` for videos).
"""

from __future__ import annotations

from temporal_condense.dynamic_memory import DynamicMemoryBlock, DynamicMemoryBlockConfig
from temporal_condense.errors import ConfigError, ShapeError, TemporalCondenseError, TensorOpError
from temporal_condense.interpolator import Interpolator, interpolate, interpolation_matrix
from temporal_condense.matcher import SegmentedMatcher
from temporal_condense.synthetic import SyntheticSet, SyntheticVideos, SyntheticVideosConfig

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DynamicMemoryBlock",
    "DynamicMemoryBlockConfig",
    "Interpolator",
    "SegmentedMatcher",
    "ShapeError",
    "SyntheticSet",
    "SyntheticVideos",
    "SyntheticVideosConfig",
    "TemporalCondenseError",
    "TensorOpError",
    "__version__",
    "interpolate",
    "interpolation_matrix",
]
