"""Tests of DynamicMemoryBlock (static memory + dynamic memory + block H)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from temporal_condense.dynamic_memory import (
    AddBlock,
    ConcatBlock,
    DynamicMemoryBlock,
    DynamicMemoryBlockConfig,
    WarpBlock,
)
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.motion import warp
from temporal_condense.synthetic import SyntheticSet, build_config

H, W = 6, 5


def make(**kw: object) -> DynamicMemoryBlock:
    args: dict[str, object] = {"num_classes": 3, "videos_per_class": 1, "frames": 4, "size": (H, W), "seed": 0}
    args["static"] = "noise"
    args.update(kw)
    return DynamicMemoryBlock(**args)  # type: ignore[arg-type]


def published_render(
    static_syn: torch.Tensor,
    dynamic_syn: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    indices: torch.Tensor,
    vpc: int,
    spc: int,
    generator: torch.Generator,
    mode: str = "concat",
) -> torch.Tensor:
    """Plain-PyTorch transcription of the published formula (2 statics and 2 dynamics per video)."""
    label = indices // vpc
    idx = indices % vpc
    r_static = torch.randint(2, (indices.shape[0],), generator=generator)
    r_dynamic = torch.randint(2, (indices.shape[0],), generator=generator)
    static = static_syn[spc * label + 2 * idx + r_static]  # [B, 3, H, W]
    dynamic = dynamic_syn[label, 2 * idx + r_dynamic]  # [B, F, 1, H, W]
    f = dynamic.shape[1]
    static = static.repeat(f, 1, 1, 1, 1).permute(1, 2, 0, 3, 4)  # [B, 3, F, H, W]
    dynamic = dynamic.permute(0, 2, 1, 3, 4)  # [B, 1, F, H, W]
    x = torch.cat([static, dynamic], dim=1) if mode == "concat" else static + dynamic
    return F.conv3d(x, weight, bias, padding=1).permute(0, 2, 1, 3, 4)


# ------------------------------------------------------------------------------------------- published
@pytest.mark.parametrize("vpc", [1, 5])
def test_matches_published_formula(vpc: int) -> None:
    static = torch.randn(3 * 2 * vpc, 3, H, W)
    synset = make(videos_per_class=vpc, static=static)
    assert isinstance(synset, SyntheticSet)
    cfg = synset.config
    assert (cfg.static_per_class, cfg.dynamic_per_class, cfg.static_per_video, cfg.dynamic_per_video) == (
        2 * vpc,
        2 * vpc,
        2,
        2,
    )
    assert synset.dynamic.shape == (3, 2 * vpc, 4, 1, H, W)
    assert sum(p.numel() for p in synset.block.parameters()) == 327
    indices = torch.randperm(3 * vpc)
    videos, labels = synset(indices, generator=torch.Generator().manual_seed(7))
    ref = published_render(
        static,
        synset.dynamic.detach(),
        synset.block.encoder.weight.detach(),
        synset.block.encoder.bias.detach(),
        indices,
        vpc,
        2 * vpc,
        torch.Generator().manual_seed(7),
    )
    assert videos.shape == (3 * vpc, 4, 3, H, W) and videos.is_contiguous()
    assert (videos - ref).abs().max().item() <= 1e-6
    assert labels.tolist() == (indices // vpc).tolist()


def test_add_mode_matches_published_formula() -> None:
    synset = make(block="add")
    assert isinstance(synset.block, AddBlock)
    assert sum(p.numel() for p in synset.block.parameters()) == 3 * 3 * 27 + 3
    indices = torch.tensor([2, 0, 1])
    videos, _ = synset(indices, generator=torch.Generator().manual_seed(3))
    ref = published_render(
        synset.static,
        synset.dynamic.detach(),
        synset.block.encoder.weight.detach(),
        synset.block.encoder.bias.detach(),
        indices,
        1,
        2,
        torch.Generator().manual_seed(3),
        mode="add",
    )
    assert (videos - ref).abs().max().item() <= 1e-6


def test_slot_ownership_general_counts() -> None:
    # 3 video slots, 4 statics and 2 dynamics per class, 2 per video: slot v owns (2v + j) mod count.
    synset = make(videos_per_class=3, static_per_class=4, dynamic_per_class=2)
    gen = torch.Generator().manual_seed(0)
    seen_static: dict[int, set[int]] = {v: set() for v in range(3)}
    seen_dynamic: dict[int, set[int]] = {v: set() for v in range(3)}
    indices = torch.arange(9).repeat(30)
    s_idx, d_idx = synset.pair(indices, gen)
    for i, s, d in zip(indices.tolist(), s_idx.tolist(), d_idx.tolist()):
        c, v = divmod(i, 3)
        assert s // 4 == c
        seen_static[v].add(s % 4)
        seen_dynamic[v].add(d)
    assert seen_static == {0: {0, 1}, 1: {2, 3}, 2: {0, 1}}
    assert seen_dynamic == {0: {0, 1}, 1: {0, 1}, 2: {0, 1}}


def test_fixed_pairing_one_to_one_and_no_rng() -> None:
    synset = make(videos_per_class=2, pairing="fixed")
    cfg = synset.config
    assert (cfg.static_per_class, cfg.dynamic_per_class, cfg.static_per_video, cfg.dynamic_per_video) == (
        2,
        2,
        1,
        1,
    )
    s_idx, d_idx = synset.pair(torch.arange(6))
    assert s_idx.tolist() == [0, 1, 2, 3, 4, 5]
    assert d_idx.tolist() == [0, 1, 0, 1, 0, 1]
    state = torch.get_rng_state()
    a, _ = synset()
    assert torch.equal(state, torch.get_rng_state())
    torch.testing.assert_close(a, synset()[0], rtol=0, atol=0)


def test_random_pairing_is_reproducible_with_a_generator() -> None:
    synset = make(videos_per_class=2)
    idx = torch.arange(6).repeat(4)
    a, _ = synset(idx, generator=torch.Generator().manual_seed(1))
    b, _ = synset(idx, generator=torch.Generator().manual_seed(1))
    c, _ = synset(idx, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)
    torch.manual_seed(5)
    d, _ = synset(idx)
    torch.manual_seed(5)
    e, _ = synset(idx)
    torch.testing.assert_close(d, e, rtol=0, atol=0)


def test_construction_is_seeded() -> None:
    a, b, c = make(), make(), make(seed=1)
    for name in ("static", "dynamic", "block.encoder.weight"):
        assert torch.equal(a.state_dict()[name], b.state_dict()[name])
        assert not torch.equal(a.state_dict()[name], c.state_dict()[name])


# ------------------------------------------------------------------------------------------- variants
def test_fewer_dynamic_frames_are_interpolated_before_the_block() -> None:
    synset = make(frames=7, dynamic_frames=3, pairing="fixed")
    assert synset.dynamic.shape == (3, 1, 3, 1, H, W)
    videos, _ = synset()
    dyn = synset.dynamic.detach()[:, 0]  # [3, 3, 1, H, W]
    flat = dyn.permute(0, 2, 3, 4, 1).reshape(-1, 1, 3)
    dyn7 = F.interpolate(flat, size=7, mode="linear", align_corners=True)
    dyn7 = dyn7.reshape(3, 1, H, W, 7).permute(0, 4, 1, 2, 3)
    static = synset.static[[0, 1, 2]].unsqueeze(1).expand(3, 7, 3, H, W)
    x = torch.cat([static, dyn7], 2).permute(0, 2, 1, 3, 4)
    w, bias = synset.block.encoder.weight.detach(), synset.block.encoder.bias.detach()
    ref = F.conv3d(x, w, bias, padding=1).permute(0, 2, 1, 3, 4)
    assert (videos - ref).abs().max().item() <= 1e-6
    full = make(frames=7)
    assert synset.storage_bytes() < full.storage_bytes()


class ScaleBlock(nn.Module):
    """A user block: static * (1 + a * dynamic)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.5))

    def forward(self, static: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:
        return static * (1 + self.a * dynamic)


def test_custom_block_and_multichannel_dynamics() -> None:
    synset = make(block=ScaleBlock(), dynamic_channels=3, pairing="fixed")
    assert synset.config.block == "custom"
    assert synset.config.block_class is not None and synset.config.block_class.endswith("ScaleBlock")
    videos, _ = synset([1])
    ref = synset.static[1] * (1 + 0.5 * synset.dynamic.detach()[1, 0])
    torch.testing.assert_close(videos[0], ref)
    bad = make(block=nn.Identity())
    with pytest.raises(TypeError):
        bad([0])
    wrong = make(block=ScaleBlock(), dynamic_channels=1)
    wrong.block.forward = lambda s, d: s[:, :2]  # type: ignore[method-assign]
    with pytest.raises(ShapeError, match=r"block output must have shape \[B, T, C, H, W\] = \(1, 4, 3, 6, 5\)"):
        wrong([0])
    concat = ConcatBlock(3, 2)
    assert concat(torch.randn(2, 3, 3, 4, 4), torch.randn(2, 3, 2, 4, 4)).shape == (2, 3, 3, 4, 4)


def test_gradcheck_float64_dynamic_and_block() -> None:
    synset = make(num_classes=2, frames=3, size=(3, 3), dynamic_frames=2).double()
    dyn = synset.dynamic.detach().clone().requires_grad_(True)
    weight = synset.block.encoder.weight.detach().clone().requires_grad_(True)
    bias = synset.block.encoder.bias.detach().clone().requires_grad_(True)
    idx = torch.tensor([1, 0])

    def render(d: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        params = {"dynamic": d, "block.encoder.weight": w, "block.encoder.bias": b}
        gen = torch.Generator().manual_seed(0)
        return torch.func.functional_call(synset, params, (idx, gen))[0]

    # fast_mode checks a random projection of the Jacobian (the full one needs ~800 float64 renders).
    assert torch.autograd.gradcheck(render, (dyn, weight, bias), fast_mode=True)
    assert torch.autograd.gradcheck(lambda d: render(d, weight.detach(), bias.detach()), (dyn,))


def test_gradients_flow_to_trainable_parts_only() -> None:
    synset = make()
    videos, _ = synset()
    videos.sum().backward()
    assert synset.dynamic.grad is not None and synset.block.encoder.weight.grad is not None
    assert not synset.static.requires_grad and synset.static.grad is None
    trainable = make(train_static=True)
    trainable()[0].sum().backward()
    assert isinstance(trainable.static, nn.Parameter) and trainable.static.grad is not None



def test_frozen_block_keeps_its_init_and_only_the_dynamic_memory_learns(tmp_path: object) -> None:
    synset = make(block_init="residual", dynamic_init="zeros", train_block=False)
    before = {n: t.clone() for n, t in synset.block.state_dict().items()}
    assert [g["name"] for g in synset.param_groups()] == ["dynamic"]
    with pytest.raises(ConfigError, match=r"lr_block was given but part 'block' .* is frozen"):
        synset.param_groups(lr_block=0.1)
    opt = synset.optimizer(lr_dynamic=1.0)
    for _ in range(3):
        opt.zero_grad()
        videos, _ = synset(generator=torch.Generator().manual_seed(0))
        videos.pow(2).mean().backward()
        opt.step()
    assert synset.dynamic.abs().sum() > 0  # learned from the first step (residual init)
    for name, tensor in synset.block.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    # residual init, frozen: every frame is exactly static + dynamic memory (centre taps)
    videos, _ = synset(indices=torch.tensor([0]), generator=torch.Generator().manual_seed(0))
    static_i, dynamic_i = synset.pair(torch.tensor([0]), torch.Generator().manual_seed(0))
    expected = synset.static[static_i][:, None] + synset.dynamic[0, dynamic_i][:, :, :1]
    torch.testing.assert_close(videos, expected, rtol=1e-5, atol=1e-5)
    loaded = DynamicMemoryBlock.load(synset.save(f"{tmp_path}/frozen.safetensors"))
    assert loaded.config.train_block is False and [g["name"] for g in loaded.param_groups()] == ["dynamic"]

# ------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("static", "pattern"),
    [
        (
            torch.randn(6, 3, H, W + 1),
            r"static images must have spatial size static_size=\(6, 5\) or size=\(6, 5\).*got \(6, 6\)",
        ),
        (torch.randn(7, 3, H, W), "static must hold num_classes \\* static_per_class .*num_classes=3.*got 7"),
        (torch.randn(6, 3, H), "static must be a 4-D batch of images .*got 3-D"),
        (torch.full((6, 3, H, W), float("nan")), "static must be finite"),
        (torch.zeros(6, 3, H, W, dtype=torch.int64), "static must have a floating dtype"),
    ],
)
def test_static_errors(static: torch.Tensor, pattern: str) -> None:
    with pytest.raises(ShapeError, match=pattern):
        make(static=static)


def test_static_count_and_channels_errors() -> None:
    with pytest.raises(ShapeError, match=r"static must hold num_classes \* static_per_class = 3 \* 4 = 12 .*got 6"):
        make(static=torch.randn(6, 3, H, W), static_per_class=4)
    with pytest.raises(ShapeError, match="static must have channels=1, got 3"):
        make(static=torch.randn(6, 3, H, W), channels=1)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"static_per_class": 1, "static_per_video": 2}, r"static_per_video must be <= static_per_class \(1\), got 2"),
        ({"dynamic_per_class": 1, "dynamic_per_video": 2}, r"dynamic_per_video must be <= dynamic_per_class"),
        ({"dynamic_frames": 5}, r"dynamic_frames must be <= frames \(4\), got 5"),
        ({"pairing": "fixed", "static_per_video": 2}, "pairing='fixed' uses one static .*got 2 and 1"),
        ({"block": "add", "dynamic_channels": 2}, r"block='add' needs dynamic_channels 1 .*\(3\), got 2"),
        ({"block": "concat"}, "block must be 'conv', 'add', 'warp' or an nn.Module, got 'concat'"),
        ({"block": "warp"}, r"block='warp' needs dynamic_channels 2 .*got dynamic_channels 1 and size \(6, 5\)"),
        ({"block": "warp", "dynamic_channels": 2, "block_init": "identity"}, "not to 'warp'"),
        ({"warp_padding": "circular"}, "warp_padding='circular' is the padding of the 'warp' block, got block 'conv'"),
        ({"block": "warp", "dynamic_channels": 2, "warp_padding": "wrap"}, "warp_padding: .*got 'wrap'"),
        ({"static_size": (7, 5)}, r"static_size must be at most size \(6, 5\).*got \(7, 5\)"),
        ({"dynamic_size": (3, 6)}, r"dynamic_size must be at most size \(6, 5\).*got \(3, 6\)"),
        ({"pairing": "shuffle"}, "pairing: .*got 'shuffle'"),
        ({"videos_per_class": 0}, "videos_per_class: Input should be greater than or equal to 1, got 0"),
        ({"static_per_class": -1}, "static_per_class: .*got -1"),
        ({"mode": "spline"}, "mode must be one of"),
    ],
)
def test_config_errors(kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        make(**kwargs)


def test_config_typo() -> None:
    data = make().config.model_dump()
    data["dynamic_per_vid"] = 2
    with pytest.raises(ConfigError, match="unknown config key 'dynamic_per_vid'"):
        build_config(DynamicMemoryBlockConfig, data)


def test_index_errors() -> None:
    with pytest.raises(ShapeError, match=r"indices must lie in \[0, 3\)"):
        make()([3])


# ------------------------------------------------------------------------------------------- optimizer
def test_param_groups() -> None:
    synset = make()
    groups = synset.param_groups(lr_dynamic=0.1)
    assert [(g["name"], g["lr"]) for g in groups] == [("dynamic", 0.1), ("block", 0.01)]
    with pytest.raises(ConfigError, match=r"lr_static was given but part 'static' .* is frozen"):
        synset.param_groups(lr_static=1.0)
    trainable = make(train_static=True)
    syn_lr = torch.tensor(0.01, requires_grad=True)
    opt = trainable.optimizer(momentum=0.95, syn_lr=syn_lr, lr_static=50.0)
    assert [(g["name"], g["lr"]) for g in opt.param_groups] == [
        ("static", 50.0),
        ("dynamic", 0.01),
        ("block", 0.01),
        ("syn_lr", 1e-5),
    ]


# ------------------------------------------------------------------------------------------- storage
def test_storage_bytes_by_hand() -> None:
    synset = make()  # 3 classes, 2 statics and 2 dynamics per class, 4 frames, 6x5
    static_bytes = 3 * 2 * 3 * H * W * 4
    dynamic_bytes = 3 * 2 * 4 * 1 * H * W * 4
    assert synset.storage_bytes() == static_bytes + dynamic_bytes + 327 * 4
    assert make(train_static=True).storage_bytes() == synset.storage_bytes()
    assert make(dynamic_frames=2).storage_bytes() == static_bytes + dynamic_bytes // 2 + 327 * 4


def test_storage_bytes_published_size() -> None:
    synset = DynamicMemoryBlock(50, 1, 16, (112, 112), static="noise", seed=0)
    assert synset.storage_bytes() == 50 * 2 * 3 * 112 * 112 * 4 + 50 * 2 * 16 * 112 * 112 * 4 + 327 * 4


def _meta(path: str) -> str:
    with safe_open(path, framework="pt") as handle:
        return str((handle.metadata() or {})["temporal_condense"])


def test_save_load_roundtrip(tmp_path: object) -> None:
    path = f"{tmp_path}/dmb.safetensors"
    synset = make(videos_per_class=2, dynamic_frames=2, train_static=True)
    synset.save(path)
    assert sum(t.numel() * t.element_size() for t in load_file(path).values()) == synset.storage_bytes()
    loaded = DynamicMemoryBlock.load(path)
    assert loaded.config == synset.config
    assert isinstance(loaded.static, nn.Parameter)
    for name, tensor in synset.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor, rtol=0, atol=0)
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    torch.testing.assert_close(loaded(None, gen())[0], synset(None, gen())[0], rtol=0, atol=0)


def test_save_load_custom_block(tmp_path: object) -> None:
    path = f"{tmp_path}/custom.safetensors"
    synset = make(block=ScaleBlock(), dynamic_channels=3)
    with torch.no_grad():
        synset.block.a.fill_(0.25)  # type: ignore[union-attr]
    synset.save(path)
    with pytest.raises(ConfigError, match=r"saved with a user-supplied block .*ScaleBlock.*pass block="):
        DynamicMemoryBlock.load(path)
    loaded = DynamicMemoryBlock.load(path, block=ScaleBlock())
    assert loaded.block.a.item() == 0.25  # type: ignore[union-attr]
    make().save(f"{tmp_path}/conv.safetensors")
    with pytest.raises(ConfigError, match="block= is only for artifacts saved with a custom block"):
        DynamicMemoryBlock.load(f"{tmp_path}/conv.safetensors", block=ScaleBlock())


def test_load_errors(tmp_path: object) -> None:
    path = f"{tmp_path}/dmb.safetensors"
    make().save(path)
    tensors = load_file(path)
    tensors["dynamic"][0, 0, 0, 0, 0, 0] = float("nan")
    bad = f"{tmp_path}/nan.safetensors"
    save_file(tensors, bad, metadata={"temporal_condense": _meta(path)})
    with pytest.raises(ShapeError, match=r"tensor 'dynamic' of artifact .* must be finite"):
        DynamicMemoryBlock.load(bad)
    header = json.loads(_meta(path))
    header["kind"] = "SyntheticVideos"
    other = f"{tmp_path}/other.safetensors"
    save_file(load_file(path), other, metadata={"temporal_condense": json.dumps(header)})
    with pytest.raises(ConfigError, match="must be of kind 'DynamicMemoryBlock', got 'SyntheticVideos'"):
        DynamicMemoryBlock.load(other)
    header = json.loads(_meta(path))
    header["config"]["static_per_video"] = 5
    invalid = f"{tmp_path}/invalid.safetensors"
    save_file(load_file(path), invalid, metadata={"temporal_condense": json.dumps(header)})
    with pytest.raises(ConfigError, match=r"static_per_video must be <= static_per_class \(2\), got 5"):
        DynamicMemoryBlock.load(invalid)


# ------------------------------------------------------------------------------------------- protocol
def test_protocol_methods() -> None:
    synset = make(videos_per_class=2)
    gen = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    torch.testing.assert_close(synset.class_videos(1, gen()), synset([2, 3], gen())[0], rtol=0, atol=0)
    videos, labels = synset.export(gen())
    assert videos.shape == (6, 4, 3, H, W) and not videos.requires_grad
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    data = synset.as_dataset(seed=0)
    x, y = data[5]
    assert x.shape == (4, 3, H, W) and y == 2
    loader = torch.utils.data.DataLoader(data, batch_size=6)
    xb, yb = next(iter(loader))
    assert xb.shape == (6, 4, 3, H, W) and yb.tolist() == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize(
    ("frames", "kernel", "c_dyn", "kind"),
    [
        (1, 3, 1, "concat"),
        (2, 3, 1, "concat"),
        (7, 3, 2, "concat"),
        (6, 5, 1, "concat"),
        (5, 3, 1, "add"),
        (4, 3, 3, "add"),
    ],
)
def test_fast_path_equals_literal_conv3d(frames: int, kernel: int, c_dyn: int, kind: str) -> None:
    torch.manual_seed(0)
    block: nn.Module = ConcatBlock(3, c_dyn, kernel) if kind == "concat" else AddBlock(3, kernel)
    block = block.double()
    static = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    dynamic = torch.randn(2, frames, c_dyn, 7, 6, dtype=torch.float64)
    literal = block(static.unsqueeze(1).expand(2, frames, 3, 7, 6), dynamic)
    fast = block.forward_static(static, dynamic)  # type: ignore[operator]
    assert fast.shape == (2, frames, 3, 7, 6) and fast.is_contiguous()
    torch.testing.assert_close(fast, literal, rtol=1e-12, atol=1e-12)


def test_fast_path_falls_back_for_other_convolutions() -> None:
    block = ConcatBlock(3, 1)
    block.encoder.padding_mode = "replicate"
    static, dynamic = torch.randn(1, 3, 5, 5), torch.randn(1, 3, 1, 5, 5)
    literal = block(static.unsqueeze(1).expand(1, 3, 3, 5, 5), dynamic)
    torch.testing.assert_close(block.forward_static(static, dynamic), literal, rtol=0, atol=0)


def test_literal_concat_block_matches_published_formula() -> None:
    block = ConcatBlock(3, 1)
    static, dynamic = torch.randn(2, 3, 5, 4), torch.randn(2, 6, 1, 5, 4)
    out = block(static.unsqueeze(1).expand(2, 6, 3, 5, 4), dynamic)
    x = torch.cat([static.repeat(6, 1, 1, 1, 1).permute(1, 2, 0, 3, 4), dynamic.permute(0, 2, 1, 3, 4)], 1)
    ref = F.conv3d(x, block.encoder.weight, block.encoder.bias, padding=1).permute(0, 2, 1, 3, 4)
    assert (out - ref).abs().max().item() <= 1e-6


def test_identity_block_init_renders_the_static_images() -> None:
    static = torch.rand(2 * 2, 3, 6, 6)
    synset = DynamicMemoryBlock(2, 2, frames=4, size=(6, 6), static=static, block_init="identity", seed=0)
    videos, _ = synset(torch.arange(4), generator=torch.Generator().manual_seed(0))
    chosen, _ = synset.pair(torch.arange(4), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(videos, static[chosen].unsqueeze(1).expand(-1, 4, -1, -1, -1), rtol=0, atol=1e-6)
    # the dynamic path starts at zero but is trainable: its weights get a gradient at once
    videos.sum().backward()
    assert synset.block.encoder.weight.grad is not None
    assert float(synset.block.encoder.weight.grad[:, 3:].abs().sum()) > 0
    add = DynamicMemoryBlock(2, 1, frames=4, size=(6, 6), static=static, block="add", block_init="identity", seed=0)
    v_add, y_add = add(torch.arange(2), generator=torch.Generator().manual_seed(0))
    s_idx, d_idx = add.pair(torch.arange(2), generator=torch.Generator().manual_seed(0))
    dyn = add.dynamic.detach()[y_add, d_idx]  # [B, T, 1, H, W] (d_idx is the position within the class)
    torch.testing.assert_close(v_add, static[s_idx].unsqueeze(1) + dyn, rtol=0, atol=1e-5)
    with pytest.raises(ConfigError, match=r"block_init='identity' applies to the built-in"):
        DynamicMemoryBlock(2, 1, frames=4, size=(6, 6), static=static, block=torch.nn.Identity(), block_init="identity")
    with pytest.raises(ConfigError, match=r"block_init"):
        DynamicMemoryBlock(2, 1, frames=4, size=(6, 6), static=static, block_init="zeros")


def test_identity_init_starves_the_dynamic_memory_and_residual_init_does_not() -> None:
    """The failure behind issue 11: with the identity block the dynamic memory gets exactly zero gradient."""
    static = torch.rand(2 * 2, 3, 6, 6)
    ident = DynamicMemoryBlock(2, 1, frames=4, size=(6, 6), static=static, block_init="identity", seed=0)
    ident(torch.arange(2), generator=torch.Generator().manual_seed(0))[0].square().sum().backward()
    assert ident.dynamic.grad is not None and float(ident.dynamic.grad.abs().max()) == 0.0
    res = DynamicMemoryBlock(
        2, 1, frames=4, size=(6, 6), static=static, block_init="residual", dynamic_init="zeros", seed=0
    )
    videos, _ = res(torch.arange(2), generator=torch.Generator().manual_seed(0))
    chosen, _ = res.pair(torch.arange(2), generator=torch.Generator().manual_seed(0))
    # starts as exactly the static-only videos ...
    torch.testing.assert_close(videos, static[chosen].unsqueeze(1).expand(-1, 4, -1, -1, -1), rtol=0, atol=1e-6)
    # ... and d video / d dynamic = gain: every rendered dynamic pixel gets the sum of its 3 output gradients
    grad_out = torch.randn_like(videos)
    (videos * grad_out).sum().backward()
    assert res.dynamic.grad is not None
    rendered = res.dynamic.grad[torch.arange(2), res.pair(torch.arange(2), torch.Generator().manual_seed(0))[1]]
    torch.testing.assert_close(rendered, grad_out.sum(2, keepdim=True), rtol=1e-5, atol=1e-6)


def test_residual_init_with_noise_is_static_plus_dynamic_and_dynamic_std_scales() -> None:
    static = torch.rand(2 * 2, 3, 6, 6)
    res = DynamicMemoryBlock(
        2, 1, frames=4, size=(6, 6), static=static, block_init="residual", dynamic_std=0.25, seed=0
    )
    ref = DynamicMemoryBlock(2, 1, frames=4, size=(6, 6), static=static, seed=0)
    torch.testing.assert_close(res.dynamic.detach(), 0.25 * ref.dynamic.detach())  # same draw, scaled
    videos, labels = res(torch.arange(2), generator=torch.Generator().manual_seed(0))
    s_idx, d_idx = res.pair(torch.arange(2), generator=torch.Generator().manual_seed(0))
    expected = static[s_idx].unsqueeze(1) + res.dynamic.detach()[labels, d_idx]
    torch.testing.assert_close(videos, expected, rtol=0, atol=1e-5)
    with pytest.raises(ConfigError, match=r"dynamic_std"):
        DynamicMemoryBlock(2, 1, frames=4, size=(6, 6), static=static, dynamic_std=0.0)
    with pytest.raises(ConfigError, match=r"dynamic_init"):
        DynamicMemoryBlock(2, 1, frames=4, size=(6, 6), static=static, dynamic_init="ones")
    with pytest.raises(ConfigError, match=r"block_init='residual' applies to the built-in"):
        DynamicMemoryBlock(2, 1, frames=4, size=(6, 6), static=static, block=torch.nn.Identity(), block_init="residual")


# ------------------------------------------------------------------ issue 9: round trips that are round trips
class OtherScaleBlock(ScaleBlock):
    """Same parameters as ScaleBlock, another rendering."""

    def forward(self, static: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:
        return static * (1 - self.a * dynamic)


@pytest.mark.parametrize("block", ["conv", "add"])
def test_block_init_survives_save_and_load(tmp_path: object, block: str) -> None:
    synset = make(block=block, block_init="identity")
    loaded = DynamicMemoryBlock.load(synset.save(f"{tmp_path}/i.safetensors"))
    assert loaded.config.block_init == "identity" and loaded.config == synset.config
    synset = make(block=block, block_init="residual", dynamic_init="zeros", dynamic_std=0.5)
    loaded = DynamicMemoryBlock.load(synset.save(f"{tmp_path}/r.safetensors"))
    assert loaded.config == synset.config and loaded.config.dynamic_init == "zeros"
    assert torch.equal(loaded.block.encoder.weight, synset.block.encoder.weight)


def test_load_with_another_block_class_is_refused(tmp_path: object) -> None:
    path = make(block=ScaleBlock(), dynamic_channels=3).save(f"{tmp_path}/custom.safetensors")
    with pytest.raises(
        ConfigError, match=r"block= must be an instance of .*\.ScaleBlock\), got an instance of .*OtherScaleBlock"
    ):
        DynamicMemoryBlock.load(path, block=OtherScaleBlock())


def test_mixed_dtypes_come_back_as_stored(tmp_path: object) -> None:
    synset = make()
    synset.dynamic.data = synset.dynamic.data.double()
    loaded = DynamicMemoryBlock.load(synset.save(f"{tmp_path}/mixed.safetensors"))
    for name, tensor in synset.state_dict().items():
        assert loaded.state_dict()[name].dtype == tensor.dtype, name
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert loaded.dynamic.dtype == torch.float64 and loaded.static.dtype == torch.float32


def test_load_on_an_unknown_or_missing_device_is_named(tmp_path: object) -> None:
    path = make().save(f"{tmp_path}/d.safetensors")
    with pytest.raises(ConfigError, match=r"device must name a torch device .*'banana'"):
        DynamicMemoryBlock.load(path, device="banana")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"device 'cuda' is not available on this machine"):
            DynamicMemoryBlock.load(path, device="cuda")


def test_generator_must_be_a_generator() -> None:
    synset = make()
    with pytest.raises(ConfigError, match=r"generator must be a torch.Generator or None, got int \(0\)"):
        synset(None, 0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"generator must be a torch.Generator"):
        synset.export(generator=0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr_dynamic": float("inf")}, r"lr_dynamic must be a positive number, got inf \(not finite\)"),
        ({"lr_block": float("nan")}, r"lr_block must be a positive number, got nan"),
        ({"momentum": -1}, r"momentum must be a number in \[0, 1\) or None, got -1"),
        ({"momentum": float("nan")}, r"momentum must be a number in \[0, 1\)"),
        ({"weight_decay": float("inf")}, r"weight_decay must be a finite number >= 0, got inf"),
    ],
)
def test_optimizer_refuses_non_finite_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make().optimizer(**kwargs)


# ------------------------------------------------------------------------------------------- stored sizes, warp
def test_stored_sizes_are_upsampled_before_the_block() -> None:
    """Statics stored at ``static_size`` and dynamics at ``dynamic_size``: the render equals the plain formula on
    their bilinear up-sampling (statics given at full size are area down-sampled first)."""
    full = torch.rand(3 * 2, 3, H, W)  # statics are kept in the default dtype (float32)
    synset = make(
        static=full, static_size=(3, 2), dynamic_size=(2, 2), block="add", pairing="fixed", videos_per_class=2
    ).double()
    stored = F.interpolate(full, size=(3, 2), mode="area").double()
    torch.testing.assert_close(synset.static, stored, rtol=0, atol=0)
    assert tuple(synset.dynamic.shape) == (3, 2, 4, 1, 2, 2)
    idx = torch.arange(6)
    static = F.interpolate(stored, size=(H, W), mode="bilinear", align_corners=False)  # slot v owns static v
    dyn = synset.dynamic.detach().reshape(6, 4, 1, 2, 2)
    dyn = F.interpolate(dyn.reshape(24, 1, 2, 2), size=(H, W), mode="bilinear", align_corners=False)
    expected = synset.block(static[:, None].expand(-1, 4, -1, -1, -1), dyn.reshape(6, 4, 1, H, W))
    torch.testing.assert_close(synset(idx)[0], expected, rtol=0, atol=1e-12)
    assert synset.storage_bytes() == 8 * (6 * 3 * 3 * 2 + 3 * 2 * 4 * 1 * 2 * 2 + sum(
        p.numel() for p in synset.block.parameters()
    ))


def translation_set(statics: torch.Tensor, padding: str = "border") -> DynamicMemoryBlock:
    """A float64 warp set of one video per static, each moved by one translation per frame (zero at first)."""
    return make(
        static=statics,
        block="warp",
        dynamic_channels=2,
        dynamic_size=(1, 1),
        pairing="fixed",
        dynamic_init="zeros",
        warp_padding=padding,
    ).double()


@pytest.mark.parametrize("padding", ["border", "circular"])
def test_warp_block_moves_each_static_by_its_translation(tmp_path: object, padding: str) -> None:
    statics = torch.rand(3, 3, H, W).double()  # float32 values, as the set keeps them
    synset = translation_set(statics, padding)
    assert synset.block.padding_mode == padding
    assert sum(p.numel() for p in synset.block.parameters()) == 0
    assert synset.storage_bytes() == 8 * (3 * 3 * H * W + 3 * 4 * 2)
    still = statics[:, None].expand(-1, 4, -1, -1, -1)
    torch.testing.assert_close(synset(torch.arange(3))[0], still, atol=1e-12, rtol=0)
    path = torch.randn(3, 1, 4, 2, 1, 1, dtype=torch.float64)
    with torch.no_grad():
        synset.dynamic.copy_(path)
    videos, labels = synset(torch.arange(3))
    for c in range(3):
        d = path[c, 0, :, :, 0, 0][:, :, None, None].expand(4, 2, H, W)
        expected = warp(statics[c : c + 1].expand(4, -1, -1, -1), d, padding)
        torch.testing.assert_close(videos[c], expected, rtol=0, atol=1e-12)
    assert labels.tolist() == [0, 1, 2]
    path_file = str(tmp_path) + f"/warp_{padding}.safetensors"  # type: ignore[operator]
    synset.save(path_file)
    again = DynamicMemoryBlock.load(path_file).double()
    assert isinstance(again.block, WarpBlock) and again.config == synset.config
    torch.testing.assert_close(again(torch.arange(3))[0], videos, rtol=0, atol=0)


def test_circular_warp_padding_wraps_what_leaves_the_image() -> None:
    """Whole-pixel translations with ``warp_padding="circular"`` are ``torch.roll`` of the static; ``"border"``
    repeats the edge instead."""
    statics = torch.rand(3, 3, H, W).double()
    shifts = [(1, 2), (-2, 0), (3, -1)]  # (dy, dx) of each class's video, the same in every frame
    path = torch.tensor(shifts, dtype=torch.float64)[:, None, None, :, None, None].expand(3, 1, 4, 2, 1, 1)
    videos = {}
    for padding in ("circular", "border"):
        synset = translation_set(statics, padding)
        with torch.no_grad():
            synset.dynamic.copy_(path)
        videos[padding] = synset(torch.arange(3))[0]
    for c, (dy, dx) in enumerate(shifts):
        rolled = torch.roll(statics[c], shifts=(dy, dx), dims=(-2, -1))
        for t in range(4):
            torch.testing.assert_close(videos["circular"][c, t], rolled, rtol=0, atol=1e-12)
    assert not torch.allclose(videos["border"], videos["circular"])


def test_a_set_saved_before_warp_padding_existed_loads_with_border(tmp_path: Path) -> None:
    synset = make(block="warp", dynamic_channels=2, dynamic_size=(1, 1), pairing="fixed")
    path = synset.save(tmp_path / "set.safetensors")
    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    header = json.loads(metadata["temporal_condense"])
    del header["config"]["warp_padding"]  # the header of an artifact written by the previous version
    save_file(tensors, str(path), metadata={"temporal_condense": json.dumps(header)})
    again = DynamicMemoryBlock.load(path)
    assert again.config.warp_padding == "border" and again.block.padding_mode == "border"
    torch.testing.assert_close(again(torch.arange(3))[0], synset(torch.arange(3))[0], rtol=0, atol=0)


def test_warp_block_gradcheck_through_the_set() -> None:
    synset = make(block="warp", dynamic_channels=2, dynamic_size=(1, 1), pairing="fixed", dynamic_init="zeros").double()
    with torch.no_grad():
        synset.dynamic.copy_(torch.rand(3, 1, 4, 2, 1, 1, dtype=torch.float64) * 0.8 + 0.1)  # off whole pixels
    dynamic = synset.dynamic.detach().clone().requires_grad_(True)

    def render(d: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(synset, {"dynamic": d}, (torch.arange(3),))[0]

    assert torch.autograd.gradcheck(render, (dynamic,))


def test_the_docs_warp_example_rebuilds_real_clips() -> None:
    """docs/dynamic-memory.md: a warp set started from ``estimate_translation`` renders the clips it measured."""
    page = (Path(__file__).parents[1] / "docs" / "dynamic-memory.md").read_text(encoding="utf-8")
    code = next(c for c in re.findall(r"```python\n(.*?)```", page, re.S) if "estimate_translation" in c)
    frame = torch.zeros(3, 16, 16)
    frame[:, 6:10, 6:10] = torch.rand(3, 1, 1)
    moves = [(0, 1), (0, -1), (1, 0), (-1, 1)]  # per frame (dy, dx); 16 clips of each of 4 classes
    paths = [(dy, dx) for dy, dx in moves for _ in range(16)]
    clips = torch.stack([torch.stack([torch.roll(frame, (t * y, t * x), (1, 2)) for t in range(5)]) for y, x in paths])
    scope: dict[str, object] = {"real_clips_per_class": clips, "num_classes": 4, "T": 5, "H": 16, "W": 16}
    exec(code, scope)
    synset = scope["synset"]
    assert isinstance(synset, DynamicMemoryBlock)
    videos, labels = synset(torch.arange(64))
    torch.testing.assert_close(videos, clips, rtol=0, atol=1e-5)
    assert labels.tolist() == torch.arange(4).repeat_interleave(16).tolist()
