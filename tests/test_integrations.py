"""Loops written like the published ones run unchanged on a synthetic set in place of ``image_syn``.

One function body (the MTT inner loop of ``distill.py`` / ``distill_baseline.py``, optionally with DATM's learned
soft labels) runs on a plain tensor and on synthetic sets. With ``SyntheticVideos.from_videos(tensor)`` (all
frames learnable) the loss and every gradient equal the plain loop's exactly; with a ``DynamicMemoryBlock`` every
trainable part learns. Tensor operations a set cannot honour raise a named error.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import temporal_condense as tc
from temporal_condense.augment import DiffAugment, ParamDiffAug
from temporal_condense.mtt.student import FlatStudent as ReparamModule

N_CLASSES, IPC, T, C, H, W = 3, 2, 4, 3, 6, 6


def soft_cross_entropy(inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """DATM's criterion: cross-entropy against softmax(target logits), averaged over the batch."""
    return torch.sum(-F.log_softmax(inputs, dim=1) * F.softmax(target, dim=1)) / inputs.shape[0]


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(T * C * H * W, 16), nn.Tanh(), nn.Linear(16, N_CLASSES))


def one_iteration(image_syn, label_syn, syn_lr, *, soft: bool, lr: float = 1.0) -> dict[str, torch.Tensor]:
    """One MTT/DATM iteration, line for line as the published loops write it (after their init block)."""
    torch.manual_seed(1)
    np.random.seed(1)
    if isinstance(image_syn, torch.Tensor):
        optimizer_img = torch.optim.SGD([image_syn], lr=lr, momentum=0.5)
    else:
        optimizer_img = image_syn.optimizer(lr=lr, momentum=0.5)
    optimizer_lr = torch.optim.SGD([syn_lr], lr=1e-5, momentum=0.5)
    optimizer_y = torch.optim.SGD([label_syn], lr=2.0, momentum=0.9) if soft else None
    criterion = soft_cross_entropy if soft else nn.CrossEntropyLoss()
    dsa_param = ParamDiffAug()

    student_net = ReparamModule(net())
    student_net.train()
    num_params = sum([np.prod(p.size()) for p in (student_net.parameters())])
    starting_params = student_net.flatten()
    target_params = starting_params + 0.05 * torch.randn(starting_params.shape)
    student_params = [starting_params.clone().requires_grad_(True)]
    syn_images = image_syn
    y_hat = label_syn
    indices_chunks = []
    for _step in range(3):
        if not indices_chunks:
            indices = torch.randperm(len(syn_images))
            indices_chunks = list(torch.split(indices, 4))
        these_indices = indices_chunks.pop()
        x = syn_images[these_indices]
        this_y = y_hat[these_indices]
        x = DiffAugment(x, "color_crop_cutout_flip_scale_rotate", param=dsa_param)
        x = student_net(x, flat_param=student_params[-1])
        ce_loss = criterion(x, this_y)
        grad = torch.autograd.grad(ce_loss, student_params[-1], create_graph=True)[0]
        student_params.append(student_params[-1] - syn_lr * grad)
    param_loss = F.mse_loss(student_params[-1], target_params, reduction="sum") / num_params
    param_dist = F.mse_loss(starting_params, target_params, reduction="sum") / num_params
    grand_loss = param_loss / param_dist
    optimizer_img.zero_grad()
    optimizer_lr.zero_grad()
    if optimizer_y is not None:
        optimizer_y.zero_grad()
    grand_loss.backward()
    out = {"loss": grand_loss.detach(), "syn_lr": syn_lr.grad.clone()}
    if soft:
        out["labels"] = label_syn.grad.clone()
    optimizer_img.step()
    optimizer_lr.step()
    if optimizer_y is not None:
        optimizer_y.step()
    image_save = image_syn.detach()  # evaluation / saving lines of the published loops
    out["saved"] = copy.deepcopy(image_save.cpu())
    return out


def real_init() -> torch.Tensor:
    return torch.randn(N_CLASSES * IPC, T, C, H, W, generator=torch.Generator().manual_seed(3))


def labels(soft: bool) -> torch.Tensor:
    hard = torch.arange(N_CLASSES).repeat_interleave(IPC)
    if not soft:
        return hard
    # DATM initializes soft labels with an expert's logits on the init images: Temp_net(image_syn.detach(), ...)
    temp_net = ReparamModule(net())
    return copy.deepcopy(temp_net(real_init(), flat_param=temp_net.flatten()).detach()).requires_grad_(True)


@pytest.mark.parametrize("soft", [False, True], ids=["mtt", "datm-soft-labels"])
def test_set_with_all_frames_learnable_equals_the_plain_tensor_loop(soft: bool) -> None:
    plain = real_init().requires_grad_(True)
    ref = one_iteration(plain, labels(soft), torch.tensor(0.01).requires_grad_(True), soft=soft)
    synset = tc.SyntheticVideos.from_videos(real_init(), IPC)
    out = one_iteration(synset, labels(soft), torch.tensor(0.01).requires_grad_(True), soft=soft)
    for key in ref:
        torch.testing.assert_close(out[key], ref[key], rtol=1e-5, atol=1e-6, msg=key)
    torch.testing.assert_close(synset.videos.detach(), plain.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("soft", [False, True], ids=["mtt", "datm-soft-labels"])
def test_static_dynamic_set_in_the_published_loop_learns_every_part(soft: bool) -> None:
    synset = tc.DynamicMemoryBlock.from_videos(real_init(), IPC, train_static=True, seed=0)
    before = {n: p.detach().clone() for n, p in synset.named_parameters()}
    y = labels(soft)
    out = one_iteration(synset, y, torch.tensor(0.01).requires_grad_(True), soft=soft, lr=100.0)
    for name, p in synset.named_parameters():
        assert not torch.equal(p.detach(), before[name]), f"{name} did not change"
    assert out["saved"].shape == (N_CLASSES * IPC, T, C, H, W) and not out["saved"].requires_grad
    if soft:
        assert out["labels"].abs().sum() > 0
