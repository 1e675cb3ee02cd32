"""Tensor-like behaviour of synthetic sets (temporal_condense/tensor_like.py): what published loops do to
``image_syn``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import temporal_condense as tc
from temporal_condense.errors import ShapeError, TensorOpError

N_CLASSES, IPC, T, C, H, W = 3, 2, 4, 3, 6, 6


def real_init() -> torch.Tensor:
    return torch.randn(N_CLASSES * IPC, T, C, H, W, generator=torch.Generator().manual_seed(3))


def test_tensor_operations_of_the_published_loops() -> None:
    synset = tc.SyntheticVideos.from_videos(real_init(), IPC)
    assert len(synset) == N_CLASSES * IPC and synset.shape == (N_CLASSES * IPC, T, C, H, W) and synset.ndim == 5
    assert synset.dtype == torch.float32 and synset.device == torch.device("cpu")
    assert synset[1 * IPC : 2 * IPC].reshape((IPC, T, C, H, W)).shape == (IPC, T, C, H, W)  # DC/DM slices
    torch.testing.assert_close(synset[torch.tensor([5, 0])], real_init()[[5, 0]])
    torch.testing.assert_close(synset[-1], real_init()[-1])
    torch.testing.assert_close(synset[np.array([1, 2])], real_init()[[1, 2]])
    mask = torch.zeros(N_CLASSES * IPC, dtype=torch.bool)
    mask[[0, 3]] = True
    torch.testing.assert_close(synset[mask], real_init()[[0, 3]])
    torch.testing.assert_close(synset[2, :, 0], real_init()[2, :, 0])
    assert [v.shape for v in synset] == [(T, C, H, W)] * len(synset)
    assert synset.requires_grad_(True) is synset and synset.videos.requires_grad  # no-op
    assert synset.cpu() is synset  # .to()/.cuda()/.cpu() keep their nn.Module meaning: in place, return the set
    assert synset.to(torch.float64).detach().dtype == torch.float64
    with pytest.raises(ShapeError, match="out of range for a synthetic set of 6 videos"):
        synset[6]
    with pytest.raises(ShapeError, match=r"boolean index must have shape \(6,\)"):
        synset[torch.ones(3, dtype=torch.bool)]
    with pytest.raises(TensorOpError, match=r"SyntheticVideos.from_videos\(image_syn, videos_per_class\)"):
        synset.data[0:2] = real_init()[:2]
    with pytest.raises(AttributeError):  # a TensorOpError is an AttributeError too
        synset.data = real_init()
    assert not hasattr(synset, "data")


def test_index_with_a_hook_that_changes_the_batch_is_refused() -> None:
    from temporal_condense.hooks import SegmentSplit

    synset = tc.SyntheticVideos.from_videos(real_init(), IPC)
    synset.register_render_hook(SegmentSplit(2))
    with pytest.raises(ShapeError, match=r"no longer lines up with the loop's labels; call videos, labels = synset"):
        synset[[0, 1]]


def test_static_dynamic_set_detach_renders_one_pairing_without_graph_or_hooks() -> None:
    synset = tc.DynamicMemoryBlock.from_videos(real_init(), IPC, train_static=True, seed=0)
    synset.register_render_hook(lambda v, y: (v * 0, y))
    torch.manual_seed(4)
    videos = synset.detach()
    torch.manual_seed(4)
    ref, _ = synset.export()
    assert torch.equal(videos, ref) and not videos.requires_grad and videos.abs().sum() > 0
    assert synset.shape == videos.shape == (N_CLASSES * IPC, T, C, H, W)
    x = synset[[0, 5]]
    assert x.requires_grad and x.abs().sum() == 0  # indexing applies the hooks, like synset(indices)
