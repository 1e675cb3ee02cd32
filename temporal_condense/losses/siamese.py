"""Siamese augmentation for the matching losses: one parameter set shared by the real and synthetic batch."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn

from temporal_condense._checks import check_layout, from_btchw, to_btchw
from temporal_condense.errors import ConfigError, ShapeError

__all__ = ["SiameseAugment", "SiameseFn"]


@runtime_checkable
class SiameseFn(Protocol):
    """A siamese augmentation: ``augment(real, syn) -> (real_aug, syn_aug)`` with shared parameters."""

    def __call__(self, real: torch.Tensor, syn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


# --------------------------------------------------------------------------------------------------
# Siamese augmentation
# --------------------------------------------------------------------------------------------------


class SiameseAugment(nn.Module):
    """Apply one kornia augmentation with the same parameters to a real and a synthetic batch.

    The two batches are concatenated along the batch axis and augmented in one call. Every kornia
    augmentation inside must be built with ``same_on_batch=True`` (or wrapped in an
    ``AugmentationSequential(..., same_on_batch=True)``), so that one parameter set is drawn per call and
    shared by all real and synthetic samples -- the DSA "Siamese" semantics (the published DSA code uses
    the first sample's parameters for the whole batch). For videos use ``kornia.augmentation.VideoSequential``
    (``data_format="BTCHW"``, same parameters on every frame). Parameters are drawn from torch's global
    RNG, as kornia does; seed it (:func:`torch.manual_seed`) for reproducible runs.

    Args:
        augmentation: A kornia augmentation or container mapping a batch to a batch of the same shape.
        layout: ``"BTCHW"`` (default) or ``"BCTHW"``: the layout of 5-D inputs; they are handed to
            ``augmentation`` as ``BTCHW`` and returned in ``layout``. 4-D inputs pass as they are.

    Raises:
        ConfigError: ``augmentation`` is not an ``nn.Module`` or one of its augmentations has
            ``same_on_batch=False``.

    Shape:
        - real: ``[B_r, *S]``, syn: ``[B_s, *S]`` (same ``S``).
        - Output: ``([B_r, *S], [B_s, *S])``, contiguous.

    Example:
        >>> import kornia.augmentation as K
        >>> aug = SiameseAugment(K.AugmentationSequential(K.RandomHorizontalFlip(), same_on_batch=True))
        >>> r, s = aug(torch.rand(4, 3, 8, 8), torch.rand(1, 3, 8, 8))
        >>> r.shape, s.shape
        (torch.Size([4, 3, 8, 8]), torch.Size([1, 3, 8, 8]))
    """

    def __init__(self, augmentation: nn.Module, *, layout: str = "BTCHW") -> None:
        super().__init__()
        if not isinstance(augmentation, nn.Module):
            raise ConfigError(
                f"augmentation must be a kornia augmentation (nn.Module), got {type(augmentation).__name__}"
            )
        for name, module in augmentation.named_modules():
            if getattr(module, "same_on_batch", None) is False:
                raise ConfigError(
                    f"augmentation {name or type(module).__name__!r} must have same_on_batch=True for siamese "
                    "augmentation (one parameter set shared by the real and synthetic batch), got False"
                )
        self.augmentation = augmentation
        self.layout: str = check_layout(layout)

    def forward(self, real: torch.Tensor, syn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment ``real`` and ``syn`` with the same parameters."""
        if real.shape[1:] != syn.shape[1:]:
            raise ShapeError(
                "real and syn must have the same per-sample shape for siamese augmentation, "
                f"got real {tuple(real.shape)} and syn {tuple(syn.shape)}"
            )
        n = real.shape[0]
        both = torch.cat([real, syn.to(real.dtype)])
        video = both.ndim == 5
        if video:
            both = to_btchw(both, self.layout)
        out = self.augmentation(both)
        if video:
            out = from_btchw(out, self.layout)
        return out[:n].contiguous(), out[n:].contiguous()


class _ReplaySiamese:
    """Adapter for :class:`temporal_condense.hooks.VideoAugmentation`: draw on real, replay on syn."""

    def __init__(self, augmentation: object) -> None:
        self.augmentation = augmentation

    def __call__(self, real: torch.Tensor, syn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out_real = self.augmentation.augment(real)  # type: ignore[attr-defined]
        out_syn, _ = self.augmentation.replay(syn)  # type: ignore[attr-defined]
        return out_real, out_syn


def _as_siamese(augment: object) -> SiameseFn | None:
    """Turn the ``augment=`` argument into a siamese callable ``(real, syn) -> (real, syn)`` (or ``None``).

    Accepted: ``None``; a :class:`SiameseAugment`; an object with ``augment(x)`` and ``replay(x)`` methods
    (:class:`temporal_condense.hooks.VideoAugmentation`: parameters drawn on the real batch, replayed on the
    synthetic one); a kornia augmentation module (wrapped in :class:`SiameseAugment`); any callable
    ``augment(real, syn) -> (real, syn)``.
    """
    if augment is None or isinstance(augment, (SiameseAugment, _ReplaySiamese)):
        return augment
    if callable(getattr(augment, "augment", None)) and callable(getattr(augment, "replay", None)):
        return _ReplaySiamese(augment)
    if isinstance(augment, nn.Module) and type(augment).__module__.startswith("kornia"):
        return SiameseAugment(augment)
    if callable(augment):
        return augment
    raise ConfigError(
        "augment must be None, a VideoAugmentation, a kornia augmentation, or a callable "
        f"augment(real, syn) -> (real, syn), got {type(augment).__name__}"
    )
