"""Tests of temporal_condense.models.factory: one ModelFactory protocol for every stage."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from temporal_condense.errors import ConfigError
from temporal_condense.models import ModelFactory, get_model, make_model, model_name


def tiny(*, channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(frames * channels * size[0] * size[1], num_classes))


def test_name_goes_to_get_model_with_kwargs() -> None:
    net = make_model(
        "VideoConvNetMean", channels=1, num_classes=3, size=(16, 16), frames=2, seed=4, model_kwargs={"net_width": 8}
    )
    ref = get_model("VideoConvNetMean", channels=1, num_classes=3, size=(16, 16), frames=2, seed=4, net_width=8)
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), ref.parameters(), strict=True))


def test_image_name_without_frames() -> None:
    net = make_model("ConvNet", channels=3, num_classes=2, size=(8, 8), frames=None, seed=0)
    assert net(torch.zeros(1, 3, 8, 8)).shape == (1, 2)


def test_factory_gets_keywords_and_frames_one_for_images() -> None:
    calls: list[dict] = []

    def spy(**kw: object) -> nn.Module:
        calls.append(kw)
        return nn.Linear(1, 1)

    make_model(spy, channels=3, num_classes=5, size=(4, 6), frames=None, seed=9)
    make_model(spy, channels=3, num_classes=5, size=(4, 6), frames=7, seed=9)
    assert calls == [
        {"channels": 3, "num_classes": 5, "size": (4, 6), "frames": 1, "seed": 9},
        {"channels": 3, "num_classes": 5, "size": (4, 6), "frames": 7, "seed": 9},
    ]
    factory: ModelFactory = tiny
    net = make_model(factory, channels=1, num_classes=2, size=(2, 2), frames=3, seed=0)
    assert net(torch.zeros(4, 3, 1, 2, 2)).shape == (4, 2)


def test_model_name() -> None:
    assert model_name("ConvNet3D") == "ConvNet3D"
    assert model_name(tiny) == "tiny"


def test_errors() -> None:
    kw = {"channels": 1, "num_classes": 2, "size": (2, 2), "frames": 1, "seed": 0}
    with pytest.raises(ConfigError, match=r"must take the keywords channels, num_classes, size, frames and seed"):
        make_model(lambda seed: nn.Linear(1, 1), **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"must return an nn\.Module, got int"):
        make_model(lambda **_: 3, **kw)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match=r"model_kwargs apply to model names only; the factory 'tiny' got"):
        make_model(tiny, model_kwargs={"net_width": 8}, **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"model must be a model name or a factory callable, got int"):
        make_model(3, **kw)  # type: ignore[arg-type]
