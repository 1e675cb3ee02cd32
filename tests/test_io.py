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


# ------------------------------------------------------------------ issue 9: files and headers
def _with_umask(mask: int) -> int:
    return os.umask(mask)


def test_new_files_respect_the_umask_and_existing_files_keep_their_mode(tmp_path: Path) -> None:
    old = _with_umask(0o027)
    try:
        path = save_artifact(tmp_path / "m.safetensors", {"w": torch.ones(1)}, kind="demo")
        assert (path.stat().st_mode & 0o777) == 0o640
        os.chmod(path, 0o604)
        save_artifact(path, {"w": torch.zeros(1)}, kind="demo")
        assert (path.stat().st_mode & 0o777) == 0o604
        _with_umask(0o022)
        text = atomic_write(tmp_path / "t.txt", lambda tmp: Path(tmp).write_text("x"))
        assert (text.stat().st_mode & 0o777) == 0o644
    finally:
        _with_umask(old)


def test_leftovers_of_a_killed_write_are_removed_by_the_next_write(tmp_path: Path) -> None:
    (tmp_path / ".x.safetensors.ab12cd_9.tmp").write_bytes(b"\0" * 1000)  # what a kill -9 leaves behind
    (tmp_path / ".other.txt.zzzzzzzz.tmp").write_bytes(b"keep")  # another file's leftover: not ours to touch
    (tmp_path / "user.tmp").write_bytes(b"keep")
    save_artifact(tmp_path / "x.safetensors", {"w": torch.ones(1)}, kind="demo")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.txt.zzzzzzzz.tmp", "user.tmp", "x.safetensors"]
    from temporal_condense.io import remove_stale_temporaries

    assert [p.name for p in remove_stale_temporaries(tmp_path)] == [".other.txt.zzzzzzzz.tmp"]


@pytest.mark.parametrize("kind", ["parent_is_file", "directory", "empty"])
def test_unwritable_targets_are_named_errors(tmp_path: Path, kind: str) -> None:
    (tmp_path / "afile").write_text("x")
    target = {"parent_is_file": str(tmp_path / "afile" / "x.safetensors"), "directory": str(tmp_path), "empty": ""}[
        kind
    ]
    message = {
        "parent_is_file": r"its parent .*afile' is a file",
        "directory": r"got an existing folder",
        "empty": r"path must name a file, got ''",
    }[kind]
    with pytest.raises(tc.ConfigError, match=message):
        save_artifact(target, {"w": torch.ones(1)}, kind="demo")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_genuinely_unwritable_folder_is_an_oserror_naming_the_path(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o555)
    try:
        with pytest.raises(PermissionError, match=r"cannot write .*locked/x.safetensors"):
            save_artifact(locked / "x.safetensors", {"w": torch.ones(1)}, kind="demo")
    finally:
        os.chmod(locked, 0o755)


def _raw_header(path: Path, text: str) -> None:
    save_file({"w": torch.ones(1)}, str(path), metadata={"temporal_condense": text})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"must be JSON"),
        ('["kind", "demo"]', r"must be a JSON object, got list"),
        ('{"kind": "demo", "version": "v2", "config": {}}', r"field version: .*got 'v2'"),
        ('{"kind": "demo", "version": 2, "config": {}}', r"field version: .*less than or equal to 1"),
        ('{"version": 1, "config": {}}', r"field kind: Field required"),
        ('{"kind": "demo", "version": 1, "config": [1]}', r"field config: .*dictionary"),
    ],
)
def test_damaged_headers_are_named_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "h.safetensors"
    _raw_header(path, text)
    with pytest.raises(tc.ConfigError, match=r"h\.safetensors.*" + message):
        load_artifact(path)


def test_load_on_unknown_or_missing_device_is_a_named_error(tmp_path: Path) -> None:
    path = save_artifact(tmp_path / "d.safetensors", {"w": torch.ones(1)}, kind="demo")
    with pytest.raises(tc.ConfigError, match=r"device must name a torch device .*'banana'"):
        load_artifact(path, device="banana")
    if not torch.cuda.is_available():
        with pytest.raises(tc.ConfigError, match=r"device 'cuda' is not available on this machine"):
            load_artifact(path, device="cuda")


def test_a_full_disk_is_an_oserror_naming_the_path_and_leaves_nothing(tmp_path: Path) -> None:
    import errno

    def full(tmp: str) -> None:
        Path(tmp).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", tmp)

    with pytest.raises(OSError, match=r"cannot write .*full\.bin': No space left on device") as info:
        atomic_write(tmp_path / "full.bin", full)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "full.bin")
    assert os.listdir(tmp_path) == []


def test_check_finite_is_exact_when_the_sum_overflows() -> None:
    from temporal_condense._checks import check_finite

    big = torch.full((4,), 3e38)  # finite values whose float32 sum overflows: not an error
    assert check_finite(big, "big") is big
    with pytest.raises(tc.ShapeError, match=r"x must be finite, got 2 NaN/inf value\(s\) of 4"):
        check_finite(torch.tensor([1.0, float("inf"), -float("inf"), 2.0]), "x")  # inf - inf: sum is NaN
    assert check_finite(torch.tensor([1, 2]), "ints") is not None
