"""Multi-formation: one stored clip holds ``f x f`` smaller clips, decoded by spatial up-sampling.

The spatial counterpart of the :class:`~temporal_condense.Interpolator`'s key frames, and the synthetic-data
parameterization of IDC (Kim et al., "Dataset Condensation via Efficient Synthetic-Data Parameterization",
ICML 2022) carried to video: at the storage of one ``[T, C, H, W]`` clip, a synthetic set stores ``f^2``
clips of ``[T, C, H/f, W/f]`` side by side, and the student trains on each of them up-sampled to ``[H, W]``.
With one clip per class that trades resolution for more examples of the class.

* :meth:`MultiFormation.unpack` (also the render-hook call): ``[B, T, C, H, W] -> [B*f^2, T, C, H, W]``; tile
  ``(i, j)`` (row-major) of every frame, of ``H/f x W/f`` pixels, up-sampled bilinearly
  (``align_corners=False``); labels repeated ``f^2`` times. Linear, so exactly differentiable.
* :meth:`MultiFormation.pack`: the initialization from real clips, ``[B*f^2, T, C, H, W] -> [B, T, C, H, W]``;
  every clip area-averaged to ``H/f x W/f`` and put in its tile. ``unpack(pack(x))`` is every clip
  down-sampled and up-sampled again.

``f = 1`` is the identity both ways.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from temporal_condense._checks import check_divisible, check_int, check_tensor, check_video
from temporal_condense.errors import ShapeError

__all__ = ["MultiFormation"]


class MultiFormation(nn.Module):
    """Decode (and pack) multi-formation clips: ``f x f`` tiles of ``H/f x W/f`` per stored clip.

    Register it as a render hook of a synthetic set (``synset.register_render_hook(MultiFormation(2))``) to
    distill the stored clips through the decoding, and train the student on
    ``MultiFormation(2)(*synset.export())``.

    Args:
        factor: ``f >= 1``; ``H`` and ``W`` must be divisible by it.

    Raises:
        ConfigError: ``factor`` is not an integer ``>= 1``, or (at call time) ``H`` or ``W`` is not divisible
            by it.
        ShapeError: (at call time) not a video batch, a batch of :meth:`pack` not divisible by ``factor^2``,
            or labels that do not match the videos.

    Shape:
        - unpack / call: videos ``[B, T, C, H, W]`` -> ``[B*f^2, T, C, H, W]`` (contiguous, same dtype);
          labels ``[B]`` -> ``[B*f^2]``.
        - pack: ``[B*f^2, T, C, H, W]`` -> ``[B, T, C, H, W]``.

    Example:
        >>> mf = MultiFormation(2)
        >>> stored = mf.pack(torch.rand(8, 4, 3, 16, 16))  # 8 clips in the storage of 2
        >>> videos, labels = mf(stored, torch.tensor([0, 1]))
        >>> tuple(stored.shape), tuple(videos.shape), labels.tolist()
        ((2, 4, 3, 16, 16), (8, 4, 3, 16, 16), [0, 0, 0, 0, 1, 1, 1, 1])
    """

    def __init__(self, factor: int) -> None:
        super().__init__()
        self.factor = check_int(factor, "factor")

    @property
    def clips_per_stored(self) -> int:
        """``f^2``: the clips one stored clip decodes to."""
        return self.factor * self.factor

    def _tile_size(self, x: torch.Tensor) -> tuple[int, int]:
        h, w = int(x.shape[-2]), int(x.shape[-1])
        check_divisible(h, self.factor, "H (height of videos)", "factor")
        check_divisible(w, self.factor, "W (width of videos)", "factor")
        return h // self.factor, w // self.factor

    def unpack(self, videos: torch.Tensor) -> torch.Tensor:
        """Decode every stored clip into its ``f^2`` clips (see the class docstring)."""
        x = check_video(videos, "videos")
        h, w = self._tile_size(x)
        if self.factor == 1:
            return x.contiguous()
        f, t = self.factor, x.shape[1]
        tiles = rearrange(x, "b t c (i h) (j w) -> (b i j t) c h w", i=f, j=f)
        up = F.interpolate(tiles, size=(h * f, w * f), mode="bilinear", align_corners=False)
        return rearrange(up, "(n t) c h w -> n t c h w", t=t).contiguous()

    def pack(self, videos: torch.Tensor) -> torch.Tensor:
        """Store every ``f^2`` consecutive clips in one clip of the same size (see the class docstring)."""
        x = check_video(videos, "videos")
        h, w = self._tile_size(x)
        if x.shape[0] % self.clips_per_stored:
            raise ShapeError(
                f"videos must hold a multiple of factor^2 = {self.clips_per_stored} clips to pack, got {x.shape[0]}"
            )
        if self.factor == 1:
            return x.contiguous()
        f, t = self.factor, x.shape[1]
        small = F.interpolate(x.flatten(0, 1), size=(h, w), mode="area")
        small = rearrange(small, "(n t) c h w -> n t c h w", t=t)
        return rearrange(small, "(b i j) t c h w -> b t c (i h) (j w)", i=f, j=f).contiguous()

    def forward(self, videos: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Render-hook form: :meth:`unpack` the videos and repeat each label ``f^2`` times."""
        out = self.unpack(videos)
        y = check_tensor(labels, "labels", ndim=1)
        if y.shape[0] != videos.shape[0]:
            raise ShapeError(f"labels must have one entry per video ({videos.shape[0]}), got {y.shape[0]}")
        return out, y.repeat_interleave(self.clips_per_stored)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"
