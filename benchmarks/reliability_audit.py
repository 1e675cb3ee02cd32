"""Reliability audit: hostile and careless inputs through the public API, the pipeline and its files.

Every case is malformed input (or a file a user owns), so the only good outcome is a named
``TemporalCondenseError`` (or an ``OSError`` naming the path for a genuinely unwritable one) that comes before
any expensive work, with the user's files untouched. Each case is classified as

* ``named``: a ``TemporalCondenseError`` (or our ``OSError``) before work was done;
* ``late``: a named error, but only after stage 1 / stage 2 had run;
* ``silent``: no error, a wrong number or a wrong file (NaN passed through, a value floored, a mode lost...);
* ``deep``: an exception from inside torch / safetensors / PIL / json / PyYAML (a crash deep in a library);
* ``plain``: a plain Python error raised by our own code (``KeyError``, ``AttributeError``, ``TypeError``,
  ``IndexError`` on our line, or a non-library error our code raised);
* ``data loss``: a file the user owns was overwritten or changed;
* ``correct`` / ``refused``: for the few valid requests among the cases (re-running a failed run with the fix,
  a published replay buffer): the right result, or a refusal of a valid request.

The cases follow the kinds of issue 9 (bad counts and names, NaN/inf, wrong dtypes and devices, damaged and
lying headers, round trips, file modes and leftovers, foreign folders, late validation, hand-edited checkpoints).
The script only uses names public before issue 9, so it runs on older checkouts too (to compare)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/reliability_audit.py            # counts
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/reliability_audit.py --verbose  # every case
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import shutil
import tempfile
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

import temporal_condense as tc
from temporal_condense.data import MovingShapes, load_frame
from temporal_condense.evaluate import evaluate
from temporal_condense.io import atomic_write, load_artifact, save_artifact
from temporal_condense.losses import dm_loss
from temporal_condense.mtt.buffer import ExpertBuffer
from temporal_condense.mtt.experts import load_expert, read_published_buffer
from temporal_condense.pipeline import PipelineConfig, method_config, run_pipeline
from temporal_condense.static import StaticMemory

NAN, INF = float("nan"), float("inf")
ROOT = Path(tempfile.mkdtemp(prefix="tc_audit_"))
Case = tuple[str, Callable[[], Any], Callable[[Any], bool] | None]
CASES: list[Case] = []


def case(name: str, fn: Callable[[], Any], wrong: Callable[[Any], bool] | None = None) -> None:
    """Register a case; ``wrong(result)`` decides whether a returned value is silently wrong (default: any)."""
    CASES.append((name, fn, wrong))


def fresh(name: str) -> Path:
    path = ROOT / name
    path.mkdir(parents=True, exist_ok=True)
    return path


class LostError(Exception):
    """Raised by a case when a user's file was overwritten."""


class LateError(Exception):
    """Raised by a case when the named error came only after stage work had been done."""


def classify(fn: Callable[[], Any], wrong: Callable[[Any], bool] | None) -> tuple[str, str]:
    """``(outcome, detail)`` of one case (see the module docstring)."""
    outcome, detail = _classify(fn, wrong)
    if getattr(wrong, "__name__", "") == "_must_succeed" and outcome not in ("correct", "data loss"):
        return "refused", detail  # a valid request that was refused
    return outcome, detail


def _classify(fn: Callable[[], Any], wrong: Callable[[Any], bool] | None) -> tuple[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = fn()
        except LostError as exc:
            return "data loss", str(exc)
        except LateError as exc:
            return "late", str(exc)
        except tc.TemporalCondenseError as exc:
            return "named", str(exc).splitlines()[0][:110]
        except Exception as exc:
            if isinstance(exc, OSError) and "cannot" in str(exc) and getattr(exc, "filename", None):
                return "named", str(exc)[:110]
            # "plain": our own code raised a plain Python error (the failing line is a raise, or the error is a
            # KeyError/AttributeError/TypeError/IndexError of our line); "deep": it came from inside a library.
            frames = traceback.extract_tb(exc.__traceback__)
            last = frames[-1] if frames else None
            ours = last is not None and f"{os.sep}temporal_condense{os.sep}" in last.filename
            plain_types = (KeyError, AttributeError, TypeError, IndexError)
            raised_here = last is not None and (last.line or "").lstrip().startswith("raise")
            kind = "plain" if ours and (raised_here or type(exc) in plain_types) else "deep"
            return kind, f"{type(exc).__name__}: {str(exc).splitlines()[0][:90] if str(exc) else ''}"
    if wrong is None or wrong(value):
        return "silent", f"accepted, returned {type(value).__name__}"
    return "correct", "the right result"


# ------------------------------------------------------------------------------------------ values
def video(fill: float | None = None, shape: tuple[int, ...] = (2, 4, 1, 4, 4), dtype: torch.dtype = torch.float32):
    x = torch.rand(shape).to(dtype) if dtype.is_floating_point else torch.ones(shape, dtype=dtype)
    if fill is not None:
        x.view(-1)[0] = fill
    return x


BAD_COUNTS = [-1, 0, 0.5, 2.9, NAN, INF, "2", True, [2]]
BAD_VIDEOS = {
    "NaN pixel": video(NAN),
    "inf pixel": video(INF),
    "-inf pixel": video(-INF),
    "int64": video(dtype=torch.int64),
    "bool": video(dtype=torch.bool),
    "4-D": video(shape=(4, 1, 4, 4)),
    "6-D": video(shape=(1, 2, 4, 1, 4, 4)),
    "empty": video(shape=(0, 4, 1, 4, 4)),
    "list": [[1.0]],
    "None": None,
}
BAD_NAMES = ["banana", "", None, 3]


def mse(r: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(r.mean(0), s.mean(0))


# ---------------------------------------------------------------------------- interpolation (core)
for label, x in BAD_VIDEOS.items():
    case(f"interpolate(x={label})", lambda x=x: tc.interpolate(x, 8))
    case(f"Interpolator(8)(x={label})", lambda x=x: tc.Interpolator(8)(x))
for v in BAD_COUNTS:
    case(f"interpolate(frames={v!r})", lambda v=v: tc.interpolate(video(), v))
    case(f"interpolation_matrix(t_in={v!r})", lambda v=v: tc.interpolation_matrix(v, 4))
for v in BAD_NAMES:
    case(f"interpolate(mode={v!r})", lambda v=v: tc.interpolate(video(), 8, v))
    case(f"interpolate(layout={v!r})", lambda v=v: tc.interpolate(video(), 8, layout=v))
for dt in (torch.int64, torch.int32, torch.bool, torch.uint8):
    case(
        f"interpolation_matrix(dtype={dt})",
        lambda dt=dt: tc.interpolation_matrix(2, 3, "linear", dtype=dt),
        lambda m: True,  # an integer matrix cannot have rows summing to 1 for in-between frames
    )
for dev in ("banana", 3):
    case(f"interpolation_matrix(device={dev!r})", lambda dev=dev: tc.interpolation_matrix(2, 3, device=dev))

# --------------------------------------------------------------------------------- SegmentedMatcher
for label, x in BAD_VIDEOS.items():
    case(f"SegmentedMatcher(real={label})", lambda x=x: tc.SegmentedMatcher(mse, segments=2)(x, video()))
    case(f"SegmentedMatcher(syn={label})", lambda x=x: tc.SegmentedMatcher(mse, segments=2)(video(), x))
for v in BAD_COUNTS:
    case(f"SegmentedMatcher(segments={v!r})", lambda v=v: tc.SegmentedMatcher(mse, segments=v)(video(), video()))
for key, v in (("interpolator", "banana"), ("interpolator", 3), ("scope", "x"), ("reduction", "max")):
    case(f"SegmentedMatcher({key}={v!r})", lambda key=key, v=v: tc.SegmentedMatcher(mse, **{key: v})(video(), video()))
case("SegmentedMatcher(N_syn > N_real)", lambda: tc.SegmentedMatcher(mse)(video(), video(shape=(2, 8, 1, 4, 4))))
case("SegmentedMatcher(N_real % K)", lambda: tc.SegmentedMatcher(mse, segments=3)(video(), video()))
case("SegmentedMatcher(real cpu, syn meta)", lambda: tc.SegmentedMatcher(mse)(video(), video().to("meta")))


# ---------------------------------------------------------------------------------- synthetic sets
def sv(**kw: Any) -> tc.SyntheticVideos:
    args: dict[str, Any] = {"num_classes": 2, "videos_per_class": 1, "frames": 4, "size": (4, 4), "seed": 0}
    args.update(kw)
    return tc.SyntheticVideos(**args)


def dmb(**kw: Any) -> tc.DynamicMemoryBlock:
    args: dict[str, Any] = {"num_classes": 2, "videos_per_class": 1, "frames": 4, "size": (4, 4), "seed": 0}
    args.update(kw)
    return tc.DynamicMemoryBlock(**args)


for key in ("num_classes", "videos_per_class", "frames", "channels", "key_frames"):
    for v in BAD_COUNTS:
        case(f"SyntheticVideos({key}={v!r})", lambda key=key, v=v: sv(**{key: v}))
for v in [(0, 4), (4,), (4.5, 4), "4x4", None]:
    case(f"SyntheticVideos(size={v!r})", lambda v=v: sv(size=v))
for key in ("dynamic_frames", "dynamic_channels", "static_per_class", "static_per_video"):
    for v in (-1, 0, 0.5, 2.9, "2"):
        case(f"DynamicMemoryBlock({key}={v!r})", lambda key=key, v=v: dmb(**{key: v}))
for key, v in (("pairing", "x"), ("block", "x"), ("block_init", "x"), ("mode", "banana"), ("dynamic_frames", 9)):
    case(f"DynamicMemoryBlock({key}={v!r})", lambda key=key, v=v: dmb(**{key: v}))
case("DynamicMemoryBlock(static_per_video > static_per_class)", lambda: dmb(static_per_class=1, static_per_video=2))
for label, st in (
    ("NaN", video(NAN, (2, 3, 4, 4))),
    ("int64", video(shape=(2, 3, 4, 4), dtype=torch.int64)),
    ("wrong count", video(shape=(3, 3, 4, 4))),
    ("wrong size", video(shape=(2, 3, 5, 5))),
):
    case(f"DynamicMemoryBlock(static={label})", lambda st=st: dmb(static=st))
for v in ([0.5], [-100], [], torch.tensor([0.5]), "0", [[0]]):
    case(f"synset(indices={v!r})", lambda v=v: dmb()(v))
for v in (0, "g"):
    case(f"synset(generator={v!r})", lambda v=v: dmb()(None, v))
    case(f"synset.export(generator={v!r})", lambda v=v: dmb().export(generator=v))
for v in (-1, 0.5, 99):
    case(f"synset.class_videos({v!r})", lambda v=v: dmb().class_videos(v))
for key, v in (
    ("lr_dynamic", INF),
    ("lr_dynamic", NAN),
    ("lr_dynamic", -1.0),
    ("lr_block", 0.0),
    ("lr_banana", 1.0),
    ("momentum", -1),
    ("momentum", 1.5),
    ("momentum", NAN),
    ("momentum", INF),
    ("weight_decay", INF),
):
    case(f"synset.optimizer({key}={v!r})", lambda key=key, v=v: dmb().optimizer(**{key: v}))


# ---------------------------------------------------------------------------------------- artifacts
def with_header(text: str, tensors: dict[str, torch.Tensor] | None = None) -> Path:
    path = fresh("headers") / f"h{len(CASES)}.safetensors"
    save_file(tensors or {"w": torch.ones(2)}, str(path), metadata={"temporal_condense": text})
    return path


for label, text in (
    ("not JSON", "{oops"),
    ("a list", "[1, 2]"),
    ("version 'v2'", '{"kind": "demo", "version": "v2", "config": {}}'),
    ("version 2", '{"kind": "demo", "version": 2, "config": {}}'),
    ("config a list", '{"kind": "demo", "version": 1, "config": [1]}'),
    ("no kind", '{"version": 1, "config": {}}'),
):
    case(f"load_artifact(header {label})", lambda text=text: load_artifact(with_header(text)))
case("load_artifact(missing file)", lambda: load_artifact(ROOT / "missing.safetensors"))
case("load_artifact(garbage file)", lambda: load_artifact(_write(fresh("g") / "g.safetensors", b"garbage")))
case("save_artifact('')", lambda: save_artifact("", {"w": torch.ones(1)}, kind="demo"))
case("save_artifact(onto a folder)", lambda: save_artifact(fresh("dirtarget"), {"w": torch.ones(1)}, kind="demo"))
case(
    "save_artifact(parent is a file)",
    lambda: save_artifact(_write(fresh("pf") / "f", b"x") / "a.safetensors", {"w": torch.ones(1)}, kind="demo"),
)
case(
    "save_artifact(config not JSON)",
    lambda: save_artifact(fresh("cj") / "a.safetensors", {}, kind="demo", config={"x": object()}),
)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _saved(obj: Any, name: str) -> Path:
    return obj.save(fresh("saved") / name)


case(
    "DynamicMemoryBlock.load(device='banana')",
    lambda: tc.DynamicMemoryBlock.load(_saved(dmb(), "d1.safetensors"), device="banana"),
)
if not torch.cuda.is_available():
    case(
        "DynamicMemoryBlock.load(device='cuda') on a CPU machine",
        lambda: tc.DynamicMemoryBlock.load(_saved(dmb(), "d2.safetensors"), device="cuda"),
    )
case(
    "DynamicMemoryBlock save/load keeps block_init",
    lambda: tc.DynamicMemoryBlock.load(_saved(dmb(block_init="identity"), "d3.safetensors")),
    lambda loaded: loaded.config.block_init != "identity",
)


class ScaleBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.5))

    def forward(self, static: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:
        return static * (1 + self.a * dynamic)


class OtherBlock(ScaleBlock):
    def forward(self, static: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:
        return static * (1 - self.a * dynamic)


case(
    "DynamicMemoryBlock.load(block= another class)",
    lambda: tc.DynamicMemoryBlock.load(
        _saved(dmb(block=ScaleBlock(), dynamic_channels=3), "d4.safetensors"), block=OtherBlock()
    ),
)


def _mixed() -> tuple[tc.DynamicMemoryBlock, tc.DynamicMemoryBlock]:
    s = dmb()
    s.dynamic.data = s.dynamic.data.double()
    return s, tc.DynamicMemoryBlock.load(_saved(s, "d5.safetensors"))


case(
    "DynamicMemoryBlock mixed float64/float32 round trip",
    _mixed,
    lambda pair: any(pair[1].state_dict()[k].dtype != v.dtype for k, v in pair[0].state_dict().items()),
)


def _static_header(**edit: Any) -> Path:
    header = {"num_classes": 2, "static_per_class": 1, "source": "user", "distill_config": None, "losses": []}
    header.update(edit)
    header = {k: v for k, v in header.items() if v is not None}
    path = fresh("static") / f"s{len(CASES)}.safetensors"
    save_artifact(path, {"images": torch.zeros(2, 1, 2, 2)}, kind="StaticMemory", config=header)
    return path


for label, edit in (
    ("missing num_classes", {"num_classes": None}),
    ("static_per_class 2.9", {"static_per_class": 2.9}),
    ("num_classes '2'", {"num_classes": "2"}),
    ("static_per_class 0", {"static_per_class": 0}),
):
    case(
        f"StaticMemory.load(header {label})",
        lambda edit=edit: StaticMemory.load(_static_header(**edit)),
        lambda m: True,
    )
for key, v in (
    ("images", video(NAN, (2, 1, 2, 2))),
    ("images", video(shape=(3, 1, 2, 2))),
    ("images", video(shape=(2, 2, 2))),
    ("num_classes", 0.5),
    ("static_per_class", -1),
):
    args: dict[str, Any] = {"images": torch.zeros(2, 1, 2, 2), "num_classes": 2, "static_per_class": 1}
    args[key] = v
    case(f"StaticMemory({key}=bad)", lambda args=args: StaticMemory(**args))


# -------------------------------------------------------------------------------------------- experts
def _expert(epochs: Any, stored: int, length: int = 3, dtype: torch.dtype = torch.float32, **extra: Any) -> Path:
    folder = fresh(f"experts{len(CASES)}")
    header = {"epochs": epochs, "num_params": 3, "param_names": ["w"], "param_shapes": [[3]], "dtype": "float32"}
    header.update(extra)
    tensors = {f"epoch_{e}": torch.ones(length, dtype=dtype) for e in range(stored)}
    return save_artifact(folder / "expert_00000.safetensors", tensors, kind="ExpertTrajectory", config=header)


def _open_and_sample(path: Path) -> Any:
    buf = ExpertBuffer(path.parent, expert_epochs=1, max_start_epoch=4, seed=0)
    return [buf.sample_window() for _ in range(8)]


case("expert header claims more epochs than stored", lambda: _open_and_sample(_expert(6, 3)))
case("expert snapshot shorter than num_params", lambda: load_expert(_expert(2, 3, length=2)).snapshot(0))
case("expert snapshots stored as int64", lambda: load_expert(_expert(2, 3, dtype=torch.int64)).snapshot(0))
case("expert header epochs '2'", lambda: load_expert(_expert("2", 3)))
case(
    "expert header without epochs",
    lambda: load_expert(
        save_artifact(fresh("e0") / "e.safetensors", {"epoch_0": torch.ones(1)}, kind="ExpertTrajectory", config={})
    ),
)


def _published(obj: Any) -> Path:
    path = fresh(f"pub{len(CASES)}") / "replay_buffer_0.pt"
    torch.save(obj, path)
    return path


case(
    "published snapshot with NaN",
    lambda: read_published_buffer(_published([[[torch.ones(2)], [torch.tensor([1.0, NAN])]]]))[0].snapshot(1),
)
case(
    "published snapshot int64",
    lambda: read_published_buffer(_published([[[torch.ones(2, dtype=torch.int64)]]]))[0].snapshot(0),
)
for label, obj in (("a dict", {"a": 1}), ("empty list", []), ("list of ints", [1, 2])):
    case(f"published buffer holding {label}", lambda obj=obj: read_published_buffer(_published(obj)))
for label, data in (("empty", b""), ("garbage", b"\x80\x02garbage"), ("one byte", b"t")):
    case(
        f"published buffer file {label}",
        lambda data=data: read_published_buffer(_write(fresh(f"pb{len(CASES)}") / "replay_buffer_0.pt", data)),
    )


# --------------------------------------------------------------------------------- losses, evaluation
class Embed(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :3]


labels2 = torch.tensor([0, 1])
for label in ("NaN pixel", "inf pixel", "int64", "4-D", "None"):
    case(
        f"dm_loss(real={label})", lambda label=label: dm_loss(Embed(), BAD_VIDEOS[label], labels2, video(), labels2, 2)
    )
case("dm_loss(real cpu, syn meta)", lambda: dm_loss(Embed(), video(), labels2, video().to("meta"), labels2, 2))
case("dm_loss(labels out of range)", lambda: dm_loss(Embed(), video(), torch.tensor([0, 5]), video(), labels2, 2))


def tiny_net(channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * frames * size[0] * size[1], num_classes))


def _toy(nan: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.arange(2).repeat_interleave(4)
    x = 0.3 * torch.rand(8, 2, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    x[torch.arange(8), :, y] += 1.0
    if nan:
        x[1, 0, 0, 1, 1] = NAN
    return x, y


def _eval(train: Any, test: Any, **kw: Any) -> Any:
    args = {"model": tiny_net, "runs": 1, "epochs": 2, "batch_size": 4, "progress": False, "lr": 0.1}
    args.update(kw)
    return evaluate(train, test, **args)


case("evaluate(one NaN pixel in the training videos)", lambda: _eval(_toy(True), _toy()))
case("evaluate(one NaN pixel in the test videos)", lambda: _eval(_toy(), _toy(True)))
case("evaluate(float labels)", lambda: _eval((_toy()[0], _toy()[1].float()), _toy()))
case("evaluate(negative label)", lambda: _eval((_toy()[0], _toy()[1] - 1), _toy()))
for key, v in (("epochs", 0.5), ("epochs", -1), ("lr", -1.0), ("batch_size", 0), ("runs", 0), ("protocol", "banana")):
    case(f"evaluate({key}={v!r})", lambda key=key, v=v: _eval(_toy(), _toy(), **{key: v}))


# ------------------------------------------------------------------------------------------- data
def _shapes() -> MovingShapes:
    return MovingShapes("train", frames=2, size=(8, 8), videos_per_class=1)


for v in (0.5, 1.0, "0", None):
    case(f"dataset[{v!r}]", lambda v=v: _shapes()[v])


def _bomb() -> Any:
    path = fresh("bomb") / "frame.png"
    Image.new("L", (64, 64)).save(path)
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 1000  # the same check as a 100-megapixel bomb, without allocating one
    try:
        return load_frame(path)
    finally:
        Image.MAX_IMAGE_PIXELS = old


case("load_frame(decompression bomb)", _bomb)
case("load_frame(garbage file)", lambda: load_frame(_write(fresh("gf") / "x.jpg", b"not an image")))
case("load_frame(missing file)", lambda: load_frame(ROOT / "nope.jpg"))


# ------------------------------------------------------------------------------------------- files
def _mode_new() -> int:
    old = os.umask(0o022)
    try:
        path = save_artifact(fresh("mode") / "new.safetensors", {"w": torch.ones(1)}, kind="demo")
        return path.stat().st_mode & 0o777
    finally:
        os.umask(old)


def _mode_kept() -> int:
    path = fresh("mode") / "user.txt"
    path.write_text("x")
    os.chmod(path, 0o644)
    atomic_write(path, lambda tmp: Path(tmp).write_text("y"))
    return path.stat().st_mode & 0o777


def _leftover() -> list[str]:
    folder = fresh("leftover")
    (folder / ".a.safetensors.abcd1234.tmp").write_bytes(b"\0" * 1000)
    save_artifact(folder / "a.safetensors", {"w": torch.ones(1)}, kind="demo")
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


case("new artifact honours umask 022 (0644)", _mode_new, lambda mode: mode != 0o644)
case("replacing a 0644 file keeps 0644", _mode_kept, lambda mode: mode != 0o644)
case("next write removes a killed write's temp file", _leftover, lambda left: bool(left))


# ---------------------------------------------------------------------------------------- pipeline
TINY = {"net_width": 8}


def tiny(**changes: Any) -> PipelineConfig:
    base = PipelineConfig(
        name="tiny",
        seed=3,
        data={"frames": 4, "size": (16, 16), "train_per_class": 3, "test_per_class": 2},
        static={
            "method": "DM",
            "static_per_class": 2,
            "iterations": 2,
            "model": "ConvNet",
            "model_kwargs": TINY,
            "batch_real": 3,
        },
        synthetic={"kind": "static_dynamic", "videos_per_class": 1},
        distill={
            "method": "DM",
            "iterations": 5,
            "model": "VideoConvNetGRU",
            "model_kwargs": TINY,
            "batch_real": 2,
            "lr": {"dynamic": 0.5, "block": 0.01, "videos": 0.5},
        },
        evaluation={"model": "VideoConvNetGRU", "model_kwargs": TINY, "runs": 1, "epochs": 1, "batch_size": 8},
        checkpoint_every=2,
    )
    return method_config("DM+SD", base.replace(**changes) if changes else base)


def _late_or_raise(out: Path, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except tc.TemporalCondenseError as exc:
        work = [p.name for p in (out / "static_memory.safetensors", out / "checkpoint.safetensors") if p.exists()]
        if work:
            raise LateError(f"{str(exc)[:70]} (after {work})") from None
        raise


def _run_changed(name: str, **changes: Any) -> Any:
    out = ROOT / "runs" / name
    return _late_or_raise(out, lambda: run_pipeline(tiny().replace(**changes), out, progress=False))


def _foreign_folder() -> Any:
    out = fresh("runs/foreign")
    (out / "config.yaml").write_text("my: notes\n")
    (out / "result.json").write_text('{"accuracy": 99}')
    try:
        return run_pipeline(tiny(), out, progress=False)
    finally:
        if (out / "config.yaml").read_text() != "my: notes\n" or (
            out / "result.json"
        ).read_text() != '{"accuracy": 99}':
            raise LostError("the user's config.yaml/result.json were overwritten")


class KillError(Exception):
    pass


def _killed(name: str, after: int = 3) -> tuple[Path, PipelineConfig]:
    out = ROOT / "runs" / name
    cfg = tiny()

    def cb(it: int, loss: float) -> None:
        if it == after:
            raise KillError

    with contextlib.suppress(KillError):
        run_pipeline(cfg, out, progress=False, callback=cb)
    return out, cfg


def _unreadable_checkpoint() -> Any:
    out = fresh("runs/unreadable")
    (out / "config.yaml").write_text("my: notes\n")  # not a config of ours
    (out / "checkpoint.safetensors").write_bytes(b"\0" * 64)
    try:
        return run_pipeline(tiny(), out, progress=False)
    finally:
        if (out / "config.yaml").read_text() != "my: notes\n":
            raise LostError("config.yaml was overwritten before the unreadable checkpoint was detected")


def _edited_iteration(value: Any) -> Any:
    out, cfg = _killed(f"edited{value}")
    path = out / "checkpoint.safetensors"
    with safe_open(str(path), framework="pt") as handle:
        header = json.loads((handle.metadata() or {})["temporal_condense"])
    header["config"]["iteration"] = value
    save_file(load_file(str(path)), str(path), metadata={"temporal_condense": json.dumps(header)})
    return run_pipeline(cfg, out, progress=False)


def _damaged(name: str, text: str) -> Any:
    out, cfg = _killed(f"damaged{name}{len(text)}")
    (out / name).write_text(text)
    return run_pipeline(cfg, out, progress=False)


def _rerun_fixed() -> Any:
    out = ROOT / "runs" / "rerun"
    with contextlib.suppress(tc.TemporalCondenseError):
        run_pipeline(tiny().replace(evaluation={"model": "ConvNet3d"}), out, progress=False)
    return run_pipeline(tiny(), out, progress=False)


def _buffer_published() -> Any:
    cfg = method_config("MTT", tiny().replace(synthetic={"kind": "baseline"}, static={"method": "none"}))
    cfg = cfg.replace(
        distill={
            "mtt": {
                "experts": {"num_experts": 2, "epochs": 2, "batch_size": 8},
                "syn_steps": 2,
                "max_start_epoch": 1,
            }
        }
    )
    run_pipeline(cfg, ROOT / "runs" / "experts", progress=False)
    published = fresh("runs/published")
    experts = sorted((ROOT / "runs" / "experts" / "experts").glob("expert_*.safetensors"))
    torch.save([load_expert(p).to_published() for p in experts], published / "replay_buffer_0.pt")
    return run_pipeline(
        cfg.replace(distill={"mtt": {"buffer_path": str(published)}}), ROOT / "runs" / "frompub", progress=False
    )


case("run_pipeline into a folder with someone's config.yaml/result.json", _foreign_folder)
case("run_pipeline on a folder with a foreign config.yaml and an unreadable checkpoint", _unreadable_checkpoint)
case("run_pipeline(evaluation.model typo)", lambda: _run_changed("typo", evaluation={"model": "ConvNet3d"}))
case(
    "run_pipeline(evaluation.model_kwargs typo)",
    lambda: _run_changed("kwtypo", evaluation={"model_kwargs": {"net_widht": 8}}),
)
case("run_pipeline(evaluation.model an image model)", lambda: _run_changed("imgeval", evaluation={"model": "ConvNet"}))
case("run_pipeline(data.options typo)", lambda: _run_changed("options", data={"options": {"colour_code": True}}))
case(
    "run_pipeline(static_per_video > static_per_class)", lambda: _run_changed("spv", synthetic={"static_per_video": 3})
)
case("run_pipeline(pairing fixed with 2 per video)", lambda: _run_changed("fixed", synthetic={"pairing": "fixed"}))
case("PipelineConfig(lr.dynamic: .inf)", lambda: PipelineConfig.from_yaml("distill:\n  lr:\n    dynamic: .inf\n"))
case("PipelineConfig(mtt.experts.lr = inf)", lambda: PipelineConfig(distill={"mtt": {"experts": {"lr": INF}}}))
case("PipelineConfig(duplicate YAML keys)", lambda: PipelineConfig.from_yaml("seed: 1\nseed: 2\n"))
case("hand-edited checkpoint iteration=-3", lambda: _edited_iteration(-3))
case("hand-edited checkpoint iteration=99", lambda: _edited_iteration(99))
case("hand-edited checkpoint iteration='2'", lambda: _edited_iteration("2"))
case("corrupt stage1.json", lambda: _damaged("stage1.json", "{oops"))
case("stage1.json without seconds", lambda: _damaged("stage1.json", '{"static": {}, "seed": 3}'))
case("corrupt result.json", lambda: _damaged("result.json", "[]"))


def _must_succeed(result: Any) -> bool:
    return False


case("failed run re-run with the fixed config", _rerun_fixed, _must_succeed)
case("MTTSpec.buffer_path with replay_buffer_N.pt files", _buffer_published, _must_succeed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every case")
    args = parser.parse_args()
    torch.manual_seed(0)
    counts: collections.Counter[str] = collections.Counter()
    bad: list[str] = []
    try:
        for name, fn, wrong in CASES:
            outcome, detail = classify(fn, wrong)
            counts[outcome] += 1
            line = f"{outcome:10s} {name}: {detail}"
            if args.verbose:
                print(line)
            if outcome not in ("named", "correct"):
                bad.append(line)
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)
    print(f"{len(CASES)} cases (torch {torch.__version__}, {torch.get_num_threads()} threads)")
    for outcome in ("named", "correct", "late", "silent", "deep", "plain", "data loss", "refused"):
        print(f"  {outcome:10s} {counts[outcome]}")
    if bad and not args.verbose:
        print("not named:")
        print("\n".join(f"  {line}" for line in bad))


if __name__ == "__main__":
    main()
