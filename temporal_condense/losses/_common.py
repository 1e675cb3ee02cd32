"""Input validation shared by the matching losses (internal)."""

from __future__ import annotations

import torch

from temporal_condense._checks import check_finite, check_same_device, check_tensor
from temporal_condense.errors import ShapeError


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
