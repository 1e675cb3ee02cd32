"""Pipeline tests: your own data (tensors, Datasets, class folders), segments, the logger, public imports only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from PIL import Image

from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.pipeline import PipelineConfig, method_config, run_pipeline

TINY = {"net_width": 8}


def byo_config(**changes: object) -> PipelineConfig:
    base = PipelineConfig(
        name="byo",
        seed=1,
        data={"dataset": "custom"},
        static={"method": "dm", "static_per_class": 1, "iterations": 1, "model_kwargs": TINY, "batch_real": 2},
        synthetic={"kind": "static_dynamic", "static_per_video": 1, "dynamic_per_video": 1},
        distill={"method": "DM", "iterations": 2, "model": "VideoConvNetMean", "model_kwargs": TINY, "batch_real": 2},
        evaluation={"model": "VideoConvNetMean", "model_kwargs": TINY, "runs": 1, "epochs": 1, "batch_size": 8},
        checkpoint_every=1,
    )
    return base.replace(**changes) if changes else base


def clips(n: int = 6, frames: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, frames, 3, 16, 16, generator=g), torch.arange(n) % 3


class ClipDataset(torch.utils.data.Dataset):
    """A plain map-style Dataset of (video, label): no preload, no single_frame, no num_classes."""

    def __init__(self, videos: torch.Tensor, labels: torch.Tensor) -> None:
        self.videos, self.labels_ = videos, labels

    def __len__(self) -> int:
        return len(self.labels_)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.videos[i], int(self.labels_[i])


def test_tensors_and_dataset_give_the_same_run(tmp_path: Path) -> None:
    train, test = clips(), clips(seed=1)
    a = run_pipeline(byo_config(), tmp_path / "a", progress=False, data=(train, test))
    b = run_pipeline(
        byo_config(), tmp_path / "b", progress=False, data={"train": ClipDataset(*train), "test": ClipDataset(*test)}
    )
    assert a.losses == b.losses and a.top1 == b.top1 and len(a.losses) == 2
    assert (tmp_path / "a" / "static_memory.safetensors").is_file()  # stage 1 ran on derived single frames


def test_byo_errors(tmp_path: Path) -> None:
    train, test = clips(), clips(seed=1)
    with pytest.raises(ConfigError, match="needs run_pipeline"):
        run_pipeline(byo_config(), tmp_path / "x", progress=False)
    with pytest.raises(ConfigError, match=r"needs data\.dataset 'custom'"):
        run_pipeline(byo_config(data={"dataset": "MovingShapes"}), tmp_path / "y", progress=False, data=(train, test))
    with pytest.raises(ConfigError, match=r"data must be \(train, test\)"):
        run_pipeline(byo_config(), tmp_path / "z", progress=False, data=train)
    with pytest.raises(ShapeError, match=r"data\.frames is 8 but the clips have 4"):
        run_pipeline(byo_config(data={"frames": 8}), tmp_path / "f", progress=False, data=(train, test))
    with pytest.raises(ShapeError, match="train data videos must be 5-D"):
        run_pipeline(byo_config(), tmp_path / "r", progress=False, data=((train[0][:, 0], train[1]), test))
    run_pipeline(byo_config(), tmp_path / "d", progress=False, data=(train, test))
    with pytest.raises(ConfigError, match="holds a run on other data"):
        run_pipeline(byo_config(), tmp_path / "d", progress=False, data=(clips(seed=5), test))


def _write_folders(root: Path, classes: int = 2, per_class: int = 3, frames: int = 4) -> None:
    g = torch.Generator().manual_seed(0)
    for c in range(classes):
        for k in range(per_class):
            clip = root / f"class{c}" / f"clip{k}"
            clip.mkdir(parents=True)
            for t in range(frames):
                pixels = (torch.rand(16, 16, 3, generator=g) * 255).to(torch.uint8).numpy()
                Image.fromarray(pixels).save(clip / f"frame{t:03d}.png")


def test_class_folder_layout_from_config(tmp_path: Path) -> None:
    _write_folders(tmp_path / "clips")
    split = tmp_path / "split.txt"
    lines = [f"class{c}/clip{k} {'test' if k == 2 else 'train'}" for c in range(2) for k in range(3)]
    split.write_text("# my split\n" + "\n".join(lines) + "\n")
    cfg = byo_config(data={"dataset": "folder", "root": str(tmp_path / "clips"), "frames": 4, "size": (16, 16)})
    res = run_pipeline(cfg, tmp_path / "ratio", progress=False)
    assert len(res.top1) == 1
    res = run_pipeline(cfg.replace(data={"split_file": str(split)}), tmp_path / "file", progress=False)
    assert len(res.top1) == 1
    bad = tmp_path / "bad.txt"
    bad.write_text("class0/clip0 validation\n")
    with pytest.raises(ConfigError, match="line 1 must read"):
        run_pipeline(cfg.replace(data={"split_file": str(bad)}), tmp_path / "bad", progress=False)


@pytest.mark.parametrize("method", ["DM+SD", "MTT"])
def test_segments(tmp_path: Path, method: str) -> None:
    """K = 2 segments: the student and the experts see 2-frame segments of the 4-frame clips."""
    base = byo_config(
        distill={
            "segments": 2,
            "mtt": {"experts": {"num_experts": 1, "epochs": 2, "batch_size": 4}, "syn_steps": 1, "max_start_epoch": 1},
        }
    )
    cfg = method_config(method, base)
    res = run_pipeline(cfg, tmp_path / method, progress=False, data=(clips(), clips(seed=1)))
    assert len(res.losses) == 2 and all(torch.isfinite(torch.tensor(res.losses)))
    if method == "MTT":
        from temporal_condense.mtt import load_expert

        expert = load_expert(next((tmp_path / method / "experts").glob("expert_*.safetensors")))
        assert expert.config["model_kwargs"]["frames"] == 2


def test_logger_receives_metrics(tmp_path: Path) -> None:
    logged: list[tuple[dict, int]] = []
    data = (clips(), clips(seed=1))
    run_pipeline(byo_config(), tmp_path, progress=False, data=data, log=lambda m, step: logged.append((m, step)))
    assert [s for m, s in logged if "stage2/loss" in m] == [1, 2]
    summary = logged[-1][0]
    assert {"stage1/seconds", "stage2/seconds", "eval/top1", "eval/top1_std", "eval/top5"} <= set(summary)


def test_pipeline_imports_only_public_names() -> None:
    """The pipeline composes the library's public API: no private module, no private name from elsewhere."""
    package = Path(__file__).resolve().parents[1] / "temporal_condense" / "pipeline"
    offending = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("temporal_condense"):
                inside = node.module.startswith("temporal_condense.pipeline")
                private_module = any(part.startswith("_") for part in node.module.split("."))
                private_names = [a.name for a in node.names if a.name.startswith("_")]
                if private_module or (private_names and not inside):
                    offending.append(f"{path.name}: from {node.module} import {private_names or '...'}")
            elif isinstance(node, ast.Import):
                offending += [f"{path.name}: import {a.name}" for a in node.names if "._" in a.name]
    assert offending == []


def test_tensorboard_logger_errors() -> None:
    import importlib.util

    from temporal_condense.pipeline import tensorboard_logger

    with pytest.raises(ConfigError, match="exactly one of log_dir and writer"):
        tensorboard_logger()
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ConfigError, match="pip install tensorboard"):
            tensorboard_logger("runs/tb")


def test_readme_configs_validate() -> None:
    """The configurations the README shows are valid as written."""
    cfg = method_config("DM+SD", PipelineConfig(data={"dataset": "custom"}, evaluation={"epochs": 50}))
    assert cfg.synthetic.kind == "static_dynamic" and cfg.data.clip_frames is None
    folder = PipelineConfig(data={"dataset": "folder", "root": "clips/", "test_ratio": 0.2})
    assert folder.data.clip_frames == 16
