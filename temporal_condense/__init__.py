"""temporal-condense: temporal condensation for dataset distillation of videos.

Public API (see ``docs/``)::

    import temporal_condense as tc

    interp = tc.Interpolator(frames=16, mode="linear")
"""

from __future__ import annotations

from temporal_condense.errors import ConfigError, ShapeError, TemporalCondenseError
from temporal_condense.interpolator import Interpolator, interpolate, interpolation_matrix
from temporal_condense.matcher import SegmentedMatcher

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Interpolator",
    "SegmentedMatcher",
    "ShapeError",
    "TemporalCondenseError",
    "__version__",
    "interpolate",
    "interpolation_matrix",
]
