"""Video MTT with the structure of the published loops (MTT ``distill.py``, video ``distill_baseline.py``).

A plain loop on a learnable tensor of synthetic videos ``image_syn [N, T, C, H, W]``: the ``--init real``
block, ``x = syn_images[these_indices]`` and ``this_y = y_hat[these_indices]``, the ``DiffAugment`` call,
a learnable ``syn_lr``, evaluation and ``torch.save(image_save.cpu(), ...)`` inside the iteration loop.
``examples/mtt_video_condensed.py`` (static-dynamic set) and ``examples/mtt_video_keyframes.py`` (fewer learnable
frames) are this file with three places changed (``diff`` them; ``tests/test_examples.py`` counts).
The helpers a published loop takes from its ``utils.py`` come from ``examples/loop_utils.py``.

    python examples/mtt_video.py --Iteration 20 --syn_steps 5 --buffer_path buffers/shapes
"""

from __future__ import annotations

import argparse
import copy
import os
import random

import numpy as np
import torch
import torch.nn as nn

from loop_utils import (
    DiffAugment,
    ParamDiffAug,
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
    args.dsa = args.dsa == "True"
    args.dsa_param = ParamDiffAug()
    eval_it_pool = np.arange(0, args.Iteration + 1, args.eval_it).tolist()
    channel, im_size, num_classes, dst_train, testloader = get_dataset(args)
    make_buffers(args, dst_train, channel, num_classes)  # the published loops read buffers made by buffer.py
    if args.batch_syn is None:
        args.batch_syn = num_classes * args.ipc

    """ organize the real dataset """
    images_all, labels_all = dst_train.tensors
    indices_class = [[] for c in range(num_classes)]
    for i, lab in enumerate(labels_all.tolist()):
        indices_class[lab].append(i)

    def get_images(c, n):  # get random n videos from class c
        idx_shuffle = np.random.permutation(indices_class[c])[:n]
        return images_all[idx_shuffle]

    """ initialize the synthetic data """
    label_syn = torch.tensor(np.stack([np.ones(args.ipc) * i for i in range(num_classes)]), dtype=torch.long,
                             requires_grad=False, device=args.device).view(-1)  # [0,0,0, 1,1,1, ...]  # fmt: skip
    image_syn = torch.randn(size=(num_classes * args.ipc, args.frames, channel, im_size[0], im_size[1]),
                            dtype=torch.float)  # fmt: skip
    syn_lr = torch.tensor(args.lr_teacher).to(args.device)

    if args.init == "real":
        print("initialize synthetic data from random real videos")
        for c in range(num_classes):
            image_syn.data[c * args.ipc : (c + 1) * args.ipc] = get_images(c, args.ipc).detach().data
    else:
        print("initialize synthetic data from random noise")

    """ training """
    image_syn = image_syn.detach().to(args.device).requires_grad_(True)
    syn_lr = syn_lr.detach().to(args.device).requires_grad_(True)
    optimizer_img = torch.optim.SGD([image_syn], lr=args.lr_img, momentum=0.5)
    optimizer_lr = torch.optim.SGD([syn_lr], lr=args.lr_lr, momentum=0.5)
    optimizer_img.zero_grad()

    criterion = nn.CrossEntropyLoss().to(args.device)
    print(f"{get_time()} training begins")

    expert_files = []
    n = 0
    while os.path.exists(os.path.join(args.buffer_path, f"replay_buffer_{n}.pt")):
        expert_files.append(os.path.join(args.buffer_path, f"replay_buffer_{n}.pt"))
        n += 1
    if n == 0:
        raise AssertionError(f"No buffers detected at {args.buffer_path}")
    expert_idx = 0
    buffer = torch.load(expert_files[0])
    random.shuffle(buffer)

    for it in range(0, args.Iteration + 1):
        """ Evaluate synthetic data """
        if it in eval_it_pool:
            accs_test, accs_train = [], []
            for it_eval in range(args.num_eval):
                net_eval = get_network(args.model, channel, num_classes, im_size, args)  # get a random model
                image_syn_eval, label_syn_eval = copy.deepcopy(image_syn.detach()), copy.deepcopy(label_syn.detach())
                args.lr_net = syn_lr.item()
                _, acc_train, acc_test = evaluate_synset(it_eval, net_eval, image_syn_eval, label_syn_eval,
                                                         testloader, args)  # fmt: skip
                accs_test.append(acc_test)
                accs_train.append(acc_train)
            print(f"Evaluate {len(accs_test)} random {args.model}, mean = {np.mean(accs_test):.4f} "
                  f"std = {np.std(accs_test):.4f} (train {np.mean(accs_train):.4f})")  # fmt: skip

            image_save = image_syn.detach()
            save_dir = os.path.join(args.save_path, "mtt")
            os.makedirs(save_dir, exist_ok=True)
            torch.save(image_save.cpu(), os.path.join(save_dir, f"images_{it}.pt"))
            torch.save(label_syn.cpu(), os.path.join(save_dir, f"labels_{it}.pt"))

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

        syn_images = image_syn
        y_hat = label_syn.to(args.device)
        indices_chunks = []

        for _step in range(args.syn_steps):
            if not indices_chunks:
                indices = torch.randperm(len(syn_images))
                indices_chunks = list(torch.split(indices, args.batch_syn))

            these_indices = indices_chunks.pop()

            x = syn_images[these_indices]
            this_y = y_hat[these_indices]

            if args.dsa and (not args.no_aug):
                x = DiffAugment(x, args.dsa_strategy, param=args.dsa_param)

            forward_params = student_params[-1]
            x = student_net(x, flat_param=forward_params)
            ce_loss = criterion(x, this_y)

            grad = torch.autograd.grad(ce_loss, student_params[-1], create_graph=True)[0]

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
        optimizer_lr.zero_grad()

        grand_loss.backward()

        optimizer_img.step()
        optimizer_lr.step()
        syn_lr.data = syn_lr.data.clip(min=0.001)

        for _ in student_params:
            del _

        if it % 10 == 0:
            print(f"{get_time()} iter = {it:04d}, loss = {grand_loss.item():.4f}, syn_lr = {syn_lr.item():.5f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Video MTT on MovingShapes, written like the published loops")
    parser.add_argument("--model", type=str, default="ConvNet3D", help="student and expert architecture")
    parser.add_argument("--ipc", type=int, default=1, help="synthetic videos per class")
    parser.add_argument("--Iteration", type=int, default=100, help="distillation iterations")
    parser.add_argument("--eval_it", type=int, default=50, help="evaluate (and save) every this many iterations")
    parser.add_argument("--num_eval", type=int, default=1, help="networks trained per evaluation")
    parser.add_argument("--epoch_eval_train", type=int, default=50, help="epochs to train an evaluation network")
    parser.add_argument("--lr_img", type=float, default=100.0, help="learning rate of the synthetic pixels")
    parser.add_argument("--lr_lr", type=float, default=1e-5, help="learning rate of syn_lr")
    parser.add_argument("--lr_teacher", type=float, default=0.01, help="initial syn_lr (and expert learning rate)")
    parser.add_argument("--batch_train", type=int, default=32, help="batch size for training networks")
    parser.add_argument("--batch_syn", type=int, default=None, help="synthetic videos per student step")
    parser.add_argument("--init", type=str, default="real", choices=["noise", "real"], help="noise/real init")
    parser.add_argument("--dsa", type=str, default="True", choices=["True", "False"], help="use DiffAugment")
    parser.add_argument("--dsa_strategy", type=str, default="color_crop_cutout_flip_scale_rotate", help="DSA")
    parser.add_argument("--no_aug", action="store_true", help="turn off DiffAugment during distillation")
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
