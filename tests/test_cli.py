"""Tests of the ``temporal-condense`` command line and of the installed wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from temporal_condense.pipeline import PipelineConfig
from temporal_condense.pipeline.cli import config_path, main, shipped_configs

REPO = Path(__file__).resolve().parents[1]
TINY = {"net_width": 8}


def _tiny_yaml(tmp_path: Path) -> Path:
    cfg = PipelineConfig(
        name="cli",
        data={"frames": 4, "size": (16, 16), "train_per_class": 2, "test_per_class": 1},
        static={"method": "none"},
        synthetic={"kind": "baseline"},
        distill={"iterations": 1, "model": "VideoConvNetMean", "model_kwargs": TINY, "batch_real": 1},
        evaluation={"model": "VideoConvNetMean", "model_kwargs": TINY, "runs": 1, "epochs": 1, "batch_size": 8},
    )
    return cfg.save_yaml(tmp_path / "cli.yaml")


def test_shipped_configs_are_package_data() -> None:
    names = shipped_configs()
    in_repo = sorted(p.stem for p in (REPO / "temporal_condense" / "configs").glob("*.yaml"))
    assert names == in_repo and len(names) == 40 and "miniucf_dm_sd_vpc1" in names
    assert {"miniucf_frepo_sd_vpc1", "hmdb51_coreset_herding_vpc1"} <= set(names)
    for name in names:  # every shipped config parses, by name
        PipelineConfig.load_yaml(config_path(name))
    assert config_path("ssv2_mtt_baseline_vpc5.yaml").name == "ssv2_mtt_baseline_vpc5.yaml"
    assert (REPO / "configs" / "miniucf_dm_sd_vpc1.yaml").is_file()  # the repo path still works


def test_help_lists_the_shipped_configs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "run" in out and "table" in out and "quickstart" in out and "miniucf_dm_sd_vpc1" in out
    assert main(["configs"]) == 0
    assert capsys.readouterr().out.split() == shipped_configs()


def test_run_then_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    yaml_path = _tiny_yaml(tmp_path)
    assert main(["run", str(yaml_path), "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    assert main(["run", str(yaml_path), "--out", str(tmp_path / "b"), "--seed", "4", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["table", str(tmp_path / "a"), str(tmp_path / "b"), "--format", "csv"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("method,top-1") and len(rows) == 3 and rows[1].startswith("cli,")


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "no_such_config", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("temporal-condense: error: config must be a YAML file or a shipped config")
    assert main(["table", str(tmp_path)]) == 2
    assert "holds no result.json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "x"])  # --out is required


@pytest.mark.slow
def test_wheel_installs_and_runs_the_quickstart(tmp_path: Path) -> None:
    """The built wheel holds the configs and, installed in a fresh venv, runs the CLI's smallest mode."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)} | {"OMP_NUM_THREADS": "1"}
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(REPO)],
        check=True,
        env=env,
    )
    wheel = next(dist.glob("temporal_condense-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "temporal_condense/configs/miniucf_dm_sd_vpc1.yaml" in names
    assert sum(n.startswith("temporal_condense/configs/") for n in names) == 40
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python, script = venv / "bin" / "python", venv / "bin" / "temporal-condense"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, env=env
    )
    where = subprocess.run(
        [str(python), "-c", "import temporal_condense; print(temporal_condense.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout
    assert where.startswith(str(venv)), where  # the wheel's copy, not the checkout
    out = subprocess.run(
        [str(script), "quickstart", "--fast", "--no-progress", "--out", str(tmp_path / "qs")],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout
    assert "full_data" in out and "total" in out
    assert (tmp_path / "qs" / "results.md").is_file()
