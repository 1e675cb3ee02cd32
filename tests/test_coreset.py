"""Tests of the coreset baselines against plain per-class loops."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from temporal_condense.coreset import Coreset, herding_indices, kcenter_indices, select_coreset
from temporal_condense.data import MovingShapes
from temporal_condense.errors import ConfigError, ShapeError

# --------------------------------------------------------------------------------------------------
# Plain references: one class at a time, Python lists (the published loops, k-center with the distance to
# the nearest of all chosen centres)
# --------------------------------------------------------------------------------------------------


def ref_kcenter(f: torch.Tensor, k: int) -> list[int]:
    mean = f.mean(0, keepdim=True)
    centers = [int(torch.argmin(torch.norm(f - mean, dim=1)))]
    for _ in range(k - 1):
        best, best_d = -1, -1.0
        for j in range(f.shape[0]):
            if j in centers:
                continue
            d = min(float(torch.norm(f[j] - f[c])) for c in centers)
            if d > best_d:
                best, best_d = j, d
        centers.append(best)
    return centers


def ref_herding(f: torch.Tensor, k: int) -> list[int]:
    mean = f.mean(0, keepdim=True)
    selected: list[int] = []
    left = list(range(f.shape[0]))
    for i in range(k):
        det = mean * (i + 1) - (f[selected].sum(0) if selected else 0)
        d = torch.norm(det - f[left], dim=1)
        j = int(torch.argmin(d))
        selected.append(left[j])
        del left[j]
    return selected


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_selections_match_plain_loops(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(3, 9, 5, dtype=torch.float64, generator=g)
    valid = torch.ones(3, 9, dtype=torch.bool)
    valid[1, 6:] = False  # class 1 has 6 samples (padded)
    kc, hd = kcenter_indices(f, 4, valid), herding_indices(f, 4, valid)
    for c in range(3):
        n = int(valid[c].sum())
        assert kc[c].tolist() == ref_kcenter(f[c, :n], 4)
        assert hd[c].tolist() == ref_herding(f[c, :n], 4)
    assert kcenter_indices(f[0], 4).tolist() == kc[0].tolist()  # one group [N, D]


def test_selections_never_repeat_even_on_duplicates() -> None:
    f = torch.zeros(5, 2)
    assert sorted(kcenter_indices(f, 5).tolist()) == [0, 1, 2, 3, 4]
    assert sorted(herding_indices(f, 5).tolist()) == [0, 1, 2, 3, 4]


def test_herding_with_all_samples_keeps_the_mean() -> None:
    f = torch.randn(7, 3, dtype=torch.float64)
    idx = herding_indices(f, 3)
    # the first pick is the sample nearest the mean
    assert int(idx[0]) == int(torch.argmin(torch.norm(f - f.mean(0), dim=1)))
    # so with one clip per class (the published setting) k-center and herding choose the same clip
    assert kcenter_indices(f, 1).tolist() == herding_indices(f, 1).tolist() == [int(idx[0])]


def _pair(n_per: int = 4, classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(classes * n_per, 2, 1, 3, 3, generator=g), torch.arange(classes * n_per) % classes


@pytest.mark.parametrize("method", ["random", "kcenter", "herding"])
def test_select_coreset_on_a_pair(method: str) -> None:
    videos, labels = _pair()
    core = select_coreset((videos, labels), 2, method, nn.Flatten(), seed=3)
    assert isinstance(core, Coreset) and len(core) == 6
    assert core.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert torch.equal(core.videos, videos[core.indices])
    assert torch.equal(labels[core.indices], core.labels)
    assert core.storage_bytes() == 6 * 2 * 9 * 4 and core.storage_bytes(torch.uint8) == 6 * 2 * 9
    again = select_coreset((videos, labels), 2, method, nn.Flatten(), seed=3)
    assert torch.equal(again.indices, core.indices)
    if method != "random":
        feats = videos.flatten(1)
        ref = ref_kcenter if method == "kcenter" else ref_herding
        for c in range(3):
            members = torch.nonzero(labels == c).flatten()
            assert core.indices[2 * c : 2 * c + 2].tolist() == members[ref(feats[members], 2)].tolist()


def test_random_coreset_depends_on_the_seed_and_is_per_class() -> None:
    videos, labels = torch.randn(40, 1, 1, 1, 1), torch.arange(40) % 2
    a = select_coreset((videos, labels), 5, "random", seed=0).indices
    b = select_coreset((videos, labels), 5, "random", seed=1).indices
    assert not torch.equal(a, b)
    assert (labels[a[:5]] == 0).all() and len(set(a.tolist())) == 10


def test_coreset_from_a_dataset_with_a_random_convnet3d() -> None:
    data = MovingShapes("train", frames=8, size=(48, 48), videos_per_class=3, seed=0)
    core = select_coreset(data, 1, "kcenter", seed=0)
    assert core.videos.shape == (data.num_classes, 8, 3, 48, 48)
    assert core.labels.tolist() == list(range(data.num_classes))
    again = select_coreset(data, 1, "kcenter", None, seed=0)
    assert torch.equal(core.indices, again.indices)


def test_coreset_errors_name_the_argument() -> None:
    videos, labels = _pair()
    with pytest.raises(ConfigError, match="method must be one of"):
        select_coreset((videos, labels), 1, "kmeans")
    with pytest.raises(ConfigError, match="per_class=5 but class 0 has only 4 clip"):
        select_coreset((videos, labels), 5, "random")
    with pytest.raises(ShapeError, match="labels must be an integer tensor"):
        select_coreset((videos, labels.float()), 1, "random")
    with pytest.raises(ConfigError, match="model must be None, a model name"):
        select_coreset((videos, labels), 1, "herding", model=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="k=3 but group 0 has only 2"):
        kcenter_indices(torch.randn(2, 4), 3)
    with pytest.raises(ShapeError, match="valid must be a bool tensor"):
        herding_indices(torch.randn(1, 2, 4), 1, torch.ones(1, 3, dtype=torch.bool))
