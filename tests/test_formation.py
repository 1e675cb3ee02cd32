"""Tests of MultiFormation: the decode against a per-tile loop, pack, gradients, errors, render hook."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from temporal_condense import SyntheticVideos
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.formation import MultiFormation


def _unpack_reference(x: torch.Tensor, f: int) -> torch.Tensor:
    """Plain loops: clip b's tile (i, j) of every frame, up-sampled bilinearly to the full size."""
    b, height, width = x.shape[0], x.shape[3], x.shape[4]
    h, w = height // f, width // f
    out = []
    for n in range(b):
        for i in range(f):
            for j in range(f):
                tile = x[n, :, :, i * h : (i + 1) * h, j * w : (j + 1) * w]
                out.append(F.interpolate(tile, size=(height, width), mode="bilinear", align_corners=False))
    return torch.stack(out)


def _pack_reference(x: torch.Tensor, f: int) -> torch.Tensor:
    """Plain loops: clip n*f^2 + i*f + j, averaged over f x f blocks, into tile (i, j) of stored clip n."""
    total, t, c, height, width = x.shape
    h, w = height // f, width // f
    out = torch.zeros(total // (f * f), t, c, height, width, dtype=x.dtype)
    for k in range(total):
        n, i, j = k // (f * f), (k % (f * f)) // f, k % f
        block_mean = x[k].reshape(t, c, h, f, w, f).mean(dim=(3, 5))
        out[n, :, :, i * h : (i + 1) * h, j * w : (j + 1) * w] = block_mean
    return out


@pytest.mark.parametrize("f", [1, 2, 3])
def test_unpack_matches_tile_loop(f: int) -> None:
    x = torch.randn(2, 3, 2, 6 * f, 4 * f, dtype=torch.float64)
    out = MultiFormation(f).unpack(x)
    assert out.shape == (2 * f * f, 3, 2, 6 * f, 4 * f) and out.is_contiguous()
    torch.testing.assert_close(out, _unpack_reference(x, f), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f", [1, 2, 3])
def test_pack_matches_block_mean_loop(f: int) -> None:
    x = torch.randn(2 * f * f, 3, 2, 6 * f, 4 * f, dtype=torch.float64)
    packed = MultiFormation(f).pack(x)
    assert packed.shape == (2, 3, 2, 6 * f, 4 * f)
    torch.testing.assert_close(packed, _pack_reference(x, f), rtol=1e-12, atol=1e-12)


def test_unpack_of_pack_keeps_smooth_clips() -> None:
    # A clip that is constant on every 2x2 block survives the area down-sampling exactly; bilinear up-sampling
    # of a constant tile is that constant.
    mf = MultiFormation(2)
    flat = torch.rand(4, 2, 1, 1, 1, dtype=torch.float64).expand(4, 2, 1, 8, 8)
    torch.testing.assert_close(mf.unpack(mf.pack(flat)), flat.contiguous(), rtol=0, atol=1e-15)


def test_unpack_gradcheck() -> None:
    x = torch.randn(1, 2, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(MultiFormation(2).unpack, (x,))


def test_render_hook_repeats_labels_and_reaches_the_stored_clips() -> None:
    synset = SyntheticVideos(2, 1, frames=4, size=(8, 8), seed=0)
    synset.register_render_hook(MultiFormation(2))
    videos, labels = synset([0, 1])
    assert videos.shape == (8, 4, 3, 8, 8)
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    videos[5].sum().backward()  # class 1's tile (0, 1): only the stored clip of class 1 gets a gradient
    grad = synset.videos.grad
    assert grad is not None and float(grad[0].abs().sum()) == 0.0 and float(grad[1].abs().sum()) > 0.0
    assert synset.class_videos(1).shape == (4, 4, 3, 8, 8)


def test_errors_name_the_argument() -> None:
    with pytest.raises(ConfigError, match="factor must be an integer >= 1, got 0"):
        MultiFormation(0)
    with pytest.raises(ConfigError, match=r"H \(height of videos\) \(9\) must be divisible by factor \(2\)"):
        MultiFormation(2).unpack(torch.randn(1, 2, 1, 9, 8))
    with pytest.raises(ConfigError, match=r"W \(width of videos\) \(10\) must be divisible by factor \(3\)"):
        MultiFormation(3).pack(torch.randn(9, 2, 1, 9, 10))
    with pytest.raises(ShapeError, match=r"multiple of factor\^2 = 4 clips to pack, got 6"):
        MultiFormation(2).pack(torch.randn(6, 2, 1, 8, 8))
    with pytest.raises(ShapeError, match=r"labels must have one entry per video \(2\), got 3"):
        MultiFormation(2)(torch.randn(2, 2, 1, 8, 8), torch.tensor([0, 1, 2]))
    with pytest.raises(ShapeError, match="videos must be a 5-D video batch"):
        MultiFormation(2).unpack(torch.randn(2, 1, 8, 8))


def test_the_docs_example_runs() -> None:
    page = (Path(__file__).parents[1] / "docs" / "multi-formation.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", page, re.S)
    assert code is not None
    scope: dict[str, Any] = {}
    exec(code.group(1), scope)
    assert scope["class3"].shape == (4, 8, 3, 48, 48)
    assert scope["student_videos"].shape == (40, 8, 3, 48, 48)
    assert scope["student_labels"].tolist() == torch.arange(10).repeat_interleave(4).tolist()
    real, synset = scope["real"], scope["synset"]
    torch.testing.assert_close(synset.videos.detach(), MultiFormation(2).pack(real))
