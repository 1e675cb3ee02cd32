"""Property: for malformed input, only a ``TemporalCondenseError`` escapes the public entry points.

Hypothesis feeds each entry point a mix of valid and hostile values (wrong types, negative and fractional
counts, NaN/inf, tensors of the wrong rank or dtype or holding NaN, unknown names, damaged files). A call
may succeed (the draw happened to be valid) or raise :class:`TemporalCondenseError`; an ``OSError`` is
allowed only for a genuinely unwritable path and must then name the path. Anything else (``TypeError``,
``KeyError``, torch's ``RuntimeError``, a ``SafetensorError``...) fails the property.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file
from torch import nn

import temporal_condense as tc
from temporal_condense.data import load_frame
from temporal_condense.evaluate import evaluate
from temporal_condense.io import load_artifact, save_artifact
from temporal_condense.losses import dm_loss
from temporal_condense.models import get_model
from temporal_condense.mtt.experts import load_expert, read_published_buffer
from temporal_condense.static import StaticMemory

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
NAN, INF = float("nan"), float("inf")


def _video(shape: tuple[int, ...], fill: float | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    x = torch.rand(shape).to(dtype) if dtype.is_floating_point else torch.ones(shape, dtype=dtype)
    if fill is not None:
        x.view(-1)[0] = fill
    return x


TENSORS: list[Any] = [
    _video((2, 4, 1, 4, 4)),
    _video((2, 4, 1, 4, 4), NAN),
    _video((2, 4, 1, 4, 4), INF),
    _video((2, 4, 1, 4, 4), dtype=torch.int64),
    _video((2, 4, 1, 4, 4), dtype=torch.bool),
    _video((4, 1, 4, 4)),
    _video((4,)),
    _video((0, 4, 1, 4, 4)),
    torch.tensor(1.0),
    _video((2, 4, 1, 4, 4), dtype=torch.float64),
]
counts = st.sampled_from([-1, 0, 1, 2, 3, 4, 0.5, 2.9, NAN, "2", None, True])
video = st.sampled_from(TENSORS)
modes = st.sampled_from(["linear", "nearest", "cubic", "banana", "", None, 1])


def only_named_errors(fn: Callable[[], object]) -> None:
    """Run ``fn``; a TemporalCondenseError (or an OSError naming its path) is fine, anything else fails."""
    try:
        fn()
    except tc.TemporalCondenseError:
        pass
    except OSError as exc:  # only for a genuinely unwritable path, with our message
        assert "cannot " in str(exc) and exc.filename, f"raw OSError escaped: {exc!r}"


@SETTINGS
@given(x=video, frames=counts, mode=modes, layout=st.sampled_from(["BTCHW", "BCTHW", "btchw", 5]))
def test_interpolation(x: Any, frames: Any, mode: Any, layout: Any) -> None:
    only_named_errors(lambda: tc.interpolate(x, frames, mode, layout=layout))
    only_named_errors(lambda: tc.Interpolator(frames, mode)(x))


@SETTINGS
@given(
    t_in=counts,
    t_out=counts,
    mode=modes,
    dtype=st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool, "float32", None]),
    device=st.sampled_from([None, "cpu", "banana", "cuda:7", 3]),
)
def test_interpolation_matrix(t_in: Any, t_out: Any, mode: Any, dtype: Any, device: Any) -> None:
    only_named_errors(lambda: tc.interpolation_matrix(t_in, t_out, mode, dtype=dtype, device=device))


@SETTINGS
@given(
    real=video,
    syn=video,
    segments=counts,
    interpolator=modes,
    scope=st.sampled_from(["segment", "global", "x"]),
    reduction=st.sampled_from(["mean", "sum", "max"]),
)
def test_segmented_matcher(real: Any, syn: Any, segments: Any, interpolator: Any, scope: Any, reduction: Any) -> None:
    def run() -> None:
        matcher = tc.SegmentedMatcher(
            lambda r, s: F.mse_loss(r.mean(0), s.mean(0)),
            segments=segments,
            interpolator=interpolator,
            scope=scope,
            reduction=reduction,
        )
        matcher(real, syn)

    only_named_errors(run)


@SETTINGS
@given(
    num_classes=counts,
    vpc=counts,
    frames=counts,
    size=st.sampled_from([(4, 4), (0, 4), (4,), 4, "4x4", None, (2.5, 4)]),
    dynamic=st.sampled_from([None, 1, 2, 5, 0, 0.5]),
    pairing=st.sampled_from(["random", "fixed", "x"]),
    spv=st.sampled_from([None, 1, 2, 3, -1]),
    indices=st.sampled_from([None, [0], [0.5], [-100], [], torch.tensor([0]), torch.tensor([0.5]), "0", 0]),
    generator=st.sampled_from([None, 0, torch.Generator().manual_seed(0), "g"]),
    lr=st.sampled_from([1.0, 0.0, -1.0, INF, NAN, "1", None]),
    momentum=st.sampled_from([0.5, 0.0, -1, 1.5, NAN, INF, None, "0.9"]),
)
def test_synthetic_sets(
    num_classes: Any,
    vpc: Any,
    frames: Any,
    size: Any,
    dynamic: Any,
    pairing: Any,
    spv: Any,
    indices: Any,
    generator: Any,
    lr: Any,
    momentum: Any,
) -> None:
    def build() -> tc.SyntheticSet:
        if dynamic is None:
            return tc.SyntheticVideos(num_classes, vpc, frames, size)
        return tc.DynamicMemoryBlock(
            num_classes, vpc, frames, size, static="noise", dynamic_frames=dynamic, pairing=pairing,
            static_per_video=spv, seed=0,
        )

    synset: list[tc.SyntheticSet] = []
    only_named_errors(lambda: synset.append(build()))
    if not synset:
        return
    s = synset[0]
    only_named_errors(lambda: s(indices, generator))
    part = "videos" if isinstance(s, tc.SyntheticVideos) else "dynamic"
    only_named_errors(lambda: s.optimizer(momentum=momentum, **({} if lr is None else {f"lr_{part}": lr})))


@SETTINGS
@given(
    target=st.sampled_from(["", ".", "dir", "file/child.safetensors", "ok.safetensors", "new/sub/ok.safetensors"]),
    config=st.sampled_from([{}, {"n": 1}, {"bad": object()}, {"nan": NAN}, None]),
    load_device=st.sampled_from(["cpu", "banana", "cuda:3", torch.device("cpu"), 0.5]),
)
def test_artifact_writes_and_loads(target: str, config: Any, load_device: Any) -> None:
    root = Path(tempfile.mkdtemp())
    (root / "dir").mkdir()
    (root / "file").write_text("user data")
    path = target if target in ("", ".") else str(root / target)
    only_named_errors(lambda: save_artifact(path, {"w": torch.ones(2)}, kind="demo", config=config))
    assert (root / "file").read_text() == "user data"
    assert not [p for p in root.rglob("*.tmp")]
    if target.endswith("ok.safetensors") and Path(path).is_file():
        only_named_errors(lambda: load_artifact(path, kind="demo", device=load_device))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
headers = st.one_of(
    st.text(max_size=20),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["StaticMemory", "ExpertTrajectory", "DynamicMemoryBlock", 3]),
            "version": json_values,
        },
        optional={"config": json_values},
    ).map(json.dumps),
)


@SETTINGS
@given(header=headers, tensors=st.sampled_from(["images", "epoch_0", "dynamic", "int"]))
def test_damaged_artifact_headers(header: str, tensors: str) -> None:
    root = Path(tempfile.mkdtemp())
    path = root / "a.safetensors"
    payload = {tensors: torch.ones(2, 1, 2, 2)} if tensors != "int" else {"epoch_0": torch.ones(3, dtype=torch.int64)}
    save_file(payload, str(path), metadata={"temporal_condense": header})
    only_named_errors(lambda: load_artifact(path))
    only_named_errors(lambda: StaticMemory.load(path))
    only_named_errors(lambda: load_expert(path))
    only_named_errors(lambda: tc.DynamicMemoryBlock.load(path))
    only_named_errors(lambda: tc.SyntheticVideos.load(path))


@SETTINGS
@given(
    images=st.sampled_from([*TENSORS, _video((6, 1, 2, 2)), _video((6, 1, 2, 2), NAN)]),
    num_classes=counts,
    spc=counts,
)
def test_static_memory(images: Any, num_classes: Any, spc: Any) -> None:
    only_named_errors(lambda: StaticMemory(images, num_classes, spc))


class _Embed(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :3]


@SETTINGS
@given(
    real=video,
    syn=video,
    labels=st.sampled_from([torch.tensor([0, 1]), torch.tensor([0, 5]), torch.tensor([0.0, 1.0]), [0, 1], None]),
    num_classes=counts,
)
def test_dm_loss(real: Any, syn: Any, labels: Any, num_classes: Any) -> None:
    only_named_errors(lambda: dm_loss(_Embed(), real, labels, syn, labels, num_classes))


def _tiny(channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_classes))


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    train=st.sampled_from(TENSORS),
    labels=st.sampled_from([torch.tensor([0, 1]), torch.tensor([0, -1]), torch.tensor([0.0, 1.0]), torch.tensor([0])]),
    epochs=st.sampled_from([1, 0, -1, 0.5, NAN]),
    lr=st.sampled_from([0.01, 0.0, -1.0, INF, NAN]),
    batch=st.sampled_from([2, 0, -2, 1.5]),
)
def test_evaluate(train: Any, labels: Any, epochs: Any, lr: Any, batch: Any) -> None:
    test = (_video((2, 4, 1, 4, 4)), torch.tensor([0, 1]))
    only_named_errors(
        lambda: evaluate(
            (train, labels),
            test,
            model=_tiny,
            runs=1,
            epochs=epochs,
            lr=lr,
            batch_size=batch,
            progress=False,
            num_classes=2,
        )
    )


@SETTINGS
@given(
    name=st.sampled_from(["ConvNet3D", "ConvNet", "VideoConvNetGRU", "convnet3d", "", "banana", 3]),
    channels=counts,
    num_classes=counts,
    size=st.sampled_from([(8, 8), (64, 64), 8, (0, 8), "8", (8.5, 8)]),
    frames=counts,
)
def test_get_model(name: Any, channels: Any, num_classes: Any, size: Any, frames: Any) -> None:
    only_named_errors(lambda: get_model(name, channels, num_classes, size, frames))


@SETTINGS
@given(content=st.binary(max_size=64), structure=json_values)
def test_damaged_frames_and_published_buffers(content: bytes, structure: Any) -> None:
    root = Path(tempfile.mkdtemp())
    (root / "f.png").write_bytes(content)
    only_named_errors(lambda: load_frame(root / "f.png"))
    torch.save(structure, root / "replay_buffer_0.pt")
    only_named_errors(lambda: read_published_buffer(root / "replay_buffer_0.pt"))
    (root / "replay_buffer_1.pt").write_bytes(content)
    only_named_errors(lambda: read_published_buffer(root / "replay_buffer_1.pt"))


def test_property_helper_fails_on_plain_python_errors() -> None:
    """Control: the helper really rejects a raw error."""
    with pytest.raises(TypeError):
        only_named_errors(lambda: (_ for _ in ()).throw(TypeError("raw")))
    with pytest.raises(AssertionError, match="raw OSError escaped"):
        only_named_errors(lambda: (_ for _ in ()).throw(OSError("raw")))
    assert math.isnan(NAN) and os.sep


@SETTINGS
@given(text=st.text(max_size=60), structure=json_values)
def test_pipeline_configs_from_yaml_and_mappings(text: str, structure: Any) -> None:
    from temporal_condense.pipeline import PipelineConfig

    only_named_errors(lambda: PipelineConfig.from_yaml(text))
    only_named_errors(lambda: PipelineConfig.from_yaml(json.dumps(structure)))
    only_named_errors(lambda: PipelineConfig.from_dict(structure))
    sections = ("data", "static", "synthetic", "distill", "evaluation")
    for section in sections:
        only_named_errors(lambda section=section: PipelineConfig.from_dict({section: structure}))
