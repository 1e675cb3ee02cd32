"""Tests of stage 1 (temporal_condense.static): distillation, artifacts and released-file loading."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.static import (
    StaticConfig,
    StaticMemory,
    dc_loops,
    distill_static,
    load_released_static,
    load_static,
)

NC, SPC = 3, 2


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.GroupNorm(4, 4), nn.ReLU(), nn.AvgPool2d(2))
        self.classifier = nn.Linear(4 * 4 * 4, NC)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


def fixed_net(*, seed: int, **_: object) -> nn.Module:
    """Always the same initialization: the matching objective is then a fixed function of the images."""
    del seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return TinyNet()


def seeded_net(*, seed: int, **_: object) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyNet()


@pytest.fixture(scope="module")
def frames() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(NC).repeat(6)
    # Class-dependent colour plus noise, in [0, 1].
    base = torch.rand(NC, 3, 1, 1, generator=g)
    images = (base[labels] + 0.3 * torch.rand(labels.numel(), 3, 8, 8, generator=g)).clamp(0, 1)
    return images, labels


@pytest.mark.parametrize("method", ["dm", "dc"])
def test_loss_decreases(frames: tuple[torch.Tensor, torch.Tensor], method: str) -> None:
    kw = {"outer_loop": 1} if method == "dc" else {}
    lr = 0.05 if method == "dm" else 1.0
    memory = distill_static(
        frames, NC, SPC, method=method, iterations=8, lr=lr, init="noise", model=fixed_net,
        batch_real=100, progress=False, **kw,
    )  # fmt: skip
    assert len(memory.losses) == 8
    assert memory.losses[-1] < 0.8 * memory.losses[0], memory.losses
    assert memory.images.shape == (NC * SPC, 3, 8, 8)
    assert memory.source == method and memory.config is not None and memory.config.method == method


@pytest.mark.parametrize("method", ["dm", "dc"])
def test_seeded_determinism(frames: tuple[torch.Tensor, torch.Tensor], method: str) -> None:
    kw = {"outer_loop": 2, "inner_loop": 1, "batch_real": 3} if method == "dc" else {"batch_real": 3}

    def run(seed: int) -> StaticMemory:
        return distill_static(frames, NC, SPC, method=method, iterations=2, model=seeded_net, seed=seed,
                              progress=False, **kw)  # fmt: skip

    state = torch.get_rng_state()
    a, b, c = run(1), run(1), run(2)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left as it was
    assert torch.equal(a.images, b.images) and a.losses == b.losses
    assert not torch.equal(a.images, c.images)


def test_dc_loop_structure_counts_steps(frames: tuple[torch.Tensor, torch.Tensor]) -> None:
    """outer_loop image updates per iteration, inner_loop student epochs between them (not after the last)."""
    images_steps, net_steps = [], []

    class Counting(TinyNet):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            (images_steps if torch.is_grad_enabled() and x.requires_grad else net_steps).append(x.shape[0])
            return super().forward(x)

    distill_static(frames, NC, SPC, method="dc", iterations=1, model=lambda **_: Counting(), outer_loop=3,
                   inner_loop=2, batch_train=4, batch_real=2, progress=False)  # fmt: skip
    # 3 outer steps x 3 classes synthetic forwards (grad w.r.t. images), each of SPC images.
    assert images_steps == [SPC] * (3 * NC)
    # real forwards (3 x 3 classes, batch 2) + student training: 2 gaps x 2 epochs x ceil(6/4)=2 batches.
    assert net_steps.count(4) == 4 and net_steps.count(2) == 3 * NC + 4 and len(net_steps) == 3 * NC + 8


def test_init_real_and_noise(frames: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, labels = frames
    mem = distill_static(frames, NC, SPC, method="dm", iterations=0, init="real", model=fixed_net, progress=False)
    for i in range(NC * SPC):
        c = i // SPC
        assert any(torch.equal(mem.images[i], x) for x in images[labels == c])
    noise = distill_static(frames, NC, SPC, method="dm", iterations=0, init="noise", model=fixed_net, progress=False)
    assert not torch.equal(noise.images, mem.images)
    assert torch.allclose(noise.images.mean(), images.mean(), atol=0.25)


def test_with_library_convnet(frames: tuple[torch.Tensor, torch.Tensor]) -> None:
    pytest.importorskip("temporal_condense.models")
    kw = {"net_width": 4, "net_depth": 1}
    for method in ("dm", "dc"):
        extra = {"outer_loop": 1} if method == "dc" else {}
        mem = distill_static(frames, NC, 1, method=method, iterations=1, model="ConvNet", model_kwargs=kw,
                             batch_real=2, progress=False, **extra)  # fmt: skip
        assert mem.images.shape == (NC, 3, 8, 8) and torch.isfinite(mem.images).all()
        assert mem.config is not None and mem.config.model_kwargs == kw


def test_dataset_input(frames: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, labels = frames
    items = [(images[i], int(labels[i])) for i in range(len(labels))]
    a = distill_static(items, NC, SPC, method="dm", iterations=1, model=fixed_net, progress=False)
    b = distill_static(frames, NC, SPC, method="dm", iterations=1, model=fixed_net, progress=False)
    assert torch.equal(a.images, b.images)


def test_save_load_roundtrip(tmp_path: Path, frames: tuple[torch.Tensor, torch.Tensor]) -> None:
    mem = distill_static(frames, NC, SPC, method="dm", iterations=2, model=fixed_net, progress=False)
    path = mem.save(tmp_path / "static.safetensors")
    back = StaticMemory.load(path)
    assert torch.equal(back.images, mem.images) and back.losses == mem.losses
    assert back.config == mem.config and back.source == "dm"
    assert torch.equal(load_static(path, NC, SPC).images, mem.images)
    with pytest.raises(ShapeError, match=r"static_per_class of .* must be 5, got 2"):
        load_static(path, NC, 5)
    assert not list(tmp_path.glob("*.tmp"))


def test_static_memory_views() -> None:
    images = torch.arange(NC * SPC, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 3, 2, 2).contiguous()
    mem = StaticMemory(images, NC, SPC)
    assert mem.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert torch.equal(mem.class_images(1), images[2:4])
    videos = mem.as_videos(4)
    assert videos.shape == (6, 4, 3, 2, 2) and videos.is_contiguous()
    assert torch.equal(videos[:, 3], images)
    assert mem.storage_bytes() == images.numel() * 4 and len(mem) == 6


# --------------------------------------------------------------------------------------------------
# Released files
# --------------------------------------------------------------------------------------------------


class Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (print, ("executed",))


def test_load_released(tmp_path: Path) -> None:
    img = torch.rand(NC * SPC, 3, 8, 8)
    torch.save({"image": img}, tmp_path / "ok.pt")
    mem = load_released_static(tmp_path / "ok.pt", NC, SPC)
    assert torch.equal(mem.images, img) and mem.source == "released"
    assert torch.equal(load_static(tmp_path / "ok.pt", NC, SPC).images, img)


def test_load_released_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.save({"image": torch.rand(5, 3, 8, 8)}, tmp_path / "count.pt")
    with pytest.raises(ShapeError, match=r"num_classes \* static_per_class = 3 \* 2 = 6 .* got 5"):
        load_released_static(tmp_path / "count.pt", NC, SPC)
    bad = torch.rand(6, 3, 8, 8)
    bad[2, 0, 0, 0] = float("nan")
    torch.save({"image": bad}, tmp_path / "nan.pt")
    with pytest.raises(ShapeError, match="must be finite, got 1 NaN"):
        load_released_static(tmp_path / "nan.pt", NC, SPC)
    torch.save({"image": torch.rand(6, 1, 8, 8)}, tmp_path / "gray.pt")
    with pytest.raises(ShapeError, match="must have 3 channels, got 1"):
        load_released_static(tmp_path / "gray.pt", NC, SPC)
    torch.save({"images": torch.rand(6, 3, 8, 8)}, tmp_path / "key.pt")
    with pytest.raises(ConfigError, match=r"must be a dict with key 'image', got dict with keys \['images'\]"):
        load_released_static(tmp_path / "key.pt", NC, SPC)
    torch.save(torch.rand(6, 3, 8, 8), tmp_path / "bare.pt")
    with pytest.raises(ConfigError, match="got Tensor"):
        load_released_static(tmp_path / "bare.pt", NC, SPC)
    torch.save({"image": torch.rand(6, 3, 8)}, tmp_path / "rank.pt")
    with pytest.raises(ShapeError, match="must have 4 dimensions, got 3"):
        load_released_static(tmp_path / "rank.pt", NC, SPC)
    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump({"image": Evil()}, handle, protocol=2)
    with pytest.raises(ConfigError, match="weights_only=True"):
        load_released_static(tmp_path / "evil.pt", NC, SPC)
    torch.save({"image": Evil()}, tmp_path / "evil2.pt")
    with pytest.raises(ConfigError, match="refused"):
        load_released_static(tmp_path / "evil2.pt", NC, SPC)
    assert "executed" not in capsys.readouterr().out
    with pytest.raises(ConfigError, match="not found"):
        load_released_static(tmp_path / "missing.pt", NC, SPC)
    with pytest.raises(ConfigError, match="num_classes and static_per_class are required"):
        load_static(tmp_path / "count.pt")


# --------------------------------------------------------------------------------------------------
# Configuration errors
# --------------------------------------------------------------------------------------------------


def test_config_errors(frames: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, labels = frames
    with pytest.raises(ConfigError, match="method"):
        distill_static(frames, NC, SPC, method="mtt", model=fixed_net, progress=False)
    with pytest.raises(ConfigError, match="outer_loop/inner_loop apply to method='dc' only"):
        distill_static(frames, NC, SPC, method="dm", outer_loop=2, model=fixed_net, progress=False)
    with pytest.raises(ConfigError, match="static_per_class"):
        distill_static(frames, NC, 0, model=fixed_net, progress=False)
    with pytest.raises(ShapeError, match=r'init="real" needs at least static_per_class \(7\) frames per class'):
        distill_static(frames, NC, 7, method="dm", iterations=0, model=fixed_net, progress=False)
    with pytest.raises(ShapeError, match=r"labels must lie in \[0, 1\]"):
        distill_static(frames, 2, SPC, model=fixed_net, progress=False)
    with pytest.raises(ShapeError, match="class 3 has none"):
        distill_static(frames, 4, 1, model=fixed_net, progress=False)
    with pytest.raises(ShapeError, match="must have 4 dimensions"):
        distill_static((images[:, 0], labels), NC, SPC, model=fixed_net, progress=False)
    with pytest.raises(ConfigError, match="single_frame_data must be a dataset"):
        distill_static(3, NC, SPC, model=fixed_net, progress=False)
    with pytest.raises(ConfigError, match="embed"):
        distill_static(frames, NC, 1, method="dm", iterations=1, model=lambda **_: nn.Flatten(), progress=False)
    with pytest.raises(Exception, match="extra"):
        StaticConfig(num_classes=1, static_per_class=1, unknown=3)  # type: ignore[call-arg]


def test_dc_loops_table() -> None:
    assert dc_loops(1) == (1, 1) and dc_loops(10) == (10, 50) and dc_loops(50) == (50, 10)
    assert dc_loops(5) == (10, 50) and dc_loops(15) == (20, 25) and dc_loops(80) == (50, 10)
    cfg = StaticConfig(num_classes=2, static_per_class=10, outer_loop=3)
    assert cfg.resolved_loops() == (3, 50) and cfg.resolved_lr() == 0.1
    assert StaticConfig(num_classes=2, static_per_class=1, method="dm").resolved_lr() == 1.0


def test_dc_with_batchnorm_student(frames: tuple[torch.Tensor, torch.Tensor]) -> None:
    """The published DC trick: BatchNorm statistics from real frames, then frozen (eval) while matching."""
    modes: list[bool] = []

    class BNNet(TinyNet):
        def __init__(self) -> None:
            super().__init__()
            self.features[1] = nn.BatchNorm2d(4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            modes.append(self.features[1].training)
            return super().forward(x)

    mem = distill_static(frames, NC, 1, method="dc", iterations=1, model=lambda **_: BNNet(), outer_loop=1,
                         batch_real=2, progress=False)  # fmt: skip
    assert torch.isfinite(mem.images).all()
    # First forward (statistics on real frames) in train mode, the matching forwards in eval mode.
    assert modes[0] is True and not any(modes[1:]) and len(modes) == 1 + 2 * NC


# ------------------------------------------------------------------ issue 9: headers are validated
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"num_classes": None}, r"num_classes: Field required"),
        ({"static_per_class": 2.9}, r"static_per_class: Input should be a valid integer, got 2.9"),
        ({"num_classes": "3"}, r"num_classes: Input should be a valid integer, got '3'"),
        ({"static_per_class": 0}, r"static_per_class: Input should be greater than or equal to 1"),
        ({"extra": 1}, r"unknown config key 'extra'"),
    ],
)
def test_damaged_static_headers_are_named_errors(tmp_path: Path, edit: dict, message: str) -> None:
    from temporal_condense.io import save_artifact

    header = {"num_classes": 3, "static_per_class": 2, "source": "user", "distill_config": None, "losses": []}
    header.update(edit)
    header = {k: v for k, v in header.items() if v is not None}
    path = save_artifact(
        tmp_path / "s.safetensors", {"images": torch.zeros(6, 1, 2, 2)}, kind="StaticMemory", config=header
    )
    with pytest.raises(ConfigError, match=r"s\.safetensors' has an invalid header: .*" + message):
        StaticMemory.load(path)


def test_static_load_on_a_missing_device_is_named(tmp_path: Path) -> None:
    path = StaticMemory(torch.zeros(2, 1, 2, 2), 2, 1).save(tmp_path / "s.safetensors")
    with pytest.raises(ConfigError, match=r"device must name a torch device"):
        StaticMemory.load(path, device="banana")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_static_memory_keeps_its_dtype(tmp_path: Path, dtype: torch.dtype) -> None:
    mem = StaticMemory(torch.rand(4, 3, 2, 2).to(dtype), 2, 2, source="released")
    back = StaticMemory.load(mem.save(tmp_path / "s.safetensors"))
    assert back.images.dtype == dtype and torch.equal(back.images, mem.images)
    assert (back.num_classes, back.static_per_class, back.source) == (2, 2, "released")


@pytest.mark.parametrize("path", [None, 3, ["a.pt"]])
def test_load_static_path_must_be_a_path(path: object) -> None:
    with pytest.raises(ConfigError, match=r"path must be a str or os.PathLike"):
        load_static(path, 2, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("data", ["x", torch.ones(3), [1, 2]])
def test_distill_static_refuses_data_that_is_not_pairs(data: object) -> None:
    with pytest.raises(ConfigError, match=r"single_frame_data"):
        distill_static(data, 2, 1, iterations=1, progress=False)
