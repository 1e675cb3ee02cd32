"""Tests of the synthetic-set protocol (SyntheticSet) and the SyntheticVideos baseline."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from temporal_condense.errors import ConfigError, ShapeError, TemporalCondenseError
from temporal_condense.synthetic import (
    SyntheticSet,
    SyntheticVideos,
    SyntheticVideosConfig,
    build_config,
)


def small(**kw: object) -> SyntheticVideos:
    args: dict[str, object] = {"num_classes": 3, "videos_per_class": 2, "frames": 5, "size": (4, 3)}
    args.update(kw)
    return SyntheticVideos(seed=0, **args)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- rendering
def test_shapes_labels_contiguous() -> None:
    synset = small()
    assert isinstance(synset, SyntheticSet)
    assert len(synset) == 6
    videos, labels = synset(torch.tensor([0, 1, 2, 5]))
    assert videos.shape == (4, 5, 3, 4, 3)
    assert videos.is_contiguous()
    assert labels.dtype == torch.int64
    assert labels.tolist() == [0, 0, 1, 2]
    all_videos, all_labels = synset()
    assert all_videos.shape == (6, 5, 3, 4, 3)
    assert all_labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert (synset.num_classes, synset.videos_per_class, synset.frames, synset.channels, synset.size) == (
        3,
        2,
        5,
        3,
        (4, 3),
    )


def test_plain_baseline_is_the_stored_tensor() -> None:
    synset = small()
    videos, _ = synset([4, 1])
    torch.testing.assert_close(videos, synset.videos.detach()[[4, 1]], rtol=0, atol=0)


def test_key_frames_match_plain_linear_interpolation() -> None:
    synset = small(frames=7, key_frames=3)
    assert synset.videos.shape == (6, 3, 3, 4, 3)
    videos, _ = synset(torch.arange(6))
    # Plain PyTorch reference: 1-D linear interpolation along time, align_corners=True.
    stored = synset.videos.detach()  # [N, 3, C, H, W]
    n, t, c, h, w = stored.shape
    flat = stored.permute(0, 2, 3, 4, 1).reshape(n * c * h * w, 1, t)
    ref = F.interpolate(flat, size=7, mode="linear", align_corners=True)
    ref = ref.reshape(n, c, h, w, 7).permute(0, 4, 1, 2, 3)
    assert (videos - ref).abs().max().item() <= 1e-6


def test_gradcheck_float64() -> None:
    synset = small(frames=4, key_frames=2, size=(2, 2), num_classes=2, videos_per_class=1).double()
    params = synset.videos.detach().clone().requires_grad_(True)

    def render(v: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(synset, {"videos": v}, (torch.tensor([1, 0]),))[0]

    assert torch.autograd.gradcheck(render, (params,))


def test_init_tensor_and_seed_determinism() -> None:
    a, b, c = small(), small(), SyntheticVideos(3, 2, 5, (4, 3), seed=1)
    torch.testing.assert_close(a.videos, b.videos, rtol=0, atol=0)
    assert not torch.equal(a.videos, c.videos)
    init = torch.rand(6, 5, 3, 4, 3)
    d = SyntheticVideos(3, 2, 5, (4, 3), init=init)
    torch.testing.assert_close(d.videos.detach(), init, rtol=0, atol=0)
    with pytest.raises(ShapeError, match=r"init must have shape .*\(6, 2, 3, 4, 3\), got \(6, 5, 3, 4, 3\)"):
        SyntheticVideos(3, 2, 5, (4, 3), key_frames=2, init=init)
    with pytest.raises(ShapeError, match="init must be finite"):
        SyntheticVideos(3, 2, 5, (4, 3), init=torch.full((6, 5, 3, 4, 3), float("nan")))


# ------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("indices", "pattern"),
    [
        (torch.tensor([0.0, 1.0]), "indices must be an integer tensor .*got dtype torch.float32"),
        (torch.tensor([True, False]), "indices must be an integer tensor .*torch.bool"),
        (torch.tensor([[0, 1]]), "indices must be a 1-D tensor .*got 2-D"),
        (torch.tensor([0, 6]), r"indices must lie in \[0, 6\) .*got 6"),
        ([-1, 0], r"indices must lie in \[0, 6\) .*got -1"),
        ([], "indices must not be empty"),
        ([0, 1.5], r"indices must contain Python ints, got 1.5"),
        ("abc", "indices must contain Python ints"),
    ],
)
def test_index_errors(indices: object, pattern: str) -> None:
    with pytest.raises(ShapeError, match=pattern):
        small()(indices)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"videos_per_class": 0}, "videos_per_class: Input should be greater than or equal to 1, got 0"),
        ({"num_classes": -2}, "num_classes: .*got -2"),
        ({"frames": 4, "key_frames": 5}, r"key_frames \(N_syn\) must be <= frames \(N_real\) = 4, got 5"),
        ({"mode": "bilinear"}, "mode must be one of .*got 'bilinear'"),
        ({"size": (4,)}, "size"),
        ({"frames": 2.0}, "frames: .*got 2.0"),
    ],
)
def test_config_errors(kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        small(**kwargs)


def test_config_typo_and_frozen() -> None:
    data = {"num_classes": 2, "videos_per_class": 1, "frames": 4, "size": (8, 8), "key_frame": 2}
    with pytest.raises(ConfigError, match=r"unknown config key 'key_frame' .*valid keys: .*key_frames"):
        build_config(SyntheticVideosConfig, data)
    cfg = small().config
    assert cfg.key_frames == 5
    with pytest.raises(Exception, match="frozen"):
        cfg.frames = 3  # type: ignore[misc]
    assert issubclass(ConfigError, TemporalCondenseError) and issubclass(ConfigError, ValueError)


# ------------------------------------------------------------------------------------------- protocol
def test_class_videos() -> None:
    synset = small()
    videos = synset.class_videos(2)
    torch.testing.assert_close(videos, synset([4, 5])[0], rtol=0, atol=0)
    assert synset.class_videos(torch.tensor(0)).shape == (2, 5, 3, 4, 3)
    with pytest.raises(ConfigError, match=r"c \(class index\) must lie in \[0, 3\), got 3"):
        synset.class_videos(3)
    with pytest.raises(ConfigError, match=r"c \(class index\) must be an int, got 1.0"):
        synset.class_videos(1.0)  # type: ignore[arg-type]


def test_render_hooks_order_remove_and_export_skips_them() -> None:
    synset = small()
    calls: list[str] = []

    def plus_one(v: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append("plus")
        return v + 1, y

    def times_two(v: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append("times")
        return v * 2, y + 10

    h1 = synset.register_render_hook(plus_one)
    h2 = synset.register_render_hook(times_two)
    raw = synset.videos.detach()[[0]]
    videos, labels = synset([0])
    torch.testing.assert_close(videos, (raw + 1) * 2)
    assert labels.tolist() == [10]
    assert calls == ["plus", "times"]
    exported, exported_labels = synset.export()
    torch.testing.assert_close(exported, synset.videos.detach(), rtol=0, atol=0)
    assert not exported.requires_grad and exported_labels.tolist() == [0, 0, 1, 1, 2, 2]
    h1.remove()
    h2.remove()
    torch.testing.assert_close(synset([0])[0], raw, rtol=0, atol=0)

    synset.register_render_hook(lambda v, y: v)  # type: ignore[arg-type, return-value]
    with pytest.raises(ShapeError, match=r"must return a tuple \(videos, labels\) of tensors, got Tensor"):
        synset([0])
    with pytest.raises(ConfigError, match="fn must be callable"):
        synset.register_render_hook(3)  # type: ignore[arg-type]


def test_as_dataset_snapshot_and_batches() -> None:
    synset = small()
    synset.register_render_hook(lambda v, y: (v * 0, y))
    data = synset.as_dataset(seed=0)
    assert len(data) == 6
    video, label = data[3]
    assert video.shape == (5, 3, 4, 3) and label == 1
    torch.testing.assert_close(video, synset.videos.detach()[3], rtol=0, atol=0)  # no hooks
    with torch.no_grad():
        synset.videos.add_(1.0)  # later training does not change the snapshot
    torch.testing.assert_close(data[3][0], synset.videos.detach()[3] - 1.0)
    loader = torch.utils.data.DataLoader(data, batch_size=4, shuffle=False)
    x, y = next(iter(loader))
    assert x.shape == (4, 5, 3, 4, 3) and y.tolist() == [0, 0, 1, 1]
    assert not x.requires_grad


def test_param_groups_and_optimizer() -> None:
    synset = small()
    groups = synset.param_groups(lr_videos=10.0)
    assert [(g["name"], g["lr"]) for g in groups] == [("videos", 10.0)]
    assert groups[0]["params"][0] is synset.videos
    syn_lr = torch.tensor(0.01, requires_grad=True)
    opt = synset.optimizer(syn_lr=syn_lr, lr_lr=1e-5, lr_videos=100.0)
    assert isinstance(opt, torch.optim.SGD)
    assert [g["lr"] for g in opt.param_groups] == [100.0, 1e-5]
    assert opt.param_groups[0]["momentum"] == 0.95
    adam = synset.optimizer(torch.optim.Adam, momentum=None, lr_videos=0.1, betas=(0.5, 0.9))
    assert adam.param_groups[0]["betas"] == (0.5, 0.9)
    with pytest.raises(ConfigError, match=r"unknown learning-rate argument 'lr_static' .*valid: \('lr', 'lr_videos'\)"):
        synset.param_groups(lr_static=1.0)
    with pytest.raises(ConfigError, match=r"lr_videos must be a positive number, got -1.0"):
        synset.param_groups(lr_videos=-1.0)
    with pytest.raises(ConfigError, match="syn_lr must be a leaf tensor with requires_grad=True"):
        synset.param_groups(syn_lr=torch.tensor(0.01))


def test_one_optimizer_step_changes_videos() -> None:
    synset = small()
    opt = synset.optimizer(lr_videos=1.0, momentum=None)
    before = synset.videos.detach().clone()
    videos, _ = synset([0, 3])
    videos.square().sum().backward()
    opt.step()
    changed = (synset.videos.detach() != before).flatten(1).any(1)
    assert changed.tolist() == [True, False, False, True, False, False]


# ------------------------------------------------------------------------------------------- storage
def test_storage_bytes_by_hand() -> None:
    synset = small(key_frames=2)  # 6 videos * 2 frames * 3 * 4 * 3 float32
    assert synset.storage_bytes() == 6 * 2 * 3 * 4 * 3 * 4
    assert synset.double().storage_bytes() == 6 * 2 * 3 * 4 * 3 * 8


def test_save_load_roundtrip(tmp_path: object) -> None:
    path = f"{tmp_path}/set.safetensors"
    synset = small(key_frames=3, mode="cubic").double()
    synset.save(path)
    loaded = SyntheticVideos.load(path)
    assert loaded.config == synset.config
    assert loaded.videos.dtype == torch.float64
    torch.testing.assert_close(loaded.videos, synset.videos, rtol=0, atol=0)
    torch.testing.assert_close(loaded([2, 3])[0], synset([2, 3])[0], rtol=0, atol=0)
    header = json.loads(load_file_metadata(path))
    assert header["kind"] == "SyntheticVideos" and header["config"]["key_frames"] == 3


def load_file_metadata(path: str) -> str:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        return str((handle.metadata() or {})["temporal_condense"])


def test_load_errors(tmp_path: object) -> None:
    path = f"{tmp_path}/set.safetensors"
    small().save(path)
    tensors = load_file(path)
    meta = {"temporal_condense": load_file_metadata(path)}
    tensors["videos"][0, 0, 0, 0, 0] = float("nan")
    bad = f"{tmp_path}/nan.safetensors"
    save_file(tensors, bad, metadata=meta)
    with pytest.raises(ShapeError, match=r"tensor 'videos' of artifact .* must be finite, got 1 NaN/inf"):
        SyntheticVideos.load(bad)

    from temporal_condense.dynamic_memory import DynamicMemoryBlock

    with pytest.raises(ConfigError, match="must be of kind 'DynamicMemoryBlock', got 'SyntheticVideos'"):
        DynamicMemoryBlock.load(path)

    header = json.loads(meta["temporal_condense"])
    header["config"]["key_frame"] = 2
    typo = f"{tmp_path}/typo.safetensors"
    save_file(load_file(path), typo, metadata={"temporal_condense": json.dumps(header)})
    with pytest.raises(ConfigError, match="unknown config key 'key_frame'"):
        SyntheticVideos.load(typo)

    header = json.loads(meta["temporal_condense"])
    header["config"]["num_classes"] = 4
    wrong = f"{tmp_path}/wrong.safetensors"
    save_file(load_file(path), wrong, metadata={"temporal_condense": json.dumps(header)})
    with pytest.raises(
        ConfigError, match=r"tensor 'videos' .* must have shape \(8, 5, 3, 4, 3\), got \(6, 5, 3, 4, 3\)"
    ):
        SyntheticVideos.load(wrong)
    with pytest.raises(ConfigError, match="not found"):
        SyntheticVideos.load(f"{tmp_path}/missing.safetensors")


def test_dataset_index_must_be_an_integer() -> None:
    ds = SyntheticVideos(2, 1, frames=2, size=(2, 2)).as_dataset(seed=0)
    with pytest.raises(ConfigError, match=r"index must be an integer, got 0.5 \(float\)"):
        ds[0.5]  # type: ignore[index]
    assert ds[torch.tensor(1)][1] == 1
