"""temporal_condense.pipeline.sweep: a grid on validation clips, every point run, recorded and resumable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import temporal_condense.pipeline.run as run_module
from temporal_condense.errors import ConfigError
from temporal_condense.pipeline import PipelineConfig, method_config, run_pipeline
from temporal_condense.pipeline.cli import main as cli_main
from temporal_condense.pipeline.quickstart import base_config
from temporal_condense.pipeline.sweep import apply_point, grid_points, point_folder, run_sweep


def _row(validation: bool = True) -> PipelineConfig:
    """The quickstart's random real row on its smoke data (no distillation: a run is an evaluation)."""
    return method_config("random_real", base_config(fast=True, validation=validation))


def test_grid_points_are_every_combination_first_key_slowest() -> None:
    points = grid_points({"a.x": [1, 2], "b": ["u", "v", "w"]})
    assert points == [{"a.x": a, "b": b} for a in (1, 2) for b in ("u", "v", "w")]
    for bad in ({}, {"a": []}, {"a": "12"}, {"a..b": [1]}, {"1a": [1]}, {"a": 3}, {"d": [{}], "d.lr": [1]}):
        with pytest.raises(ConfigError, match="grid"):
            grid_points(bad)  # type: ignore[arg-type]


def test_apply_point_sets_nested_keys_and_keeps_the_rest() -> None:
    cfg = base_config()
    changed = apply_point(cfg, {"distill.lr.videos": 10.0, "seed": 3, "evaluation.runs": 2})
    assert changed == cfg.replace(distill={"lr": {"videos": 10.0}}, seed=3, evaluation={"runs": 2})
    assert changed.distill.lr == {**cfg.distill.lr, "videos": 10.0}  # the dynamic rate is kept
    with pytest.raises(ConfigError, match="lrr"):
        apply_point(cfg, {"distill.lrr": 1.0})
    with pytest.raises(ConfigError, match="iterations"):
        apply_point(cfg, {"distill.iterations": -1})


def test_point_folders_are_stable_and_distinct() -> None:
    a, b = point_folder({"distill.lr.videos": 10}), point_folder({"distill.lr.videos": 100})
    assert a != b and a == point_folder({"distill.lr.videos": 10}) and a.startswith("lr.videos=10-")
    assert "/" not in point_folder({"data.root": "/some/where"})


def test_sweep_refuses_the_test_split_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="validation_per_class"):
        run_sweep(_row(validation=False), {"seed": [0, 1]}, tmp_path / "sweep", progress=False)
    with pytest.raises(ConfigError, match="validation_per_class"):  # a point that turns the hold-out off
        run_sweep(_row(), {"data.validation_per_class": [1, 0]}, tmp_path / "sweep", progress=False)
    assert not (tmp_path / "sweep").exists()


def test_sweep_runs_every_point_records_it_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    grid = {"seed": [0, 1], "evaluation.lr": [0.01]}
    lines: list[str] = []
    rows = run_sweep(_row(), grid, tmp_path / "sweep", progress=False, log_line=lines.append)
    assert [row.point for row in rows] == grid_points(grid) and len(lines) == 2
    for row in rows:  # each point is the run of its own configuration
        alone = run_pipeline(apply_point(_row(), row.point), tmp_path / "alone" / row.folder, progress=False)
        assert row.result.top1 == alone.top1 and row.result.split == "validation"
        assert (tmp_path / "sweep" / row.folder / "result.json").is_file()
    record = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert record["grid"] == {"seed": [0, 1], "evaluation.lr": [0.01]}
    assert [p["point"] for p in record["points"]] == grid_points(grid)
    assert [p["top1_mean"] for p in record["points"]] == [row.result.mean for row in rows]
    table = (tmp_path / "sweep" / "sweep.md").read_text()
    assert "seed=0; evaluation.lr=0.01" in table and table.count("best") == 1

    def no_evaluation(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished point was evaluated again")

    monkeypatch.setattr(run_module, "evaluate", no_evaluation)
    again = run_sweep(_row(), grid, tmp_path / "sweep", progress=False)
    assert [row.result.top1 for row in again] == [row.result.top1 for row in rows]


def test_the_sweep_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "row.yaml"
    _row(validation=False).save_yaml(config)
    out = tmp_path / "sweep"
    args = ["sweep", str(config), "--out", str(out), "--grid", "seed=[0, 1]", "--no-progress"]
    assert cli_main(args) == 2  # the config evaluates on the test split
    assert "validation_per_class" in capsys.readouterr().err
    assert cli_main([*args, "--validation-per-class", "1"]) == 0
    printed = capsys.readouterr().out
    assert "| seed=0 |" in printed and "| seed=1 |" in printed and (out / "sweep.md").is_file()
    for bad in ("seed=1", "seed", "seed=[0", "x y=[1]"):
        assert cli_main(["sweep", str(config), "--out", str(out), "--grid", bad, "--allow-test"]) == 2
        assert "grid" in capsys.readouterr().err
