"""Pins the public API: names exported from the top level and from each subpackage."""

from __future__ import annotations

import importlib

import temporal_condense as tc

TOP_LEVEL = {
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
}


def test_top_level_names_are_pinned() -> None:
    assert set(tc.__all__) == TOP_LEVEL
    for name in tc.__all__:
        assert hasattr(tc, name), name


def test_error_hierarchy() -> None:
    assert issubclass(tc.TemporalCondenseError, ValueError)
    assert issubclass(tc.ShapeError, tc.TemporalCondenseError)
    assert issubclass(tc.ConfigError, tc.TemporalCondenseError)
    assert issubclass(tc.TensorOpError, tc.TemporalCondenseError) and issubclass(tc.TensorOpError, AttributeError)


def test_synthetic_sets_share_the_protocol() -> None:
    assert issubclass(tc.SyntheticVideos, tc.SyntheticSet)
    assert issubclass(tc.DynamicMemoryBlock, tc.SyntheticSet)
    for method in (
        "forward",
        "class_videos",
        "export",
        "as_dataset",
        "optimizer",
        "param_groups",
        "storage_bytes",
        "save",
        "load",
        "register_render_hook",
        "__len__",
    ):
        assert callable(getattr(tc.SyntheticSet, method)), method


def test_subpackages_export_what_they_list() -> None:
    for module in ("models", "data", "losses", "static", "hooks", "mtt"):
        mod = importlib.import_module(f"temporal_condense.{module}")
        for name in getattr(mod, "__all__", []):
            assert hasattr(mod, name), f"temporal_condense.{module}.{name}"


def test_models_registry_names() -> None:
    from temporal_condense.models import MODEL_NAMES

    assert set(MODEL_NAMES) == {
        "ConvNet",
        "ConvNet3D",
        "VideoConvNetMean",
        "VideoConvNetMLP",
        "VideoConvNetLSTM",
        "VideoConvNetRNN",
        "VideoConvNetGRU",
    }
