"""FRePo (Zhou et al., "Dataset Distillation using Neural Feature Regression"): kernel ridge regression matching.

The synthetic set is matched by how well it *predicts the real labels* by kernel ridge regression (KRR) on
the features ``F = embed(x)`` of a network drawn from a pool of online-trained models
(:class:`~temporal_condense.losses.pool.ModelPool`)::

    K_ss = F_s F_sᵀ,  K_ts = F_t F_sᵀ,  Ŷ_t = K_ts (K_ss + |λ| · tr(K_ss)/n_s · I)⁻¹ Y_s,
    loss = mean_t || Ŷ_t - Y_t ||²                                   (squared error summed over classes)

Labels are *centred one-hot* vectors (``one_hot - 1/num_classes``), as in the published code; the synthetic
ones are divided by ``sqrt(num_classes / 10)`` (:func:`published_label_scale`) and may be learned
(:class:`LearnedLabels`, with the published :func:`label_margin_loss`). Unlike DM and DC the loss is not a
sum over classes: the real batch is any mix of classes (the published loop draws 512 random clips) and the
synthetic batch is usually the whole set.

Example:
    >>> import torch
    >>> embed = torch.nn.Flatten()
    >>> real, syn = torch.randn(8, 3, 4, 4), torch.randn(4, 3, 4, 4, requires_grad=True)
    >>> loss = frepo_loss(embed, real, torch.arange(8) % 2, syn, torch.tensor([0, 0, 1, 1]), num_classes=2)
    >>> loss.shape
    torch.Size([])
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from temporal_condense._checks import check_int, check_tensor
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.losses._common import _check_pair, _flat
from temporal_condense.losses.siamese import _as_siamese

__all__ = [
    "DEFAULT_REG",
    "FRePoMatching",
    "LearnedLabels",
    "centered_one_hot",
    "frepo_loss",
    "krr_predict",
    "label_margin_loss",
    "published_label_scale",
]

#: The published regularization ``reg`` of ``nfr`` (scaled by ``tr(K_ss) / n``).
DEFAULT_REG = 1e-6

EmbedFn = Callable[[torch.Tensor], torch.Tensor]


def published_label_scale(num_classes: int) -> float:
    """The published divisor of the synthetic labels, ``sqrt(num_classes / 10)``.

    Example:
        >>> published_label_scale(10)
        1.0
    """
    return math.sqrt(check_int(num_classes, "num_classes") / 10)


def centered_one_hot(
    labels: torch.Tensor, num_classes: int, *, scale: float = 1.0, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """FRePo regression targets: ``(one_hot(labels) - 1 / num_classes) / scale``.

    Args:
        labels: Class indices.
        num_classes: Number of classes (``>= 2``).
        scale: Divisor (real targets: 1; published synthetic targets: :func:`published_label_scale`).
        dtype: Floating dtype of the result.

    Returns:
        The targets, rows sum to 0.

    Raises:
        ShapeError: ``labels`` is not a 1-D integer tensor in ``[0, num_classes)``.
        ConfigError: ``num_classes < 2`` or ``scale`` is not a positive finite number.

    Shape:
        - labels: ``[B]``. Output: ``[B, num_classes]``.

    Example:
        >>> centered_one_hot(torch.tensor([1]), 4).tolist()
        [[-0.25, 0.75, -0.25, -0.25]]
    """
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (0 < scale < math.inf):
        raise ConfigError(f"scale must be a positive finite number, got {scale!r}")
    y = _check_int_labels(labels, "labels", num_classes)
    eye = torch.nn.functional.one_hot(y, num_classes).to(dtype)
    return (eye - 1.0 / num_classes) / scale


def _check_int_labels(labels: object, name: str, num_classes: int, batch: int | None = None) -> torch.Tensor:
    t = check_tensor(labels, name)
    if t.ndim != 1 or (batch is not None and t.shape[0] != batch):
        want = f"[{batch}]" if batch is not None else "[B]"
        raise ShapeError(f"{name} must have shape {want} (one label per sample), got {tuple(t.shape)}")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ShapeError(f"{name} must have an integer dtype, got {t.dtype}")
    t = t.long()
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
        raise ShapeError(
            f"{name} must lie in [0, {num_classes - 1}] (num_classes={num_classes}), "
            f"got [{int(t.min())}, {int(t.max())}]"
        )
    return t


def _targets(labels: object, name: str, batch: int, num_classes: int, scale: float, dtype: torch.dtype) -> torch.Tensor:
    """Integer labels -> centred one-hot / scale; float ``[batch, num_classes]`` targets pass as they are."""
    t = check_tensor(labels, name)
    if t.is_floating_point():
        if t.shape != (batch, num_classes):
            raise ShapeError(
                f"{name} given as float targets must have shape [{batch}, {num_classes}], got {tuple(t.shape)}"
            )
        return t.to(dtype)
    return centered_one_hot(_check_int_labels(t, name, num_classes, batch), num_classes, scale=scale, dtype=dtype)


def krr_predict(
    feat_syn: torch.Tensor, y_syn: torch.Tensor, feat_tar: torch.Tensor, reg: float = DEFAULT_REG
) -> torch.Tensor:
    """Kernel ridge regression with a linear kernel on features: ``K_ts (K_ss + |reg| tr(K_ss)/n I)⁻¹ Y_s``.

    The regularizer is relative to the mean eigenvalue of ``K_ss`` (``tr(K_ss) / n``), as in FRePo. The
    system is solved with ``torch.linalg.solve`` in the inputs' dtype; differentiable with respect to every
    input.

    Args:
        feat_syn: Support features ``F_s``.
        y_syn: Support targets ``Y_s``.
        feat_tar: Query features ``F_t``.
        reg: Relative ridge ``λ`` (its absolute value is used, as published).

    Returns:
        Predictions ``Ŷ_t``.

    Raises:
        ShapeError: Ranks or sizes do not match, or a tensor is not floating.
        ConfigError: ``reg`` is not a finite number.

    Shape:
        - feat_syn: ``[n, D]``, y_syn: ``[n, K]``, feat_tar: ``[m, D]``. Output: ``[m, K]``.

    Example:
        >>> f = torch.eye(3)
        >>> krr_predict(f, torch.eye(3), f, reg=0.0).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    fs = check_tensor(feat_syn, "feat_syn", ndim=2, floating=True)
    ys = check_tensor(y_syn, "y_syn", ndim=2, floating=True)
    ft = check_tensor(feat_tar, "feat_tar", ndim=2, floating=True)
    if isinstance(reg, bool) or not isinstance(reg, (int, float)) or not math.isfinite(reg):
        raise ConfigError(f"reg must be a finite number, got {reg!r}")
    if ys.shape[0] != fs.shape[0]:
        raise ShapeError(f"y_syn must have one row per support feature ({fs.shape[0]}), got {tuple(ys.shape)}")
    if ft.shape[1] != fs.shape[1]:
        raise ShapeError(f"feat_tar and feat_syn must have the same feature size, got {ft.shape[1]} and {fs.shape[1]}")
    n = fs.shape[0]
    kss = fs @ fs.T
    kts = ft @ fs.T
    ridge = abs(float(reg)) * torch.trace(kss) / n
    kss_reg = kss + ridge * torch.eye(n, dtype=kss.dtype, device=kss.device)
    return kts @ torch.linalg.solve(kss_reg, ys.to(kss.dtype))


def label_margin_loss(y_syn: torch.Tensor) -> torch.Tensor:
    """The published label-margin term for learned labels: ``mean_i -min(top1_i - top2_i, 1 / K)``.

    It rewards a margin of at least ``1/K`` between each synthetic label's largest and second-largest entry
    (with fixed centred one-hot labels it is a constant).

    Raises:
        ShapeError: ``y_syn`` is not a floating ``[n, K]`` tensor with ``K >= 2``.

    Shape:
        - y_syn: ``[n, K]``. Output: scalar.

    Example:
        >>> label_margin_loss(torch.tensor([[1.0, 0.0, 0.0, 0.0]])).item()
        -0.25
    """
    y = check_tensor(y_syn, "y_syn", ndim=2, floating=True)
    if y.shape[1] < 2 or y.shape[0] == 0:
        raise ShapeError(f"y_syn must be [n >= 1, K >= 2], got {tuple(y.shape)}")
    top = torch.topk(y, k=2, dim=1).values
    margin = torch.clamp(top[:, 0] - top[:, 1], max=1.0 / y.shape[1])
    return (-margin).mean()


def _embed_chunked(embed_fn: EmbedFn, x: torch.Tensor, chunk: int | None) -> torch.Tensor:
    if chunk is None or x.shape[0] <= chunk:
        return _flat(embed_fn(x))
    return torch.cat([_flat(embed_fn(part)) for part in x.split(chunk)])


def frepo_loss(
    embed_fn: EmbedFn,
    real: torch.Tensor,
    real_labels: torch.Tensor,
    syn: torch.Tensor,
    syn_labels: torch.Tensor,
    num_classes: int,
    *,
    reg: float = DEFAULT_REG,
    label_scale: float | None = None,
    augment: object = None,
    real_chunk: int | None = None,
) -> torch.Tensor:
    """FRePo loss: squared error of the KRR predictions of the real labels from the synthetic set.

    ``F_t = embed(real)`` (no gradient), ``F_s = embed(syn)``, ``Ŷ = krr_predict(F_s, Y_s, F_t, reg)`` and the
    loss is ``mean_t sum_k (Ŷ_tk - Y_tk)²`` (the published ``MSELoss(reduction='none').sum(-1).mean(0)``).

    Args:
        embed_fn: Features of a pool member (``pool.embed``; its weights are not differentiated).
        real: Real samples, any classes.
        real_labels: Integer classes ``[B_r]`` (centred one-hot targets) or float targets ``[B_r, K]``.
        syn: Synthetic samples.
        syn_labels: Integer classes ``[B_s]`` (centred one-hot divided by ``label_scale``) or float targets
            ``[B_s, K]`` (e.g. :class:`LearnedLabels`).
        num_classes: ``K`` (``>= 2``).
        reg: Relative ridge ``λ`` (published ``1e-6``).
        label_scale: Divisor of integer ``syn_labels``; default the published ``sqrt(K / 10)``.
        augment: Optional siamese augmentation: one parameter draw shared by the real and synthetic batch.
        real_chunk: Embed the real batch in chunks of this many samples (bounds memory).

    Returns:
        Scalar loss, differentiable with respect to ``syn`` and float ``syn_labels``.

    Raises:
        ShapeError: Bad ranks, labels or feature sizes.
        ConfigError: Bad ``num_classes``, ``reg``, ``label_scale`` or ``real_chunk``.

    Shape:
        - real: ``[B_r, C, H, W]`` or ``[B_r, T, C, H, W]``; syn: the same rank, ``[B_s, ...]``.
        - Output: scalar.

    Example:
        >>> embed = torch.nn.Flatten()
        >>> x = torch.eye(4).reshape(4, 1, 2, 2)
        >>> y = torch.arange(4)
        >>> round(frepo_loss(embed, x, y, x, y, 4, reg=0.0, label_scale=1.0).item(), 6)  # interpolates exactly
        0.0
    """
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    if real_chunk is not None:
        real_chunk = check_int(real_chunk, "real_chunk")
    scale = published_label_scale(num_classes) if label_scale is None else label_scale
    r, s = _check_pair(real, syn)
    y_real = _targets(real_labels, "real_labels", r.shape[0], num_classes, 1.0, s.dtype).to(s.device)
    y_syn = _targets(syn_labels, "syn_labels", s.shape[0], num_classes, scale, s.dtype).to(s.device)
    aug = _as_siamese(augment)
    if aug is not None:
        r, s = aug(r, s)
    with torch.no_grad():
        f_real = _embed_chunked(embed_fn, r, real_chunk)
    f_syn = _flat(embed_fn(s))
    if f_real.shape[1] != f_syn.shape[1]:
        raise ShapeError(
            f"embed_fn must give real and syn features of the same size, got {f_real.shape[1]} and {f_syn.shape[1]}"
        )
    pred = krr_predict(f_syn, y_syn, f_real.to(f_syn.dtype), reg)
    return ((pred - y_real) ** 2).sum(dim=1).mean()


class FRePoMatching:
    """FRePo as a ``loss_fn(real, syn, real_labels, syn_labels)`` for :class:`SegmentedMatcher`.

    Features come from ``embed_fn`` -- usually a :class:`~temporal_condense.losses.pool.ModelPool`, whose
    ``embed`` uses the member chosen for the iteration (``pool.select()``), so that all ``K`` segments of one
    iteration see the same network.

    Args:
        embed_fn: A :class:`ModelPool` (its ``embed`` is used) or any feature function.
        num_classes: ``K``.
        reg: Relative ridge ``λ``.
        label_scale: Divisor of integer synthetic labels (default ``sqrt(K / 10)``).
        augment: Optional siamese augmentation.
        real_chunk: See :func:`frepo_loss`.

    Shape:
        - real: ``[B_r, ...]``, syn: ``[B_s, ...]``, labels ``[B_r]`` / ``[B_s]`` or float targets. Output: scalar.

    Example:
        >>> loss_fn = FRePoMatching(torch.nn.Flatten(), num_classes=2)
        >>> x, y = torch.randn(4, 1, 2, 2), torch.tensor([0, 1, 0, 1])
        >>> loss_fn(x, x[:2], y, y[:2]).shape
        torch.Size([])
    """

    def __init__(
        self,
        embed_fn: object,
        num_classes: int,
        *,
        reg: float = DEFAULT_REG,
        label_scale: float | None = None,
        augment: object = None,
        real_chunk: int | None = None,
    ) -> None:
        is_pool = callable(getattr(embed_fn, "embed", None)) and callable(getattr(embed_fn, "select", None))
        fn = embed_fn.embed if is_pool else embed_fn  # type: ignore[attr-defined]
        if not callable(fn):
            raise ConfigError(f"embed_fn must be a ModelPool or a callable, got {type(embed_fn).__name__}")
        if isinstance(reg, bool) or not isinstance(reg, (int, float)) or not math.isfinite(reg):
            raise ConfigError(f"reg must be a finite number, got {reg!r}")
        self.embed_fn: EmbedFn = fn
        self.num_classes = check_int(num_classes, "num_classes", minimum=2)
        self.reg = float(reg)
        self.label_scale = label_scale
        self.augment = _as_siamese(augment)
        self.real_chunk = real_chunk

    def __call__(
        self, real: torch.Tensor, syn: torch.Tensor, real_labels: torch.Tensor, syn_labels: torch.Tensor
    ) -> torch.Tensor:
        """Return :func:`frepo_loss` of the batches."""
        return frepo_loss(
            self.embed_fn,
            real,
            real_labels,
            syn,
            syn_labels,
            self.num_classes,
            reg=self.reg,
            label_scale=self.label_scale,
            augment=self.augment,
            real_chunk=self.real_chunk,
        )


class LearnedLabels(nn.Module):
    """Learnable FRePo labels, one row per synthetic video, initialised to centred one-hot / scale.

    Index it like the synthetic set (``labels(indices)``) and pass the rows as ``syn_labels``; add
    :func:`label_margin_loss` of them to the loss, as the published loop does.

    Args:
        labels: Integer class of each synthetic video (e.g. ``synset.labels``).
        num_classes: ``K``.
        scale: Divisor of the initial targets (default the published ``sqrt(K / 10)``).

    Shape:
        - forward(indices ``[B]``): ``[B, K]``; ``weight``: ``[N, K]``.

    Example:
        >>> lab = LearnedLabels(torch.tensor([0, 1]), num_classes=10)
        >>> lab(torch.tensor([1])).shape
        torch.Size([1, 10])
    """

    def __init__(self, labels: torch.Tensor, num_classes: int, *, scale: float | None = None) -> None:
        super().__init__()
        num_classes = check_int(num_classes, "num_classes", minimum=2)
        s = published_label_scale(num_classes) if scale is None else scale
        self.weight = nn.Parameter(centered_one_hot(labels, num_classes, scale=s))

    def forward(self, indices: torch.Tensor | None = None) -> torch.Tensor:
        """Rows ``indices`` of the labels (all rows when ``None``)."""
        if indices is None:
            return self.weight
        idx = check_tensor(indices, "indices")
        if idx.is_floating_point() or idx.ndim != 1:
            raise ShapeError(f"indices must be a 1-D integer tensor, got {idx.dtype} {tuple(idx.shape)}")
        n = self.weight.shape[0]
        if idx.numel() and (int(idx.min()) < -n or int(idx.max()) >= n):
            raise ShapeError(f"indices must lie in [{-n}, {n}), got [{int(idx.min())}, {int(idx.max())}]")
        return self.weight[idx.to(self.weight.device)]
