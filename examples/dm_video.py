"""Video DM (distribution matching) with the structure of the published DM loops (``main_DM.py``, the DM branch
of the video ``distill_baseline.py``).

A plain loop on a learnable tensor ``image_syn [N, T, C, H, W]``: the ``--init real`` block, per-class slices
``image_syn[c * ipc:(c + 1) * ipc]``, the siamese ``DiffAugment`` pair (one seed for the real and the synthetic
batch), evaluation and saving through ``image_syn.detach()``. ``examples/dm_video_condensed.py`` is this file
with a static-dynamic set instead (``diff`` them; ``tests/test_examples.py`` counts the changes).

    python examples/dm_video.py --Iteration 20
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import numpy as np
import torch

from loop_utils import DiffAugment, ParamDiffAug, evaluate_synset, get_dataset, get_network, get_time, seed_everything


def main(args):
    seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    args.dsa_param = ParamDiffAug()
    args.dsa = args.dsa_strategy not in ["none", "None"]
    eval_it_pool = np.arange(0, args.Iteration + 1, args.eval_it).tolist()
    channel, im_size, num_classes, dst_train, testloader = get_dataset(args)
    data_save = []

    """ organize the real dataset """
    images_all, labels_all = dst_train.tensors
    indices_class = [[] for c in range(num_classes)]
    for i, lab in enumerate(labels_all.tolist()):
        indices_class[lab].append(i)

    def get_images(c, n):  # get random n videos from class c
        idx_shuffle = np.random.permutation(indices_class[c])[:n]
        return images_all[idx_shuffle].to(args.device)

    """ initialize the synthetic data """
    image_syn = torch.randn(size=(num_classes * args.ipc, args.frames, channel, im_size[0], im_size[1]),
                            dtype=torch.float, requires_grad=True, device=args.device)  # fmt: skip
    label_syn = torch.tensor(np.stack([np.ones(args.ipc) * i for i in range(num_classes)]), dtype=torch.long,
                             requires_grad=False, device=args.device).view(-1)  # [0,0,0, 1,1,1, ...]  # fmt: skip

    if args.init == "real":
        print("initialize synthetic data from random real videos")
        for c in range(num_classes):
            image_syn.data[c * args.ipc : (c + 1) * args.ipc] = get_images(c, args.ipc).detach().data
    else:
        print("initialize synthetic data from random noise")

    """ training """
    optimizer_img = torch.optim.SGD([image_syn], lr=args.lr_img, momentum=0.5)  # optimizer_img for synthetic data
    optimizer_img.zero_grad()
    print(f"{get_time()} training begins")

    for it in range(args.Iteration + 1):
        """ Evaluate synthetic data """
        if it in eval_it_pool:
            accs = []
            for it_eval in range(args.num_eval):
                net_eval = get_network(args.model, channel, num_classes, im_size, args)  # get a random model
                image_syn_eval, label_syn_eval = copy.deepcopy(image_syn.detach()), copy.deepcopy(label_syn.detach())
                _, _, acc_test = evaluate_synset(it_eval, net_eval, image_syn_eval, label_syn_eval, testloader, args)
                accs.append(acc_test)
            print(f"Evaluate {len(accs)} random {args.model}, mean = {np.mean(accs):.4f} std = {np.std(accs):.4f}")

            """ visualize and save """
            image_syn_vis = copy.deepcopy(image_syn.detach().cpu())
            os.makedirs(args.save_path, exist_ok=True)
            torch.save(image_syn_vis, os.path.join(args.save_path, f"vis_DM_{it}.pt"))

        """ Train synthetic data """
        net = get_network(args.model, channel, num_classes, im_size, args)  # get a random model
        net.train()
        for param in list(net.parameters()):
            param.requires_grad = False

        embed = net.embed

        loss_avg = 0

        """ update synthetic data """
        loss = torch.tensor(0.0).to(args.device)
        for c in range(num_classes):
            img_real = get_images(c, args.batch_real)
            img_syn = image_syn[c * args.ipc : (c + 1) * args.ipc].reshape(
                (args.ipc, args.frames, channel, im_size[0], im_size[1])
            )

            if args.dsa:
                seed = int(time.time() * 1000) % 100000
                img_real = DiffAugment(img_real, args.dsa_strategy, seed=seed, param=args.dsa_param)
                img_syn = DiffAugment(img_syn, args.dsa_strategy, seed=seed, param=args.dsa_param)

            output_real = embed(img_real).detach()
            output_syn = embed(img_syn)

            loss += torch.sum((torch.mean(output_real, dim=0) - torch.mean(output_syn, dim=0)) ** 2)

        optimizer_img.zero_grad()
        loss.backward()
        optimizer_img.step()
        loss_avg += loss.item()

        loss_avg /= num_classes

        if it % 10 == 0:
            print(f"{get_time()} iter = {it:04d}, loss = {loss_avg:.4f}")

        if it == args.Iteration:  # only record the final results
            data_save.append([copy.deepcopy(image_syn.detach().cpu()), copy.deepcopy(label_syn.detach().cpu())])
            torch.save({"data": data_save}, os.path.join(args.save_path, f"res_DM_{args.ipc}ipc.pt"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Video DM on MovingShapes, written like the published loops")
    parser.add_argument("--model", type=str, default="ConvNet3D", help="embedding and evaluation architecture")
    parser.add_argument("--ipc", type=int, default=1, help="synthetic videos per class")
    parser.add_argument("--num_eval", type=int, default=1, help="networks trained per evaluation")
    parser.add_argument("--eval_it", type=int, default=50, help="evaluate (and save) every this many iterations")
    parser.add_argument("--epoch_eval_train", type=int, default=50, help="epochs to train an evaluation network")
    parser.add_argument("--Iteration", type=int, default=100, help="training iterations")
    parser.add_argument("--lr_img", type=float, default=1.0, help="learning rate for updating synthetic videos")
    parser.add_argument("--lr_net", type=float, default=0.01, help="learning rate of the evaluation networks")
    parser.add_argument("--batch_real", type=int, default=8, help="batch size for real data")
    parser.add_argument("--batch_train", type=int, default=32, help="batch size for training networks")
    parser.add_argument("--init", type=str, default="real", help="noise/real")
    parser.add_argument("--dsa_strategy", type=str, default="color_crop_cutout_flip_scale_rotate", help="DSA")
    parser.add_argument("--save_path", type=str, default="result", help="path to save results")
    parser.add_argument("--frames", type=int, default=8, help="frames per clip")
    parser.add_argument("--size", type=int, default=48, help="frame height and width")
    parser.add_argument("--real_per_class", type=int, default=10, help="real clips per class")
    parser.add_argument("--net_width", type=int, default=128, help="ConvNet3D width")
    parser.add_argument("--net_depth", type=int, default=3, help="ConvNet3D depth")
    parser.add_argument("--device", type=str, default="cuda" if torch.cuda.is_available() else "cpu", help="device")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0, help="seed")
    main(parser.parse_args())
