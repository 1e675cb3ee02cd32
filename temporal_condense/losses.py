"""Matching losses: distribution matching (DM) and gradient matching (DC).

Both losses compare a batch of real samples with a batch of synthetic samples *per class* and work on
any sample shape the student accepts: whole clips ``[B, T, C, H, W]``, single frames ``[B, C, H, W]``
(image distillation) and temporal segments handed over by
:class:`~temporal_condense.matcher.SegmentedMatcher`.

* **DM** (Zhao & Bilen, "Dataset Condensation with Distribution Matching"): for every class, the squared
  Euclidean distance between the mean embedding of the real and of the synthetic samples under a freshly
  initialized, frozen student (its ``embed()``), summed over classes. :func:`dm_loss` embeds all classes
  with one forward for the real batch and one for the synthetic batch and forms the per-class means with
  ``index_add`` -- the same number as the published per-class loop.
* **DC** (Zhao et al., "Dataset Condensation with Gradient Matching"): for every class, the layer-wise
  distance between the gradients of the cross-entropy on the real and on the synthetic batch
  (:func:`gradient_distance`, the published ``match_loss`` with ``dis_metric`` ``"ours"``, ``"mse"`` or
  ``"cos"``). The synthetic gradients are built with ``create_graph=True`` so the loss is differentiable
  with respect to the synthetic data.

Siamese augmentation (DSA): the same augmentation parameters are applied to the real and the synthetic
batch of a class. Pass ``augment=`` either a kornia augmentation (wrapped in :class:`SiameseAugment`) or
any callable ``augment(real, syn) -> (real, syn)``.

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    >>> real, syn = torch.randn(6, 3, 4, 4), torch.randn(2, 3, 4, 4, requires_grad=True)
    >>> loss = dm_loss(net, real, torch.tensor([0, 0, 0, 1, 1, 1]), syn, torch.tensor([0, 1]), num_classes=2)
    >>> loss.shape
    torch.Size([])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from temporal_condense._checks import (
    check_choice,
    check_finite,
    check_int,
    check_layout,
    check_same_device,
    check_tensor,
    from_btchw,
    to_btchw,
)
from temporal_condense.errors import ConfigError, ShapeError

__all__ = [
    "METRICS",
    "DistributionMatching",
    "GradientMatching",
    "SiameseAugment",
    "dc_class_loss",
    "dc_loss",
    "dm_class_loss",
    "dm_loss",
    "gradient_distance",
    "layer_distance",
]

METRICS: tuple[str, ...] = ("ours", "mse", "cos")
#: The published code adds this constant to the product of norms in every cosine.
_COS_EPS = 1e-6

EmbedFn = Callable[[torch.Tensor], torch.Tensor]


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


# --------------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------------


def _check_samples(x: object, name: str) -> torch.Tensor:
    t = check_tensor(x, name, floating=True)
    if t.ndim not in (4, 5):
        raise ShapeError(
            f"{name} must be a batch of images [B, C, H, W] or videos [B, T, C, H, W], "
            f"got {t.ndim}-D tensor of shape {tuple(t.shape)}"
        )
    if t.numel() == 0:
        raise ShapeError(f"{name} must not be empty, got shape {tuple(t.shape)}")
    return t


def _check_labels(labels: object, name: str, batch: int, num_classes: int) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        raise ShapeError(f"{name} must be an int64 tensor of shape [{batch}], got {type(labels).__name__}")
    if labels.ndim != 1 or labels.shape[0] != batch:
        raise ShapeError(f"{name} must have shape [{batch}] (one label per sample), got {tuple(labels.shape)}")
    if labels.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ShapeError(f"{name} must have an integer dtype, got {labels.dtype}")
    labels = labels.long()
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
        raise ShapeError(f"{name} must lie in [0, {num_classes - 1}] (num_classes={num_classes}), got [{lo}, {hi}]")
    return labels


def _check_pair(real: object, syn: object) -> tuple[torch.Tensor, torch.Tensor]:
    r = _check_samples(real, "real")
    s = _check_samples(syn, "syn")
    if r.ndim != s.ndim:
        raise ShapeError(f"real and syn must have the same rank, got real {tuple(r.shape)} and syn {tuple(s.shape)}")
    check_same_device("real", r, "syn", s)
    check_finite(r, "real")
    return r, s


def _present_classes(real_labels: torch.Tensor, syn_labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Classes with samples on both sides; raises if a class has samples on one side only."""
    has_r = torch.bincount(real_labels, minlength=num_classes) > 0
    has_s = torch.bincount(syn_labels, minlength=num_classes) > 0
    if not torch.equal(has_r, has_s):
        only_r = torch.nonzero(has_r & ~has_s).flatten().tolist()
        only_s = torch.nonzero(has_s & ~has_r).flatten().tolist()
        raise ShapeError(
            "real_labels and syn_labels must cover the same classes, got classes only in real "
            f"{only_r} and only in syn {only_s}"
        )
    return torch.nonzero(has_r).flatten()


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


# --------------------------------------------------------------------------------------------------
# DM
# --------------------------------------------------------------------------------------------------


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
        >>> embed = nn.Flatten()
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
        >>> embed = nn.Flatten()
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
        >>> loss_fn = DistributionMatching(nn.Flatten(), num_classes=2)
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


# --------------------------------------------------------------------------------------------------
# DC
# --------------------------------------------------------------------------------------------------


def layer_distance(gw_real: torch.Tensor, gw_syn: torch.Tensor) -> torch.Tensor:
    """Per-output-channel cosine distance of one layer's gradients (the published ``distance_wb``).

    The gradient is reshaped to ``[out, -1]`` and ``sum_o (1 - <r_o, s_o> / (|r_o| |s_o| + 1e-6))`` is
    returned. As in the published code, 1-D tensors (biases, norm scales) contribute ``0``. Tensors of rank
    2 (linear) are used as they are, ranks 3 and 4 are flattened after the first axis; rank 5 (``Conv3d``)
    is flattened the same way -- the published code has no branch for it (it would compare rows of the last
    axis), we use the per-output-channel rule it applies to every other weight.

    Args:
        gw_real: Gradient of the real loss for one parameter.
        gw_syn: Gradient of the synthetic loss for the same parameter.

    Returns:
        Scalar tensor.

    Shape:
        - gw_real, gw_syn: the parameter's shape. Output: scalar.

    Example:
        >>> layer_distance(torch.ones(2, 3), torch.ones(2, 3)).abs().item() < 1e-6
        True
    """
    if gw_real.shape != gw_syn.shape:
        raise ShapeError(
            f"gw_real and gw_syn must have the same shape, got {tuple(gw_real.shape)} and {tuple(gw_syn.shape)}"
        )
    if gw_real.ndim <= 1:
        return gw_syn.new_zeros(())
    r = gw_real.reshape(gw_real.shape[0], -1)
    s = gw_syn.reshape(gw_syn.shape[0], -1)
    cos = torch.sum(r * s, dim=-1) / (torch.norm(r, dim=-1) * torch.norm(s, dim=-1) + _COS_EPS)
    return torch.sum(1 - cos)


def gradient_distance(
    gw_syn: Sequence[torch.Tensor], gw_real: Sequence[torch.Tensor], metric: str = "ours"
) -> torch.Tensor:
    """Distance between two lists of per-parameter gradients (the published ``match_loss``).

    Args:
        gw_syn: Gradients of the synthetic loss, one per parameter.
        gw_real: Gradients of the real loss, same order and shapes.
        metric: ``"ours"`` (sum of :func:`layer_distance` over layers), ``"mse"`` (squared Euclidean
            distance of the concatenated gradients) or ``"cos"`` (``1 - cosine`` of the concatenated
            gradients, with the published ``1e-6`` in the denominator).

    Returns:
        Scalar tensor.

    Raises:
        ConfigError: Unknown ``metric``.
        ShapeError: The lists differ in length or in a shape, or are empty.

    Shape:
        - Each gradient: its parameter's shape. Output: scalar.

    Example:
        >>> g = [torch.ones(2, 3), torch.ones(2)]
        >>> gradient_distance(g, g, "mse").item()
        0.0
    """
    metric = check_choice(metric, "metric", METRICS)
    if len(gw_syn) != len(gw_real) or len(gw_real) == 0:
        raise ShapeError(
            f"gw_syn and gw_real must be non-empty lists of the same length, got {len(gw_syn)} and {len(gw_real)}"
        )
    if metric == "ours":
        total = gw_syn[0].new_zeros(())
        for r, s in zip(gw_real, gw_syn, strict=True):
            total = total + layer_distance(r, s)
        return total
    for i, (r, s) in enumerate(zip(gw_real, gw_syn, strict=True)):
        if r.shape != s.shape:
            raise ShapeError(
                f"gradient {i} must have the same shape on both sides, got {tuple(r.shape)} and {tuple(s.shape)}"
            )
    vr = torch.cat([g.reshape(-1) for g in gw_real])
    vs = torch.cat([g.reshape(-1) for g in gw_syn])
    if metric == "mse":
        return torch.sum((vs - vr) ** 2)
    return 1 - torch.sum(vr * vs, dim=-1) / (torch.norm(vr, dim=-1) * torch.norm(vs, dim=-1) + _COS_EPS)


def _trainable(model: nn.Module, params: Sequence[torch.Tensor] | None) -> list[torch.Tensor]:
    out: list[torch.Tensor] = [p for p in model.parameters() if p.requires_grad] if params is None else list(params)
    if not out:
        raise ConfigError(
            "model must have parameters with requires_grad=True for gradient matching (or pass params=), got none"
        )
    return out


def _grads(
    model: nn.Module, x: torch.Tensor, label: int, params: list[torch.Tensor], create_graph: bool
) -> list[torch.Tensor]:
    out = model(x)
    target = torch.full((x.shape[0],), label, dtype=torch.long, device=out.device)
    loss = F.cross_entropy(out, target)
    grads = torch.autograd.grad(loss, params, create_graph=create_graph, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params, strict=True)]


def dc_class_loss(
    real: torch.Tensor,
    syn: torch.Tensor,
    model: nn.Module,
    label: int,
    *,
    metric: str = "ours",
    augment: object = None,
    params: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Gradient-matching loss of one class.

    The gradient of ``cross_entropy(model(real), label)`` with respect to ``params`` (detached) is compared
    with that of ``cross_entropy(model(syn), label)`` (built with ``create_graph=True``) by
    :func:`gradient_distance`. Compatible with :class:`SegmentedMatcher`:
    ``matcher(real_c, syn_c, model, c)`` -- the model must accept a segment (``ConvNet3D`` needs at least 8
    frames; use the ``VideoConvNet*`` students for short segments).

    Args:
        real: Real samples of class ``label``.
        syn: Synthetic samples of class ``label``.
        model: The student (in the mode you want, usually ``train()``).
        label: The class index.
        metric: ``"ours"``, ``"mse"`` or ``"cos"`` (see :func:`gradient_distance`).
        augment: Optional siamese augmentation.
        params: Parameters to differentiate (default: those of ``model`` with ``requires_grad``).

    Returns:
        Scalar loss, differentiable with respect to ``syn``.

    Shape:
        - real: ``[B_r, ...]`` and syn ``[B_s, ...]``, what ``model`` accepts. Output: scalar.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> dc_class_loss(torch.randn(5, 1, 2, 2), torch.randn(1, 1, 2, 2, requires_grad=True), net, 1).shape
        torch.Size([])
    """
    r, s = _check_pair(real, syn)
    metric = check_choice(metric, "metric", METRICS)
    label = check_int(label, "label", minimum=0)
    plist = _trainable(model, params)
    aug = _as_siamese(augment)
    if aug is not None:
        r, s = aug(r, s)
    gw_real = [g.detach() for g in _grads(model, r, label, plist, create_graph=False)]
    gw_syn = _grads(model, s, label, plist, create_graph=True)
    return gradient_distance(gw_syn, gw_real, metric)


def dc_loss(
    model: nn.Module,
    real: torch.Tensor,
    real_labels: torch.Tensor,
    syn: torch.Tensor,
    syn_labels: torch.Tensor,
    num_classes: int,
    *,
    metric: str = "ours",
    augment: object = None,
    params: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Gradient-matching loss summed over the classes present (the published DC inner sum).

    Gradients are per class, so this loops over classes (as the published code does).

    Args:
        model: The student.
        real: Real samples; real_labels: their classes.
        syn: Synthetic samples; syn_labels: their classes.
        num_classes: Number of classes.
        metric: ``"ours"``, ``"mse"`` or ``"cos"``.
        augment: Optional siamese augmentation (its own parameters per class).
        params: Parameters to differentiate (default: those with ``requires_grad``).

    Returns:
        Scalar loss, differentiable with respect to ``syn``.

    Raises:
        ShapeError: Bad ranks or labels, or a class with samples on one side only.
        ConfigError: Unknown ``metric``, or a model without trainable parameters.

    Shape:
        - real: ``[B_r, ...]``, real_labels ``[B_r]``; syn: ``[B_s, ...]``, syn_labels ``[B_s]``.
        - Output: scalar.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> x, y = torch.randn(4, 1, 2, 2), torch.tensor([0, 0, 1, 1])
        >>> dc_loss(net, x, y, x[[0, 2]].clone().requires_grad_(), y[[0, 2]], 2).shape
        torch.Size([])
    """
    num_classes = check_int(num_classes, "num_classes")
    r, s = _check_pair(real, syn)
    rl = _check_labels(real_labels, "real_labels", r.shape[0], num_classes).to(r.device)
    sl = _check_labels(syn_labels, "syn_labels", s.shape[0], num_classes).to(s.device)
    classes = _present_classes(rl, sl, num_classes)
    plist = _trainable(model, params)
    total = s.new_zeros(())
    for c in classes.tolist():
        total = total + dc_class_loss(r[rl == c], s[sl == c], model, c, metric=metric, augment=augment, params=plist)
    return total


class GradientMatching:
    """DC as a ``loss_fn(real, syn, real_labels, syn_labels)`` for :class:`SegmentedMatcher`.

    Args:
        model: The student.
        num_classes: Number of classes.
        metric: ``"ours"``, ``"mse"`` or ``"cos"``.
        augment: Optional siamese augmentation.
        params: Parameters to differentiate (default: those with ``requires_grad``).

    Shape:
        - real: ``[B_r, ...]``, syn: ``[B_s, ...]``, labels ``[B_r]`` / ``[B_s]``. Output: scalar.

    Example:
        >>> loss_fn = GradientMatching(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), num_classes=2)
        >>> y = torch.tensor([0, 1])
        >>> loss_fn(torch.randn(2, 1, 2, 2), torch.randn(2, 1, 2, 2), y, y).shape
        torch.Size([])
    """

    def __init__(
        self,
        model: nn.Module,
        num_classes: int,
        *,
        metric: str = "ours",
        augment: object = None,
        params: Sequence[torch.Tensor] | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model must be an nn.Module, got {type(model).__name__}")
        self.model = model
        self.num_classes = check_int(num_classes, "num_classes")
        self.metric = check_choice(metric, "metric", METRICS)
        self.augment = _as_siamese(augment)
        self.params = None if params is None else list(params)

    def __call__(
        self, real: torch.Tensor, syn: torch.Tensor, real_labels: torch.Tensor, syn_labels: torch.Tensor
    ) -> torch.Tensor:
        """Return :func:`dc_loss` of the batches."""
        return dc_loss(
            self.model,
            real,
            real_labels,
            syn,
            syn_labels,
            self.num_classes,
            metric=self.metric,
            augment=self.augment,
            params=self.params,
        )
