"""Matching losses: distribution matching (DM), gradient matching (DC) and FRePo (kernel ridge regression).

DM and DC compare a batch of real samples with a batch of synthetic samples *per class* and work on
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
* **FRePo** (Zhou et al., "Dataset Distillation using Neural Feature Regression"): kernel ridge regression
  of the real labels from the synthetic set on the features of a network drawn from a pool of online-trained
  models (:func:`frepo_loss`, :class:`FRePoMatching`, :class:`ModelPool`, :class:`LearnedLabels`).

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

from temporal_condense.losses.dc import (
    METRICS,
    GradientMatching,
    dc_class_loss,
    dc_loss,
    gradient_distance,
    layer_distance,
)
from temporal_condense.losses.dm import DistributionMatching, dm_class_loss, dm_loss
from temporal_condense.losses.frepo import (
    DEFAULT_REG,
    FRePoMatching,
    LearnedLabels,
    centered_one_hot,
    frepo_loss,
    krr_predict,
    label_margin_loss,
    published_label_scale,
)
from temporal_condense.losses.pool import ModelPool
from temporal_condense.losses.siamese import SiameseAugment

__all__ = [
    "DEFAULT_REG",
    "METRICS",
    "DistributionMatching",
    "FRePoMatching",
    "GradientMatching",
    "LearnedLabels",
    "ModelPool",
    "SiameseAugment",
    "centered_one_hot",
    "dc_class_loss",
    "dc_loss",
    "dm_class_loss",
    "dm_loss",
    "frepo_loss",
    "gradient_distance",
    "krr_predict",
    "label_margin_loss",
    "layer_distance",
    "published_label_scale",
]
