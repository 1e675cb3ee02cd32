"""Expert trajectories: training, our format, the published format, the lazy window buffer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from torch import nn

import temporal_condense.mtt.experts as experts_mod
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.io import save_artifact
from temporal_condense.mtt.buffer import ExpertBuffer
from temporal_condense.mtt.experts import (
    EXPERT_KIND,
    ExpertTrajectory,
    convert_published_buffer,
    expert_path,
    expert_seed,
    load_expert,
    read_published_buffer,
    save_expert,
    train_experts,
)

N, T, C, H, W, K = 12, 2, 1, 4, 4, 3


class Tiny(nn.Module):
    """Small video classifier with dropout (so the global RNG matters)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(T * C * H * W, 6)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(6, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(torch.relu(self.fc1(x.flatten(1)))))


def tiny(*, seed: int, **_: object) -> nn.Module:
    return Tiny()


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(123)
    return torch.rand(N, T, C, H, W, generator=g), torch.arange(N) % K


def _run(out: Path, data: tuple[torch.Tensor, torch.Tensor], **kw: object) -> list[Path]:
    n = kw.pop("num_experts", 3)
    args: dict[str, object] = {"epochs": 2, "batch_size": 5, "seed": 7, "progress": False}
    args.update(kw)
    return train_experts(tiny, data, n, out_dir=out, **args)  # type: ignore[arg-type]


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as h:
        return {k: h.get_tensor(k) for k in h.keys()}  # noqa: SIM118


def _same_files(a: list[Path], b: list[Path]) -> None:
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b):
        ta, tb = _tensors(pa), _tensors(pb)
        assert ta.keys() == tb.keys()
        for k in ta:
            assert torch.equal(ta[k], tb[k]), (pa, k)


def _reference_expert(
    data: tuple[torch.Tensor, torch.Tensor],
    seed: int,
    k: int,
    epochs: int,
    lr: float,
    batch_size: int,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> list[torch.Tensor]:
    """Plain PyTorch: the published buffer.py loop with the per-batch standardization of the video code."""
    x_all, y_all = data
    state = torch.get_rng_state()
    torch.manual_seed(expert_seed(seed, k, "global"))
    net = Tiny()
    net.train()
    g = torch.Generator().manual_seed(expert_seed(seed, k, "data"))
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    traj = [torch.cat([p.detach().reshape(-1) for p in net.parameters()])]
    for _ in range(epochs):
        perm = torch.randperm(len(y_all), generator=g)
        for idx in perm.split(batch_size):
            x = x_all[idx]
            x = (x - x.mean()) / x.std()
            loss = nn.functional.cross_entropy(net(x), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        traj.append(torch.cat([p.detach().reshape(-1) for p in net.parameters()]))
    torch.set_rng_state(state)
    return traj


# ------------------------------------------------------------------------------------------ training
@pytest.mark.parametrize(("momentum", "weight_decay"), [(0.0, 0.0), (0.9, 1e-3)])
def test_train_matches_plain_pytorch_reference(tmp_path, data, momentum, weight_decay):
    paths = _run(tmp_path, data, num_experts=2, momentum=momentum, weight_decay=weight_decay, lr=0.05)
    assert [p.name for p in paths] == [f"expert_{k:05d}.safetensors" for k in range(2)]
    for k, path in enumerate(paths):
        ref = _reference_expert(data, 7, k, 2, 0.05, 5, momentum, weight_decay)
        expert = load_expert(path)
        assert expert.num_snapshots == 3
        for e in range(3):
            torch.testing.assert_close(expert.snapshot(e), ref[e], rtol=0, atol=1e-6)
        assert not torch.equal(expert.snapshot(0), expert.snapshot(2))  # it trained


def test_published_defaults():
    import inspect

    sig = inspect.signature(train_experts).parameters
    assert sig["lr"].default == 0.01
    assert sig["momentum"].default == 0.0
    assert sig["weight_decay"].default == 0.0
    assert sig["epochs"].default == 50
    assert sig["batch_size"].default == 256


def test_format_header_and_tensor_names(tmp_path, data):
    path = _run(tmp_path, data, num_experts=1)[0]
    tensors = _tensors(path)
    assert sorted(tensors) == ["epoch_0", "epoch_1", "epoch_2"]
    net = Tiny()
    P = sum(p.numel() for p in net.parameters())
    assert all(t.shape == (P,) and t.dtype == torch.float32 for t in tensors.values())
    with safe_open(str(path), framework="pt") as h:
        header = json.loads(h.metadata()["temporal_condense"])
    assert header["kind"] == EXPERT_KIND
    cfg = header["config"]
    assert cfg["model"] == "tiny" and cfg["lr"] == 0.01 and cfg["epochs"] == 2
    assert cfg["param_names"] == [n for n, _ in net.named_parameters()]
    assert cfg["param_shapes"] == [list(p.shape) for p in net.parameters()]
    assert len(cfg["train_loss"]) == 2 and len(cfg["train_acc"]) == 2
    assert cfg["run"]["momentum"] == 0.0 and cfg["run"]["weight_decay"] == 0.0


def test_trajectory_params_and_load_into(tmp_path, data):
    expert = load_expert(_run(tmp_path, data, num_experts=1)[0])
    params = expert.params(1)
    assert [tuple(p.shape) for p in params] == [tuple(p.shape) for p in Tiny().parameters()]
    torch.testing.assert_close(torch.cat([p.reshape(-1) for p in params]), expert.snapshot(1))
    net = expert.load_into(Tiny(), 2)
    torch.testing.assert_close(torch.cat([p.detach().reshape(-1) for p in net.parameters()]), expert.snapshot(2))
    pub = expert.to_published()
    assert len(pub) == 3 and len(pub[0]) == 4
    assert expert.snapshot(1, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ConfigError, match=r"epoch must be in \[0, 2\].*got 3"):
        expert.snapshot(3)
    with pytest.raises(ShapeError, match="model parameter shapes must be"):
        expert.load_into(nn.Linear(2, 2), 0)


def test_seeded_determinism_and_rng_untouched(tmp_path, data):
    state = torch.get_rng_state()
    a = _run(tmp_path / "a", data)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is not consumed
    b = _run(tmp_path / "b", data)
    _same_files(a, b)
    c = _run(tmp_path / "c", data, seed=8)
    assert not torch.equal(load_expert(a[0]).snapshot(0), load_expert(c[0]).snapshot(0))
    # experts of one run differ from each other
    assert not torch.equal(load_expert(a[0]).snapshot(0), load_expert(a[1]).snapshot(0))


def test_resume_after_deleting_experts_equals_uninterrupted(tmp_path, data):
    full = _run(tmp_path / "full", data, num_experts=4)
    part_dir = tmp_path / "part"
    _run(part_dir, data, num_experts=4)
    for k in (1, 3):
        expert_path(part_dir, k).unlink()
    built: list[int] = []

    def counting(*, seed: int, **_: object) -> nn.Module:
        built.append(seed)
        return Tiny()

    counting.__qualname__ = "tiny"  # same run identity as the first run
    resumed = train_experts(counting, data, 4, out_dir=part_dir, epochs=2, batch_size=5, seed=7, progress=False)
    assert built == [expert_seed(7, 1, "init"), expert_seed(7, 3, "init")]  # only the missing ones
    _same_files(full, resumed)


def test_resume_after_a_kill_mid_run(tmp_path, data):
    full = _run(tmp_path / "full", data, num_experts=3)
    calls = {"n": 0}

    def dies_on_third(*, seed: int, **_: object) -> nn.Module:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # simulated kill while expert 2 trains
        return Tiny()

    dies_on_third.__qualname__ = "tiny"
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        train_experts(dies_on_third, data, 3, out_dir=out, epochs=2, batch_size=5, seed=7, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["expert_00000.safetensors", "expert_00001.safetensors"]
    (out / ".expert_00002.safetensors.abc.tmp").write_bytes(b"partial")  # leftover of a real kill
    resumed = _run(out, data, num_experts=3)
    _same_files(full, resumed)


def test_resume_refuses_other_runs_files(tmp_path, data):
    _run(tmp_path, data, num_experts=1)
    with pytest.raises(ConfigError, match=r"different run \(lr: expected 0.02, got 0.01\)"):
        _run(tmp_path, data, num_experts=1, lr=0.02)


def test_dataset_and_tensors_give_same_experts(tmp_path, data):
    a = _run(tmp_path / "t", data, num_experts=1)
    ds = torch.utils.data.TensorDataset(*data)
    b = train_experts(tiny, ds, 1, out_dir=tmp_path / "d", epochs=2, batch_size=5, seed=7, progress=False)
    _same_files(a, b)


def test_transform_and_standardize_none(tmp_path, data):
    seen: list[torch.Tensor] = []

    def spy(x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        return x * 2

    _run(tmp_path, data, num_experts=1, transform=spy, standardize="none")
    assert len(seen) == 2 * 3  # 2 epochs x ceil(12 / 5) batches
    assert seen[0].shape[1:] == (T, C, H, W)


def test_model_by_registry_name_with_stand_in(tmp_path, data, monkeypatch):
    """Names go through temporal_condense.models.get_model(name, seed=..., **model_kwargs) (stand-in)."""
    calls: list[tuple[str, int, dict]] = []

    def get_model(name: str, seed: int | None = None, **kw: object) -> nn.Module:
        calls.append((name, seed, kw))  # type: ignore[arg-type]
        return Tiny()

    monkeypatch.setattr(experts_mod, "get_model", get_model)
    path = train_experts(
        "ConvNet3D",
        data,
        1,
        out_dir=tmp_path,
        epochs=1,
        batch_size=6,
        seed=1,
        model_kwargs={"num_classes": K, "size": (H, W)},
        progress=False,
    )[0]
    assert calls == [("ConvNet3D", expert_seed(1, 0, "init"), {"num_classes": K, "size": (H, W)})]
    cfg = load_expert(path).config
    assert cfg["model"] == "ConvNet3D" and cfg["model_kwargs"] == {"num_classes": K, "size": [H, W]}
    # a resumed run with the same tuple kwargs recognizes its own files
    train_experts(
        "ConvNet3D",
        data,
        1,
        out_dir=tmp_path,
        epochs=1,
        batch_size=6,
        seed=1,
        model_kwargs={"num_classes": K, "size": (H, W)},
        progress=False,
    )
    assert len(calls) == 1


def test_real_convnet3d_on_moving_shapes_if_available(tmp_path):
    """Integration with interfaces 2 and 3: a narrow ConvNet3D trained on the built-in dataset."""
    models = pytest.importorskip("temporal_condense.models")
    data_mod = pytest.importorskip("temporal_condense.data")
    if not hasattr(data_mod, "MovingShapes"):  # pragma: no cover
        pytest.skip("temporal_condense.data.MovingShapes not available yet")
    ds = data_mod.MovingShapes("train", frames=8, size=(44, 44), videos_per_class=1, shapes=("circle", "square"))
    kw = {"channels": 3, "num_classes": ds.num_classes, "size": (44, 44), "frames": 8, "net_width": 8}
    path = train_experts("ConvNet3D", ds, 1, out_dir=tmp_path, epochs=1, batch_size=4, model_kwargs=kw, progress=False)[
        0
    ]
    expert = load_expert(path)
    net = models.get_model("ConvNet3D", seed=expert_seed(0, 0, "init"), **kw)
    assert expert.param_names == [n for n, _ in net.named_parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    assert torch.equal(expert.snapshot(0), flat0)  # initialized from the derived seed, not the clock
    assert not torch.equal(expert.snapshot(1), flat0)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"num_experts": 0}, ConfigError, r"num_experts must be an integer >= 1, got 0"),
        ({"lr": -1.0}, ConfigError, r"lr: .*greater than 0.*got -1.0"),
        ({"momentum": 1.5}, ConfigError, r"momentum: .*less than 1.*got 1.5"),
        ({"batch_size": 0}, ConfigError, r"batch_size: .*got 0"),
        ({"standardize": "frame"}, ConfigError, r"standardize: .*got 'frame'"),
        ({"model_kwargs": {"f": object()}}, ConfigError, r"model_kwargs must be JSON-serializable"),
        ({"rank": 2, "world_size": 2}, ConfigError, r"rank must be in \[0, world_size=2\), got 2"),
    ],
)
def test_train_errors(tmp_path, data, kwargs, exc, match):
    args: dict[str, object] = {"epochs": 1, "batch_size": 4, "progress": False, "out_dir": tmp_path}
    n = kwargs.pop("num_experts", 1)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        train_experts(tiny, data, n, **args)  # type: ignore[arg-type]


def test_train_data_errors(tmp_path, data):
    x, y = data
    common = {"out_dir": tmp_path, "epochs": 1, "progress": False}
    with pytest.raises(ShapeError, match="same length, got 12 videos and 11 labels"):
        train_experts(tiny, (x, y[:11]), 1, **common)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match=r"labels must be in \[0, 3\).*got range \[3, 5\]"):
        train_experts(tiny, (x, y + 3), 1, **common)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match=r"train_data labels must have an integer dtype, got torch.float32"):
        train_experts(tiny, (x, y.float()), 1, **common)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match=r"train_data must be a \(videos, labels\) tensor pair, .* got str"):
        train_experts(tiny, "videos", 1, **common)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"model factory must return an nn\.Module, got int"):
        train_experts(lambda **_: 3, data, 1, **common)  # type: ignore[arg-type,return-value]


# -------------------------------------------------------------------------------- published format
def _published(path: Path, trajectories: int, epochs: int, offset: float, shapes=((2, 3), (2,))) -> list:
    """A replay_buffer_N.pt as the published buffer.py writes it; every value encodes (offset, i, e)."""
    data = []
    for i in range(trajectories):
        data.append(
            [[torch.full(s, offset + 10.0 * i + e) + 0.01 * j for j, s in enumerate(shapes)] for e in range(epochs + 1)]
        )
    torch.save(data, path)
    return data


_MARKER: list[str] = []


def _touch(path: str) -> None:  # pragma: no cover - must never run
    Path(path).write_text("executed")


class Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_touch, (self.marker,))


def test_read_published_buffer(tmp_path):
    raw = _published(tmp_path / "replay_buffer_0.pt", trajectories=2, epochs=3, offset=0.0)
    trajs = read_published_buffer(tmp_path / "replay_buffer_0.pt")
    assert len(trajs) == 2 and trajs[1].num_snapshots == 4 and trajs[1].num_params == 8
    for i, traj in enumerate(trajs):
        for e in range(4):
            expected = torch.cat([p.reshape(-1) for p in raw[i][e]])
            assert torch.equal(traj.snapshot(e), expected)
            assert all(torch.equal(a, b) for a, b in zip(traj.params(e), raw[i][e]))


def test_published_buffer_with_custom_class_is_refused_not_executed(tmp_path):
    marker = tmp_path / "marker.txt"
    bad = tmp_path / "replay_buffer_0.pt"
    torch.save([[[torch.zeros(2)], [Evil(str(marker))]]], bad)
    with pytest.raises(ConfigError, match=r"needs pickle beyond tensors and lists, so it was refused"):
        read_published_buffer(bad)
    assert not marker.exists()
    with pytest.raises(ConfigError, match="needs pickle beyond"):
        ExpertBuffer(bad, expert_epochs=1, max_start_epoch=1).sample()
    assert not marker.exists()


def test_published_buffer_structure_errors(tmp_path):
    torch.save({"a": torch.zeros(1)}, tmp_path / "d.pt")
    with pytest.raises(ConfigError, match="must hold a non-empty list of trajectories, got dict"):
        read_published_buffer(tmp_path / "d.pt")
    torch.save([[[torch.zeros(2)], [torch.zeros(3)]]], tmp_path / "s.pt")
    with pytest.raises(ShapeError, match=r"epoch 1 .* must have parameter shapes \[\(2,\)\], got \[\(3,\)\]"):
        read_published_buffer(tmp_path / "s.pt")
    with pytest.raises(ConfigError, match="not found"):
        read_published_buffer(tmp_path / "missing.pt")


def test_legacy_non_zip_published_file_is_read(tmp_path):
    data = [[[torch.arange(3.0)], [torch.arange(3.0) + 1]]]
    torch.save(data, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    (traj,) = read_published_buffer(tmp_path / "old.pt")
    assert torch.equal(traj.snapshot(1), torch.arange(3.0) + 1)


def test_convert_published_buffer(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    raw0 = _published(src / "replay_buffer_0.pt", 2, 2, 0.0)
    raw1 = _published(src / "replay_buffer_1.pt", 1, 2, 100.0)
    model = nn.Linear(3, 2)
    paths = convert_published_buffer(src, tmp_path / "ours", model=model, model_name="Linear")
    assert [p.name for p in paths] == [f"expert_{k:05d}.safetensors" for k in range(3)]
    for path, raw in zip(paths, [raw0[0], raw0[1], raw1[0]]):
        expert = ExpertTrajectory(path)
        assert expert.param_names == ["weight", "bias"] and expert.config["model"] == "Linear"
        for e in range(3):
            assert all(torch.equal(a, b) for a, b in zip(expert.params(e), raw[e]))
    with pytest.raises(ConfigError, match="overwrite=True"):
        convert_published_buffer(src, tmp_path / "ours")
    with pytest.raises(ShapeError, match="model parameter shapes must match"):
        convert_published_buffer(src, tmp_path / "x", model=nn.Linear(4, 2))


def test_save_expert_errors(tmp_path):
    with pytest.raises(ShapeError, match=r"snapshots\[1\] must have 3 elements .* got 4"):
        save_expert(tmp_path / "e.safetensors", [torch.zeros(3), torch.zeros(4)], param_shapes=[(3,)])
    with pytest.raises(ShapeError, match="param_names must have 1 entries"):
        save_expert(tmp_path / "e.safetensors", torch.zeros(2, 3), param_shapes=[(3,)], param_names=["a", "b"])


# ----------------------------------------------------------------------------------------- buffer
def _our_files(d: Path, n: int, epochs: int = 4, P: int = 3) -> None:
    for k in range(n):
        snaps = torch.arange(epochs + 1, dtype=torch.float32)[:, None] + 100.0 * k + torch.zeros(epochs + 1, P)
        save_expert(expert_path(d, k), snaps, param_shapes=[(P,)], config={"expert_index": k})


def test_buffer_windows_are_the_stored_snapshots(tmp_path):
    _our_files(tmp_path, 2, epochs=5)
    buf = ExpertBuffer(tmp_path, expert_epochs=2, max_start_epoch=4, seed=0)
    starts = set()
    for _ in range(40):
        w = buf.sample_window()
        k = int(Path(w.source).stem.split("_")[1])
        assert 0 <= w.start_epoch < 4 and w.target_epoch == w.start_epoch + 2
        assert torch.equal(w.theta_start, torch.full((3,), 100.0 * k + w.start_epoch))
        assert torch.equal(w.theta_target, torch.full((3,), 100.0 * k + w.target_epoch))
        starts.add(w.start_epoch)
    assert starts == {0, 1, 2, 3}
    s, t = next(iter(buf))
    assert s.shape == t.shape == (3,) and s.is_contiguous()
    assert buf.sample()[0].dtype == torch.float32
    b64 = ExpertBuffer(tmp_path, expert_epochs=2, max_start_epoch=4, dtype=torch.float64)
    assert b64.sample()[0].dtype == torch.float64


def test_buffer_moves_on_to_the_next_file(tmp_path):
    """The published video loop never loads the next file; ours visits every trajectory each cycle."""
    for n in range(3):
        _published(tmp_path / f"replay_buffer_{n}.pt", trajectories=2, epochs=3, offset=1000.0 * n)
    buf = ExpertBuffer(tmp_path, expert_epochs=1, max_start_epoch=2, seed=3)
    for cycle in range(3):
        seen = [buf.sample_window() for _ in range(6)]
        keys = [(Path(w.source).name, w.expert) for w in seen]
        assert sorted(keys) == sorted((f"replay_buffer_{n}.pt", i) for n in range(3) for i in range(2))
        # the two trajectories of a file come back to back (one file in memory at a time)
        names = [k[0] for k in keys]
        assert names[0] == names[1] and names[2] == names[3] and names[4] == names[5]
        assert buf.files_opened == 3 * (cycle + 1)
        for w in seen:  # values really come from the named file and trajectory
            n = int(Path(w.source).stem.split("_")[-1])
            assert float(w.theta_start[0]) == pytest.approx(1000.0 * n + 10.0 * w.expert + w.start_epoch)


def test_buffer_seeded_and_shuffled(tmp_path):
    _our_files(tmp_path, 6)

    def run(seed: int) -> list[tuple[str, int]]:
        buf = ExpertBuffer(tmp_path, expert_epochs=1, max_start_epoch=3, seed=seed)
        return [(Path(w.source).name, w.start_epoch) for w in (buf.sample_window() for _ in range(12))]

    assert run(0) == run(0)
    assert run(0) != run(1)
    order = [name for name, _ in run(0)]
    assert sorted(order[:6]) == sorted(p.name for p in tmp_path.iterdir())  # one cycle = every file once
    assert order[:6] != sorted(order[:6]) or order[6:] != sorted(order[6:])  # shuffled
    plain = ExpertBuffer(tmp_path, expert_epochs=1, max_start_epoch=3, shuffle=False)
    assert [Path(plain.sample_window().source).name for _ in range(6)] == sorted(p.name for p in tmp_path.iterdir())


def test_buffer_materializes_only_two_snapshots(tmp_path, monkeypatch):
    _our_files(tmp_path, 1, epochs=6)
    requested: list[str] = []
    real = experts_mod.safe_open

    class Spy:
        def __init__(self, *a: object, **k: object) -> None:
            self._cm = real(*a, **k)

        def __enter__(self) -> Spy:
            self._h = self._cm.__enter__()
            return self

        def __exit__(self, *exc: object) -> None:
            self._cm.__exit__(*exc)

        def get_tensor(self, name: str) -> torch.Tensor:
            requested.append(name)
            return self._h.get_tensor(name)

        def __getattr__(self, name: str) -> object:  # keys/get_slice read the header only
            return getattr(self._h, name)

    buf = ExpertBuffer(tmp_path, expert_epochs=3, max_start_epoch=4, seed=0)
    monkeypatch.setattr(experts_mod, "safe_open", Spy)
    w = buf.sample_window()
    assert requested == [f"epoch_{w.start_epoch}", f"epoch_{w.target_epoch}"]


def test_buffer_validation(tmp_path):
    _our_files(tmp_path, 1, epochs=4)  # snapshots 0..4
    ExpertBuffer(tmp_path, expert_epochs=2, max_start_epoch=3)  # reaches snapshot 4: fine
    with pytest.raises(ConfigError, match=r"max_start_epoch \(3\) \+ expert_epochs \(3\) .* snapshots \(5"):
        ExpertBuffer(tmp_path, expert_epochs=3, max_start_epoch=3)
    with pytest.raises(ConfigError, match="max_start_epoch must be an integer >= 1, got 0"):
        ExpertBuffer(tmp_path, expert_epochs=1, max_start_epoch=0)
    with pytest.raises(ShapeError, match="must have 7 parameters, got 3"):
        ExpertBuffer(tmp_path, expert_epochs=1, max_start_epoch=1, num_params=7)
    with pytest.raises(ConfigError, match="not found"):
        ExpertBuffer(tmp_path / "nope", expert_epochs=1, max_start_epoch=1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"must hold expert_K\.safetensors or replay_buffer_N\.pt files, got none"):
        ExpertBuffer(empty, expert_epochs=1, max_start_epoch=1)
    pub = tmp_path / "pub"
    pub.mkdir()
    _published(pub / "replay_buffer_0.pt", 1, 2, 0.0)
    buf = ExpertBuffer(pub, expert_epochs=2, max_start_epoch=2)  # published files: checked when opened
    with pytest.raises(ConfigError, match=r"max_start_epoch \(2\) \+ expert_epochs \(2\)"):
        buf.sample()
    _our_files(pub, 1, epochs=4, P=5)
    with pytest.raises(ShapeError, match="must have 5 parameters, got 8"):
        b = ExpertBuffer(pub, expert_epochs=1, max_start_epoch=1, shuffle=False)
        b.sample()
        b.sample()


def test_buffer_max_files_max_experts_and_sharding(tmp_path):
    for n in range(2):
        _published(tmp_path / f"replay_buffer_{n}.pt", trajectories=3, epochs=2, offset=1000.0 * n)
    buf = ExpertBuffer(tmp_path, expert_epochs=1, max_start_epoch=1, max_files=1, max_experts=2, seed=0)
    keys = {(Path(w.source).name, w.expert) for w in (buf.sample_window() for _ in range(8))}
    assert len(keys) == 2 and len({k[0] for k in keys}) == 1 and {k[1] for k in keys} == {0, 1}
    shards = [ExpertBuffer(tmp_path, expert_epochs=1, max_start_epoch=1, rank=r, world_size=2) for r in (0, 1)]
    assert [b.files[0].name for b in shards] == ["replay_buffer_0.pt", "replay_buffer_1.pt"]
    with pytest.raises(ConfigError, match="rank 2 of world_size 3 gets no files"):
        ExpertBuffer(tmp_path, expert_epochs=1, max_start_epoch=1, rank=2, world_size=3)
    with pytest.raises(ConfigError, match="rank and world_size must be given together"):
        ExpertBuffer(tmp_path, expert_epochs=1, max_start_epoch=1, rank=0)


def test_buffer_over_trained_experts(tmp_path, data):
    paths = _run(tmp_path, data, num_experts=2)
    buf = ExpertBuffer(
        tmp_path, expert_epochs=1, max_start_epoch=2, seed=0, num_params=load_expert(paths[0]).num_params
    )
    s, t = buf.sample()
    assert s.shape == t.shape == (load_expert(paths[0]).num_params,)


# ------------------------------------------------------------------ issue 9: lying headers caught at open
def _lying_expert(path: Path, *, epochs: int, stored: int, P: int = 3, length: int = 3, dtype=torch.float32, **extra):
    header = {"epochs": epochs, "num_params": P, "param_names": ["w"], "param_shapes": [[P]], "dtype": "float32"}
    header.update(extra)
    tensors = {f"epoch_{e}": torch.ones(length, dtype=dtype) for e in range(stored)}
    return save_artifact(path, tensors, kind=EXPERT_KIND, config=header)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(epochs=5, stored=3), ConfigError, r"header says epochs=5 .* holds 3 tensor\(s\): missing \['epoch_3'"),
        (dict(epochs=2, stored=3, length=2), ShapeError, r"snapshot epoch_0 .* must have shape \[3\] .*got \[2\]"),
        (dict(epochs=2, stored=3, dtype=torch.int64), ShapeError, r"must have a floating dtype, got I64"),
        (dict(epochs="2", stored=3), ConfigError, r"invalid header: .*epochs"),
        (dict(epochs=2, stored=3, num_params=4), ConfigError, r"num_params \(4\) must equal the sum of param_shapes"),
        (dict(epochs=2, stored=3, param_names=["a", "b"]), ConfigError, r"param_names \(2\) and param_shapes \(1\)"),
    ],
)
def test_lying_expert_headers_are_caught_at_open(tmp_path, kwargs, error, message):
    path = _lying_expert(tmp_path / "expert_00000.safetensors", **kwargs)
    with pytest.raises(error, match=message):
        load_expert(path)
    with pytest.raises(error, match=message):
        ExpertBuffer(tmp_path, expert_epochs=1, max_start_epoch=1, seed=0)


def test_missing_expert_header_field_is_named(tmp_path):
    path = save_artifact(tmp_path / "e.safetensors", {"epoch_0": torch.ones(1)}, kind=EXPERT_KIND, config={})
    with pytest.raises(ConfigError, match=r"e\.safetensors' has an invalid header: .*epochs: Field required"):
        load_expert(path)


def test_published_snapshots_are_checked(tmp_path):
    nan = [[[torch.ones(2)], [torch.tensor([1.0, float("nan")])]]]
    torch.save(nan, tmp_path / "replay_buffer_0.pt")
    (traj,) = read_published_buffer(tmp_path / "replay_buffer_0.pt")
    assert torch.equal(traj.snapshot(0), torch.ones(2))
    with pytest.raises(ShapeError, match=r"snapshot 1 of trajectory 0 of .*replay_buffer_0.pt' must be finite"):
        traj.snapshot(1)
    torch.save([[[torch.ones(2, dtype=torch.int64)]]], tmp_path / "replay_buffer_1.pt")
    with pytest.raises(ShapeError, match=r"must hold floating parameter tensors, got torch.int64"):
        read_published_buffer(tmp_path / "replay_buffer_1.pt")


# ------------------------------------------------------------------------------ buffer state (exact resume)
def test_expert_buffer_state_dict_resumes_exactly(tmp_path):
    for k in range(3):
        save_expert(tmp_path / f"expert_{k:05d}.safetensors", torch.rand(6, 4), param_shapes=[(4,)])
    kw = {"expert_epochs": 2, "max_start_epoch": 3, "seed": 5}
    ref = ExpertBuffer(tmp_path, **kw)
    expected = [ref.sample_window() for _ in range(8)]
    for cut in (0, 1, 2, 3, 5):
        a = ExpertBuffer(tmp_path, **kw)
        for _ in range(cut):
            a.sample()
        state = a.state_dict()
        json.dumps({k: v for k, v in state.items() if k != "generator"})  # the rest is JSON
        b = ExpertBuffer(tmp_path, **kw)
        b.load_state_dict(state)
        for w in expected[cut:]:
            got = b.sample_window()
            assert (got.source, got.expert, got.start_epoch) == (w.source, w.expert, w.start_epoch)
            assert torch.equal(got.theta_start, w.theta_start) and torch.equal(got.theta_target, w.theta_target)


def test_expert_buffer_state_resumes_on_a_copied_folder(tmp_path):
    """A run folder that was moved resumes on its own expert files (the state names the original folder)."""
    first = tmp_path / "first" / "experts"
    first.mkdir(parents=True)
    for k in range(3):
        save_expert(first / f"expert_{k:05d}.safetensors", torch.rand(6, 4), param_shapes=[(4,)])
    kw = {"expert_epochs": 2, "max_start_epoch": 3, "seed": 5}
    a = ExpertBuffer(first, **kw)
    a.sample()
    state = a.state_dict()
    expected = [a.sample_window() for _ in range(5)]
    copy = tmp_path / "copy" / "experts"
    shutil.copytree(first, copy)
    shutil.rmtree(first)  # nothing may be read from the original folder
    b = ExpertBuffer(copy, **kw)
    b.load_state_dict(state)
    assert all(f.parent == copy for f in b.files)
    for w in expected:
        got = b.sample_window()
        assert (got.expert, got.start_epoch) == (w.expert, w.start_epoch) and Path(got.source).parent == copy
        assert torch.equal(got.theta_start, w.theta_start) and torch.equal(got.theta_target, w.theta_target)


def test_expert_buffer_state_errors(tmp_path):
    for k in range(2):
        save_expert(tmp_path / f"expert_{k:05d}.safetensors", torch.rand(4, 2), param_shapes=[(2,)])
    buf = ExpertBuffer(tmp_path, expert_epochs=1, max_start_epoch=2, seed=0)
    state = buf.state_dict()
    with pytest.raises(ConfigError, match=r"state must come from ExpertBuffer\.state_dict"):
        buf.load_state_dict({"files": []})
    with pytest.raises(ConfigError, match="other expert files"):
        buf.load_state_dict({**state, "files": ["elsewhere.safetensors", "x.safetensors"]})
    with pytest.raises(ConfigError, match="file_pos"):
        buf.load_state_dict({**state, "file_pos": 7})
