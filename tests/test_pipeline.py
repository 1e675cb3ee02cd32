"""Tests of the two-stage pipeline: config validation, YAML, checkpoints, exact resume, end to end."""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from temporal_condense import DynamicMemoryBlock
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.motion import estimate_translation
from temporal_condense.pipeline import (
    METHODS,
    PipelineConfig,
    PipelineResult,
    format_table,
    load_checkpoint,
    method_config,
    run_pipeline,
    save_checkpoint,
    write_table,
)
from temporal_condense.pipeline.data import load_data
from temporal_condense.pipeline.guard import keyed_config, stage_keys
from temporal_condense.pipeline.stages import real_draw_seed, real_key_frames
from temporal_condense.static import StaticMemory
from temporal_condense.visualize import save_video_gif, save_video_grid, video_grid, video_to_uint8

TINY_MODEL = {"net_width": 8}


def tiny_config(**changes: object) -> PipelineConfig:
    """A pipeline small enough to run in a second or two (4 classes, 4 frames of 16x16)."""
    base = PipelineConfig(
        name="tiny",
        seed=3,
        data={"frames": 4, "size": (16, 16), "train_per_class": 3, "test_per_class": 2},
        static={
            "method": "DM",
            "static_per_class": 2,
            "iterations": 2,
            "model": "ConvNet",
            "model_kwargs": TINY_MODEL,
            "batch_real": 3,
        },
        synthetic={"kind": "static_dynamic", "videos_per_class": 1},
        distill={
            "method": "DM",
            "iterations": 5,
            "model": "VideoConvNetGRU",
            "model_kwargs": TINY_MODEL,
            "batch_real": 2,
            "lr": {"dynamic": 0.5, "block": 0.01, "videos": 0.5},
            "mtt": {
                "experts": {"num_experts": 2, "epochs": 2, "batch_size": 8},
                "syn_steps": 2,
                "max_start_epoch": 1,
                "train_lr": True,
            },
        },
        evaluation={"model": "VideoConvNetGRU", "model_kwargs": TINY_MODEL, "runs": 1, "epochs": 1, "batch_size": 8},
        checkpoint_every=2,
    )
    # MovingShapes defaults to 4 shapes x 2 motions: 8 classes.
    return base.replace(**changes) if changes else base


# --------------------------------------------------------------------------------------------------- config


def test_config_yaml_roundtrip(tmp_path: Path) -> None:
    cfg = tiny_config()
    assert PipelineConfig.from_yaml(cfg.to_yaml()) == cfg
    path = cfg.save_yaml(tmp_path / "c.yaml")
    assert PipelineConfig.load_yaml(path) == cfg
    assert cfg.to_yaml().startswith("name: tiny\n")


def test_config_is_frozen() -> None:
    cfg = PipelineConfig()
    with pytest.raises(Exception, match="frozen"):
        cfg.seed = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"unknown": 1}, r"unknown.*Extra inputs are not permitted"),
        ({"seed": -1}, r"seed.*greater than or equal to 0.*-1"),
        ({"synthetic": {"kind": "movie"}}, r"synthetic.kind.*movie"),
        ({"static": {"method": "none"}}, r"needs a static memory, got static.method 'none'"),
        ({"static": {"method": "load"}}, r"static.path is required"),
        ({"synthetic": {"kind": "full_data"}}, r"nothing to train: distill.method must be 'none', got 'DM'"),
        ({"synthetic": {"key_frames": 20}}, r"key_frames \(20\) must be <= data.frames \(16\)"),
        ({"data": {"dataset": "HMDB51"}}, r"root is required for dataset 'HMDB51'"),
        ({"distill": {"mtt": {"max_start_epoch": 60}}}, r"must be <= experts.epochs \(50\)"),
        ({"distill": {"lr": {"pixels": 1.0}}}, r"distill.lr keys must be part names .* got \['pixels'\]"),
        ({"distill": {"lr": {"dynamic": -1.0}}}, r"distill.lr values must be finite and > 0"),
        ({"static": {"num_classes": 3}}, r"static.num_classes comes from the data"),
        ({"static": {"method": "dm", "outer_loop": 2}}, r"outer_loop/inner_loop apply to method='dc' only"),
        ({"distill": {"mtt": {"experts": {"model": "ConvNet3D"}}}}, r"experts.model comes from the run"),
        ({"evaluation": {"crop": -1}}, r"evaluation.crop"),
        ({"data": {"frames": 6}, "distill": {"segments": 4}}, r"data.frames \(6\) must be divisible by"),
        ({"data": {"dataset": "custom", "root": "x"}}, r"root is not used with dataset 'custom'"),
        ({"synthetic": {"static_per_class": 5}}, r"static_per_class \(5\) must be <= static.static_per_class \(2\)"),
        ({"synthetic": {"block": "warp"}}, r"block 'warp' .*needs dynamic_channels 2 and block_init 'default', got 1"),
        ({"synthetic": {"dynamic_init": "real"}}, r"dynamic_init 'real' .*needs synthetic.block 'warp', got 'conv'"),
        ({"synthetic": {"warp_padding": "circular"}}, r"warp_padding 'circular' is the padding of .*got 'conv'"),
        ({"synthetic": {"static_size": (0, 4)}}, r"synthetic.static_size"),
    ],
)
def test_config_errors(data: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PipelineConfig.from_dict(data)


def test_config_yaml_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        PipelineConfig.from_yaml("a: [1, 2")
    with pytest.raises(ConfigError, match="must be a mapping, got list"):
        PipelineConfig.from_yaml("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="not found"):
        PipelineConfig.load_yaml(tmp_path / "missing.yaml")


def test_replace_merges_nested() -> None:
    cfg = PipelineConfig().replace(distill={"iterations": 7, "mtt": {"syn_steps": 3}})
    assert cfg.distill.iterations == 7 and cfg.distill.mtt.syn_steps == 3
    assert cfg.distill.mtt.experts.num_experts == PipelineConfig().distill.mtt.experts.num_experts
    assert PipelineConfig().replace(distill={"lr": {"block": 0.5}}).distill.lr["dynamic"] == 1e-4  # merged


def test_method_registry() -> None:
    base = tiny_config()
    kinds = {m: method_config(m, base) for m in METHODS}
    assert kinds["DM"].synthetic.kind == "baseline" and kinds["DM"].distill.momentum == 0.5
    assert kinds["MTT+SD"].distill.method == "MTT" and kinds["MTT+SD"].distill.momentum == 0.95
    compact = kinds["compact"].synthetic
    assert (compact.pairing, compact.static_per_video, compact.dynamic_per_video, compact.key_frames) == (
        "fixed",
        1,
        1,
        2,
    )
    assert kinds["static_only"].distill.method == "none"
    assert all(c.name == m for m, c in kinds.items())
    with pytest.raises(ConfigError, match="method must be one of"):
        method_config("DC", base)


def test_published_configs_parse() -> None:
    folder = Path(__file__).resolve().parents[1] / "configs"
    files = sorted(folder.glob("*.yaml"))
    assert len(files) >= 16
    for f in files:
        cfg = PipelineConfig.load_yaml(f)
        assert cfg.synthetic.kind in ("static_dynamic", "baseline", "kcenter", "herding")


# ---------------------------------------------------------------------------------------------- checkpoints


def test_checkpoint_roundtrip_restores_everything(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = nn.Linear(3, 2)
    opt = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
    module(torch.randn(4, 3)).sum().backward()
    opt.step()
    gen = torch.Generator().manual_seed(5)
    torch.rand(3, generator=gen)
    random.seed(11)
    path = save_checkpoint(
        tmp_path / "ck.safetensors",
        iteration=7,
        module=module,
        optimizer=opt,
        generator=gen,
        extra={"x": torch.arange(3.0)},
        meta={"k": 1},
    )
    expected = (torch.rand(2, generator=gen), torch.rand(2), random.random())

    other = nn.Linear(3, 2)
    other_opt = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    other_gen = torch.Generator()
    torch.manual_seed(99)
    random.seed(1)
    state = load_checkpoint(path, module=other, optimizer=other_opt, generator=other_gen)
    assert state["iteration"] == 7 and state["meta"] == {"k": 1}
    assert torch.equal(state["extra"]["x"], torch.arange(3.0))
    assert torch.equal(other.weight, module.weight)
    buf = other_opt.state[other.weight]["momentum_buffer"]
    assert torch.equal(buf, opt.state[module.weight]["momentum_buffer"])
    got = (torch.rand(2, generator=other_gen), torch.rand(2), random.random())
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1]) and got[2] == expected[2]


def test_checkpoint_mismatch_is_config_error(tmp_path: Path) -> None:
    m = nn.Linear(3, 2)
    path = save_checkpoint(
        tmp_path / "ck.safetensors",
        iteration=1,
        module=m,
        optimizer=torch.optim.SGD(m.parameters(), lr=0.1),
        generator=torch.Generator(),
    )
    big = nn.Linear(4, 2)
    with pytest.raises(ConfigError, match="does not fit"):
        load_checkpoint(
            path, module=big, optimizer=torch.optim.SGD(big.parameters(), lr=0.1), generator=torch.Generator()
        )


# ---------------------------------------------------------------------------------------------- resume


class _KillError(Exception):
    """Simulates a kill after a given iteration."""


def _kill_after(n: int):  # type: ignore[no-untyped-def]
    def callback(it: int, loss: float) -> None:
        if it == n:
            raise _KillError

    return callback


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["DM+SD", "MTT"])
def test_resume_after_kill_equals_uninterrupted(tmp_path: Path, method: str) -> None:
    cfg = method_config(method, tiny_config())
    full = run_pipeline(cfg, tmp_path / "full", progress=False)

    with pytest.raises(_KillError):
        run_pipeline(cfg, tmp_path / "killed", progress=False, callback=_kill_after(3))
    assert not (tmp_path / "killed" / "result.json").exists()
    resumed_from: list[int] = []
    resumed = run_pipeline(cfg, tmp_path / "killed", progress=False, callback=lambda it, loss: resumed_from.append(it))
    assert resumed_from[0] == 3  # restarted after the checkpoint of iteration 2
    assert resumed.losses == full.losses
    assert resumed.top1 == full.top1 and resumed.motion == full.motion
    a = _tensors(tmp_path / "full" / "synthetic_set.safetensors")
    b = _tensors(tmp_path / "killed" / "synthetic_set.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_failed_run_reruns_with_a_fixed_config(tmp_path: Path) -> None:
    """An unfinished stage 2 of another configuration is restarted, not a lock on the folder."""
    cfg = method_config("DM", tiny_config())
    with pytest.raises(_KillError):
        run_pipeline(cfg, tmp_path / "run", progress=False, callback=_kill_after(3))
    assert (tmp_path / "run" / "checkpoint.safetensors").is_file()
    fixed = cfg.replace(seed=4)
    started: list[int] = []
    rerun = run_pipeline(fixed, tmp_path / "run", progress=False, callback=lambda it, loss: started.append(it))
    assert started[0] == 1  # from scratch: the old checkpoint was of another configuration
    fresh = run_pipeline(fixed, tmp_path / "fresh", progress=False)
    assert rerun.losses == fresh.losses and rerun.top1 == fresh.top1


def test_finished_stages_are_reused_or_refused_by_their_own_inputs(tmp_path: Path) -> None:
    cfg = method_config("DM", tiny_config())
    first = run_pipeline(cfg, tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match="finished stage 2 of another configuration"):
        run_pipeline(cfg.replace(seed=4), tmp_path / "run", progress=False)
    # only the evaluation changed: stage 2 is reused (no iteration runs), the evaluation is redone
    iterations: list[int] = []
    again = run_pipeline(
        cfg.replace(evaluation={"epochs": 2}),
        tmp_path / "run",
        progress=False,
        callback=lambda i, loss: iterations.append(i),
    )
    assert iterations == [] and again.losses == first.losses
    assert json.loads((tmp_path / "run" / "result.json").read_text())["result"]["top1"] == again.top1


def _static_dynamic_row(root: Path) -> PipelineConfig:
    """DM+SD on the static memory that a static-only row wrote into ``root/static_only``."""
    return method_config("DM+SD", tiny_config()).replace(
        static={"method": "load", "path": str(root / "static_only" / "static_memory.safetensors")}
    )


def test_runs_that_read_another_folder_resume_after_a_copy(tmp_path: Path) -> None:
    """The static memory a row loads enters its keys by content: the copied folders are the same runs."""
    first = tmp_path / "first"
    run_pipeline(method_config("static_only", tiny_config()), first / "static_only", progress=False)
    done = run_pipeline(_static_dynamic_row(first), first / "DM+SD", progress=False)
    copy = tmp_path / "copy"
    shutil.copytree(first, copy)
    iterations: list[int] = []
    again = run_pipeline(
        _static_dynamic_row(copy), copy / "DM+SD", progress=False, callback=lambda i, loss: iterations.append(i)
    )
    assert iterations == [] and again == done


def test_a_copied_mtt_run_is_re_evaluated_from_its_own_experts(tmp_path: Path) -> None:
    """Another evaluator on a moved MTT folder reads the copy's checkpoint and experts, not the original's."""
    cfg = method_config("MTT", tiny_config())
    done = run_pipeline(cfg, tmp_path / "first", progress=False)
    shutil.copytree(tmp_path / "first", tmp_path / "copy")
    shutil.rmtree(tmp_path / "first")
    iterations: list[int] = []
    other = cfg.replace(evaluation={"runs": 2})
    again = run_pipeline(other, tmp_path / "copy", progress=False, callback=lambda i, loss: iterations.append(i))
    assert iterations == [] and len(again.top1) == 2 and again.top1[0] == done.top1[0]


def test_a_static_memory_rewritten_in_place_is_another_configuration(tmp_path: Path) -> None:
    """A row never returns its old result for statics that changed under the same path."""
    run_pipeline(method_config("static_only", tiny_config()), tmp_path / "static_only", progress=False)
    cfg = _static_dynamic_row(tmp_path)
    run_pipeline(cfg, tmp_path / "DM+SD", progress=False)
    path = tmp_path / "static_only" / "static_memory.safetensors"
    old = StaticMemory.load(path)
    StaticMemory(old.images + 1.0, old.num_classes, old.static_per_class).save(path)
    with pytest.raises(ConfigError, match="finished stage 2 of another configuration"):
        run_pipeline(cfg, tmp_path / "DM+SD", progress=False)


# ------------------------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_end_to_end_small_run(tmp_path: Path) -> None:
    base = tiny_config()
    results = []
    # the +MF rows pack 4 clips (test_pipeline_formation.py); the -warp rows draw 16 per class (test_quickstart.py)
    plain = [m for m in METHODS if not m.endswith(("+MF", "-warp"))]
    for method in plain:
        res = run_pipeline(method_config(method, base), tmp_path / method, progress=False)
        results.append(res)
        assert len(res.top1) == 1 and 0.0 <= res.mean <= 100.0
        assert len(res.motion) == 1 and 0.0 <= res.motion[0] <= 100.0
    by = {r.name: r for r in results}
    # storage: what must be kept, computed independently
    assert by["DM"].storage_bytes == 8 * 4 * 3 * 16 * 16 * 4  # 8 videos x 4 frames x RGB 16x16 float32
    assert by["random_real"].storage_bytes == by["DM"].storage_bytes
    assert by["static_only"].storage_bytes == 8 * 2 * 3 * 16 * 16 * 4
    assert by["full_data"].storage_bytes == 8 * 3 * 4 * 3 * 16 * 16 * 4
    statics, dynamics, block = 8 * 2 * 3 * 256 * 4, 8 * 2 * 4 * 256 * 4, (4 * 3 * 27 + 3) * 4
    assert by["DM+SD"].storage_bytes == statics + dynamics + block
    compact = 8 * 1 * 3 * 256 * 4 + 8 * 1 * 2 * 256 * 4 + block
    assert by["compact"].storage_bytes == compact
    assert by["DM+SD"].iterations == 5 and len(by["MTT"].losses) == 5
    # the artifacts
    from temporal_condense.dynamic_memory import DynamicMemoryBlock

    synset = DynamicMemoryBlock.load(tmp_path / "DM+SD" / "synthetic_set.safetensors")
    assert synset.storage_bytes() == by["DM+SD"].storage_bytes
    assert (tmp_path / "DM+SD" / "static_memory.safetensors").is_file()
    assert (tmp_path / "MTT" / "experts").is_dir()
    record = json.loads((tmp_path / "DM" / "result.json").read_text())
    assert record["result"]["losses"] == by["DM"].losses
    # a finished run is returned from its result.json
    again = run_pipeline(method_config("DM", base), tmp_path / "DM", progress=False)
    assert again.to_dict() == by["DM"].to_dict()
    # tables
    paths = write_table(results, tmp_path / "table")
    rows = list(csv.reader(io.StringIO(paths["csv"].read_text())))
    assert [r[0] for r in rows[1:]] == plain
    assert rows[1][4] == "100%" and rows[-1][4] == "300%"
    assert paths["markdown"].read_text().count("\n") == len(plain) + 2


def test_run_pipeline_rejects_bad_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config must be a PipelineConfig"):
        run_pipeline(3, tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Extra inputs"):
        run_pipeline({"bogus": True}, tmp_path)


# ----------------------------------------------------------------------------------------- table, metric


def test_format_table_text_and_errors() -> None:
    r = PipelineResult("DM", "baseline", "DM", [50.0, 60.0, 70.0], [90.0] * 3, [55.0, 65.0, 75.0], 4096, 1.0, 2.0)
    text = format_table([r], "text")
    assert "60.0 ± 8.2" in text and "65.0 ± 8.2" in text and "4.0" in text and "3.0" in text
    with pytest.raises(ConfigError, match="fmt must be one of"):
        format_table([r], "html")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- pictures


def test_video_grid_layout_matches_reference() -> None:
    videos = torch.rand(2, 3, 3, 4, 5)
    grid = video_grid(videos, normalize="clip", padding=1)
    assert grid.shape == (2 * 5 + 1, 3 * 6 + 1, 3)
    ref = (videos[1, 2].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0)
    assert torch.equal(grid[1 + 5 : 1 + 5 + 4, 1 + 2 * 6 : 1 + 2 * 6 + 5], ref)
    assert int(grid[0].min()) == 255  # padding row


def test_video_to_uint8_minmax_per_video() -> None:
    v = torch.stack([torch.full((2, 1, 2, 2), 5.0), torch.full((2, 1, 2, 2), -1.0)])
    v[0, 0, 0, 0, 0] = 7.0
    out = video_to_uint8(v, "minmax")
    assert out.shape == (2, 2, 2, 2, 1) and int(out[0].max()) == 255 and int(out[0].min()) == 0
    with pytest.raises(ShapeError, match="1 or 3 channels"):
        video_to_uint8(torch.rand(1, 2, 2, 3, 3))
    with pytest.raises(ConfigError, match="normalize must be one of"):
        video_to_uint8(torch.rand(1, 2, 3, 3, 3), "sigmoid")


def test_png_and_gif_files(tmp_path: Path) -> None:
    videos = torch.rand(3, 5, 1, 6, 6)
    png = save_video_grid(videos, tmp_path / "g.png", scale=2)
    with Image.open(png) as img:
        assert img.size == ((5 * 7 + 1) * 2, (3 * 7 + 1) * 2)
    gif = save_video_gif(videos, tmp_path / "a.gif", scale=1)
    with Image.open(gif) as img:
        assert img.n_frames == 5 and img.size == (3 * 7 + 1, 6 + 2)


# ------------------------------------------------------------------ issue 9: nothing a user owns is overwritten


def _snapshot_folder(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_of_someone_elses_files_is_refused_and_untouched(tmp_path: Path) -> None:
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "config.yaml").write_text("my: notes\n")
    (out / "result.json").write_text('{"accuracy": 99}')
    before = _snapshot_folder(out)
    with pytest.raises(ConfigError, match=r"holds files this pipeline did not write: \['config.yaml', 'result.json'\]"):
        run_pipeline(method_config("DM", tiny_config()), out, progress=False)
    assert _snapshot_folder(out) == before


def test_config_yaml_is_not_overwritten_before_an_unreadable_checkpoint_is_found(tmp_path: Path) -> None:
    cfg = method_config("DM", tiny_config())
    out = tmp_path / "run"
    with pytest.raises(_KillError):
        run_pipeline(cfg, out, progress=False, callback=_kill_after(3))
    (out / "checkpoint.safetensors").write_bytes(b"\x00" * 64)
    before = _snapshot_folder(out)
    with pytest.raises(ConfigError, match=r"checkpoint.safetensors' is not a readable safetensors file"):
        run_pipeline(cfg.replace(evaluation={"epochs": 2}), out, progress=False)
    assert _snapshot_folder(out) == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"evaluation": {"model": "ConvNet3d"}}, r"evaluation.model 'ConvNet3d' .*name must be one of"),
        ({"evaluation": {"model": "ConvNet"}}, r"evaluation.model 'ConvNet' cannot take the inputs of this run"),
        ({"distill": {"model": "ConvNet"}}, r"distill.model 'ConvNet' cannot take the inputs of this run"),
        ({"evaluation": {"model_kwargs": {"net_widht": 8}}}, r"evaluation.model .*unknown config key 'net_widht'"),
        ({"distill": {"model_kwargs": {"bogus": 1}}}, r"distill.model .*unknown config key 'bogus'"),
        (
            {"data": {"options": {"colour_code": True}}},
            r"data.options has unknown MovingShapes argument\(s\) \['colour_code'\]",
        ),
        ({"synthetic": {"static_per_video": 3}}, r"static_per_video must be <= static_per_class \(2\), got 3"),
        ({"synthetic": {"pairing": "fixed"}}, r"pairing='fixed' uses one static and one dynamic per video"),
    ],
)
def test_the_whole_configuration_is_validated_before_anything_is_written(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    cfg = method_config("DM+SD", tiny_config()).replace(**changes)
    with pytest.raises(ConfigError, match=message):
        run_pipeline(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_non_finite_numbers_and_duplicate_yaml_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"distill.lr values must be finite and > 0, got \{'dynamic': inf\}"):
        PipelineConfig.from_yaml("distill:\n  lr:\n    dynamic: .inf\n")
    with pytest.raises(ConfigError, match=r"distill.mtt.experts: lr must be a finite number, got inf"):
        PipelineConfig(distill={"mtt": {"experts": {"lr": float("inf")}}})
    with pytest.raises(ConfigError, match=r"evaluation.lr: Input should be greater than 0, got nan"):
        PipelineConfig(evaluation={"lr": float("nan")})
    with pytest.raises(ConfigError, match=r"found duplicate key 'iterations'"):
        PipelineConfig.from_yaml("distill:\n  iterations: 5\n  iterations: 500\n")


def _edit_checkpoint(path: Path, **fields: object) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as handle:
        header = json.loads((handle.metadata() or {})["temporal_condense"])
    header["config"].update(fields)
    save_file(load_file(str(path)), str(path), metadata={"temporal_condense": json.dumps(header)})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"iteration": -3}, r"iteration: Input should be greater than or equal to 0"),
        ({"iteration": 99}, r"has iteration 99, more than distill.iterations \(5\)"),
        ({"iteration": "2"}, r"iteration: Input should be a valid integer"),
        ({"python_random": {"version": 3}}, r"python_random.gauss: Field required"),
        ({"optimizer": []}, r"optimizer: Input should be a valid dictionary"),
    ],
)
def test_hand_edited_checkpoint_fields_are_named_errors(tmp_path: Path, fields: dict, message: str) -> None:
    cfg = method_config("DM", tiny_config())
    out = tmp_path / "run"
    with pytest.raises(_KillError):
        run_pipeline(cfg, out, progress=False, callback=_kill_after(3))
    _edit_checkpoint(out / "checkpoint.safetensors", **fields)
    with pytest.raises(ConfigError, match=message):
        run_pipeline(cfg, out, progress=False)


def test_damaged_random_state_in_a_checkpoint_is_a_named_error(tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    cfg = method_config("DM", tiny_config())
    out = tmp_path / "run"
    with pytest.raises(_KillError):
        run_pipeline(cfg, out, progress=False, callback=_kill_after(3))
    path = out / "checkpoint.safetensors"
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    tensors = load_file(str(path))
    tensors["rng.generator"] = tensors["rng.generator"][:10]
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ConfigError, match=r"holds a damaged random state"):
        run_pipeline(cfg, out, progress=False)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("stage1.json", "{not json", r"stage1.json' must be a JSON file written by the pipeline"),
        ("stage1.json", '{"seconds": "fast", "static": {}, "seed": 3}', r"stage1.json' is damaged: .*seconds"),
        ("result.json", '{"result": {}}', r"result.json' is damaged: .*config: Field required"),
        ("result.json", "[]", r"result.json' is damaged: .*valid dictionary"),
    ],
)
def test_damaged_records_are_named_errors(tmp_path: Path, name: str, text: str, message: str) -> None:
    cfg = method_config("DM+SD", tiny_config())
    out = tmp_path / "run"
    with pytest.raises(_KillError):
        run_pipeline(cfg, out, progress=False, callback=_kill_after(1))
    (out / name).write_text(text)
    with pytest.raises(ConfigError, match=message):
        run_pipeline(cfg, out, progress=False)


def test_leftover_temporaries_of_a_killed_write_are_removed_on_resume(tmp_path: Path) -> None:
    cfg = method_config("DM", tiny_config())
    out = tmp_path / "run"
    with pytest.raises(_KillError):
        run_pipeline(cfg, out, progress=False, callback=_kill_after(3))
    (out / ".checkpoint.safetensors.abcd1234.tmp").write_bytes(b"\0" * 4096)  # a write killed midway
    run_pipeline(cfg, out, progress=False)
    assert not list(out.glob("*.tmp"))


@pytest.mark.slow
def test_buffer_path_reads_published_replay_buffers(tmp_path: Path) -> None:
    from temporal_condense.mtt.experts import expert_files, load_expert

    cfg = method_config("MTT", tiny_config())
    run_pipeline(cfg, tmp_path / "trained", progress=False)
    ours = tmp_path / "trained" / "experts"
    published = tmp_path / "published"
    published.mkdir()
    torch.save([load_expert(f).to_published() for f in expert_files(ours)], published / "replay_buffer_0.pt")
    a = run_pipeline(cfg.replace(distill={"mtt": {"buffer_path": str(ours)}}), tmp_path / "a", progress=False)
    b = run_pipeline(cfg.replace(distill={"mtt": {"buffer_path": str(published)}}), tmp_path / "b", progress=False)
    assert a.losses == b.losses
    with pytest.raises(ConfigError, match=r"has \d+ parameters, the student distill.model 'ConvNet3D'"):
        run_pipeline(
            cfg.replace(
                distill={"model": "ConvNet3D", "model_kwargs": {}, "mtt": {"buffer_path": str(published)}},
                data={"size": (48, 48), "frames": 8},
            ),
            tmp_path / "c",
            progress=False,
        )


def test_pictures_of_non_finite_videos_are_refused(tmp_path: Path) -> None:
    videos = torch.rand(1, 2, 3, 4, 4)
    videos[0, 1, 2, 3, 3] = float("nan")
    with pytest.raises(ShapeError, match=r"videos must be finite, got 1 NaN/inf value"):
        video_to_uint8(videos)
    with pytest.raises(ShapeError, match=r"videos must be finite"):
        save_video_gif(videos, tmp_path / "a.gif")
    assert not list(tmp_path.iterdir())


def test_warp_rows_start_from_the_translations_of_real_clips(tmp_path: Path) -> None:
    """``block: warp`` + ``dynamic_init: real``: every dynamic memory is the path of a real clip of its class
    (measured against the clip's middle frame), stored as one (dy, dx) per frame, on statics stored small."""

    cfg = tiny_config(
        synthetic={
            "kind": "static_dynamic", "videos_per_class": 2, "pairing": "fixed", "static_per_video": 1,
            "dynamic_per_video": 1, "block": "warp", "dynamic_channels": 2, "dynamic_init": "real",
            "static_size": (8, 8), "dynamic_size": (1, 1),
        },
        distill={"method": "none"},
    )  # fmt: skip
    result = run_pipeline(cfg, tmp_path / "warp", progress=False)
    synset = DynamicMemoryBlock.load(tmp_path / "warp" / "synthetic_set.safetensors")
    real = load_data(cfg.data, progress=False, seed=cfg.seed)
    clips = real_key_frames(real, 2, real.frames, real_draw_seed(cfg))
    path = estimate_translation(clips, reference=real.frames // 2).reshape(real.num_classes, 2, real.frames, 2)
    assert path.abs().sum() > 0  # the clips move
    torch.testing.assert_close(synset.dynamic[..., 0, 0], path, rtol=0, atol=0)
    assert tuple(synset.static.shape[-2:]) == (8, 8)
    k = real.num_classes
    assert result.storage_bytes == 4 * (k * 2 * 3 * 8 * 8 + k * 2 * real.frames * 2)


def test_warp_padding_reaches_the_block_and_keeps_the_keys_of_border_runs(tmp_path: Path) -> None:
    warp = {
        "kind": "static_dynamic", "videos_per_class": 2, "pairing": "fixed", "static_per_video": 1,
        "dynamic_per_video": 1, "block": "warp", "dynamic_channels": 2, "dynamic_init": "real",
        "dynamic_size": (1, 1),
    }  # fmt: skip
    border = tiny_config(synthetic=warp, distill={"method": "none"})
    circular = border.replace(synthetic={"warp_padding": "circular"})
    assert "warp_padding" not in keyed_config(border)["synthetic"]  # folders written before the option stay valid
    assert stage_keys(border)["stage1"] == stage_keys(circular)["stage1"]
    assert stage_keys(border)["stage2"] != stage_keys(circular)["stage2"]
    run_pipeline(circular, tmp_path / "circular", progress=False)
    synset = DynamicMemoryBlock.load(tmp_path / "circular" / "synthetic_set.safetensors")
    assert synset.config.warp_padding == synset.block.padding_mode == "circular"
