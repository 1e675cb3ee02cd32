"""DM (Zhao & Bilen, "Dataset Condensation with Distribution Matching"): mean-embedding matching."""

from __future__ import annotations

from collections.abc import Callable

import torch

from temporal_condense._checks import check_int
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.losses._common import _check_labels, _check_pair, _flat, _present_classes
from temporal_condense.losses.siamese import SiameseFn, _as_siamese

__all__ = ["DistributionMatching", "EmbedFn", "dm_class_loss", "dm_loss"]

EmbedFn = Callable[[torch.Tensor], torch.Tensor]


def dm_class_loss(
    real: torch.Tensor,
    syn: torch.Tensor,
    embed_fn: EmbedFn,
    *,
    augment: object = None,
) -> torch.Tensor:
    """DM loss of one class: ``|| mean(embed(real)) - mean(embed(syn)) ||^2``.

    Compatible with :class:`~temporal_condense.matcher.SegmentedMatcher`:
    ``SegmentedMatcher(dm_class_loss, segments=4)(real_c, syn_c, net.embed)``. The real embedding is
    computed without gradient (as the published code detaches it).

    Args:
        real: Real samples of one class.
        syn: Synthetic samples of the same class.
        embed_fn: Feature extractor, usually the ``embed`` method of a freshly initialized frozen student.
        augment: Optional siamese augmentation (see :class:`SiameseAugment`).

    Returns:
        Scalar loss, differentiable with respect to ``syn``.

    Shape:
        - real: ``[B_r, C, H, W]`` or ``[B_r, T, C, H, W]``; syn: the same rank, ``[B_s, ...]``.
        - Output: scalar.

    Example:
        >>> embed = torch.nn.Flatten()
        >>> dm_class_loss(torch.ones(3, 1, 2, 2), torch.zeros(1, 1, 2, 2), embed).item()
        4.0
    """
    r, s = _check_pair(real, syn)
    aug = _as_siamese(augment)
    if aug is not None:
        r, s = aug(r, s)
    with torch.no_grad():
        e_real = _flat(embed_fn(r))
    e_syn = _flat(embed_fn(s))
    return torch.sum((e_real.mean(dim=0) - e_syn.mean(dim=0)) ** 2)


def _class_means(emb: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    sums = emb.new_zeros(num_classes, emb.shape[1]).index_add(0, labels, emb)
    counts = torch.bincount(labels, minlength=num_classes).clamp_min(1).to(emb.dtype)
    return sums / counts[:, None]


def _embed_chunked(embed_fn: EmbedFn, x: torch.Tensor, chunk: int | None) -> torch.Tensor:
    if chunk is None or x.shape[0] <= chunk:
        return _flat(embed_fn(x))
    return torch.cat([_flat(embed_fn(part)) for part in x.split(chunk)])


def _augment_per_class(
    aug: SiameseFn,
    real: torch.Tensor,
    real_labels: torch.Tensor,
    syn: torch.Tensor,
    syn_labels: torch.Tensor,
    classes: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Siamese-augment each class with its own parameters; return the batches regrouped by class."""
    rs, ss, rl, sl = [], [], [], []
    for c in classes.tolist():
        r_c, s_c = aug(real[real_labels == c], syn[syn_labels == c])
        rs.append(r_c)
        ss.append(s_c)
        rl.append(torch.full((r_c.shape[0],), c, dtype=torch.long, device=real_labels.device))
        sl.append(torch.full((s_c.shape[0],), c, dtype=torch.long, device=syn_labels.device))
    return torch.cat(rs), torch.cat(rl), torch.cat(ss), torch.cat(sl)


def dm_loss(
    embed_fn: EmbedFn,
    real: torch.Tensor,
    real_labels: torch.Tensor,
    syn: torch.Tensor,
    syn_labels: torch.Tensor,
    num_classes: int,
    *,
    augment: object = None,
    real_chunk: int | None = None,
) -> torch.Tensor:
    """Distribution-matching loss summed over classes, with one forward per side.

    ``sum_c || mean_{i: y_i = c} embed(real)_i - mean_{j: y_j = c} embed(syn)_j ||^2`` over the classes
    present. The per-class means are formed with ``index_add`` from one forward of all real samples and
    one of all synthetic samples; the number equals the published per-class loop (to rounding).

    Args:
        embed_fn: Feature extractor (``net.embed`` of a freshly initialized, frozen student).
        real: Real samples, any classes in any order.
        real_labels: Class of each real sample.
        syn: Synthetic samples.
        syn_labels: Class of each synthetic sample.
        num_classes: Number of classes.
        augment: Optional siamese augmentation; each class draws its own parameters, shared by its real and
            synthetic samples.
        real_chunk: Embed the real batch (under ``no_grad``) in chunks of this many samples to bound memory.

    Returns:
        Scalar loss, differentiable with respect to ``syn``.

    Raises:
        ShapeError: Bad ranks or labels, or a class that has samples on one side only.
        ConfigError: ``num_classes`` or ``real_chunk`` is not a positive integer.

    Shape:
        - real: ``[B_r, C, H, W]`` or ``[B_r, T, C, H, W]``; real_labels: ``[B_r]``.
        - syn: same rank, ``[B_s, ...]``; syn_labels: ``[B_s]``.
        - Output: scalar.

    Example:
        >>> embed = torch.nn.Flatten()
        >>> real, syn = torch.ones(4, 1, 2, 2), torch.zeros(2, 1, 2, 2)
        >>> dm_loss(embed, real, torch.tensor([0, 0, 1, 1]), syn, torch.tensor([0, 1]), 2).item()
        8.0
    """
    num_classes = check_int(num_classes, "num_classes")
    if real_chunk is not None:
        real_chunk = check_int(real_chunk, "real_chunk")
    r, s = _check_pair(real, syn)
    rl = _check_labels(real_labels, "real_labels", r.shape[0], num_classes).to(r.device)
    sl = _check_labels(syn_labels, "syn_labels", s.shape[0], num_classes).to(s.device)
    classes = _present_classes(rl, sl, num_classes)
    aug = _as_siamese(augment)
    if aug is not None:
        r, rl, s, sl = _augment_per_class(aug, r, rl, s, sl, classes)
    with torch.no_grad():
        e_real = _embed_chunked(embed_fn, r, real_chunk)
    e_syn = _flat(embed_fn(s))
    if e_real.shape[1] != e_syn.shape[1]:
        raise ShapeError(
            f"embed_fn must give real and syn features of the same size, got {e_real.shape[1]} and {e_syn.shape[1]}"
        )
    mean_real = _class_means(e_real.to(e_syn.dtype), rl, num_classes)
    mean_syn = _class_means(e_syn, sl, num_classes)
    diff = (mean_real - mean_syn).index_select(0, classes.to(e_syn.device))
    return torch.sum(diff**2)


class DistributionMatching:
    """DM as a ``loss_fn(real, syn, real_labels, syn_labels)`` for :class:`SegmentedMatcher`.

    Args:
        embed_fn: Feature extractor (``net.embed``).
        num_classes: Number of classes.
        augment: Optional siamese augmentation.
        real_chunk: See :func:`dm_loss`.

    Shape:
        - real: ``[B_r, ...]``, syn: ``[B_s, ...]``, labels ``[B_r]`` / ``[B_s]``. Output: scalar.

    Example:
        >>> loss_fn = DistributionMatching(torch.nn.Flatten(), num_classes=2)
        >>> loss_fn(torch.ones(2, 1, 2, 2), torch.zeros(2, 1, 2, 2), torch.tensor([0, 1]), torch.tensor([0, 1])).item()
        8.0
    """

    def __init__(
        self, embed_fn: EmbedFn, num_classes: int, *, augment: object = None, real_chunk: int | None = None
    ) -> None:
        if not callable(embed_fn):
            raise ConfigError(f"embed_fn must be callable, got {type(embed_fn).__name__}")
        self.embed_fn = embed_fn
        self.num_classes = check_int(num_classes, "num_classes")
        self.augment = _as_siamese(augment)
        self.real_chunk = real_chunk

    def __call__(
        self, real: torch.Tensor, syn: torch.Tensor, real_labels: torch.Tensor, syn_labels: torch.Tensor
    ) -> torch.Tensor:
        """Return :func:`dm_loss` of the batches."""
        return dm_loss(
            self.embed_fn,
            real,
            real_labels,
            syn,
            syn_labels,
            self.num_classes,
            augment=self.augment,
            real_chunk=self.real_chunk,
        )
