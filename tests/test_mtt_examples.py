"""The three-line wrap: examples/mtt_video_condensed.py is examples/mtt_video.py with exactly three lines changed,
and both run end to end on the built-in MovingShapes data (2 iterations, tiny sizes)."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from temporal_condense.io import load_artifact, read_artifact_header

ROOT = Path(__file__).resolve().parents[1]
PLAIN = ROOT / "examples" / "mtt_video.py"
CONDENSED = ROOT / "examples" / "mtt_video_condensed.py"


def changed_lines() -> tuple[list[str], list[str]]:
    a = PLAIN.read_text().splitlines()
    b = CONDENSED.read_text().splitlines()
    removed, added = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            removed += a[i1:i2]
            added += b[j1:j2]
    return removed, added


def test_files_differ_in_exactly_three_lines() -> None:
    removed, added = changed_lines()
    assert len(removed) == 3 and len(added) == 3, (removed, added)
    assert "tc.DynamicMemoryBlock(" in added[0]
    assert added[1].strip() == "optimizer_img = image_syn.optimizer(momentum=0.5)"
    assert added[2].strip() == "x, this_y = syn_images(these_indices)"
    assert "requires_grad_(True)" in removed[0] and "torch.optim.SGD([image_syn]" in removed[1]


def run(script: Path, tmp: Path) -> str:
    args = [
        sys.executable, str(script), "--Iteration", "2", "--syn_steps", "3", "--frames", "4", "--size", "16",
        "--net_width", "8", "--net_depth", "2", "--real_per_class", "3", "--train_epochs", "2",
        "--buffer_path", str(tmp / "experts"), "--save_dir", str(tmp / script.stem), "--threads", "1",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_both_examples_run_end_to_end(tmp_path: Path) -> None:
    out_plain = run(PLAIN, tmp_path)
    assert "iter = 0001" in out_plain
    assert len(list((tmp_path / "experts").glob("expert_*.safetensors"))) == 2
    tensors, _ = load_artifact(tmp_path / "mtt_video" / "synthetic.safetensors", kind="SyntheticTensor")
    assert tensors["videos"].shape == (8, 4, 3, 16, 16)

    out_condensed = run(CONDENSED, tmp_path)  # reuses the experts trained by the first run
    assert "iter = 0001" in out_condensed
    header = read_artifact_header(tmp_path / "mtt_video_condensed" / "synthetic.safetensors")
    assert header["kind"] == "DynamicMemoryBlock"
