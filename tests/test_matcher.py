"""SegmentedMatcher: the taxonomy's corner cases equal hand-written loops."""

from __future__ import annotations

import pytest
import torch

import temporal_condense as tc


def mean_embedding_loss(real: torch.Tensor, syn: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """A DM-like loss: squared distance of per-frame mean features, works on any clip length."""
    return scale * (real.mean(dim=(0, 1)) - syn.mean(dim=(0, 1))).pow(2).sum()


def framewise_loss(real: torch.Tensor, syn: torch.Tensor) -> torch.Tensor:
    """A loss that needs equal lengths (compares frame by frame)."""
    return (real.mean(0) - syn.mean(0)).pow(2).sum()


def test_whole_clip_k1_equals_plain_call() -> None:
    real, syn = torch.randn(6, 16, 3, 5, 5), torch.randn(2, 4, 3, 5, 5)
    matcher = tc.SegmentedMatcher(framewise_loss, segments=1, interpolator=tc.Interpolator(16, "linear"))
    expected = framewise_loss(real, tc.interpolate(syn, 16, "linear"))
    torch.testing.assert_close(matcher(real, syn), expected)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_frame_by_frame_equals_image_distillation_loop(reduction: str) -> None:
    real, syn = torch.randn(6, 8, 3, 5, 5), torch.randn(2, 8, 3, 5, 5)
    matcher = tc.SegmentedMatcher(framewise_loss, segments=8, reduction=reduction)
    per_frame = torch.stack([framewise_loss(real[:, t : t + 1], syn[:, t : t + 1]) for t in range(8)])
    expected = per_frame.mean() if reduction == "mean" else per_frame.sum()
    torch.testing.assert_close(matcher(real, syn), expected)


def test_video_to_one_image_equals_repeated_image() -> None:
    real, syn = torch.randn(6, 16, 3, 5, 5), torch.randn(2, 1, 3, 5, 5)
    for mode in ("nearest", "linear", "cubic"):
        matcher = tc.SegmentedMatcher(framewise_loss, segments=1, interpolator=mode)
        expected = framewise_loss(real, syn.expand(2, 16, 3, 5, 5))
        torch.testing.assert_close(matcher(real, syn), expected)


def test_segment_scope_equals_hand_loop() -> None:
    real, syn = torch.randn(4, 16, 2, 3, 3), torch.randn(2, 8, 2, 3, 3)
    matcher = tc.SegmentedMatcher(framewise_loss, segments=4, interpolator="cubic")
    losses = []
    for k in range(4):
        syn_k = tc.interpolate(syn[:, 2 * k : 2 * k + 2], 4, "cubic")
        losses.append(framewise_loss(real[:, 4 * k : 4 * k + 4], syn_k))
    torch.testing.assert_close(matcher(real, syn), torch.stack(losses).mean())
    torch.testing.assert_close(matcher.segment_losses(real, syn), torch.stack(losses))


def test_global_scope_interpolates_first() -> None:
    real, syn = torch.randn(4, 16, 2, 3, 3), torch.randn(2, 4, 2, 3, 3)
    matcher = tc.SegmentedMatcher(framewise_loss, 4, tc.Interpolator(16, "linear"), scope="global")
    full = tc.interpolate(syn, 16, "linear")
    expected = torch.stack([framewise_loss(real[:, 4 * k : 4 * k + 4], full[:, 4 * k : 4 * k + 4]) for k in range(4)])
    torch.testing.assert_close(matcher(real, syn), expected.mean())
    # With 4 key frames and 4 segments, segment scope repeats each key frame: a different number.
    segment = tc.SegmentedMatcher(framewise_loss, 4, "linear")
    assert not torch.allclose(segment(real, syn), matcher(real, syn))


def test_no_interpolator_passes_segments_unchanged_and_forwards_arguments() -> None:
    real, syn = torch.randn(4, 16, 2, 3, 3), torch.randn(2, 8, 2, 3, 3)
    matcher = tc.SegmentedMatcher(mean_embedding_loss, 2, None, reduction="sum")
    pairs = matcher.split(real, syn)
    assert [tuple(s.shape) for _, s in pairs] == [(2, 4, 2, 3, 3)] * 2
    expected = sum(mean_embedding_loss(real[:, 8 * k : 8 * k + 8], syn[:, 4 * k : 4 * k + 4], 3.0) for k in range(2))
    torch.testing.assert_close(matcher(real, syn, scale=3.0), expected)


def test_bcthw_layout() -> None:
    real, syn = torch.randn(4, 8, 2, 3, 3), torch.randn(2, 4, 2, 3, 3)
    btchw = tc.SegmentedMatcher(framewise_loss, 2, "linear")
    seen: list[tuple[int, ...]] = []

    def channels_first_loss(r: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(r.shape))
        return framewise_loss(r.transpose(1, 2), s.transpose(1, 2))

    bcthw = tc.SegmentedMatcher(channels_first_loss, 2, "linear", layout="BCTHW")
    out = bcthw(real.transpose(1, 2), syn.transpose(1, 2))
    torch.testing.assert_close(out, btchw(real, syn))
    assert seen[0] == (4, 2, 4, 3, 3)


def test_gradcheck_through_matcher() -> None:
    real = torch.randn(3, 8, 1, 2, 2, dtype=torch.float64)
    syn = torch.randn(2, 4, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    matcher = tc.SegmentedMatcher(framewise_loss, 2, "cubic")
    assert torch.autograd.gradcheck(lambda s: matcher(real, s), (syn,))


def test_invalid_combinations_name_the_values() -> None:
    real = torch.randn(2, 16, 3, 4, 4)
    with pytest.raises(tc.ConfigError, match=r"N_real \(16\) must be divisible by segments K \(3\)"):
        tc.SegmentedMatcher(framewise_loss, 3)(real, torch.randn(2, 3, 3, 4, 4))
    with pytest.raises(tc.ConfigError, match=r"N_syn \(6\) must be divisible by segments K \(4\)"):
        tc.SegmentedMatcher(framewise_loss, 4)(real, torch.randn(2, 6, 3, 4, 4))
    with pytest.raises(tc.ConfigError, match=r"N_syn \(32\) > N_real \(16\)"):
        tc.SegmentedMatcher(framewise_loss, 1)(real, torch.randn(2, 32, 3, 4, 4))
    with pytest.raises(tc.ConfigError, match=r"segments must be an integer >= 1, got 0"):
        tc.SegmentedMatcher(framewise_loss, 0)
    with pytest.raises(tc.ConfigError, match=r"interpolator.frames \(8\) must equal N_real \(16\)"):
        tc.SegmentedMatcher(framewise_loss, 1, tc.Interpolator(8), scope="global")(real, torch.randn(2, 4, 3, 4, 4))
    with pytest.raises(tc.ConfigError, match=r"scope must be one of \('segment', 'global'\), got 'local'"):
        tc.SegmentedMatcher(framewise_loss, 1, scope="local")
    with pytest.raises(tc.ConfigError, match=r"reduction must be one of \('mean', 'sum'\), got 'max'"):
        tc.SegmentedMatcher(framewise_loss, 1, reduction="max")
    with pytest.raises(tc.ShapeError, match=r"real and syn must agree in \(C, H, W\)"):
        tc.SegmentedMatcher(framewise_loss, 1)(real, torch.randn(2, 4, 1, 4, 4))
    with pytest.raises(tc.ShapeError, match=r"syn must be a 5-D video batch"):
        tc.SegmentedMatcher(framewise_loss, 1)(real, torch.randn(2, 4, 4, 4))
    with pytest.raises(tc.ShapeError, match=r"loss_fn must return a scalar tensor, got \(2,\)"):
        tc.SegmentedMatcher(lambda r, s: torch.zeros(2), 1)(real, torch.randn(2, 4, 3, 4, 4))
    with pytest.raises(tc.ConfigError, match=r"loss_fn must be callable"):
        tc.SegmentedMatcher("mse", 1)  # type: ignore[arg-type]


# ------------------------------------------------------------------ issue 9: no silent wrong number
@pytest.mark.parametrize("side", ["real", "syn"])
def test_non_finite_inputs_are_named_errors(side: str) -> None:
    matcher = tc.SegmentedMatcher(lambda r, s: (r.mean() - s.mean()) ** 2, segments=2)
    real, syn = torch.zeros(2, 4, 1, 3, 3), torch.zeros(2, 2, 1, 3, 3)
    (real if side == "real" else syn)[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(tc.ShapeError, match=rf"{side} must be finite, got 1 NaN/inf value"):
        matcher(real, syn)


def test_inputs_on_different_devices_are_a_named_error() -> None:
    matcher = tc.SegmentedMatcher(lambda r, s: (r.mean() - s.mean()) ** 2, segments=1)
    real = torch.zeros(1, 2, 1, 2, 2)
    syn = torch.zeros(1, 2, 1, 2, 2, device="meta")
    with pytest.raises(tc.ShapeError, match=r"real and syn must be on the same device, got cpu and meta"):
        matcher(real, syn)
