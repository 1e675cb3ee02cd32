"""Coreset baselines: pick real clips per class at random, by k-center or by herding in a network's embedding.

The published video benchmark compares distilled sets with three coresets of the same size:

* ``"random"`` -- ``per_class`` clips of each class drawn uniformly without replacement.
* ``"kcenter"`` -- greedy k-center in the embedding: start from the clip nearest the class mean, then add the
  clip farthest from every centre chosen so far (largest distance to its nearest centre). The published
  loop computes ``norm(features - features[centres])`` over all centres at once, which only broadcasts for a
  single centre (one clip per class, the setting of its scripts); we implement the algorithm it names.
* ``"herding"`` -- greedily add the clip that keeps the running mean of the chosen clips closest to the class
  mean (``argmin_j || (i + 1) mean - sum(chosen) - f_j ||``, among the clips not yet chosen).

Embeddings come from a network's ``embed`` (a pretrained one, or a randomly initialised ``ConvNet3D`` as the
published script does without ``--pretrained_path``), computed once in batches under ``no_grad``; the greedy
steps run for all classes at once on a padded ``[classes, clips, features]`` tensor. Only the chosen clips are
kept in memory. Ties go to the lowest index, as ``torch.argmin``/``argmax`` do.

Example:
    >>> import torch
    >>> videos, labels = torch.randn(12, 2, 1, 3, 3), torch.arange(12) % 3
    >>> core = select_coreset((videos, labels), 2, "herding", model=torch.nn.Flatten())
    >>> core.videos.shape, core.labels.tolist()
    (torch.Size([6, 2, 1, 3, 3]), [0, 0, 1, 1, 2, 2])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from temporal_condense._checks import check_choice, check_int, check_tensor
from temporal_condense.errors import ConfigError, ShapeError

__all__ = ["CORESET_METHODS", "Coreset", "embed_dataset", "herding_indices", "kcenter_indices", "select_coreset"]

CORESET_METHODS: tuple[str, ...] = ("random", "kcenter", "herding")

FeatureFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Coreset:
    """The selected real clips.

    Attributes:
        videos: The clips, class-major (``per_class`` of class 0 first), ``[C * per_class, ...]``.
        labels: Their classes, int64 ``[C * per_class]``.
        indices: Their positions in the source dataset, int64 ``[C * per_class]``.
        method: ``"random"``, ``"kcenter"`` or ``"herding"``.
        per_class: Clips per class.
    """

    videos: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor
    method: str
    per_class: int
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def storage_bytes(self, dtype: torch.dtype | None = None) -> int:
        """Bytes needed to store the clips (in ``dtype``; default their own dtype), the figure a synthetic set
        of the same size is compared with (uint8 frames need a quarter of float32)."""
        size = self.videos.element_size() if dtype is None else torch.empty((), dtype=dtype).element_size()
        return int(self.videos.numel()) * size

    def as_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(videos, labels)`` -- what :func:`temporal_condense.evaluate.evaluate` takes as a training set."""
        return self.videos, self.labels


# --------------------------------------------------------------------------------------------------
# Greedy selection on features (all classes at once)
# --------------------------------------------------------------------------------------------------


def _check_features(features: object, valid: object | None) -> tuple[torch.Tensor, torch.Tensor]:
    f = check_tensor(features, "features", floating=True)
    if f.ndim == 2:
        f = f[None]
    if f.ndim != 3 or f.shape[1] == 0:
        raise ShapeError(f"features must be [N, D] or [C, N, D] with N >= 1, got {tuple(f.shape)}")
    if valid is None:
        mask = torch.ones(f.shape[:2], dtype=torch.bool, device=f.device)
    else:
        mask = check_tensor(valid, "valid")
        if mask.dtype != torch.bool or mask.shape != f.shape[:2]:
            raise ShapeError(
                f"valid must be a bool tensor of shape {tuple(f.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}"
            )
    return f, mask


def _check_k(k: int, mask: torch.Tensor) -> int:
    k = check_int(k, "k")
    counts = mask.sum(1)
    if int(counts.min()) < k:
        c = int(torch.argmin(counts))
        raise ConfigError(f"k={k} but group {c} has only {int(counts[c])} sample(s)")
    return k


def _class_mean(f: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    w = mask.to(f.dtype)[..., None]
    return (f * w).sum(1, keepdim=True) / w.sum(1, keepdim=True)


def kcenter_indices(features: torch.Tensor, k: int, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Greedy k-center: the sample nearest the mean, then repeatedly the one farthest from all chosen centres.

    Args:
        features: One group ``[N, D]`` or ``C`` padded groups ``[C, N, D]``.
        k: Samples to choose per group.
        valid: ``[C, N]`` bool mask of real (non-padding) rows; default all.

    Returns:
        int64 indices ``[k]`` (or ``[C, k]``) in order of selection.

    Raises:
        ShapeError: Bad shapes. ConfigError: a group has fewer than ``k`` valid samples.

    Shape:
        - features: ``[N, D]`` or ``[C, N, D]``. Output: ``[k]`` or ``[C, k]``.

    Example:
        >>> kcenter_indices(torch.tensor([[0.0], [1.0], [10.0], [4.0]]), 3).tolist()
        [3, 2, 0]
    """
    squeeze = torch.is_tensor(features) and features.ndim == 2
    f, mask = _check_features(features, valid)
    k = _check_k(k, mask)
    rows = torch.arange(f.shape[0], device=f.device)
    dist_mean = torch.linalg.vector_norm(f - _class_mean(f, mask), dim=-1).masked_fill(~mask, float("inf"))
    chosen = [torch.argmin(dist_mean, dim=1)]
    nearest = torch.linalg.vector_norm(f - f[rows, chosen[0]][:, None], dim=-1)
    taken = ~mask
    taken[rows, chosen[0]] = True
    for _ in range(k - 1):
        nxt = torch.argmax(nearest.masked_fill(taken, -float("inf")), dim=1)
        chosen.append(nxt)
        taken[rows, nxt] = True
        nearest = torch.minimum(nearest, torch.linalg.vector_norm(f - f[rows, nxt][:, None], dim=-1))
    out = torch.stack(chosen, dim=1)
    return out[0] if squeeze else out


def herding_indices(features: torch.Tensor, k: int, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Herding: repeatedly add the sample that keeps the mean of the chosen ones closest to the group mean.

    Step ``i`` (0-based) picks ``argmin_j || (i + 1) mean - sum(chosen) - f_j ||`` over the samples not yet
    chosen.

    Args:
        features: One group ``[N, D]`` or ``C`` padded groups ``[C, N, D]``.
        k: Samples to choose per group.
        valid: ``[C, N]`` bool mask of real rows; default all.

    Returns:
        int64 indices ``[k]`` (or ``[C, k]``) in order of selection.

    Raises:
        ShapeError: Bad shapes. ConfigError: a group has fewer than ``k`` valid samples.

    Shape:
        - features: ``[N, D]`` or ``[C, N, D]``. Output: ``[k]`` or ``[C, k]``.

    Example:
        >>> herding_indices(torch.tensor([[0.0], [1.0], [10.0], [4.0]]), 2).tolist()
        [3, 1]
    """
    squeeze = torch.is_tensor(features) and features.ndim == 2
    f, mask = _check_features(features, valid)
    k = _check_k(k, mask)
    rows = torch.arange(f.shape[0], device=f.device)
    mean = _class_mean(f, mask)[:, 0]
    total = torch.zeros_like(mean)
    taken = ~mask
    chosen = []
    for i in range(k):
        target = mean * (i + 1) - total
        dist = torch.linalg.vector_norm(target[:, None] - f, dim=-1).masked_fill(taken, float("inf"))
        nxt = torch.argmin(dist, dim=1)
        chosen.append(nxt)
        taken[rows, nxt] = True
        total = total + f[rows, nxt]
    out = torch.stack(chosen, dim=1)
    return out[0] if squeeze else out


# --------------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------------


class _PairDataset(Dataset[tuple[torch.Tensor, int]]):
    def __init__(self, videos: torch.Tensor, labels: torch.Tensor) -> None:
        self.videos, self.labels = videos, labels

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.videos[i], int(self.labels[i])


def _as_dataset(data: object) -> tuple[Dataset[Any], torch.Tensor]:
    """A map-style dataset of ``(video, label)`` and all its labels (read without decoding when it has them)."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(torch.is_tensor(x) for x in data):
        videos = check_tensor(data[0], "videos")
        labels = check_tensor(data[1], "labels")
        if labels.ndim != 1 or labels.shape[0] != videos.shape[0] or labels.is_floating_point():
            raise ShapeError(
                f"labels must be an integer tensor [{videos.shape[0]}] (one per video), got {labels.dtype} "
                f"{tuple(labels.shape)}"
            )
        return _PairDataset(videos, labels.long()), labels.long().cpu()
    if not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise ConfigError(
            "dataset must be a map-style Dataset of (video, label) or a (videos, labels) pair, "
            f"got {type(data).__name__}"
        )
    known = getattr(data, "labels", None)
    if known is not None and len(known) == len(data):
        labels = torch.as_tensor(list(known) if not torch.is_tensor(known) else known, dtype=torch.int64)
    else:
        labels = torch.as_tensor([int(data[i][1]) for i in range(len(data))], dtype=torch.int64)
    return data, labels  # type: ignore[return-value]


def _feature_fn(model: object, sample: torch.Tensor, num_classes: int, seed: int) -> FeatureFn:
    if model is None or isinstance(model, str):
        from temporal_condense.models import get_model  # local: the core does not need the model zoo

        if sample.ndim != 4:
            raise ShapeError(f"model=None builds ConvNet3D, which needs videos [T, C, H, W], got {tuple(sample.shape)}")
        t, c, h, w = sample.shape
        name = "ConvNet3D" if model is None else model
        net = get_model(name, channels=c, num_classes=num_classes, size=(h, w), frames=t, seed=seed)
        return _frozen(net)
    if isinstance(model, nn.Module) and callable(getattr(model, "embed", None)):
        return _frozen(model)
    if callable(model):
        return model
    raise ConfigError(
        f"model must be None, a model name, a network with embed(), or a feature function, got {type(model).__name__}"
    )


def _frozen(net: nn.Module) -> FeatureFn:
    net.eval()
    net.requires_grad_(False)
    fn: FeatureFn = getattr(net, "embed", net)
    return fn


def embed_dataset(
    dataset: Dataset[Any],
    feature_fn: FeatureFn,
    *,
    batch_size: int = 32,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | str | None = None,
    num_workers: int = 0,
    progress: bool = False,
) -> torch.Tensor:
    """Features of every item of ``dataset`` (in order), in batches under ``no_grad``.

    Shape:
        Output ``[len(dataset), D]``, float, on the CPU.
    """
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    out = []
    with torch.no_grad():
        for x, _ in tqdm(loader, disable=not progress, desc="embed", unit="batch"):
            x = x.to(device) if device is not None else x
            if transform is not None:
                x = transform(x)
            out.append(feature_fn(x).reshape(x.shape[0], -1).float().cpu())
    return torch.cat(out)


def _pad_by_class(
    features: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Group rows by class: ``[C, M, D]`` features, ``[C, M]`` valid mask, ``[C, M]`` dataset index (-1 = pad)."""
    counts = torch.bincount(labels, minlength=num_classes)
    m = int(counts.max())
    order = torch.argsort(labels, stable=True)
    slot = torch.arange(labels.shape[0]) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    index = torch.full((num_classes, m), -1, dtype=torch.int64)
    index[labels[order], slot] = order
    valid = index >= 0
    padded = features.new_zeros(num_classes, m, features.shape[1])
    padded[valid] = features[index[valid]]
    return padded, valid, index


def select_coreset(
    dataset: Dataset[Any] | tuple[torch.Tensor, torch.Tensor] | Sequence[torch.Tensor],
    per_class: int,
    method: str = "herding",
    model: nn.Module | FeatureFn | str | None = None,
    *,
    num_classes: int | None = None,
    seed: int = 0,
    batch_size: int = 32,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | str | None = None,
    num_workers: int = 0,
    progress: bool = False,
) -> Coreset:
    """Select ``per_class`` real clips of every class.

    Args:
        dataset: A map-style ``Dataset`` of ``(video, label)`` (its ``labels`` attribute is used when present,
            so only the chosen clips and one embedding pass are decoded) or a ``(videos, labels)`` pair.
        per_class: Clips per class.
        method: ``"random"``, ``"kcenter"`` or ``"herding"``.
        model: Embedding for k-center / herding: a network with ``embed`` (e.g. a pretrained student), a
            feature function, a model name for :func:`~temporal_condense.models.get_model`, or ``None`` for a
            randomly initialised ``ConvNet3D`` (seeded by ``seed``), as the published script does without a
            pretrained model. Ignored by ``"random"``.
        num_classes: Number of classes (default ``max(label) + 1``); every class needs ``per_class`` clips.
        seed: Seed of the random choice / of the random network.
        batch_size: Clips per embedding forward.
        transform: Applied to each batch before the network (e.g. the standardization it was trained with).
        device: Where to embed.
        num_workers: DataLoader workers for the embedding pass.
        progress: Show a progress bar.

    Returns:
        The :class:`Coreset` (class-major, in order of selection within a class).

    Raises:
        ConfigError: Unknown method, bad ``per_class``, a class with fewer than ``per_class`` clips, a bad model.
        ShapeError: Labels that are not one integer per clip.
    """
    method = check_choice(method, "method", CORESET_METHODS)
    per_class = check_int(per_class, "per_class")
    seed = check_int(seed, "seed", minimum=0)
    ds, labels = _as_dataset(dataset)
    if labels.numel() == 0:
        raise ConfigError("dataset must not be empty")
    if int(labels.min()) < 0:
        raise ShapeError(f"labels must be >= 0, got {int(labels.min())}")
    k = int(labels.max()) + 1 if num_classes is None else check_int(num_classes, "num_classes")
    if int(labels.max()) >= k:
        raise ShapeError(f"labels must lie in [0, {k - 1}] (num_classes={k}), got max {int(labels.max())}")
    counts = torch.bincount(labels, minlength=k)
    if int(counts.min()) < per_class:
        c = int(torch.argmin(counts))
        raise ConfigError(f"per_class={per_class} but class {c} has only {int(counts[c])} clip(s) in the dataset")
    if method == "random":
        gen = torch.Generator().manual_seed(seed)
        picked = []
        for c in range(k):
            members = torch.nonzero(labels == c).flatten()
            picked.append(members[torch.randperm(members.numel(), generator=gen)[:per_class]])
        chosen = torch.stack(picked)
    else:
        fn = _feature_fn(model, ds[0][0], k, seed)
        feats = embed_dataset(
            ds,
            fn,
            batch_size=batch_size,
            transform=transform,
            device=device,
            num_workers=num_workers,
            progress=progress,
        )
        padded, valid, index = _pad_by_class(feats, labels, k)
        select = kcenter_indices if method == "kcenter" else herding_indices
        chosen = torch.gather(index, 1, select(padded, per_class, valid))
    flat = chosen.reshape(-1)
    videos = torch.stack([torch.as_tensor(ds[int(i)][0]) for i in flat])
    return Coreset(videos.contiguous(), labels[flat].clone(), flat.clone(), method, per_class)
