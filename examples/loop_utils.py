"""Stand-ins for what a published distillation loop imports from its own ``utils.py`` and ``reparam_module.py``.

The example loops in this folder (``mtt_video*.py``, ``dm_video*.py``) keep the structure of the published
loops (MTT ``distill.py``, the video codebase's ``distill_baseline.py``, DC/DM ``main_DM.py``); the helpers
they import live here, so the loops run offline on the built-in ``MovingShapes`` data:

* ``get_dataset`` returns real clips (a ``TensorDataset``) and a test loader, as the published one does;
* ``get_network`` builds the benchmark's video student (``ConvNet3D``; the published image ``ConvNet`` cannot
  take videos);
* ``evaluate_synset`` trains a fresh network on the synthetic tensor and tests it (SGD, momentum 0.9,
  weight decay 5e-4, learning rate dropped at half);
* ``DiffAugment`` and ``ParamDiffAug`` are the video ones of :mod:`temporal_condense.augment` (the published
  image ``DiffAugment`` fails on ``[B, T, C, H, W]``; this import is what a user changes to go to videos);
* ``Conv3DNet`` is the published hallucinator (block H) of the S2D code, ``evaluate_synset(..., mode="multi-static")``
  re-pairs statics and dynamics every epoch as the published evaluation does;
* ``ReparamModule`` is :class:`temporal_condense.mtt.FlatStudent`, which is called the same way
  (``student_net(x, flat_param=...)``, ``student_net.parameters()``);
* ``match_loss`` is the DC gradient distance (:func:`temporal_condense.losses.gradient_distance`) and ``epoch``
  trains a network for one pass over a loader (with ``DiffAugment`` when ``aug``), as DC's inner loop does;
* ``make_buffers`` trains a few tiny expert trajectories with :func:`temporal_condense.mtt.train_experts` and
  writes them in the published buffer format (``replay_buffer_0.pt``: a list of trajectories, each a list of
  epochs, each a list of parameter tensors), which the loops read with ``torch.load`` as published.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from temporal_condense.augment import DiffAugment, ParamDiffAug
from temporal_condense.data import MovingShapes
from temporal_condense.dynamic_memory import ConcatBlock
from temporal_condense.losses import gradient_distance
from temporal_condense.models import get_model
from temporal_condense.mtt.experts import load_expert, train_experts
from temporal_condense.mtt.student import FlatStudent as ReparamModule

__all__ = [
    "Conv3DNet",
    "DiffAugment",
    "ParamDiffAug",
    "ReparamModule",
    "epoch",
    "evaluate_synset",
    "get_dataset",
    "get_network",
    "get_time",
    "make_buffers",
    "match_loss",
    "seed_everything",
]


def get_dataset(args: Any) -> tuple[int, tuple[int, int], int, torch.utils.data.TensorDataset, Any]:
    """``channel, im_size, num_classes, dst_train, testloader`` of MovingShapes clips ``[T, C, H, W]``."""
    im_size = (args.size, args.size)
    train = MovingShapes("train", frames=args.frames, size=im_size, videos_per_class=args.real_per_class)
    test = MovingShapes("test", frames=args.frames, size=im_size, videos_per_class=args.real_per_class)
    x, y = train.preload(progress=False)
    x_test, y_test = test.preload(progress=False)
    dst_train = torch.utils.data.TensorDataset(x, y)
    testloader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_test, y_test), batch_size=64)
    return int(x.shape[2]), im_size, train.num_classes, dst_train, testloader


def get_network(model: str, channel: int, num_classes: int, im_size: tuple[int, int], args: Any) -> nn.Module:
    """A randomly initialized video student."""
    return get_model(model, channels=channel, num_classes=num_classes, size=im_size, frames=args.frames,
                     net_width=args.net_width, net_depth=args.net_depth).to(args.device)  # fmt: skip


def get_time() -> str:
    return str(time.strftime("[%Y-%m-%d %H:%M:%S]", time.localtime()))


class Conv3DNet(ConcatBlock):
    """The published hallucinator's call: ``hal(static [B, C, H, W], dynamic [B, T, 1, H, W]) -> [B, T, C, H, W]``
    (``Conv3d(4 -> 3, kernel 3, padding 1)`` on the channel concatenation; its weights are ``encoder.*``)."""

    def __init__(self) -> None:
        super().__init__(3, 1)

    def forward(self, static: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(static.unsqueeze(1).expand(-1, dynamic.shape[1], -1, -1, -1), dynamic)


def render_multi_static(static: torch.Tensor, dynamic: torch.Tensor, hal: Any, args: Any) -> tuple[Any, Any]:
    """Every video once with a fresh random pairing, as the published ``MultiStaticSharedDataset``."""
    n = dynamic.shape[0] * args.vpc
    label = torch.arange(n, device=dynamic.device) // args.vpc
    idx = torch.arange(n, device=dynamic.device) % args.vpc
    dynamic_idx = 2 * idx + torch.randint(2, (n,), device=dynamic.device)
    static_idx = args.spc * label + 2 * idx + torch.randint(2, (n,), device=dynamic.device)
    return hal[0](static[static_idx], dynamic[label, dynamic_idx]), label


def evaluate_synset(
    it_eval: int, net: nn.Module, images_train: Any, labels_train: Any, testloader: Any, args: Any,
    mode: str = "none",
) -> tuple[nn.Module, float, float]:  # fmt: skip
    """Train ``net`` for ``args.epoch_eval_train`` epochs on a synthetic tensor (``mode="none"``), on
    ``[static, dynamic, hallucinators]`` re-paired every epoch (``mode="multi-static"``, as published) or on a
    synthetic set (re-rendered every epoch); return train and test accuracy."""
    lr = float(args.lr_net)
    epochs = int(args.epoch_eval_train)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=0.0005)
    criterion = nn.CrossEntropyLoss()
    acc_train = 0.0
    source = images_train
    for ep in range(epochs + 1):
        with torch.no_grad():
            if mode == "multi-static":
                images_train, labels_train = render_multi_static(*source, args)
            elif mode == "set":
                images_train, labels_train = source.export()
        images_train, labels_train = images_train.to(args.device), labels_train.to(args.device)
        perm = torch.randperm(len(images_train))
        correct = 0
        for batch in perm.split(args.batch_train):
            out = net(images_train[batch])
            loss = criterion(out, labels_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            correct += int((out.argmax(1) == labels_train[batch]).sum())
        acc_train = correct / len(images_train)
        if ep == epochs // 2 + 1:
            for group in optimizer.param_groups:
                group["lr"] *= 0.1
    correct = total = 0
    with torch.no_grad():
        for x, y in testloader:
            correct += int((net(x.to(args.device)).argmax(1) == y.to(args.device)).sum())
            total += len(y)
    return net, acc_train, correct / total


def match_loss(gw_syn: Any, gw_real: Any, args: Any) -> torch.Tensor:
    """DC's gradient matching distance (``args.dis_metric``: ``"ours"``, ``"mse"`` or ``"cos"``)."""
    return gradient_distance(gw_syn, gw_real, args.dis_metric)


def epoch(mode: str, dataloader: Any, net: nn.Module, optimizer: Any, criterion: Any, args: Any, aug: bool) -> float:
    """One training (or test) pass; returns the accuracy."""
    net.train(mode == "train")
    correct = total = 0
    for x, y in dataloader:
        x, y = x.to(args.device), y.to(args.device)
        if aug:
            x = DiffAugment(x, args.dsa_strategy, param=args.dsa_param)
        out = net(x)
        if mode == "train":
            loss = criterion(out, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        correct += int((out.argmax(1) == y).sum())
        total += len(y)
    return correct / total


def make_buffers(args: Any, dst_train: torch.utils.data.TensorDataset, channel: int, num_classes: int) -> None:
    """Train ``args.num_experts`` tiny experts into ``args.buffer_path/replay_buffer_0.pt`` unless it exists."""
    path = os.path.join(args.buffer_path, "replay_buffer_0.pt")
    if os.path.exists(path):
        return
    model_kwargs = {"channels": channel, "num_classes": num_classes, "size": [args.size, args.size],
                    "frames": args.frames, "net_width": args.net_width, "net_depth": args.net_depth}  # fmt: skip
    files = train_experts(args.model, dst_train.tensors, args.num_experts, out_dir=args.buffer_path,
                          epochs=args.train_epochs, lr=args.lr_teacher, batch_size=args.batch_train,
                          standardize="none", model_kwargs=model_kwargs, seed=0, progress=False)  # fmt: skip
    buffer = [load_expert(f).to_published() for f in files]
    torch.save(buffer, path + ".tmp")
    os.replace(path + ".tmp", path)


def seed_everything(seed: int) -> None:
    """Seed numpy and torch (the published loops draw from both)."""
    np.random.seed(seed)
    torch.manual_seed(seed)
