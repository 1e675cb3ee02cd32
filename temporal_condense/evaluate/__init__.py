"""Evaluation: train fresh networks on a (synthetic) training set and test them on real clips.

This is the protocol of the dataset-distillation codebases (DC/DSA/DM/MTT ``evaluate_synset`` + ``epoch``,
and the video benchmark's variant of it), made seeded and reproducible:

* ``protocol="published"`` follows the published video benchmark: SGD with momentum 0.9 and weight decay
  5e-4; ``epochs + 1`` passes over the training set (the reference loops over ``range(Epoch + 1)``); after
  pass ``epochs // 2 + 1`` the learning rate is divided by 10 and the optimizer is rebuilt (so the momentum
  buffer restarts, as in the reference); every batch, train and test, is standardized with its own scalar
  mean and standard deviation, ``(x - x.mean()) / x.std()``; the test set is read ``3`` times when it is a
  ``Dataset`` (whose temporal sampling may be random) and once when it is a tensor pair (three identical
  passes would give the same number); test batches hold 64 clips.
* ``protocol="plain"``: the same optimizer, exactly ``epochs`` passes, the learning rate divided by 10 after
  the first ``ceil(epochs / 2)`` passes (momentum kept), no input standardization (use it when the inputs are
  already normalized), one test pass.

Run ``r`` of ``evaluate(..., seed=s)`` builds its network with a seed derived from ``(s, r)``, shuffles with a
generator seeded from ``(s, r)``, and seeds torch's (and Python's) global RNG from ``(s, r)`` inside
:func:`torch.random.fork_rng`, so dropout, render hooks (kornia augmentation) and the random static/dynamic
pairing of a synthetic set are reproducible, and the caller's global RNG state is left untouched. Nothing
seeds from the clock.

Layout: :mod:`~temporal_condense.evaluate.protocol` (:class:`EvalConfig`, the schedule, training and
prediction), :mod:`~temporal_condense.evaluate.metrics` (accuracies), :mod:`~temporal_condense.evaluate.sources`
(tensor pairs, synthetic sets and Datasets as one batched source; the random-real baseline),
:mod:`~temporal_condense.evaluate.result` (:class:`EvalResult`) and :mod:`~temporal_condense.evaluate.runner`
(:func:`evaluate`, :func:`evaluate_pool`).

Example:
    >>> import torch
    >>> from torch import nn
    >>> from temporal_condense.evaluate import evaluate
    >>> def tiny(channels, num_classes, size, frames, seed):
    ...     torch.manual_seed(seed)
    ...     return nn.Sequential(nn.Flatten(), nn.Linear(frames * channels * size[0] * size[1], num_classes))
    >>> x = torch.rand(8, 2, 1, 4, 4); y = torch.arange(8) % 2
    >>> res = evaluate((x, y), (x, y), model=tiny, runs=2, epochs=3, progress=False)
    >>> len(res.top1), 0.0 <= res.mean <= 100.0
    (2, True)
"""

from __future__ import annotations

from temporal_condense.evaluate.metrics import Metric, group_accuracy, topk_accuracy, within_group_accuracy
from temporal_condense.evaluate.protocol import (
    PROTOCOLS,
    EvalConfig,
    ProtocolName,
    lr_schedule,
    predict,
    standardize_batch,
    train_network,
)
from temporal_condense.evaluate.result import EvalResult
from temporal_condense.evaluate.runner import DEFAULT_POOL, ModelFactory, evaluate, evaluate_pool
from temporal_condense.evaluate.sources import Pair, random_real_subset

__all__ = [
    "DEFAULT_POOL",
    "PROTOCOLS",
    "EvalConfig",
    "EvalResult",
    "Metric",
    "ModelFactory",
    "Pair",
    "ProtocolName",
    "evaluate",
    "evaluate_pool",
    "group_accuracy",
    "lr_schedule",
    "predict",
    "random_real_subset",
    "standardize_batch",
    "topk_accuracy",
    "train_network",
    "within_group_accuracy",
]
