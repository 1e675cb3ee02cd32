"""Atomic safetensors artifacts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import temporal_condense as tc
from temporal_condense.io import atomic_write, load_artifact, read_artifact_header, save_artifact


def test_roundtrip(tmp_path: Path) -> None:
    tensors = {"a": torch.randn(3, 4), "b": torch.arange(5), "h": torch.randn(2, dtype=torch.float16)}
    path = save_artifact(tmp_path / "sub" / "x.safetensors", tensors, kind="demo", config={"n": 3, "s": "x"})
    loaded, config = load_artifact(path, kind="demo")
    assert config == {"n": 3, "s": "x"}
    for name, tensor in tensors.items():
        assert torch.equal(loaded[name], tensor) and loaded[name].dtype == tensor.dtype
    assert read_artifact_header(path)["kind"] == "demo"
    assert [p.name for p in path.parent.iterdir()] == ["x.safetensors"]  # no temp file left


def test_views_are_saved_as_copies(tmp_path: Path) -> None:
    base = torch.randn(4, 4)
    save_artifact(tmp_path / "v.safetensors", {"t": base.t(), "row": base[0]}, kind="demo")
    loaded, _ = load_artifact(tmp_path / "v.safetensors")
    assert torch.equal(loaded["t"], base.t()) and torch.equal(loaded["row"], base[0])


def test_nan_is_refused_on_load(tmp_path: Path) -> None:
    path = save_artifact(tmp_path / "n.safetensors", {"w": torch.tensor([1.0, float("nan")])}, kind="demo")
    with pytest.raises(tc.ShapeError, match=r"tensor 'w' of artifact .* must be finite, got 1 NaN/inf value"):
        load_artifact(path)


def test_wrong_kind_missing_file_and_foreign_file(tmp_path: Path) -> None:
    path = save_artifact(tmp_path / "k.safetensors", {"w": torch.ones(1)}, kind="demo")
    with pytest.raises(tc.ConfigError, match=r"must be of kind 'other', got 'demo'"):
        load_artifact(path, kind="other")
    with pytest.raises(tc.ConfigError, match=r"must be an existing artifact file, got .*missing"):
        load_artifact(tmp_path / "missing.safetensors")
    save_file({"w": torch.ones(1)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(tc.ConfigError, match=r"without a temporal_condense header"):
        load_artifact(tmp_path / "plain.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(tc.ConfigError, match=r"is not a readable safetensors file"):
        load_artifact(tmp_path / "junk.safetensors")


def test_unserializable_config(tmp_path: Path) -> None:
    with pytest.raises(tc.ConfigError, match=r"config of artifact 'demo' must be JSON-serializable"):
        save_artifact(tmp_path / "c.safetensors", {}, kind="demo", config={"x": object()})


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old")

    def failing(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(target, failing)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.txt"]
