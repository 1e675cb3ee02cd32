"""Video dataset distillation by matching training trajectories (MTT), written like the published loops.

``examples/mtt_video.py`` is a plain MTT loop on a learnable tensor of synthetic videos;
``examples/mtt_video_condensed.py`` is the same file with three lines changed to learn a static-dynamic
``tc.DynamicMemoryBlock`` instead (``diff`` the two files). Both run on the built-in ``MovingShapes`` data
and train a few tiny experts into ``--buffer_path`` first if it holds none.

    python examples/mtt_video.py --Iteration 20 --syn_steps 5 --buffer_path buffers/shapes
    python examples/mtt_video_condensed.py --Iteration 20 --syn_steps 5 --buffer_path buffers/shapes
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

import temporal_condense as tc
from temporal_condense.data import MovingShapes
from temporal_condense.io import save_artifact
from temporal_condense.models import get_model
from temporal_condense.mtt.buffer import ExpertBuffer
from temporal_condense.mtt.experts import train_experts
from temporal_condense.mtt.matching import clamp_after_step
from temporal_condense.mtt.student import FlatStudent as ReparamModule


def save_synthetic(image_syn, label_syn, path):
    if isinstance(image_syn, torch.Tensor):
        save_artifact(path, {"videos": image_syn, "labels": label_syn}, kind="SyntheticTensor")
    else:
        image_syn.save(path)


def main(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    im_size = (args.size, args.size)

    """ real data """
    dst_train = MovingShapes("train", frames=args.frames, size=im_size, videos_per_class=args.real_per_class)
    videos_all, labels_all = dst_train.preload(progress=False)
    num_classes, channel = dst_train.num_classes, videos_all.shape[2]
    model_kwargs = dict(channels=channel, num_classes=num_classes, size=im_size, frames=args.frames,
                        net_width=args.net_width, net_depth=args.net_depth)  # fmt: skip

    """ expert trajectories (trained here once if the folder holds none) """
    train_experts("ConvNet3D", (videos_all, labels_all), args.num_experts, out_dir=args.buffer_path,
                  epochs=args.train_epochs, batch_size=args.batch_train, standardize="none",
                  model_kwargs=model_kwargs, seed=args.seed, progress=False)  # fmt: skip
    buffer = ExpertBuffer(args.buffer_path, expert_epochs=args.expert_epochs,
                          max_start_epoch=args.max_start_epoch, seed=args.seed)  # fmt: skip

    """ synthetic data, initialized from real clips """
    label_syn = torch.arange(num_classes).repeat_interleave(args.ipc)
    real_init = torch.cat([videos_all[labels_all == c][: args.ipc] for c in range(num_classes)])
    image_syn = real_init.detach().clone().requires_grad_(True)
    syn_lr = torch.tensor(args.lr_teacher).requires_grad_(True)
    optimizer_img = torch.optim.SGD([image_syn], lr=args.lr_img, momentum=0.5)
    optimizer_lr = torch.optim.SGD([syn_lr], lr=args.lr_lr, momentum=0.5)
    clamp_after_step(optimizer_lr, syn_lr, min=1e-6)
    criterion = nn.CrossEntropyLoss()
    if args.batch_syn is None:
        args.batch_syn = num_classes * args.ipc

    for it in range(args.Iteration):
        student_net = ReparamModule(get_model("ConvNet3D", **model_kwargs))  # get a random model
        student_net.train()
        num_params = student_net.numel

        starting_params, target_params = buffer.sample()
        student_params = [starting_params.clone().requires_grad_(True)]
        syn_images = image_syn
        y_hat = label_syn  # noqa: F841, RUF100 - the condensed variant takes labels from the synthetic set

        indices_chunks = []
        for _step in range(args.syn_steps):
            if not indices_chunks:
                indices = torch.randperm(len(syn_images))
                indices_chunks = list(torch.split(indices, args.batch_syn))
            these_indices = indices_chunks.pop()

            x, this_y = syn_images[these_indices], y_hat[these_indices]

            x = student_net(x, flat_param=student_params[-1])
            ce_loss = criterion(x, this_y)
            grad = torch.autograd.grad(ce_loss, student_params[-1], create_graph=True)[0]
            student_params.append(student_params[-1] - syn_lr * grad)

        param_loss = F.mse_loss(student_params[-1], target_params, reduction="sum") / num_params
        param_dist = F.mse_loss(starting_params, target_params, reduction="sum") / num_params
        grand_loss = param_loss / param_dist

        optimizer_img.zero_grad()
        optimizer_lr.zero_grad()
        grand_loss.backward()
        optimizer_img.step()
        optimizer_lr.step()

        print(f"iter = {it:04d}, loss = {grand_loss.item():.4f}, syn_lr = {syn_lr.item():.5f}")
        del student_params

    save_synthetic(image_syn, label_syn, os.path.join(args.save_dir, "synthetic.safetensors"))
    print(f"saved {os.path.join(args.save_dir, 'synthetic.safetensors')} ({tc.__name__})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Video MTT on MovingShapes")
    parser.add_argument("--Iteration", type=int, default=100, help="distillation iterations")
    parser.add_argument("--syn_steps", type=int, default=10, help="student steps on synthetic data")
    parser.add_argument("--expert_epochs", type=int, default=1, help="epochs between start and target")
    parser.add_argument("--max_start_epoch", type=int, default=2, help="start epoch drawn from [0, this)")
    parser.add_argument("--buffer_path", type=str, default="buffers/moving_shapes", help="experts folder")
    parser.add_argument("--save_dir", type=str, default="logged_files", help="where the result goes")
    parser.add_argument("--num_experts", type=int, default=2, help="experts to train if missing")
    parser.add_argument("--train_epochs", type=int, default=3, help="epochs per expert")
    parser.add_argument("--batch_train", type=int, default=32, help="expert batch size")
    parser.add_argument("--ipc", type=int, default=1, help="synthetic videos per class")
    parser.add_argument("--batch_syn", type=int, default=None, help="synthetic videos per student step")
    parser.add_argument("--lr_img", type=float, default=100.0, help="learning rate of the synthetic data")
    parser.add_argument("--lr_lr", type=float, default=1e-5, help="learning rate of syn_lr")
    parser.add_argument("--lr_teacher", type=float, default=0.01, help="initial syn_lr")
    parser.add_argument("--frames", type=int, default=8, help="frames per clip")
    parser.add_argument("--size", type=int, default=48, help="frame height and width")
    parser.add_argument("--real_per_class", type=int, default=10, help="real clips per class")
    parser.add_argument("--net_width", type=int, default=128, help="ConvNet3D width")
    parser.add_argument("--net_depth", type=int, default=3, help="ConvNet3D depth")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0, help="seed")
    main(parser.parse_args())
