"""Tests of temporal_condense.evaluate (training/testing protocol, pool, random-real baseline)."""

from __future__ import annotations

import importlib.util
import random

import pytest
import torch
from torch import nn

from temporal_condense.errors import ConfigError, ShapeError, TemporalCondenseError
from temporal_condense.evaluate import (
    EvalConfig,
    EvalResult,
    evaluate,
    evaluate_pool,
    group_accuracy,
    lr_schedule,
    predict,
    random_real_subset,
    standardize_batch,
    topk_accuracy,
    train_network,
    within_group_accuracy,
)

# ------------------------------------------------------------------------------------------------ helpers


class Tiny(nn.Module):
    """Spatial mean -> dropout -> linear: small, fast, uses the global RNG (dropout) in train mode."""

    def __init__(self, channels: int, num_classes: int, frames: int) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(channels * frames, num_classes)
        self.seen: list[tuple[float, float]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((float(x.mean()), float(x.std())))
        return self.fc(self.drop(x.mean(dim=(-1, -2)).flatten(1)))


def tiny(channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return Tiny(channels, num_classes, frames)


def toy(n_per_class: int = 6, classes: int = 4, frames: int = 3, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Trivially separable videos: class c is brighter on channel c."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(classes).repeat_interleave(n_per_class)
    x = 0.3 * torch.rand(len(y), frames, classes, 5, 5, generator=g)
    x[torch.arange(len(y)), :, y] += 1.0
    return x, y


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, with_labels: bool = False) -> None:
        self.x, self.y = x, y
        self.calls = 0
        self.num_classes = int(y.max()) + 1
        if with_labels:
            self.labels = y.tolist()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        self.calls += 1
        return self.x[i], int(self.y[i])


class StandInSynset(nn.Module):
    """Stand-in for interface 1: each item re-drawn with noise from the global RNG."""

    def __init__(self, x: torch.Tensor, classes: int, vpc: int) -> None:
        super().__init__()
        self.base = nn.Parameter(x.clone())
        self.num_classes, self.videos_per_class = classes, vpc
        self.renders = 0

    def as_dataset(self) -> torch.utils.data.Dataset:
        outer = self

        class _D(torch.utils.data.Dataset):
            def __len__(self) -> int:
                return outer.base.shape[0]

            def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
                outer.renders += 1
                return outer.base[i] + 0.01 * torch.randn_like(outer.base[i]), i // outer.videos_per_class

        return _D()


# ---------------------------------------------------------------------------------------------- primitives


def reference_topk(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    hits = 0
    for row, lab in zip(logits.tolist(), labels.tolist()):
        order = sorted(range(len(row)), key=lambda j: -row[j])
        hits += lab in order[:k]
    return hits / len(labels)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7])
def test_topk_matches_reference(k: int) -> None:
    g = torch.Generator().manual_seed(k)
    logits = torch.randn(50, 6, generator=g)
    labels = torch.randint(0, 6, (50,), generator=g)
    assert topk_accuracy(logits, labels, k) == pytest.approx(reference_topk(logits, labels, min(k, 6)))


def test_topk_hand_example_and_errors() -> None:
    logits = torch.tensor([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05], [0.2, 0.3, 0.5]])
    labels = torch.tensor([2, 0, 0])
    assert topk_accuracy(logits, labels, 1) == pytest.approx(1 / 3)
    assert topk_accuracy(logits, labels, 2) == pytest.approx(2 / 3)
    assert topk_accuracy(logits, labels, 3) == 1.0
    with pytest.raises(ShapeError, match="same length, got 3 and 2"):
        topk_accuracy(logits, labels[:2])
    with pytest.raises(ConfigError, match="k must be an integer >= 1, got 0"):
        topk_accuracy(logits, labels, 0)


def test_within_group_accuracy_matches_reference() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(40, 8, generator=g)
    labels = torch.randint(0, 8, (40,), generator=g)
    hits = 0
    for row, lab in zip(logits.tolist(), labels.tolist()):
        base = (lab // 2) * 2
        hits += max(range(base, base + 2), key=lambda j: row[j]) == lab
    assert within_group_accuracy(logits, labels, 2) == pytest.approx(hits / 40)
    assert within_group_accuracy(logits, labels, 1) == 1.0
    assert within_group_accuracy(logits, labels, 8) == pytest.approx(topk_accuracy(logits, labels, 1))
    with pytest.raises(ConfigError, match=r"group_size \(3\) must divide the number of classes \(8\)"):
        within_group_accuracy(logits, labels, 3)


def test_standardize_batch_matches_reference() -> None:
    x = torch.rand(3, 2, 1, 4, 4, dtype=torch.float64) * 5 + 2
    ref = (x - x.mean()) / x.std()
    torch.testing.assert_close(standardize_batch(x), ref)
    assert torch.equal(standardize_batch(torch.ones(4)), torch.zeros(4))


def test_lr_schedule_drops_at_half() -> None:
    # published: range(Epoch + 1) passes, lr *= 0.1 after pass Epoch // 2 + 1 (the reference's schedule)
    sched = lr_schedule(10, 0.5, "published")
    assert len(sched) == 11
    assert sched[:7] == [0.5] * 7 and sched[7:] == pytest.approx([0.05] * 4)
    plain = lr_schedule(10, 0.5, "plain")
    assert plain[:5] == [0.5] * 5 and plain[5:] == pytest.approx([0.05] * 5)
    assert lr_schedule(5, 1.0, "plain") == pytest.approx([1, 1, 1, 0.1, 0.1])
    with pytest.raises(ConfigError, match="protocol"):
        lr_schedule(10, 0.5, "cosine")


@pytest.mark.parametrize("protocol", ["published", "plain"])
def test_training_loop_uses_schedule(protocol: str) -> None:
    x, y = toy()
    res = evaluate((x, y), (x, y), model=tiny, runs=1, epochs=6, lr=0.2, protocol=protocol, progress=False)
    assert list(res.lrs) == pytest.approx(lr_schedule(6, 0.2, protocol))


def test_published_momentum_restart_matches_manual_loop() -> None:
    """The published loop equals a hand-written SGD loop that rebuilds the optimizer at the drop."""
    x, y = toy(n_per_class=2)
    cfg = EvalConfig(protocol="published", epochs=4, lr=0.1, batch_size=3)
    net = tiny(4, 4, (5, 5), 3, 1)
    net.drop.p = 0.0
    ref = tiny(4, 4, (5, 5), 3, 1)
    ref.drop.p = 0.0
    train_network(net, (x, y), config=cfg, generator=torch.Generator().manual_seed(3))

    gen = torch.Generator().manual_seed(3)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    for ep in range(5):
        for idx in torch.randperm(len(y), generator=gen).split(3):
            xb = x[idx]
            xb = (xb - xb.mean()) / xb.std()
            loss = nn.functional.cross_entropy(ref(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if ep == 4 // 2 + 1:
            opt = torch.optim.SGD(ref.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    for p, q in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q)


# ---------------------------------------------------------------------------------------------- evaluation


def test_learns_trivially_separable_toy() -> None:
    x, y = toy(n_per_class=8)
    xt, yt = toy(n_per_class=10, seed=1)
    res = evaluate((x, y), (xt, yt), model=tiny, runs=2, epochs=30, lr=0.1, batch_size=8, progress=False)
    assert isinstance(res, EvalResult)
    assert res.mean >= 95.0 and min(res.top1) >= 90.0
    assert res.top5 == (100.0, 100.0)  # 4 classes: top-5 counts all
    assert len(res.seconds) == 2 and res.time_per_run > 0
    assert res.num_train == 32 and res.num_test == 40
    assert "top-1" in str(res) and res.to_dict()["mean"] == res.mean


def test_untrained_is_not_perfect_control() -> None:
    """Control for the learning test: with the labels shuffled the same loop cannot generalize."""
    x, y = toy(n_per_class=8)
    xt, yt = toy(n_per_class=10, seed=1)
    y_bad = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    res = evaluate((x, y_bad), (xt, yt), model=tiny, runs=1, epochs=30, lr=0.1, batch_size=8, progress=False)
    assert res.mean < 80.0


def test_seeded_determinism_and_rng_untouched() -> None:
    x, y = toy()
    torch.manual_seed(123)
    random.seed(5)
    before_torch, before_py = torch.get_rng_state(), random.getstate()
    kw = {"model": tiny, "runs": 2, "epochs": 4, "lr": 0.05, "batch_size": 5, "progress": False}
    a = evaluate((x, y), (x, y), seed=7, **kw)
    assert torch.equal(torch.get_rng_state(), before_torch)
    assert random.getstate() == before_py
    b = evaluate((x, y), (x, y), seed=7, **kw)
    assert (a.top1, a.top5, a.train_top1) == (b.top1, b.top5, b.train_top1)


def test_different_seeds_give_different_networks() -> None:
    x, y = toy()
    seen: dict[int, list[torch.Tensor]] = {}

    def recording(channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
        net = tiny(channels, num_classes, size, frames, seed)
        seen.setdefault(seed, []).append(net.fc.weight.detach().clone())
        return net

    evaluate((x, y), (x, y), model=recording, runs=2, epochs=1, seed=0, progress=False)
    evaluate((x, y), (x, y), model=recording, runs=2, epochs=1, seed=0, progress=False)
    evaluate((x, y), (x, y), model=recording, runs=1, epochs=1, seed=1, progress=False)
    assert len(seen) == 3  # two runs of seed 0 (repeated identically) + one run of seed 1
    for weights in seen.values():
        assert all(torch.equal(weights[0], w) for w in weights)


def test_published_standardizes_plain_does_not() -> None:
    x, y = toy()
    nets: list[Tiny] = []

    def keep(channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
        nets.append(tiny(channels, num_classes, size, frames, seed))  # type: ignore[arg-type]
        return nets[-1]

    evaluate((x, y), (x, y), model=keep, runs=1, epochs=1, protocol="published", progress=False)
    evaluate((x, y), (x, y), model=keep, runs=1, epochs=1, protocol="plain", progress=False)
    for m, s in nets[0].seen:
        assert abs(m) < 1e-5 and s == pytest.approx(1.0, abs=1e-5)
    assert all(m > 0.3 for m, _ in nets[1].seen)


def test_crop_builds_model_for_cropped_size() -> None:
    x, y = toy()
    sizes: list[tuple[int, int]] = []

    def rec(channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
        sizes.append(size)
        return tiny(channels, num_classes, size, frames, seed)

    evaluate((x, y), (x, y), model=rec, runs=1, epochs=1, crop=1, progress=False)
    assert sizes == [(3, 3)]
    with pytest.raises(ConfigError, match="crop must be < half the frame size"):
        evaluate((x, y), (x, y), model=rec, runs=1, epochs=1, crop=3, progress=False)


def test_dataset_inputs_and_test_passes() -> None:
    x, y = toy()
    train = ListDataset(x, y)
    test = ListDataset(x, y)
    res_t = evaluate((x, y), (x, y), model=tiny, runs=1, epochs=2, progress=False)
    res_d = evaluate(train, test, model=tiny, runs=1, epochs=2, progress=False)
    assert res_d.top1 == res_t.top1  # same data, same seeds, same numbers
    assert test.calls == 1 + 3 * len(y)  # item 0 probed once, then 3 published passes
    test.calls = 0
    evaluate(train, test, model=tiny, runs=1, epochs=1, protocol="plain", progress=False)
    assert test.calls == 1 + len(y)


def test_synthetic_set_rerendered_each_pass() -> None:
    x, y = toy(n_per_class=2)
    syn = StandInSynset(x, classes=4, vpc=2)
    a = evaluate(syn, (x, y), model=tiny, runs=1, epochs=3, progress=False)
    assert syn.renders == 1 + 4 * len(y)  # probe + (3 + 1) published passes
    b = evaluate(syn, (x, y), model=tiny, runs=1, epochs=3, progress=False)
    assert a.top1 == b.top1 and a.train_top1 == b.train_top1
    assert syn.base.grad is None


class EpochDataset(ListDataset):
    """Items depend on the epoch selected with set_epoch (like the library's datasets)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        super().__init__(x, y)
        self.epoch = 5
        self.epochs_seen: list[int] = []

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.epochs_seen.append(epoch)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.x[i] + 0.01 * self.epoch, int(self.y[i])


def test_set_epoch_per_pass_and_restored() -> None:
    x, y = toy()
    train, test = EpochDataset(x, y), EpochDataset(x, y)
    evaluate(train, test, model=tiny, runs=1, epochs=2, progress=False)
    assert train.epochs_seen == [0, 1, 2, 5] and train.epoch == 5
    assert test.epochs_seen == [0, 1, 2, 5] and test.epoch == 5  # 3 published test passes


def test_extra_metrics_recorded() -> None:
    x, y = toy()
    res = evaluate(
        (x, y),
        (x, y),
        model=tiny,
        runs=2,
        epochs=2,
        progress=False,
        metrics={"pairs": lambda lo, la: 100 * within_group_accuracy(lo, la, 2), "n": lambda lo, la: len(la)},
    )
    assert set(res.metrics) == {"pairs", "n"}
    assert res.metrics["n"] == (24.0, 24.0) and len(res.metrics["pairs"]) == 2
    with pytest.raises(ConfigError, match="metrics must map names to callables"):
        evaluate((x, y), (x, y), model=tiny, runs=1, epochs=1, progress=False, metrics={"a": 3})


def test_image_inputs_work() -> None:
    x, y = toy()
    imgs = x[:, 0]

    def img_model(channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return nn.Sequential(nn.Flatten(), nn.Linear(channels * size[0] * size[1], num_classes))

    res = evaluate((imgs, y), (imgs, y), model=img_model, runs=1, epochs=10, lr=0.1, progress=False)
    assert res.mean > 90.0


def test_predict_shapes() -> None:
    x, y = toy()
    net = tiny(4, 4, (5, 5), 3, 0)
    logits, labels = predict(net, (x, y), config=EvalConfig(test_batch_size=7))
    assert logits.shape == (len(y), 4) and torch.equal(labels, y)
    assert net.training  # mode restored


def test_pool_one_result_per_model() -> None:
    x, y = toy()

    def other(channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
        return tiny(channels, num_classes, size, frames, seed)

    pool = evaluate_pool((x, y), (x, y), models=[tiny, other], runs=1, epochs=2, progress=False)
    assert list(pool) == ["tiny", "other"]
    single = evaluate((x, y), (x, y), model=tiny, runs=1, epochs=2, progress=False)
    assert pool["tiny"].top1 == single.top1
    with pytest.raises(ConfigError, match="non-empty sequence"):
        evaluate_pool((x, y), (x, y), models=[])
    with pytest.raises(ConfigError, match="distinct names"):
        evaluate_pool((x, y), (x, y), models=[tiny, tiny])


# ---------------------------------------------------------------------------------------------- errors


def test_input_errors() -> None:
    x, y = toy()
    kw = {"model": tiny, "runs": 1, "epochs": 1, "progress": False}
    with pytest.raises(ShapeError, match=r"synthetic videos must be 5-D .* got 3-D"):
        evaluate((x[:, 0, 0], y), (x, y), **kw)
    with pytest.raises(ShapeError, match="same length, got 24 videos and 23 labels"):
        evaluate((x, y[:-1]), (x, y), **kw)
    with pytest.raises(ShapeError, match=r"labels must lie in \[0, 3\] \(num_classes=4\), got 4"):
        evaluate((x, y), (x, y + 1), num_classes=4, **kw)
    with pytest.raises(ShapeError, match=r"integer dtype, got torch\.float32"):
        evaluate((x, y.float()), (x, y), **kw)
    with pytest.raises(ConfigError, match=r"class\(es\) \[2\] have none"):
        keep = y != 2
        evaluate((x[keep], y[keep]), (x, y), num_classes=4, **kw)
    with pytest.raises(ShapeError, match=r"synthetic samples have shape \(3, 4, 5, 5\) but test_data"):
        evaluate((x, y), (x[:, :2], y), **kw)
    with pytest.raises(ShapeError, match="must be a \\(videos, labels\\) tensor pair"):
        evaluate(42, (x, y), **kw)
    with pytest.raises(ConfigError, match="protocol"):
        evaluate((x, y), (x, y), protocol="fast", **kw)
    with pytest.raises(ConfigError, match="epochs"):
        evaluate((x, y), (x, y), model=tiny, epochs=0, progress=False)
    with pytest.raises(ConfigError, match="runs must be an integer >= 1, got 0"):
        evaluate((x, y), (x, y), model=tiny, runs=0, progress=False)
    with pytest.raises(ConfigError, match="lr"):
        evaluate((x, y), (x, y), lr=-1.0, **kw)
    with pytest.raises(ShapeError, match="must not be empty, got 0 samples"):
        evaluate((x[:0], y[:0]), (x, y), **kw)
    assert issubclass(ShapeError, TemporalCondenseError)


def test_model_returning_wrong_logits() -> None:
    x, y = toy()

    def wrong(channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
        return tiny(channels, num_classes + 1, size, frames, seed)

    with pytest.raises(ConfigError, match="returned 5 logits per sample, expected num_classes=4"):
        evaluate((x, y), (x, y), model=wrong, runs=1, epochs=1, progress=False)


# ---------------------------------------------------------------------------------------- random subset


def test_random_real_subset_balanced_and_seeded() -> None:
    x, y = toy(n_per_class=6)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(1))
    x, y = x[perm], y[perm]  # not class-sorted
    sx, sy = random_real_subset((x, y), per_class=3, seed=4)
    assert sx.shape == (12, *x.shape[1:]) and sx.is_contiguous()
    assert sy.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    for v, lab in zip(sx, sy):  # every chosen video is a real one of its class, no duplicates
        match = (x == v).flatten(1).all(1).nonzero().flatten()
        assert len(match) == 1 and int(y[match[0]]) == int(lab)
    sx2, sy2 = random_real_subset((x, y), per_class=3, seed=4)
    assert torch.equal(sx, sx2) and torch.equal(sy, sy2)
    sx3, _ = random_real_subset((x, y), per_class=3, seed=5)
    assert not torch.equal(sx, sx3)


@pytest.mark.parametrize("with_labels", [True, False])
def test_random_real_subset_dataset(with_labels: bool) -> None:
    x, y = toy(n_per_class=4)
    ds = ListDataset(x, y, with_labels=with_labels)
    sx, sy = random_real_subset(ds, per_class=2, seed=0)
    tx, ty = random_real_subset((x, y), per_class=2, seed=0)
    assert torch.equal(sx, tx) and torch.equal(sy, ty)


def test_random_real_subset_errors() -> None:
    x, y = toy(n_per_class=2)
    with pytest.raises(ConfigError, match="per_class=3 but class 0 has only 2 sample"):
        random_real_subset((x, y), per_class=3)
    with pytest.raises(ConfigError, match="per_class must be an integer >= 1, got 0"):
        random_real_subset((x, y), per_class=0)
    with pytest.raises(ConfigError, match="class 4 has only 0"):
        random_real_subset((x, y), per_class=1, num_classes=5)


# ---------------------------------------------------------------------------------------- real models


_HAS_MODELS = importlib.util.find_spec("temporal_condense.models") is not None


@pytest.mark.skipif(not _HAS_MODELS, reason="temporal_condense.models not available")
def test_with_registry_model_convnet3d() -> None:
    from temporal_condense import models

    if not hasattr(models, "get_model"):
        pytest.skip("get_model not yet exported")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 8, 3, 44, 44, generator=g)
    y = torch.tensor([0, 1])
    a = evaluate((x, y), (x, y), model="ConvNet3D", runs=1, epochs=1, progress=False)
    b = evaluate((x, y), (x, y), model="ConvNet3D", runs=1, epochs=1, progress=False)
    assert a.top1 == b.top1 and a.train_top1 == b.train_top1
    assert len(a.lrs) == 2


def test_with_library_synthetic_sets() -> None:
    """The real synthetic sets of interface 1 (as_dataset + batched __getitems__), when present."""
    try:
        from temporal_condense.dynamic_memory import DynamicMemoryBlock
        from temporal_condense.synthetic import SyntheticVideos
    except ImportError:  # pragma: no cover - interface not there yet
        pytest.skip("synthetic sets not available")
    x, y = toy(n_per_class=3, classes=3, frames=4)
    x = x[:, :, :3]
    static = torch.rand(3 * 4, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    sets = [
        SyntheticVideos(3, 2, 4, (5, 5)),
        DynamicMemoryBlock(3, 2, 4, (5, 5), static=static, static_per_class=4, dynamic_per_class=4),
    ]
    for synset in sets:
        a = evaluate(synset, (x, y), model=tiny, runs=1, epochs=2, progress=False)
        b = evaluate(synset, (x, y), model=tiny, runs=1, epochs=2, progress=False)
        assert a.num_train == 6 and a.top1 == b.top1 and a.train_top1 == b.train_top1
        assert all(p.grad is None for p in synset.parameters())


def test_group_accuracy_matches_loop() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 6, generator=gen)
    labels = torch.randint(0, 6, (50,), generator=gen)
    groups = torch.tensor([0, 0, 1, 1, 2, 2])
    hits = 0
    for i in range(50):
        allowed = [c for c in range(6) if groups[c] == groups[labels[i]]]
        best = max(allowed, key=lambda c: float(logits[i, c]))
        hits += int(best == int(labels[i]))
    assert group_accuracy(logits, labels, groups) == pytest.approx(hits / 50)
    with pytest.raises(ShapeError, match="must agree"):
        group_accuracy(logits, labels, groups[:3])
    with pytest.raises(ShapeError, match="must be non-empty"):
        group_accuracy(logits[:0], labels[:0], groups)


# ------------------------------------------------------------------ issue 9: one NaN pixel is refused
@pytest.mark.parametrize("where", ["train", "test"])
def test_one_nan_pixel_is_a_named_error_not_a_wrong_accuracy(where: str) -> None:
    x, y = toy(n_per_class=4)
    xt, yt = toy(n_per_class=4, seed=1)
    (x if where == "train" else xt)[1, 0, 0, 2, 2] = float("nan")
    name = "synthetic" if where == "train" else "test_data"
    with pytest.raises(ShapeError, match=rf"{name} videos must be finite, got 1 NaN/inf value"):
        evaluate((x, y), (xt, yt), model=tiny, runs=1, epochs=1, batch_size=8, progress=False)


def test_nan_inside_a_dataset_is_a_named_error_naming_the_item() -> None:
    x, y = toy(n_per_class=4)
    xt, yt = toy(n_per_class=4, seed=1)
    xt[5, 1, 0, 0, 0] = float("inf")
    with pytest.raises(ShapeError, match=r"test_data videos must be finite, got NaN/inf values in item\(s\) \[5\]"):
        evaluate((x, y), ListDataset(xt, yt), model=tiny, runs=1, epochs=1, batch_size=8, progress=False)


@pytest.mark.parametrize("models", [None, 3, 0.5])
def test_evaluate_pool_models_must_be_a_sequence(models: object) -> None:
    from temporal_condense.evaluate import evaluate_pool

    x, y = toy(n_per_class=2)
    with pytest.raises(ConfigError, match=r"models must be a non-empty sequence"):
        evaluate_pool((x, y), (x, y), models=models, runs=1, epochs=1, progress=False)  # type: ignore[arg-type]
