"""temporal_condense.motion: the warp (against a plain bilinear reference, gradcheck) and the translation estimate."""

from __future__ import annotations

import pytest
import torch

from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.motion import estimate_translation, warp


def _reference_warp(images: torch.Tensor, displacement: torch.Tensor, circular: bool = False) -> torch.Tensor:
    """Bilinear sampling at ``p - d(p)`` written pixel by pixel: edge pixels repeated outside ("border"), or the
    image repeated periodically ("circular")."""
    n, _, h, w = images.shape
    out = torch.zeros_like(images)
    for b in range(n):
        for y in range(h):
            for x in range(w):
                sy, sx = y - float(displacement[b, 0, y, x]), x - float(displacement[b, 1, y, x])
                if circular:
                    sy, sx = sy % h, sx % w
                else:
                    sy, sx = min(max(sy, 0.0), h - 1.0), min(max(sx, 0.0), w - 1.0)
                y0, x0 = int(sy // 1), int(sx // 1)
                y1 = (y0 + 1) % h if circular else min(y0 + 1, h - 1)
                x1 = (x0 + 1) % w if circular else min(x0 + 1, w - 1)
                fy, fx = sy - y0, sx - x0
                out[b, :, y, x] = (
                    images[b, :, y0, x0] * (1 - fy) * (1 - fx)
                    + images[b, :, y0, x1] * (1 - fy) * fx
                    + images[b, :, y1, x0] * fy * (1 - fx)
                    + images[b, :, y1, x1] * fy * fx
                )
    return out


def test_warp_equals_plain_bilinear_reference() -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 5, 7, generator=g, dtype=torch.float64)
    displacement = 3 * torch.randn(2, 2, 5, 7, generator=g, dtype=torch.float64)  # some samples fall outside
    torch.testing.assert_close(warp(images, displacement), _reference_warp(images, displacement), rtol=0, atol=1e-12)
    torch.testing.assert_close(
        warp(images, displacement, "circular"), _reference_warp(images, displacement, circular=True), rtol=0, atol=1e-12
    )


def test_circular_warp_by_whole_pixels_is_a_roll() -> None:
    images = torch.rand(2, 3, 5, 7, dtype=torch.float64)
    d = torch.tensor([-3.0, 9.0], dtype=torch.float64).reshape(1, 2, 1, 1).expand(2, 2, 5, 7)
    torch.testing.assert_close(warp(images, d, "circular"), torch.roll(images, (-3, 9), (2, 3)), rtol=0, atol=1e-12)


def test_warp_whole_pixel_shift_moves_the_content() -> None:
    images = torch.rand(1, 2, 6, 8, dtype=torch.float64)
    d = torch.tensor([1.0, 2.0], dtype=torch.float64).reshape(1, 2, 1, 1).expand(1, 2, 6, 8)
    out = warp(images, d)
    torch.testing.assert_close(out[..., 1:, 2:], images[..., :-1, :-2], rtol=0, atol=1e-12)
    torch.testing.assert_close(out[..., 0, 2:], images[..., 0, :-2], rtol=0, atol=1e-12)  # border: edge row repeats
    zeros = warp(images, d, padding_mode="zeros")
    torch.testing.assert_close(zeros[..., 0, :], torch.zeros_like(zeros[..., 0, :]), rtol=0, atol=1e-12)


def test_warp_zero_displacement_is_the_identity() -> None:
    images = torch.rand(3, 3, 9, 4)
    torch.testing.assert_close(warp(images, torch.zeros(3, 2, 9, 4)), images, rtol=0, atol=1e-6)


def test_warp_gradcheck() -> None:
    g = torch.Generator().manual_seed(1)
    images = torch.rand(1, 2, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    # away from whole pixels, where bilinear sampling is not differentiable in the displacement
    displacement = (torch.rand(1, 2, 4, 5, generator=g, dtype=torch.float64) * 0.8 + 0.1).requires_grad_(True)
    assert torch.autograd.gradcheck(warp, (images, displacement))
    assert torch.autograd.gradcheck(lambda x, d: warp(x, d, "circular"), (images, displacement + 2.0))


@pytest.mark.parametrize(
    ("images", "displacement", "padding", "match"),
    [
        (torch.rand(2, 3, 5), torch.zeros(2, 2, 5), "border", "images"),
        (torch.rand(1, 3, 5, 5), torch.zeros(1, 1, 5, 5), "border", r"displacement must have shape \[N, 2, H, W\]"),
        (torch.rand(1, 3, 1, 5), torch.zeros(1, 2, 1, 5), "border", "at least 2 x 2"),
        (torch.rand(1, 3, 5, 5), torch.zeros(1, 2, 5, 5), "wrap", "padding_mode"),
    ],
)
def test_warp_errors(images: torch.Tensor, displacement: torch.Tensor, padding: str, match: str) -> None:
    with pytest.raises((ShapeError, ConfigError), match=match):
        warp(images, displacement, padding)


def test_estimate_translation_recovers_shifts_across_the_wrap() -> None:
    g = torch.Generator().manual_seed(2)
    frame = torch.zeros(3, 16, 12)
    frame[:, 3:7, 2:6] = torch.rand(3, 1, 1, generator=g)
    frame += 0.02 * torch.rand(3, 16, 12, generator=g)  # a faint static background
    steps = [(1, 5), (-2, -3)]  # per frame (dy, dx); the first leaves the right edge and comes back at the left
    clips = torch.stack(
        [torch.stack([torch.roll(frame, (t * dy, t * dx), (1, 2)) for t in range(6)]) for dy, dx in steps]
    )
    expected = torch.tensor([[[t * dy, t * dx] for t in range(6)] for dy, dx in steps], dtype=torch.float32)
    torch.testing.assert_close(estimate_translation(clips), expected, rtol=0, atol=0)
    torch.testing.assert_close(estimate_translation(clips, reference=3), expected - expected[:, 3:4], rtol=0, atol=0)


def test_estimate_translation_then_warp_rebuilds_the_clip() -> None:
    frame = torch.zeros(1, 3, 20, 20)
    frame[..., 8:12, 4:8] = 1.0
    clip = torch.stack([torch.roll(frame[0], (0, 2 * t), (1, 2)) for t in range(5)])  # stays inside the image
    path = estimate_translation(clip[None])[0]  # [T, 2]
    rebuilt = warp(clip[:1].expand(5, -1, -1, -1), path[:, :, None, None].expand(5, 2, 20, 20))
    torch.testing.assert_close(rebuilt, clip, rtol=0, atol=1e-5)


def test_estimate_translation_errors() -> None:
    with pytest.raises(ShapeError, match="videos"):
        estimate_translation(torch.zeros(4, 3, 8, 8))
    with pytest.raises(ConfigError, match=r"reference must be a frame index in \[0, 4\), got 4"):
        estimate_translation(torch.zeros(1, 4, 3, 8, 8), reference=4)
    bad = torch.zeros(1, 4, 3, 8, 8)
    bad[0, 1, 0, 0, 0] = float("nan")
    with pytest.raises(ShapeError, match="videos"):
        estimate_translation(bad)
