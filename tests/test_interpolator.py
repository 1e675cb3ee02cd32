"""Tests of temporal_condense.interpolator against plain references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import temporal_condense as tc
from temporal_condense.interpolator import MODES, interpolation_matrix


def catmull_rom_reference(x: torch.Tensor, t_out: int) -> torch.Tensor:
    """Plain Hermite-form Catmull-Rom over time with linearly extended ends ([B, T, ...])."""
    t_in = x.shape[1]
    ext = torch.cat([2 * x[:, :1] - x[:, 1:2], x, 2 * x[:, -1:] - x[:, -2:-1]], dim=1)  # index k -> k + 1
    frames = []
    for j in range(t_out):
        p = j * (t_in - 1) / (t_out - 1)
        i = min(int(p), t_in - 2)
        u = p - i
        p0, p1, p2, p3 = ext[:, i], ext[:, i + 1], ext[:, i + 2], ext[:, i + 3]
        frames.append(
            0.5
            * (2 * p1 + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * u**3)
        )
    return torch.stack(frames, dim=1)


def torch_time_interpolate(x: torch.Tensor, t_out: int, mode: str) -> torch.Tensor:
    """Reference: torch.nn.functional.interpolate along time ([B, T, C, H, W])."""
    b, t, c, h, w = x.shape
    flat = x.permute(0, 2, 3, 4, 1).reshape(b, c * h * w, t)
    kwargs = {"align_corners": True} if mode == "linear" else {}
    out = F.interpolate(flat, size=t_out, mode=mode, **kwargs)
    return out.reshape(b, c, h, w, t_out).permute(0, 4, 1, 2, 3)


@settings(max_examples=60, deadline=None)
@given(t_in=st.integers(1, 12), t_out=st.integers(1, 40), mode=st.sampled_from(MODES))
def test_rows_sum_to_one(t_in: int, t_out: int, mode: str) -> None:
    weights = interpolation_matrix(t_in, t_out, mode, dtype=torch.float64)
    assert weights.shape == (t_out, t_in)
    torch.testing.assert_close(weights.sum(1), torch.ones(t_out, dtype=torch.float64), rtol=0, atol=1e-15)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("t", [1, 3, 16])
def test_identity_when_lengths_match(mode: str, t: int) -> None:
    x = torch.randn(2, t, 3, 4, 5)
    assert torch.equal(tc.interpolate(x, t, mode), x)
    assert torch.equal(interpolation_matrix(t, t, mode), torch.eye(t))


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize(("t_in", "t_out"), [(2, 16), (4, 16), (4, 13), (5, 9), (8, 15)])
def test_linear_and_cubic_pass_through_key_frames(mode: str, t_in: int, t_out: int) -> None:
    x = torch.randn(2, t_in, 1, 3, 3, dtype=torch.float64)
    out = tc.interpolate(x, t_out, mode)
    for j in range(t_out):
        p = j * (t_in - 1) / (t_out - 1)
        if abs(p - round(p)) < 1e-12:
            assert torch.equal(out[:, j], x[:, round(p)]), (j, p)
    torch.testing.assert_close(out[:, 0], x[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(out[:, -1], x[:, -1], rtol=0, atol=0)


@pytest.mark.parametrize(("t_in", "t_out"), [(2, 16), (4, 16), (3, 7), (16, 4), (5, 5), (1, 6)])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_matches_torch_interpolate(mode: str, t_in: int, t_out: int) -> None:
    x = torch.randn(2, t_in, 3, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(tc.interpolate(x, t_out, mode), torch_time_interpolate(x, t_out, mode))


def test_nearest_duplicates_frames() -> None:
    x = torch.randn(1, 4, 2, 3, 3)
    out = tc.interpolate(x, 16, "nearest")
    assert torch.equal(out, x.repeat_interleave(4, dim=1))


@pytest.mark.parametrize(("t_in", "t_out"), [(2, 9), (3, 16), (4, 16), (6, 11), (8, 16)])
def test_cubic_matches_catmull_rom_reference(t_in: int, t_out: int) -> None:
    x = torch.randn(2, t_in, 3, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(tc.interpolate(x, t_out, "cubic"), catmull_rom_reference(x, t_out))


@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_linear_motion_is_reproduced(mode: str) -> None:
    t_in, t_out = 5, 17
    times = torch.arange(t_in, dtype=torch.float64)
    x = (3.0 + 0.5 * times).view(1, t_in, 1, 1, 1).expand(1, t_in, 2, 2, 2)
    expected = 3.0 + 0.5 * torch.linspace(0, t_in - 1, t_out, dtype=torch.float64)
    torch.testing.assert_close(tc.interpolate(x, t_out, mode)[0, :, 0, 0, 0], expected)


def test_single_output_frame_is_the_middle() -> None:
    x = torch.arange(5.0).view(1, 5, 1, 1, 1)
    assert tc.interpolate(x, 1, "linear").item() == 2.0


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_float64(mode: str) -> None:
    x = torch.randn(2, 3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: tc.interpolate(v, 8, mode), (x,))
    assert torch.autograd.gradgradcheck(lambda v: tc.interpolate(v, 8, mode), (x,))


def test_module_layouts_and_contiguity() -> None:
    x = torch.randn(2, 4, 3, 5, 6)
    interp = tc.Interpolator(frames=16, mode="cubic")
    out = interp(x)
    assert out.shape == (2, 16, 3, 5, 6) and out.is_contiguous()
    channels_first = tc.Interpolator(frames=16, mode="cubic", layout="BCTHW")
    out_cf = channels_first(x.permute(0, 2, 1, 3, 4))
    assert out_cf.shape == (2, 3, 16, 5, 6) and out_cf.is_contiguous()
    torch.testing.assert_close(out_cf, out.permute(0, 2, 1, 3, 4))
    torch.testing.assert_close(interp.matrix(4), interpolation_matrix(4, 16, "cubic"))
    assert "frames=16" in repr(interp)


def test_dtype_and_one_channel() -> None:
    x = torch.randn(3, 2, 1, 4, 4, dtype=torch.float16)
    out = tc.interpolate(x, 8)
    assert out.dtype == torch.float16 and out.shape == (3, 8, 1, 4, 4)


def test_matrix_is_cached() -> None:
    assert interpolation_matrix(3, 9, "linear") is interpolation_matrix(3, 9, "linear")


def test_errors_name_argument_and_values() -> None:
    with pytest.raises(tc.ConfigError, match=r"mode must be one of .* got 'bilinear'"):
        tc.Interpolator(16, mode="bilinear")
    with pytest.raises(tc.ConfigError, match=r"frames must be an integer >= 1, got 0"):
        tc.Interpolator(0)
    with pytest.raises(tc.ConfigError, match=r"frames must be an integer >= 1, got 2.5"):
        tc.interpolate(torch.randn(1, 2, 1, 2, 2), 2.5)  # type: ignore[arg-type]
    with pytest.raises(tc.ShapeError, match=r"x must be a 5-D video batch .* got 4-D tensor of shape \(2, 4, 8, 8\)"):
        tc.Interpolator(16)(torch.randn(2, 4, 8, 8))
    with pytest.raises(tc.ShapeError, match=r"x must have a floating dtype, got torch.int64"):
        tc.interpolate(torch.zeros(1, 2, 1, 2, 2, dtype=torch.long), 4)
    with pytest.raises(tc.ConfigError, match=r"layout must be one of \('BTCHW', 'BCTHW'\), got 'TBCHW'"):
        tc.Interpolator(4, layout="TBCHW")
    with pytest.raises(ValueError):  # TemporalCondenseError is a ValueError
        tc.Interpolator(-1)


# ------------------------------------------------------------------ issue 9: no silent wrong number
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_input_is_a_named_error(bad: float) -> None:
    x = torch.zeros(1, 2, 1, 2, 2)
    x[0, 1, 0, 1, 1] = bad
    with pytest.raises(tc.ShapeError, match=r"x must be finite, got 1 NaN/inf value\(s\) of 8"):
        tc.interpolate(x, 4)
    with pytest.raises(tc.ShapeError, match=r"x must be finite"):
        tc.Interpolator(4)(x)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.uint8])
def test_interpolation_matrix_refuses_integer_dtypes(dtype: torch.dtype) -> None:
    with pytest.raises(tc.ShapeError, match=rf"dtype must be a floating torch.dtype .*got {dtype}"):
        interpolation_matrix(2, 3, "linear", dtype=dtype)


def test_interpolation_matrix_refuses_an_unknown_device() -> None:
    with pytest.raises(tc.ConfigError, match=r"device must name a torch device .*'banana'"):
        interpolation_matrix(2, 3, device="banana")
