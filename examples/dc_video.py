"""Video DC/DSA (gradient matching) with the structure of the published DC loop (``main.py`` of DC/DSA).

A plain loop on a learnable tensor ``image_syn [N, T, C, H, W]``: the ``--init real`` block, per-class slices
``image_syn[c * ipc:(c + 1) * ipc]`` matched by gradients (``create_graph=True``) with the siamese
``DiffAugment`` pair, the network's inner loop on ``copy.deepcopy(image_syn.detach())``, evaluation and saving.
``examples/dc_video_condensed.py`` is this file with a static-dynamic set instead (``tests/test_examples.py``).

    python examples/dc_video.py --Iteration 20
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import numpy as np
import torch
import torch.nn as nn

from loop_utils import (
    DiffAugment,
    ParamDiffAug,
    epoch,
    evaluate_synset,
    get_dataset,
    get_network,
    get_time,
    match_loss,
    seed_everything,
)


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
    criterion = nn.CrossEntropyLoss().to(args.device)
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
            torch.save(image_syn_vis, os.path.join(args.save_path, f"vis_DC_{it}.pt"))

        """ Train synthetic data """
        net = get_network(args.model, channel, num_classes, im_size, args)  # get a random model
        net.train()
        net_parameters = list(net.parameters())
        optimizer_net = torch.optim.SGD(net.parameters(), lr=args.lr_net, momentum=0.5)
        optimizer_net.zero_grad()
        loss_avg = 0

        for ol in range(args.outer_loop):
            """ update synthetic data """
            loss = torch.tensor(0.0).to(args.device)
            for c in range(num_classes):
                img_real = get_images(c, args.batch_real)
                lab_real = torch.ones((img_real.shape[0],), device=args.device, dtype=torch.long) * c
                img_syn = image_syn[c * args.ipc : (c + 1) * args.ipc].reshape(
                    (args.ipc, args.frames, channel, im_size[0], im_size[1])
                )
                lab_syn = torch.ones((args.ipc,), device=args.device, dtype=torch.long) * c

                if args.dsa:
                    seed = int(time.time() * 1000) % 100000
                    img_real = DiffAugment(img_real, args.dsa_strategy, seed=seed, param=args.dsa_param)
                    img_syn = DiffAugment(img_syn, args.dsa_strategy, seed=seed, param=args.dsa_param)

                output_real = net(img_real)
                loss_real = criterion(output_real, lab_real)
                gw_real = torch.autograd.grad(loss_real, net_parameters)
                gw_real = list(_.detach().clone() for _ in gw_real)

                output_syn = net(img_syn)
                loss_syn = criterion(output_syn, lab_syn)
                gw_syn = torch.autograd.grad(loss_syn, net_parameters, create_graph=True)

                loss += match_loss(gw_syn, gw_real, args)

            optimizer_img.zero_grad()
            loss.backward()
            optimizer_img.step()
            loss_avg += loss.item()

            if ol == args.outer_loop - 1:
                break

            """ update network """
            image_syn_train, label_syn_train = copy.deepcopy(image_syn.detach()), copy.deepcopy(label_syn.detach())
            dst_syn_train = torch.utils.data.TensorDataset(image_syn_train, label_syn_train)
            trainloader = torch.utils.data.DataLoader(dst_syn_train, batch_size=args.batch_train, shuffle=True)
            for _il in range(args.inner_loop):
                epoch("train", trainloader, net, optimizer_net, criterion, args, aug=args.dsa)

        loss_avg /= num_classes * args.outer_loop

        if it % 10 == 0:
            print(f"{get_time()} iter = {it:04d}, loss = {loss_avg:.4f}")

        if it == args.Iteration:  # only record the final results
            data_save.append([copy.deepcopy(image_syn.detach().cpu()), copy.deepcopy(label_syn.detach().cpu())])
            torch.save({"data": data_save}, os.path.join(args.save_path, f"res_DC_{args.ipc}ipc.pt"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Video DC/DSA on MovingShapes, written like the published loop")
    parser.add_argument("--model", type=str, default="ConvNet3D", help="architecture")
    parser.add_argument("--ipc", type=int, default=1, help="synthetic videos per class")
    parser.add_argument("--num_eval", type=int, default=1, help="networks trained per evaluation")
    parser.add_argument("--eval_it", type=int, default=50, help="evaluate (and save) every this many iterations")
    parser.add_argument("--epoch_eval_train", type=int, default=50, help="epochs to train an evaluation network")
    parser.add_argument("--Iteration", type=int, default=100, help="training iterations")
    parser.add_argument("--outer_loop", type=int, default=1, help="synthetic updates per network")
    parser.add_argument("--inner_loop", type=int, default=1, help="network epochs between synthetic updates")
    parser.add_argument("--lr_img", type=float, default=0.1, help="learning rate for updating synthetic videos")
    parser.add_argument("--lr_net", type=float, default=0.01, help="learning rate for updating network parameters")
    parser.add_argument("--batch_real", type=int, default=8, help="batch size for real data")
    parser.add_argument("--batch_train", type=int, default=32, help="batch size for training networks")
    parser.add_argument("--init", type=str, default="real", help="noise/real")
    parser.add_argument("--dsa_strategy", type=str, default="color_crop_cutout_flip_scale_rotate", help="DSA")
    parser.add_argument("--dis_metric", type=str, default="ours", help="gradient distance")
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
