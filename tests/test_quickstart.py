"""The quickstart's target checks ('beats': the difference of means exceeds the larger std) and its draws."""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest

from temporal_condense.errors import ConfigError
from temporal_condense.pipeline import PipelineConfig, PipelineResult, pool_results, quickstart
from temporal_condense.pipeline.quickstart import CORE_METHODS, beats, check_targets
from tests._scripts import load_script


def result(name: str, top1: list[float], motion: list[float] | None = None, storage: int = 100) -> PipelineResult:
    return PipelineResult(name, "x", "none", top1, top1, motion or [50.0] * len(top1), storage)


def test_beats_needs_the_difference_of_means_above_the_larger_std() -> None:
    a = result("a", [40.0, 42.0])  # mean 41, pstdev 1
    assert beats(a, result("b", [37.0, 39.0]))  # mean 38, std 1: 3 > 1
    assert not beats(a, result("c", [30.0, 48.0]))  # mean 39, std 9: 2 < 9
    assert not beats(result("b", [37.0, 39.0]), a)  # the sign matters
    assert beats(result("m", [40.0], [70.0, 72.0]), result("n", [40.0], [50.0, 52.0]), "motion")


def test_check_targets_reads_every_row_and_the_storage() -> None:
    rows = {m: result(m, [30.0, 30.0]) for m in CORE_METHODS}
    rows["DM"] = result("DM", [40.0, 40.0])
    rows["DM+SD"] = result("DM+SD", [50.0, 50.0], [70.0, 70.0], storage=92)
    rows["compact"] = result("compact", [40.0, 40.0], storage=21)
    rows["random_real_compact"] = result("random_real_compact", [30.0, 30.0], storage=25)
    got = dict(check_targets(rows))
    assert got["DM beats random real at equal storage"]
    assert not got["MTT beats random real at equal storage"]
    assert got["DM+SD beats DM at <= storage"]
    assert got["compact (<= 25% storage) beats random real at its storage"]
    assert got["compact matches DM"]
    assert got["DM+SD beats static-only on motion"]
    rows["DM+SD"] = result("DM+SD", [50.0, 50.0], storage=120)  # more storage than DM: no
    assert not dict(check_targets(rows))["DM+SD beats DM at <= storage"]


def test_formation_targets_appear_with_their_rows() -> None:
    rows = {m: result(m, [30.0, 30.0]) for m in CORE_METHODS}
    assert not any("+MF" in name for name, _ in check_targets(rows))
    rows["random_real+MF"] = result("random_real+MF", [40.0, 40.0])
    rows["DM+MF"] = result("DM+MF", [41.0, 41.0])
    rows["MTT+MF"] = result("MTT+MF", [50.0, 50.0], storage=120)
    got = dict(check_targets(rows))
    assert got["DM+MF beats random real at equal storage"]
    assert got["DM+MF beats random_real+MF (the distillation's own gain)"]
    assert not got["MTT+MF beats random real at equal storage"]  # more storage than random real
    assert got["MTT+MF beats random_real+MF (the distillation's own gain)"]


def test_the_formation_rows_run_at_the_storage_of_the_plain_rows(tmp_path: Path) -> None:
    assert quickstart.main(["--fast", "--formation", "--out", str(tmp_path), "--no-progress"]) == 0
    rows = {r["name"]: r for r in json.loads((tmp_path / "results.json").read_text())}
    assert set(CORE_METHODS) | set(quickstart.FORMATION_METHODS) == set(rows)
    for name in quickstart.FORMATION_METHODS:
        plain = rows[name.removesuffix("+MF")]
        assert rows[name]["storage_bytes"] == plain["storage_bytes"]
    assert rows["DM+MF"]["iterations"] == rows["DM"]["iterations"] > 0
    assert (tmp_path / "MTT+MF.png").is_file()


def test_warp_targets_appear_with_their_rows() -> None:
    rows = {m: result(m, [30.0, 30.0]) for m in CORE_METHODS if m not in quickstart.WARP_METHODS}
    assert not any("warp" in name for name, _ in check_targets(rows))
    rows["random_real_compact"] = result("random_real_compact", [30.0, 30.0], storage=25)
    rows["SD-warp"] = result("SD-warp", [60.0, 60.0], storage=20)
    rows["DM+SD-warp"] = result("DM+SD-warp", [60.0, 60.0], [70.0, 70.0], storage=20)
    rows["MTT+SD-warp"] = result("MTT+SD-warp", [62.0, 62.0], storage=200)
    got = {name: ok for name, ok in check_targets(rows) if "warp" in name}
    assert got == {
        "DM+SD-warp beats DM at <= storage": True,
        "MTT+SD-warp beats MTT at <= storage": False,  # more storage than MTT
        "DM+SD-warp beats static-only on motion": True,
        "DM+SD-warp (<= 25% storage) beats random real at its storage": True,
        "DM+SD-warp beats SD-warp (the distillation's own gain)": False,
        "MTT+SD-warp beats SD-warp (the distillation's own gain)": True,
    }


def test_the_warp_rows_settings() -> None:
    """Students: 64 clips in batches of 4 for 300 / 16 epochs, the 300 steps of batch 4 of the 4-clip rows."""
    base = quickstart.base_config()
    dm = quickstart.method_settings("DM", base, Path("out")).evaluation
    assert (dm.batch_size, dm.epochs) == (64, 300)  # 4 clips: one full batch per epoch
    for name in quickstart.WARP_METHODS:
        cfg = quickstart.method_settings(name, base, Path("out"))
        assert cfg.synthetic.videos_per_class == quickstart.WARP_VIDEOS == 16
        assert cfg.synthetic.warp_padding == quickstart.WARP_PADDING == "circular"  # MovingShapes wraps around
        assert (cfg.evaluation.batch_size, cfg.evaluation.epochs) == (quickstart.WARP_EVAL_BATCH, 19) == (4, 19)
        assert cfg.evaluation.model_dump(exclude={"batch_size", "epochs"}) == dm.model_dump(
            exclude={"batch_size", "epochs"}
        )
    dm_warp, mtt_warp = (
        quickstart.method_settings(m, base, Path("out")).distill for m in ("DM+SD-warp", "MTT+SD-warp")
    )
    assert dm_warp.iterations == mtt_warp.iterations == 50  # half the DM row's
    assert mtt_warp.mtt.batch_syn == quickstart.WARP_BATCH_SYN and mtt_warp.mtt.syn_steps == base.distill.mtt.syn_steps


def test_the_warp_rows_share_sd_warps_stage_1_and_store_small(tmp_path: Path) -> None:
    assert quickstart.main(["--fast", "--out", str(tmp_path), "--no-progress"]) == 0
    rows = {r["name"]: r for r in json.loads((tmp_path / "results.json").read_text())}
    assert set(CORE_METHODS) == set(rows) >= set(quickstart.WARP_METHODS)
    assert not set(rows) & set(quickstart.PAPER_SD_METHODS)
    # the smoke data: 4 classes x 4 clips of 4 frames of 16 x 16: 4 videos per class, 5 x 5 statics, (dy, dx)
    for name in quickstart.WARP_METHODS:
        assert rows[name]["storage_bytes"] == 4 * 4 * (3 * 5 * 5 + 4 * 2) * 4
    assert rows["SD-warp"]["iterations"] == 0 and rows["DM+SD-warp"]["iterations"] > 0
    for name in ("DM+SD-warp", "MTT+SD-warp"):
        cfg = PipelineConfig.from_yaml((tmp_path / name / "config.yaml").read_text())
        assert cfg.static.path == str(tmp_path / "SD-warp" / "static_memory.safetensors")
        assert cfg.distill.lr["dynamic"] == quickstart.WARP_LR
    assert (tmp_path / "MTT+SD-warp.png").is_file()


def test_paper_sd_adds_the_papers_static_dynamic_rows_on_stage_1_of_static_only(tmp_path: Path) -> None:
    assert quickstart.main(["--fast", "--paper-sd", "--out", str(tmp_path), "--no-progress"]) == 0
    rows = {r["name"] for r in json.loads((tmp_path / "results.json").read_text())}
    assert rows == set(CORE_METHODS) | set(quickstart.PAPER_SD_METHODS)
    for name in quickstart.PAPER_SD_METHODS:
        cfg = PipelineConfig.from_yaml((tmp_path / name / "config.yaml").read_text())
        assert cfg.static.path == str(tmp_path / "static_only" / "static_memory.safetensors")
        assert cfg.synthetic.block == "conv" and cfg.evaluation.batch_size == 64
    assert (tmp_path / "MTT+SD.png").is_file()


def test_pool_results_puts_the_runs_of_every_draw_together() -> None:
    a = PipelineResult("DM", "baseline", "DM", [40.0, 42.0], [90.0, 91.0], [60.0, 62.0], 100, 1.0, 2.0, 3.0, 4.0)
    b = PipelineResult("DM", "baseline", "DM", [30.0, 32.0], [80.0, 81.0], [50.0, 52.0], 100, 1.0, 2.0, 0.0, 4.0)
    a.render_std_ratio, b.render_std_ratio = 1.0, 1.5
    a.out_dir, b.out_dir = "runs/seed0/DM", "runs/seed1/DM"
    pooled = pool_results([a, b])
    assert pooled.top1 == [40.0, 42.0, 30.0, 32.0] and pooled.top5 == [90.0, 91.0, 80.0, 81.0]
    assert pooled.motion == [60.0, 62.0, 50.0, 52.0]
    assert pooled.mean == 36.0 and pooled.std == statistics.pstdev([40.0, 42.0, 30.0, 32.0])
    assert pooled.std > max(a.std, b.std)  # the draw's spread is in it
    assert (pooled.stage1_seconds, pooled.experts_seconds, pooled.eval_seconds) == (2.0, 3.0, 8.0)
    assert pooled.render_std_ratio == 1.25 and pooled.out_dir == "runs"
    assert pool_results([a]).top1 == a.top1


def test_pool_results_refuses_different_rows() -> None:
    dm = result("DM", [40.0])
    with pytest.raises(ConfigError, match="at least one"):
        pool_results([])
    with pytest.raises(ConfigError, match=r"results\[1\]\.name is 'MTT'"):
        pool_results([dm, result("MTT", [40.0])])
    with pytest.raises(ConfigError, match=r"results\[1\]\.storage_bytes is 50"):
        pool_results([dm, result("DM", [40.0], storage=50)])
    with pytest.raises(ConfigError, match="motion"):
        pool_results([dm, PipelineResult("DM", "x", "none", [40.0], [40.0], [], 100)])


def test_draws_run_one_table_per_seed_and_pool_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, Path]] = []

    def fake_run_table(base: Any, out: Path, progress: bool, log_line: Any, methods: Any) -> dict[str, PipelineResult]:
        calls.append((base.seed, out))
        return {m: result(m, [float(base.seed), float(base.seed) + 1.0]) for m in methods}

    monkeypatch.setattr(quickstart, "run_table", fake_run_table)
    assert quickstart.main(["--fast", "--seed", "3", "--draws", "2", "--out", str(tmp_path), "--no-progress"]) == 0
    assert calls == [(3, tmp_path / "seed3"), (4, tmp_path / "seed4")]
    for seed in (3, 4):  # each draw's own table
        rows = json.loads((tmp_path / f"seed{seed}" / "results.json").read_text())
        assert [r["top1"] for r in rows] == [[seed, seed + 1.0]] * len(CORE_METHODS)
    pooled = {r["name"]: r["top1"] for r in json.loads((tmp_path / "results.json").read_text())}
    assert pooled == {m: [3.0, 4.0, 4.0, 5.0] for m in CORE_METHODS}
    calls.clear()
    quickstart.main(["--fast", "--out", str(tmp_path / "one"), "--no-progress"])  # one draw: no seed folders
    assert calls == [(0, tmp_path / "one")]
    with pytest.raises(SystemExit):
        quickstart.main(["--draws", "0"])


def test_a_copied_quickstart_folder_resumes_every_row(tmp_path: Path) -> None:
    """The rows that read another row's output (the statics, MTT's experts) resume after the folder moves."""
    assert quickstart.main(["--fast", "--out", str(tmp_path / "first"), "--no-progress"]) == 0
    shutil.copytree(tmp_path / "first", tmp_path / "copy")
    for row in ("DM+SD-warp", "MTT+SD-warp"):  # they name their inputs by path: the first folder's, now the copy's
        assert str(tmp_path / "first") in (tmp_path / "copy" / row / "config.yaml").read_text()
    assert quickstart.main(["--fast", "--out", str(tmp_path / "copy"), "--no-progress"]) == 0
    read = [json.loads((tmp_path / d / "results.json").read_text()) for d in ("first", "copy")]
    assert read[0] == read[1]


def test_the_photo_texture_reaches_the_data_and_nothing_else(tmp_path: Path) -> None:
    pytest.importorskip("skimage")
    flat, photo = quickstart.base_config(), quickstart.base_config(texture="photo")
    assert photo.data.options == {**flat.data.options, "colour_coded": False, "texture": "photo"}
    dumps = [c.model_dump(mode="json") for c in (flat, photo)]
    for d in dumps:
        del d["data"]["options"]
    assert dumps[0] == dumps[1]
    assert quickstart.main(["--fast", "--texture", "photo", "--out", str(tmp_path), "--no-progress"]) == 0
    assert "texture: photo" in (tmp_path / "DM+SD-warp" / "config.yaml").read_text()
    with pytest.raises(ConfigError, match="texture must be 'flat' or 'photo', got 'marble'"):
        quickstart.base_config(texture="marble")


def test_net_width_reaches_the_video_models_and_nothing_else(tmp_path: Path) -> None:
    default, wide = quickstart.base_config(), quickstart.base_config(net_width=32)
    assert wide.distill.model_kwargs == wide.evaluation.model_kwargs == {"net_width": 32}
    assert default.distill.model_kwargs == default.evaluation.model_kwargs == {"net_width": 16}
    dumps = [c.model_dump(mode="json") for c in (default, wide)]
    for d in dumps:
        del d["distill"]["model_kwargs"], d["evaluation"]["model_kwargs"]
    assert dumps[0] == dumps[1]  # stage 1's image ConvNet and everything else stay
    for bad in (0, 2.0, True):
        with pytest.raises(ConfigError, match=f"net_width must be an integer >= 1, got {bad!r}"):
            quickstart.base_config(net_width=bad)  # type: ignore[arg-type]
    with pytest.raises(SystemExit):
        quickstart.main(["--net-width", "0"])


def test_the_benchmark_passes_the_texture_to_the_data(tmp_path: Path) -> None:
    pytest.importorskip("skimage")
    benchmark = load_script("examples/benchmark.py")
    argv = ["--fast", "--runs", "1", "--out", str(tmp_path), "--texture", "photo", "--methods", "random_real"]
    assert benchmark.main(argv) == 0
    assert "texture: photo" in (tmp_path / "random_real" / "config.yaml").read_text()
    with pytest.raises(SystemExit):
        benchmark.main(["--texture", "marble"])


def test_the_benchmark_runs_only_the_rows_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    benchmark = load_script("examples/benchmark.py")
    argv = ["--fast", "--runs", "1", "--out", str(tmp_path), "--methods", "random_real", "random_real+MF", "DM+MF"]
    assert benchmark.main(argv) == 0
    for evaluator in ("ConvNet3D", "VideoConvNetGRU"):
        rows = json.loads((tmp_path / f"table_{evaluator}" / "results.json").read_text())
        assert [r["name"] for r in rows] == ["random_real", "random_real+MF", "DM+MF"]
    out = capsys.readouterr().out
    assert "[ ] DM+MF beats random real at equal storage" in out or "[x] DM+MF beats random real" in out
    assert "DM+SD beats DM" not in out  # a target whose rows are not in the table is skipped
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [
        "DM+MF",
        "random_real",
        "random_real+MF",
        "table_ConvNet3D",
        "table_VideoConvNetGRU",
    ]  # no stage that these rows do not reuse (static_only, MTT's experts, SD-warp) ran


def test_the_rows_that_reuse_a_stage_are_the_rows_whose_settings_read_it(tmp_path: Path) -> None:
    base = quickstart.base_config()
    readers: dict[str, set[str]] = {"static_only": set(), "MTT": set(), "SD-warp": set()}
    for method in quickstart.METHODS:
        text = quickstart.method_settings(method, base, tmp_path).model_dump_json()
        for stage in readers:
            if f"{tmp_path / stage}/" in text:
                readers[stage].add(method)
    assert readers["static_only"] == set(quickstart.STATIC_ONLY_ROWS)
    assert readers["MTT"] == set(quickstart.MTT_EXPERT_ROWS)
    assert readers["SD-warp"] == set(quickstart.WARP_METHODS) - {"SD-warp"}
