"""Tests of temporal_condense.models: shapes, published parameter order, size limits, seeding, references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from temporal_condense.errors import ConfigError, ShapeError, TemporalCondenseError
from temporal_condense.models import (
    MODEL_NAMES,
    ConvNet,
    ConvNet3D,
    ModelConfig,
    VideoConvNetGRU,
    VideoConvNetLSTM,
    VideoConvNetMean,
    VideoConvNetMLP,
    VideoConvNetRNN,
    convnet3d_geometry,
    convnet3d_valid_sizes,
    get_model,
    list_models,
    min_trunk_size,
)

VIDEO_2D = ("VideoConvNetMean", "VideoConvNetMLP", "VideoConvNetLSTM", "VideoConvNetRNN", "VideoConvNetGRU")
CLASSES = {
    "ConvNet": ConvNet,
    "ConvNet3D": ConvNet3D,
    "VideoConvNetMean": VideoConvNetMean,
    "VideoConvNetMLP": VideoConvNetMLP,
    "VideoConvNetLSTM": VideoConvNetLSTM,
    "VideoConvNetRNN": VideoConvNetRNN,
    "VideoConvNetGRU": VideoConvNetGRU,
}


def _input(name: str, b: int, t: int, c: int, size: tuple[int, int], dtype=torch.float32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    shape = (b, c, *size) if name == "ConvNet" else (b, t, c, *size)
    return torch.randn(shape, generator=g, dtype=dtype)


# ----------------------------------------------------------------------------------------------- registry


def test_names() -> None:
    assert set(list_models()) == set(CLASSES) == set(MODEL_NAMES)


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"name must be one of .*'ConvNet3D'.*'VideoConvNetGRU'.*got 'ResNet18'"):
        get_model("ResNet18")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"net_norm": "batchnorm"}, r"ConvNet3D does not take option 'net_norm'"),
        ({"bogus": 1}, r"bogus: Extra inputs are not permitted"),
        ({"net_act": "gelu"}, r"net_act must be one of .*got 'gelu'"),
        ({"channels": 0}, r"channels must be >= 1, got 0"),
        ({"seed": -1}, r"seed must be a non-negative int.*got -1"),
        ({"size": (64, 0)}, r"size\[1\] must be an integer >= 1, got 0"),
        ({"dropout": 1.0}, r"dropout must be a probability in \[0, 1\), got 1.0"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    args = {"channels": 3, "num_classes": 4, "size": (64, 64), "frames": 8, **kwargs}
    with pytest.raises(ConfigError, match=match):
        get_model("ConvNet3D", **args)


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        get_model("nope")
    assert issubclass(ConfigError, TemporalCondenseError)


# ------------------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("name", (*VIDEO_2D, "ConvNet"))
@pytest.mark.parametrize(("size", "frames"), [((8, 8), 3), ((16, 12), 4)])
def test_shapes_2d_based(name: str, size: tuple[int, int], frames: int) -> None:
    net = get_model(name, channels=3, num_classes=5, size=size, frames=frames, seed=0)
    x = _input(name, 2, frames, 3, size)
    logits, feats = net(x), net.embed(x)
    frame_feat = 128 * (size[0] // 8) * (size[1] // 8)
    expected = frame_feat // 8 if name in ("VideoConvNetRNN", "VideoConvNetGRU") else frame_feat
    assert logits.shape == (2, 5) and logits.is_contiguous()
    assert feats.shape == (2, expected) and feats.is_contiguous()
    assert net.feature_dim == expected


@pytest.mark.parametrize(
    ("size", "frames", "feat"),
    [((43, 43), 8, 128 * 2 * 1 * 1), ((64, 48), 9, 128 * 2 * 1 * 1), ((112, 112), 16, 128 * 4 * 2 * 2)],
)
def test_shapes_convnet3d(size: tuple[int, int], frames: int, feat: int) -> None:
    width = 128 if size[0] < 100 else 8  # keep the 112 px case cheap
    net = get_model("ConvNet3D", channels=3, num_classes=5, size=size, frames=frames, seed=0, net_width=width)
    x = _input("ConvNet3D", 2, frames, 3, size)
    logits, feats = net(x), net.embed(x)
    assert logits.shape == (2, 5) and logits.is_contiguous()
    assert feats.shape == (2, feat * width // 128) and feats.is_contiguous()
    assert net.feature_dim == feat * width // 128


def test_channels_one_and_noncontiguous_input() -> None:
    net = get_model("VideoConvNetMean", channels=1, num_classes=3, size=(28, 28), frames=2, seed=0, net_width=16)
    assert net.embed(torch.zeros(1, 2, 1, 28, 28)).shape == (1, 16 * 4 * 4)  # pad 3 -> 32 px, as published
    x = torch.randn(3, 28, 28, 2, 1).permute(0, 3, 4, 1, 2)  # [B, T, C, H, W], not contiguous
    assert not x.is_contiguous()
    torch.testing.assert_close(net(x), net(x.contiguous()))


# --------------------------------------------------------------------------------------- parameter order


def _conv2d_trunk(c: int) -> list[tuple[str, tuple[int, ...]]]:
    rows: list[tuple[str, tuple[int, ...]]] = []
    for d, idx in enumerate((0, 4, 8)):
        rows += [(f"features.{idx}.weight", (128, c if d == 0 else 128, 3, 3)), (f"features.{idx}.bias", (128,))]
        rows += [(f"features.{idx + 1}.weight", (128,)), (f"features.{idx + 1}.bias", (128,))]
    return rows


def _published(name: str, size: tuple[int, int], frames: int, k: int = 10) -> list[tuple[str, tuple[int, ...]]]:
    """Parameter names and shapes of the published networks (video-distillation ``networks.py``)."""
    if name == "ConvNet3D":
        return [
            ("features.0.weight", (64, 3, 3, 7, 7)),
            ("features.0.bias", (64,)),
            ("features.3.weight", (128, 64, 3, 7, 7)),
            ("features.3.bias", (128,)),
            ("features.6.weight", (128, 128, 3, 7, 7)),
            ("features.6.bias", (128,)),
            ("logit.weight", (k, 128, 1, 1, 1)),
            ("logit.bias", (k,)),
        ]
    f = 128 * (size[0] // 8) * (size[1] // 8)
    h = f // 8
    head = {
        "ConvNet": [],
        "VideoConvNetMean": [],
        "VideoConvNetMLP": [],
        "VideoConvNetLSTM": [
            ("temporal_lstm.weight_ih_l0", (4 * f, f)),
            ("temporal_lstm.weight_hh_l0", (4 * f, f)),
            ("temporal_lstm.bias_ih_l0", (4 * f,)),
            ("temporal_lstm.bias_hh_l0", (4 * f,)),
        ],
        "VideoConvNetRNN": [
            ("temporal_rnn.weight_ih_l0", (h, f)),
            ("temporal_rnn.weight_hh_l0", (h, h)),
            ("temporal_rnn.bias_ih_l0", (h,)),
            ("temporal_rnn.bias_hh_l0", (h,)),
        ],
        "VideoConvNetGRU": [
            ("temporal_rnn.weight_ih_l0", (3 * h, f)),
            ("temporal_rnn.weight_hh_l0", (3 * h, h)),
            ("temporal_rnn.bias_ih_l0", (3 * h,)),
            ("temporal_rnn.bias_hh_l0", (3 * h,)),
        ],
    }[name]
    root = [("temporal_weight", (f, frames, 1)), ("temporal_bias", (f, 1))] if name == "VideoConvNetMLP" else []
    fc_in = h if name in ("VideoConvNetRNN", "VideoConvNetGRU") else f
    return [*root, *_conv2d_trunk(3), ("classifier.weight", (k, fc_in)), ("classifier.bias", (k,)), *head]


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize(("size", "frames"), [((112, 112), 16), ((64, 64), 8)])
def test_parameter_order_pinned(name: str, size: tuple[int, int], frames: int) -> None:
    kw = {} if name == "ConvNet" else {"frames": frames}
    with torch.device("meta"):  # the 112 px LSTM has 5e9 parameters: never allocate them
        net = CLASSES[name](channels=3, num_classes=10, size=size, **kw)
    got = [(n, tuple(p.shape)) for n, p in net.named_parameters()]
    assert got == _published(name, size, frames)
    assert list(net.state_dict()) == [n for n, _ in got] + [n for n, _ in net.named_buffers()]


def test_convnet3d_initialization_follows_published_draw_order() -> None:
    """Seeded like the original (global seed, then the constructor): same values as building its layers."""
    torch.manual_seed(3)
    ref = [
        nn.Conv3d(3, 64, (3, 7, 7), padding=(1, 3, 3), stride=(1, 2, 2)),
        nn.Conv3d(64, 16, (3, 7, 7), padding=(1, 3, 3), stride=(1, 2, 2)),
        nn.Conv3d(16, 16, (3, 7, 7), padding=(1, 3, 3), stride=(1, 2, 2)),
        nn.Conv3d(16, 4, 1),
    ]
    net = get_model("ConvNet3D", num_classes=4, size=(64, 64), frames=8, seed=3, net_width=16)
    expected = [t for m in ref for t in (m.weight, m.bias)]
    for (name, p), e in zip(net.named_parameters(), expected, strict=True):
        torch.testing.assert_close(p, e, rtol=0, atol=0, msg=name)


def test_mlp_initialization_follows_published_draw_order() -> None:
    net = get_model("VideoConvNetMLP", num_classes=4, size=(8, 8), frames=3, seed=5, net_width=4)
    torch.manual_seed(5)
    trunk = [m for d in range(3) for m in (nn.Conv2d(3 if d == 0 else 4, 4, 3, padding=1), nn.GroupNorm(4, 4))]
    fc = nn.Linear(4, 4)
    tw, tb = torch.randn(4, 3, 1), torch.randn(4, 1)
    expected = [tw, tb, *[t for m in [*trunk, fc] for t in (m.weight, m.bias)]]
    for (name, p), e in zip(net.named_parameters(), expected, strict=True):
        torch.testing.assert_close(p, e, rtol=0, atol=0, msg=name)


# -------------------------------------------------------------------------------------------- size limits


def test_convnet3d_limits_from_arithmetic() -> None:
    heights, widths, min_frames = convnet3d_valid_sizes()
    assert heights == [(43, 64), (107, 170)] and widths == [(43, 106)] and min_frames == 8
    assert convnet3d_geometry((43, 43), 8).valid and not convnet3d_geometry((42, 43), 8).valid
    assert not convnet3d_geometry((43, 43), 7).valid
    assert convnet3d_geometry((112, 112), 16).features == (4, 2, 2)


@pytest.mark.parametrize(
    ("size", "frames", "match"),
    [
        ((42, 42), 16, r"needs size of at least \(43, 43\) px and frames >= 8 \(got size=\(42, 42\), frames=16"),
        ((43, 43), 7, r"needs size of at least \(43, 43\) px and frames >= 8 \(got size=\(43, 43\), frames=7"),
        ((80, 80), 16, r"Heights that work: 43-64, 107-170; widths that work with H=80: 107-170"),
        ((112, 64), 16, r"got size=\(112, 64\).*widths that work with H=112: 107-170"),
        ((32, 32), 4, r"logit map \(0, 0, 0\)"),
    ],
)
def test_convnet3d_too_small_or_unsupported(size: tuple[int, int], frames: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        get_model("ConvNet3D", size=size, frames=frames)


def test_convnet3d_smallest_named_size_works() -> None:
    with pytest.raises(ConfigError, match=r"at least \((\d+), (\d+)\) px and frames >= (\d+)") as info:
        ConvNet3D(size=(20, 20), frames=2, net_width=4)
    import re

    m = re.search(r"at least \((\d+), (\d+)\) px and frames >= (\d+)", str(info.value))
    assert m is not None
    h, w, t = (int(g) for g in m.groups())
    net = ConvNet3D(size=(h, w), frames=t, net_width=4).eval()
    assert net(torch.zeros(1, t, 3, h, w)).shape == (1, 10)
    for smaller in ((h - 1, w), (h, w - 1)):
        with pytest.raises(ConfigError):
            ConvNet3D(size=smaller, frames=t, net_width=4)
    with pytest.raises(ConfigError):
        ConvNet3D(size=(h, w), frames=t - 1, net_width=4)


@pytest.mark.parametrize("name", (*VIDEO_2D, "ConvNet"))
@pytest.mark.parametrize("channels", [1, 3])
def test_trunk_minimum_size(name: str, channels: int) -> None:
    smallest = min_trunk_size(channels)
    assert smallest == (4 if channels == 1 else 8)
    with pytest.raises(ConfigError, match=rf"needs size of at least \({smallest}, {smallest}\) px.*got size=\("):
        get_model(name, channels=channels, size=(smallest - 1, 16), frames=2, net_width=8)
    net = get_model(name, channels=channels, size=(smallest, smallest), frames=2, net_width=8)
    assert net(_input(name, 1, 2, channels, (smallest, smallest))).shape == (1, 10)


def test_final_avgpool_minimum() -> None:
    with pytest.raises(ConfigError, match=r"at least \(32, 32\) px"):
        get_model("VideoConvNetMean", size=(24, 24), final_avgpool=True)
    net = get_model("VideoConvNetMean", size=(64, 64), frames=2, final_avgpool=True, net_width=8)
    assert net.embed(torch.zeros(1, 2, 3, 64, 64)).shape == (1, 8 * 2 * 2)


@pytest.mark.parametrize(
    ("name", "x", "exc", "match"),
    [
        ("VideoConvNetMean", torch.zeros(1, 2, 3, 16), ShapeError, r"x must have 5 dimensions, got 4"),
        ("VideoConvNetMean", torch.zeros(1, 2, 1, 16, 16), ShapeError, r"x must have 3 channels.*got 1"),
        ("VideoConvNetMean", torch.zeros(1, 2, 3, 24, 24), ShapeError, r"spatial size \(16, 16\).*got \(24, 24\)"),
        ("VideoConvNetMLP", torch.zeros(1, 3, 3, 16, 16), ShapeError, r"must have 2 frames.*got 3"),
        ("ConvNet", torch.zeros(1, 3, 16, 16, dtype=torch.long), ShapeError, r"floating dtype"),
        ("ConvNet3D", torch.zeros(1, 4, 3, 44, 44), ShapeError, r"x: .*frames >= 8 \(got size=\(44, 44\), frames=4"),
        ("ConvNet3D", torch.zeros(1, 8, 2, 44, 44), ShapeError, r"C=3, got C=2"),
    ],
)
def test_bad_inputs(name: str, x: torch.Tensor, exc: type, match: str) -> None:
    size = (44, 44) if name == "ConvNet3D" else (16, 16)
    net = get_model(name, size=size, frames=8 if name == "ConvNet3D" else 2, net_width=4)
    with pytest.raises(exc, match=match):
        net(x)


# ----------------------------------------------------------------------------------------------- seeding


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_seeded_determinism(name: str) -> None:
    kw = {"size": (44, 44) if name == "ConvNet3D" else (8, 8), "frames": 8, "net_width": 8}
    state = torch.random.get_rng_state()
    a, b, c = get_model(name, seed=1, **kw), get_model(name, seed=1, **kw), get_model(name, seed=2, **kw)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's global RNG is untouched
    for (na, pa), (nb, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        assert na == nb and torch.equal(pa, pb)
        assert not torch.equal(pa, pc) or pa.numel() <= 8  # GroupNorm weights/biases are constant
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert all(
        torch.equal(p, q)
        for p, q in zip(get_model(name, seed=g1, **kw).parameters(), get_model(name, seed=g2, **kw).parameters())
    )


def test_config_round_trip() -> None:
    net = get_model("VideoConvNetGRU", num_classes=3, size=(8, 8), frames=2, seed=4, net_width=8)
    cfg = net.config
    assert isinstance(cfg, ModelConfig) and cfg.seed == 4 and cfg.net_width == 8
    again = get_model(**ModelConfig.model_validate_json(cfg.model_dump_json()).model_dump())
    for p, q in zip(net.parameters(), again.parameters(), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(Exception, match="frozen"):
        cfg.seed = 5  # type: ignore[misc]


def test_dtype_and_device_arguments() -> None:
    a = get_model("ConvNet", size=(8, 8), seed=0, net_width=4, dtype=torch.float64, device="cpu")
    b = get_model("ConvNet", size=(8, 8), seed=0, net_width=4)
    assert all(p.dtype == torch.float64 for p in a.parameters())
    assert all(torch.equal(p, q.double()) for p, q in zip(a.parameters(), b.parameters()))


# ----------------------------------------------------------------------- dropout and eval determinism


def test_convnet3d_dropout_train_vs_eval() -> None:
    net = get_model("ConvNet3D", num_classes=6, size=(44, 44), frames=8, seed=0, net_width=16)
    x = _input("ConvNet3D", 2, 8, 3, (44, 44))
    net.eval()
    torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)
    net.train()
    torch.manual_seed(0)
    y1 = net(x)
    y2 = net(x)
    assert not torch.equal(y1, y2)  # dropout is active in train mode
    torch.manual_seed(0)
    torch.testing.assert_close(net(x), y1, rtol=0, atol=0)  # ...and drawn from the global RNG
    assert torch.equal(net.embed(x), net.eval().embed(x))  # embed has no dropout


# --------------------------------------------------------------------------------- plain-torch references


def _convnet3d_reference(x: torch.Tensor, p: dict[str, torch.Tensor], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    h = x.permute(0, 2, 1, 3, 4)  # [B, C, T, H, W]
    for d, idx in enumerate((0, 3, 6)):
        h = F.conv3d(h, p[f"features.{idx}.weight"], p[f"features.{idx}.bias"], stride=(1, 2, 2), padding=(1, 3, 3))
        h = F.relu(h)
        h = F.max_pool3d(h, (1, 2, 2), (1, 2, 2)) if d == 0 else F.max_pool3d(h, 2, 2)
    feats = h.reshape(h.shape[0], -1)
    kernel = (2, 2, 2) if x.shape[3] > 64 else (2, 1, 1)
    h = F.dropout(F.avg_pool3d(h, kernel, stride=1), 0.5, training=train)
    h = F.conv3d(h, p["logit.weight"], p["logit.bias"])
    return h.squeeze(3).squeeze(3).max(dim=2).values, feats


@pytest.mark.parametrize(("size", "frames", "batch"), [((44, 44), 9, 2), ((107, 108), 8, 1)])
def test_convnet3d_matches_reference_float64(size: tuple[int, int], frames: int, batch: int) -> None:
    net = get_model("ConvNet3D", num_classes=5, size=size, frames=frames, seed=0, net_width=8, dtype=torch.float64)
    x = _input("ConvNet3D", batch, frames, 3, size, dtype=torch.float64)
    params = dict(net.named_parameters())
    ref_logits, ref_feats = _convnet3d_reference(x, params, train=False)
    torch.testing.assert_close(net.eval()(x), ref_logits, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(net.embed(x), ref_feats, rtol=1e-12, atol=1e-12)
    net.train()
    torch.manual_seed(11)
    y = net(x)
    torch.manual_seed(11)
    torch.testing.assert_close(y, _convnet3d_reference(x, params, train=True)[0], rtol=1e-12, atol=1e-12)


def _trunk_reference(x: torch.Tensor, p: dict[str, torch.Tensor], channels: int) -> torch.Tensor:
    for d, idx in enumerate((0, 4, 8)):
        pad = 3 if channels == 1 and d == 0 else 1
        x = F.conv2d(x, p[f"features.{idx}.weight"], p[f"features.{idx}.bias"], padding=pad)
        x = F.group_norm(x, x.shape[1], p[f"features.{idx + 1}.weight"], p[f"features.{idx + 1}.bias"])
        x = F.avg_pool2d(F.relu(x), 2, 2)
    return x.reshape(x.shape[0], -1)


def _rnn_reference(seq: torch.Tensor, p: dict[str, torch.Tensor], prefix: str, kind: str) -> torch.Tensor:
    w_ih, w_hh = p[f"{prefix}.weight_ih_l0"], p[f"{prefix}.weight_hh_l0"]
    b_ih, b_hh = p[f"{prefix}.bias_ih_l0"], p[f"{prefix}.bias_hh_l0"]
    hidden = w_hh.shape[1]
    h = seq.new_zeros(seq.shape[0], hidden)
    c = seq.new_zeros(seq.shape[0], hidden)
    outs = []
    for t in range(seq.shape[1]):
        gi, gh = seq[:, t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if kind == "rnn":
            h = torch.tanh(gi + gh)
        elif kind == "gru":
            r = torch.sigmoid(gi[:, :hidden] + gh[:, :hidden])
            z = torch.sigmoid(gi[:, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden])
            n = torch.tanh(gi[:, 2 * hidden :] + r * gh[:, 2 * hidden :])
            h = (1 - z) * n + z * h
        else:
            i, f, g, o = (gi + gh).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, 1).mean(1)


@pytest.mark.parametrize("name", (*VIDEO_2D, "ConvNet"))
@pytest.mark.parametrize("channels", [1, 3])
def test_2d_models_match_reference_float64(name: str, channels: int) -> None:
    b, t, size = 2, 3, (12, 8)
    net = get_model(name, channels=channels, num_classes=4, size=size, frames=t, seed=0, net_width=16)
    net = net.to(torch.float64)
    p = dict(net.named_parameters())
    x = _input(name, b, t, channels, size, dtype=torch.float64)
    if name == "ConvNet":
        feats = _trunk_reference(x, p, channels)
    else:
        frame = _trunk_reference(x.reshape(b * t, channels, *size), p, channels).reshape(b, t, -1)
        if name == "VideoConvNetMean":
            feats = frame.mean(1)
        elif name == "VideoConvNetMLP":
            feats = torch.einsum("btf,ft->bf", frame, p["temporal_weight"][..., 0]) + p["temporal_bias"][:, 0]
        elif name == "VideoConvNetLSTM":
            feats = _rnn_reference(frame, p, "temporal_lstm", "lstm")
        else:
            feats = _rnn_reference(frame, p, "temporal_rnn", "gru" if name.endswith("GRU") else "rnn")
    logits = feats @ p["classifier.weight"].T + p["classifier.bias"]
    torch.testing.assert_close(net.embed(x), feats, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(net(x), logits, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------------------- functional use, gradients


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_functional_call_matches_and_differentiates(name: str) -> None:
    size, t = ((44, 44), 8) if name == "ConvNet3D" else ((8, 8), 2)
    net = get_model(name, num_classes=3, size=size, frames=t, seed=0, net_width=8, dtype=torch.float64).eval()
    x = _input(name, 2, t, 3, size, dtype=torch.float64)
    params = {k: (v.detach() * 1.01).requires_grad_() for k, v in net.named_parameters()}
    out = functional_call(net, params, (x,))
    with torch.no_grad():
        for v in net.parameters():
            v.mul_(1.01)
        torch.testing.assert_close(out, net(x), rtol=1e-12, atol=1e-12)
    grads = torch.autograd.grad(out.square().sum(), list(params.values()), allow_unused=True)
    assert all(g is not None and bool(g.abs().sum() > 0) for g in grads)


@pytest.mark.parametrize("name", [*VIDEO_2D, "ConvNet"])
def test_gradcheck_input(name: str) -> None:
    net = get_model(name, channels=1, num_classes=2, size=(8, 8), frames=2, seed=0, net_width=8)
    net = net.to(torch.float64).eval()
    x = _input(name, 1, 2, 1, (8, 8), dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(net, (x,), eps=1e-6, atol=1e-6, fast_mode=True)
    assert torch.autograd.gradcheck(net.embed, (x,), eps=1e-6, atol=1e-6, fast_mode=True)


def test_gradcheck_convnet3d() -> None:
    net = get_model("ConvNet3D", num_classes=2, size=(44, 44), frames=8, seed=0, net_width=4, dtype=torch.float64)
    net.eval()
    x = _input("ConvNet3D", 1, 8, 3, (44, 44), dtype=torch.float64).requires_grad_()
    base = {k: v.detach() for k, v in net.named_parameters()}
    names = ("features.0.weight", "features.6.bias", "logit.weight")

    def f(x: torch.Tensor, *ws: torch.Tensor) -> torch.Tensor:
        return functional_call(net, {**base, **dict(zip(names, ws))}, (x,))

    args = (x, *(base[k].clone().requires_grad_() for k in names))
    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-6, fast_mode=True)
    assert torch.autograd.gradcheck(net.embed, (x,), eps=1e-6, atol=1e-6, fast_mode=True)
