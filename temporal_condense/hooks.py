"""Render hooks: callables ``fn(videos, labels) -> (videos, labels)`` for synthetic sets.

Register them with :meth:`~temporal_condense.synthetic.SyntheticSet.register_render_hook`; they also work
on their own (on real batches, for example).

* :class:`VideoAugmentation` - differentiable kornia augmentation (:class:`kornia.augmentation.VideoSequential`,
  ``data_format="BTCHW"``, the same parameters on every frame of a clip), replayable on a second batch for
  siamese (DSA-style) real/synthetic augmentation.
* :class:`Standardize` - per-channel ``(x - mean) / std``.
* :class:`BatchStandardize` / :func:`standardize_batch` - the video benchmark's per-batch standardization
  ``(x - x.mean()) / x.std()`` (what its experts, its evaluation and its distillation loops see).
* :class:`SegmentSplit` - ``[B, T] -> [B*K, T/K]`` with labels repeated (segment-wise MTT).

Example:
    >>> import torch
    >>> from temporal_condense.hooks import SegmentSplit
    >>> videos, labels = SegmentSplit(4)(torch.randn(2, 16, 3, 8, 8), torch.tensor([0, 1]))
    >>> tuple(videos.shape), labels.tolist()
    ((8, 4, 3, 8, 8), [0, 0, 0, 0, 1, 1, 1, 1])
"""

from __future__ import annotations

from collections.abc import Sequence

import kornia.augmentation as K
import torch
from einops import rearrange
from kornia.augmentation.container.params import ParamItem
from torch import nn

from temporal_condense._checks import check_divisible, check_int, check_tensor, check_video
from temporal_condense.errors import ConfigError, ShapeError

__all__ = [
    "STD_EPS",
    "BatchStandardize",
    "SegmentSplit",
    "Standardize",
    "VideoAugmentation",
    "default_augmentations",
    "standardize_batch",
]

STD_EPS = 1e-12  # the floor of the standard deviation in standardize_batch (a constant batch gives zeros)


def _check_labels(labels: torch.Tensor | None, batch: int) -> None:
    if labels is None:
        return
    check_tensor(labels, "labels", ndim=1)
    if labels.shape[0] != batch:
        raise ShapeError(f"labels must have one entry per video ({batch}), got {labels.shape[0]}")


def default_augmentations(same_on_batch: bool = False) -> list[nn.Module]:
    """Geometric DSA-like augmentations as kornia modules: flip, then scale/rotate/translate.

    DSA's colour operations are left out: kornia's colour ops clamp to ``[0, 1]``, which is wrong for
    standardized videos. Pass your own kornia modules to :class:`VideoAugmentation` for other choices.

    Args:
        same_on_batch: One draw shared by every clip of the batch (DSA's siamese mode).

    Returns:
        The list of kornia augmentation modules.
    """
    return [
        K.RandomHorizontalFlip(p=0.5, same_on_batch=same_on_batch),
        K.RandomAffine(
            degrees=15.0,
            translate=(0.125, 0.125),
            scale=(1.0 / 1.2, 1.2),
            p=1.0,
            same_on_batch=same_on_batch,
            padding_mode="zeros",
        ),
    ]


class VideoAugmentation(nn.Module):
    """Differentiable video augmentation with the same parameters on every frame, replayable.

    Built on :class:`kornia.augmentation.VideoSequential` (``data_format="BTCHW"``, ``same_on_frame=True``).
    Each call draws new parameters (from torch's global RNG, as kornia does) and remembers them;
    :meth:`replay` applies the remembered parameters to another batch:

    * same batch shape: kornia's recorded parameters are reused as they are (clip ``i`` of the second
      batch gets the transform of clip ``i`` of the first);
    * different batch size or length, with ``siamese=True``: every clip of both batches gets the one
      shared transform (the RNG state of the last draw is restored and the draw repeated; with
      ``same_on_batch`` kornia draws once and broadcasts, so the draw does not depend on the batch size).

    Gradients flow to the input (kornia warps with ``grid_sample``).

    Args:
        *augmentations: kornia 2-D augmentation modules; none = :func:`default_augmentations`.
        siamese: Share one draw across the batch (DSA's siamese augmentation), which makes :meth:`replay`
            work on batches of another size. Sets ``same_on_batch`` on the given modules.

    Shape:
        - videos: ``[B, T, C, H, W]``; output the same shape, contiguous.

    Example:
        >>> aug = VideoAugmentation(siamese=True)
        >>> syn, _ = aug(torch.rand(2, 4, 3, 16, 16), torch.tensor([0, 1]))
        >>> real, _ = aug.replay(torch.rand(5, 4, 3, 16, 16))
        >>> real.shape
        torch.Size([5, 4, 3, 16, 16])
    """

    def __init__(self, *augmentations: nn.Module, siamese: bool = False) -> None:
        super().__init__()
        mods = list(augmentations) or default_augmentations(same_on_batch=siamese)
        for i, mod in enumerate(mods):
            if not isinstance(mod, nn.Module):
                raise ConfigError(f"augmentations[{i}] must be a kornia augmentation module, got {mod!r}")
            if siamese and hasattr(mod, "same_on_batch"):
                setattr(mod, "same_on_batch", True)  # noqa: B010 - kornia attribute, not typed
        self.siamese = bool(siamese)
        self.sequential = K.VideoSequential(*mods, data_format="BTCHW", same_on_frame=True)
        self._last_params: list[ParamItem] | None = None
        self._last_shape: tuple[int, ...] | None = None
        self._last_rng: torch.Tensor | None = None

    def augment(self, videos: torch.Tensor) -> torch.Tensor:
        """Augment ``videos`` with freshly drawn parameters and remember them for :meth:`replay`."""
        x = check_video(videos, "videos")
        self._last_rng = torch.get_rng_state()
        out = self.sequential(x)
        self._last_params = self.sequential._params
        self._last_shape = tuple(x.shape)
        return out.contiguous()

    def replay(
        self, videos: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Apply the parameters of the last call to ``videos`` (see the class docstring).

        Args:
            videos: ``[B, T, C, H, W]``.
            labels: Passed through unchanged (optional).

        Returns:
            ``(augmented videos, labels)``.

        Raises:
            ConfigError: Nothing to replay yet.
            ShapeError: A batch of another size or length without ``siamese=True``.
        """
        x = check_video(videos, "videos")
        _check_labels(labels, x.shape[0])
        if self._last_params is None or self._last_shape is None or self._last_rng is None:
            raise ConfigError("replay needs a previous call of the augmentation (nothing to replay yet)")
        if tuple(x.shape) == self._last_shape:
            return self.sequential(x, params=self._last_params).contiguous(), labels
        if tuple(x.shape[2:]) != self._last_shape[2:]:
            raise ShapeError(
                f"videos must have the [C, H, W] of the augmented batch {self._last_shape[2:]}, "
                f"got {tuple(x.shape[2:])}"
            )
        if not self.siamese:
            raise ShapeError(
                f"videos must have the shape of the augmented batch {self._last_shape} to replay per-clip "
                f"parameters, got {tuple(x.shape)}; use VideoAugmentation(..., siamese=True) to share one "
                "draw across batches of different sizes"
            )
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._last_rng)
            params = self.sequential.forward_parameters(x.shape)
        return self.sequential(x, params=params).contiguous(), labels

    def forward(self, videos: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Render-hook form: augment ``videos`` (new draw), pass ``labels`` through."""
        _check_labels(labels, videos.shape[0] if isinstance(videos, torch.Tensor) else -1)
        return self.augment(videos), labels


def _as_channel_vector(value: float | Sequence[float] | torch.Tensor, name: str) -> torch.Tensor:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        vec = torch.tensor([float(value)], dtype=torch.float64)
    else:
        try:
            vec = torch.as_tensor(value, dtype=torch.float64).flatten()
        except (TypeError, ValueError, RuntimeError):
            raise ConfigError(f"{name} must be a number or a sequence of numbers, got {value!r}") from None
    if vec.numel() == 0 or not bool(torch.isfinite(vec).all()):
        raise ConfigError(f"{name} must be finite and non-empty, got {vec.tolist()}")
    return vec


class Standardize(nn.Module):
    """Per-channel standardization ``(x - mean[c]) / std[c]`` of ``[B, T, C, H, W]`` videos.

    Args:
        mean: One value, or one per channel.
        std: One positive value, or one per channel.

    Raises:
        ConfigError: ``std <= 0``, non-finite values, or ``mean``/``std`` of different lengths.
        ShapeError: (at call time) ``C`` differs from the number of per-channel values.

    Shape:
        - videos: ``[B, T, C, H, W]``; output the same shape and dtype, contiguous.

    Example:
        >>> norm = Standardize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        >>> norm(torch.rand(2, 4, 3, 8, 8), torch.tensor([0, 1]))[0].shape
        torch.Size([2, 4, 3, 8, 8])
    """

    def __init__(
        self, mean: float | Sequence[float] | torch.Tensor, std: float | Sequence[float] | torch.Tensor
    ) -> None:
        super().__init__()
        m = _as_channel_vector(mean, "mean")
        s = _as_channel_vector(std, "std")
        if bool((s <= 0).any()):
            raise ConfigError(f"std must be > 0 for every channel, got {s.tolist()}")
        if m.numel() != s.numel() and 1 not in (m.numel(), s.numel()):
            raise ConfigError(f"mean and std must have the same length, got {m.numel()} and {s.numel()}")
        self.register_buffer("mean", m, persistent=False)
        self.register_buffer("std", s, persistent=False)

    mean: torch.Tensor
    std: torch.Tensor

    def standardize(self, videos: torch.Tensor) -> torch.Tensor:
        """Return the standardized videos (see the class docstring)."""
        x = check_video(videos, "videos")
        c = x.shape[2]
        n = max(self.mean.numel(), self.std.numel())
        if n not in (1, c):
            raise ShapeError(f"videos must have C = {n} channels to match mean/std, got {c}")
        mean = self.mean.to(device=x.device, dtype=x.dtype).view(1, 1, -1, 1, 1)
        std = self.std.to(device=x.device, dtype=x.dtype).view(1, 1, -1, 1, 1)
        return ((x - mean) / std).contiguous()

    def forward(self, videos: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Render-hook form: standardize ``videos``, pass ``labels`` through."""
        return self.standardize(videos), labels

    def extra_repr(self) -> str:
        return f"mean={self.mean.tolist()}, std={self.std.tolist()}"


def standardize_batch(x: torch.Tensor) -> torch.Tensor:
    """Standardize a batch with its own scalar mean and (unbiased) standard deviation, as the reference.

    The one per-batch standardization of the library: the experts (``standardize="batch"``), the evaluation
    protocol (``"published"``) and the pipeline's trajectory matching all call it.

    Args:
        x: Any batch.

    Raises:
        ShapeError: ``x`` is not a floating tensor.

    Returns:
        ``(x - x.mean()) / x.std()``, contiguous (the std is floored at :data:`STD_EPS` so a constant batch
        gives zeros, not NaN; a single element is only centred).

    Shape:
        Input and output: any shape.

    Example:
        >>> standardize_batch(torch.tensor([1.0, 3.0])).tolist()
        [-0.7071067690849304, 0.7071067690849304]
    """
    x = check_tensor(x, "x", floating=True)
    std = x.std() if x.numel() > 1 else x.new_ones(())
    return ((x - x.mean()) / std.clamp_min(STD_EPS)).contiguous()


class BatchStandardize(nn.Module):
    """Render-hook form of :func:`standardize_batch`: standardize ``videos``, pass ``labels`` through.

    Shape:
        - videos: any shape (e.g. ``[B, T, C, H, W]``); output the same shape, contiguous.

    Example:
        >>> v, y = BatchStandardize()(torch.rand(2, 4, 3, 8, 8), torch.tensor([0, 1]))
        >>> abs(float(v.mean())) < 1e-6, y.tolist()
        (True, [0, 1])
    """

    def forward(self, videos: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardize ``videos`` (see :func:`standardize_batch`), pass ``labels`` through."""
        return standardize_batch(videos), labels


class SegmentSplit(nn.Module):
    """Split every clip into ``K`` contiguous segments: ``[B, T] -> [B*K, T/K]``, labels repeated.

    Segments of one clip are consecutive in the output (clip 0 segment 0, clip 0 segment 1, ...), and
    ``labels`` are repeated accordingly (``repeat_interleave``). Used for segment-wise trajectory matching:
    the student trains on synthetic segments while the experts were trained on real segments of the same
    length.

    Args:
        segments: ``K >= 1``.

    Raises:
        ConfigError: ``K < 1`` or (at call time) ``T`` not divisible by ``K``.

    Shape:
        - videos: ``[B, T, C, H, W]`` -> ``[B*K, T/K, C, H, W]`` (contiguous); labels ``[B]`` -> ``[B*K]``.

    Example:
        >>> split = SegmentSplit(2)
        >>> v, y = split(torch.randn(3, 8, 1, 4, 4), torch.tensor([0, 1, 2]))
        >>> tuple(v.shape), y.tolist()
        ((6, 4, 1, 4, 4), [0, 0, 1, 1, 2, 2])
    """

    def __init__(self, segments: int) -> None:
        super().__init__()
        self.segments = check_int(segments, "segments")

    def forward(self, videos: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Split ``videos`` and repeat ``labels`` (see the class docstring)."""
        x = check_video(videos, "videos")
        _check_labels(labels, x.shape[0])
        check_divisible(x.shape[1], self.segments, "T (frames of videos)", "segments")
        out = rearrange(x, "b (k t) c h w -> (b k) t c h w", k=self.segments).contiguous()
        return out, labels.repeat_interleave(self.segments)

    def extra_repr(self) -> str:
        return f"segments={self.segments}"
