"""Static-dynamic MTT with the structure of the published S2D loop (``distill_s2d_ms.py``, MTT branch).

The published loop inlines the method: a static memory ``static_syn``, a dynamic memory ``dynamic_syn``, the
hallucinators ``hals`` (block H), three optimizers, the pairing arithmetic in the inner loop, the re-pairing
evaluation and saving of the three parts. ``examples/s2d_video_condensed.py`` is this file with the synthetic set
``tc.DynamicMemoryBlock`` in their place (``diff`` them: the wrap removes code; ``tests/test_examples.py``).

    python examples/s2d_video.py --Iteration 20 --syn_steps 5 --buffer_path buffers/shapes
"""

from __future__ import annotations

import argparse
import copy
import os
import random

import numpy as np
import torch
import torch.nn as nn

import temporal_condense as tc
from loop_utils import (
    ReparamModule,
    evaluate_synset,
    get_dataset,
    get_network,
    get_time,
    make_buffers,
    seed_everything,
)


def main(args):
    seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    eval_it_pool = np.arange(0, args.Iteration + 1, args.eval_it).tolist()
    channel, im_size, num_classes, dst_train, testloader = get_dataset(args)
    make_buffers(args, dst_train, channel, num_classes)  # the published loops read buffers made by buffer.py
    if args.batch_syn is None:
        args.batch_syn = num_classes * args.vpc

    syn_lr = torch.tensor(args.lr_teacher)

    if args.path_static is not None:
        static_syn = torch.load(args.path_static)["image"]
        print(f"load static memory from {args.path_static}")

    image_syn = tc.DynamicMemoryBlock(num_classes, args.vpc, args.frames, im_size,
                                      static=static_syn if args.path_static else "noise", static_per_class=args.spc,
                                      dynamic_per_class=args.dpc, train_static=not args.no_train_static)  # fmt: skip
    image_syn = image_syn.to(args.device)
    syn_lr = syn_lr.detach().to(args.device).requires_grad_(args.train_lr)
    lr_static = {} if args.no_train_static else {"lr": args.lr_static}
    optimizer_img = image_syn.optimizer(lr_dynamic=args.lr_dynamic, lr_block=args.lr_hal, momentum=0.95, **lr_static)
    optimizer_lr = torch.optim.SGD([syn_lr], lr=args.lr_lr, momentum=0.9) if args.train_lr else None

    criterion = nn.CrossEntropyLoss().to(args.device)
    print(f"{get_time()} training begins")

    expert_dir = args.buffer_path
    expert_files = []
    n = 0
    while os.path.exists(os.path.join(expert_dir, f"replay_buffer_{n}.pt")):
        expert_files.append(os.path.join(expert_dir, f"replay_buffer_{n}.pt"))
        n += 1
    if n == 0:
        raise AssertionError(f"No buffers detected at {expert_dir}")
    expert_idx = 0
    buffer = torch.load(expert_files[0])
    random.shuffle(buffer)

    for it in range(0, args.Iteration + 1):
        """ Evaluate synthetic data """
        if it in eval_it_pool:
            accs_test = []
            for it_eval in range(args.num_eval):
                net_eval = get_network(args.model, channel, num_classes, im_size, args)  # get a random model
                image_syn_eval = copy.deepcopy(image_syn)
                args.lr_net = syn_lr.item()
                _, _, acc_test = evaluate_synset(it_eval, net_eval, image_syn_eval,
                                                 None, testloader, args, mode="set")  # fmt: skip
                accs_test.append(acc_test)
            print(f"Evaluate {len(accs_test)} random {args.model}, mean = {np.mean(accs_test):.4f} "
                  f"std = {np.std(accs_test):.4f}")  # fmt: skip

            with torch.no_grad():
                save_dir = os.path.join(args.save_path, "s2d")
                os.makedirs(save_dir, exist_ok=True)
                image_syn.save(os.path.join(save_dir, f"synset_{it}.safetensors"))

        student_net = get_network(args.model, channel, num_classes, im_size, args)  # get a random model
        student_net = ReparamModule(student_net)
        student_net.train()
        num_params = sum([np.prod(p.size()) for p in (student_net.parameters())])

        expert_trajectory = buffer[expert_idx]
        expert_idx += 1
        if expert_idx == len(buffer):
            expert_idx = 0
            random.shuffle(buffer)

        start_epoch = np.random.randint(0, args.max_start_epoch)
        starting_params = expert_trajectory[start_epoch]
        target_params = expert_trajectory[start_epoch + args.expert_epochs]
        target_params = torch.cat([p.data.to(args.device).reshape(-1) for p in target_params], 0)
        student_params = [
            torch.cat([p.data.to(args.device).reshape(-1) for p in starting_params], 0).requires_grad_(True)
        ]
        starting_params = torch.cat([p.data.to(args.device).reshape(-1) for p in starting_params], 0)

        indices_chunks = []

        for _step in range(args.syn_steps):
            if not indices_chunks:
                indices = torch.randperm(num_classes * args.vpc, device=args.device)
                indices_chunks = list(torch.split(indices, args.batch_syn))
            these_indices = indices_chunks.pop()
            label = these_indices // args.vpc

            x = image_syn[these_indices]
            this_y = label.long()

            forward_params = student_params[-1]
            x = student_net(x, flat_param=forward_params)
            loss = criterion(x, this_y)

            grad = torch.autograd.grad(loss, student_params[-1], create_graph=True)[0]

            student_params.append(student_params[-1] - syn_lr * grad)

        param_loss = torch.tensor(0.0).to(args.device)
        param_dist = torch.tensor(0.0).to(args.device)

        param_loss += torch.nn.functional.mse_loss(student_params[-1], target_params, reduction="sum")
        param_dist += torch.nn.functional.mse_loss(starting_params, target_params, reduction="sum")

        param_loss /= num_params
        param_dist /= num_params

        param_loss /= param_dist

        grand_loss = param_loss

        optimizer_img.zero_grad()
        if args.train_lr:
            optimizer_lr.zero_grad()

        grand_loss.backward()

        optimizer_img.step()
        if args.train_lr:
            optimizer_lr.step()
            syn_lr.data = syn_lr.data.clip(min=0.001)

        for _ in student_params:
            del _

        if it % 10 == 0:
            print(f"{get_time()} iter = {it:04d}, param_loss = {param_loss.item():.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Static-dynamic MTT on MovingShapes, written like the published loop")
    parser.add_argument("--model", type=str, default="ConvNet3D", help="student and expert architecture")
    parser.add_argument("--spc", type=int, default=2, help="static memories per class")
    parser.add_argument("--dpc", type=int, default=2, help="dynamic memories per class")
    parser.add_argument("--vpc", type=int, default=1, help="synthetic videos per class")
    parser.add_argument("--n_hal", type=int, default=1, help="number of hallucinators")
    parser.add_argument("--Iteration", type=int, default=100, help="distillation iterations")
    parser.add_argument("--eval_it", type=int, default=50, help="evaluate (and save) every this many iterations")
    parser.add_argument("--num_eval", type=int, default=1, help="networks trained per evaluation")
    parser.add_argument("--epoch_eval_train", type=int, default=50, help="epochs to train an evaluation network")
    parser.add_argument("--no_train_static", action="store_true", help="do not train the static memory")
    parser.add_argument("--path_static", type=str, default=None, help="stage-1 static memory ({'image': tensor})")
    parser.add_argument("--lr_static", type=float, default=100.0, help="learning rate of the static memory")
    parser.add_argument("--lr_dynamic", type=float, default=0.01, help="learning rate of the dynamic memory")
    parser.add_argument("--lr_hal", type=float, default=0.01, help="learning rate of the hallucinator")
    parser.add_argument("--train_lr", action="store_true", help="train the synthetic learning rate")
    parser.add_argument("--lr_lr", type=float, default=1e-5, help="learning rate of syn_lr")
    parser.add_argument("--lr_teacher", type=float, default=0.01, help="initial syn_lr (and expert learning rate)")
    parser.add_argument("--batch_train", type=int, default=32, help="batch size for training networks")
    parser.add_argument("--batch_syn", type=int, default=None, help="synthetic videos per student step")
    parser.add_argument("--buffer_path", type=str, default="buffers/moving_shapes", help="expert buffers")
    parser.add_argument("--expert_epochs", type=int, default=1, help="expert epochs between start and target")
    parser.add_argument("--syn_steps", type=int, default=10, help="student steps on synthetic data")
    parser.add_argument("--max_start_epoch", type=int, default=2, help="start epoch drawn from [0, this)")
    parser.add_argument("--num_experts", type=int, default=2, help="experts to train when the buffer is missing")
    parser.add_argument("--train_epochs", type=int, default=3, help="epochs per expert")
    parser.add_argument("--save_path", type=str, default="logged_files", help="where the results go")
    parser.add_argument("--frames", type=int, default=8, help="frames per clip")
    parser.add_argument("--size", type=int, default=48, help="frame height and width")
    parser.add_argument("--real_per_class", type=int, default=10, help="real clips per class")
    parser.add_argument("--net_width", type=int, default=128, help="ConvNet3D width")
    parser.add_argument("--net_depth", type=int, default=3, help="ConvNet3D depth")
    parser.add_argument("--device", type=str, default="cuda" if torch.cuda.is_available() else "cpu", help="device")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0, help="seed")
    main(parser.parse_args())
