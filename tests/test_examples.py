"""The three-line wrap, checked on example loops that keep the published structure.

``examples/mtt_video.py`` (MTT ``distill.py`` / video ``distill_baseline.py`` structure) and ``examples/dm_video.py``
(``main_DM.py`` structure) train a plain tensor of videos; their wrapped versions differ in at most three places
(the import, building the set from the tensor the init block filled, its optimizer) and at most three added
lines besides the import. Every file runs for a few iterations; for the wrapped ones every trainable part of the
synthetic set must receive a non-zero gradient at every step of the synthetic-data optimizer, and the loops'
own ``torch.save(image_syn.detach().cpu(), ...)`` lines must write plain video tensors.
"""

from __future__ import annotations

import difflib
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

import temporal_condense as tc

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
IMPORT = "import temporal_condense as tc"
PAIRS = {
    "mtt_video_condensed.py": "mtt_video.py",
    "mtt_video_keyframes.py": "mtt_video.py",
    "dm_video_condensed.py": "dm_video.py",
    "dc_video_condensed.py": "dc_video.py",
}
EDITS = {  # (changed hunks, added lines besides the import), as docs/integrations.md states them
    "mtt_video_condensed.py": (3, 2),
    "mtt_video_keyframes.py": (3, 2),
    "dm_video_condensed.py": (2, 2),
    "dc_video_condensed.py": (2, 2),
}
S2D_EDITS = (14, 45, 14)  # (hunks, removed lines, added lines) of s2d_video.py -> s2d_video_condensed.py
TINY = ["--frames", "4", "--size", "16", "--net_width", "8", "--net_depth", "2", "--real_per_class", "3",
        "--num_eval", "1", "--epoch_eval_train", "1", "--batch_train", "16", "--threads", "1"]  # fmt: skip


def changes(plain: str, wrapped: str) -> tuple[int, list[str], list[str]]:
    """Changed hunks (maximal runs of changed lines, no context), removed and added lines."""
    a = (EXAMPLES / plain).read_text().splitlines()
    b = (EXAMPLES / wrapped).read_text().splitlines()
    hunks, removed, added = 0, [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            hunks += 1
            removed += a[i1:i2]
            added += b[j1:j2]
    return hunks, removed, added


@pytest.mark.parametrize("wrapped", sorted(PAIRS))
def test_wrapped_loops_differ_in_at_most_three_hunks_and_three_lines(wrapped: str) -> None:
    hunks, removed, added = changes(PAIRS[wrapped], wrapped)
    assert IMPORT in added
    others = [line for line in added if line.strip() != IMPORT]
    assert hunks <= 3 and len(others) <= 3, (hunks, removed, added)
    assert (hunks, len(others)) == EDITS[wrapped]
    assert all(line.strip() for line in added), added  # no padding lines
    # the loops' own lines stay: separate x / this_y indexing, DiffAugment, evaluation and saving via .detach()
    text = (EXAMPLES / wrapped).read_text()
    for kept in ("image_syn.detach()", "DiffAugment(", "args.lr_img"):
        assert kept in text
    if wrapped.startswith("mtt"):
        kept_lines = (
            "x = syn_images[these_indices]",
            "this_y = y_hat[these_indices]",
            "syn_lr * grad",
            "torch.save(image_save.cpu()",
            "np.prod(p.size()) for p in (student_net.parameters())",
        )
        for kept in kept_lines:
            assert kept in text, kept
    assert any("from_videos(image_syn, args.ipc" in line for line in others)
    assert any("image_syn.optimizer(lr=args.lr_img" in line for line in others)


def run_example(name: str, args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    """Run an example in this process; return the synthetic sets whose optimizer it built and what each optimizer
    step saw."""
    built: list[Any] = []
    original = tc.SyntheticSet.optimizer

    def record(self: Any, *a: Any, **k: Any) -> Any:
        built.append(self)
        return original(self, *a, **k)

    monkeypatch.setattr(tc.SyntheticSet, "optimizer", record)
    steps: list[Any] = []

    def seen(opt: torch.optim.Optimizer, *_: Any) -> None:
        steps.append([(p, None if p.grad is None else p.grad.clone()) for g in opt.param_groups for p in g["params"]])

    handle = register_optimizer_step_pre_hook(seen)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setattr(sys, "argv", [name, *args])
    threads = torch.get_num_threads()
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        handle.remove()
        torch.set_num_threads(threads)
    return built, steps


def check_every_part_gets_gradients(synset: Any, steps: list[Any]) -> None:
    trainable = [p for p in synset.parameters() if p.requires_grad]
    assert trainable
    mine = [s for s in steps if any(p is trainable[0] for p, _ in s)]
    assert mine, "the set's optimizer never stepped"
    for step in mine:
        grads = {id(p): g for p, g in step}
        for p in trainable:
            assert id(p) in grads, "a trainable part is missing from the optimizer"
            g = grads[id(p)]
            assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0


def check_saved_videos(folder: Path, pattern: str, n: int) -> None:
    files = sorted(folder.glob(pattern))
    assert files
    for f in files:
        obj = torch.load(f, weights_only=True)
        videos = obj["data"][0][0] if isinstance(obj, dict) else obj
        assert isinstance(videos, torch.Tensor) and videos.shape == (n, 4, 3, 16, 16) and not videos.requires_grad


@pytest.mark.slow
@pytest.mark.parametrize("wrapped", ["mtt_video_condensed.py", "mtt_video_keyframes.py"])
def test_mtt_loops_run_and_every_part_learns(wrapped: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = [*TINY, "--Iteration", "2", "--eval_it", "2", "--syn_steps", "3", "--train_epochs", "2", "--num_experts",
            "1", "--max_start_epoch", "1", "--buffer_path", str(tmp_path / "buffers")]  # fmt: skip
    _, plain_steps = run_example("mtt_video.py", [*args, "--save_path", str(tmp_path / "plain")], monkeypatch)
    assert (tmp_path / "buffers" / "replay_buffer_0.pt").exists()
    videos_steps = [s for s in plain_steps if s[0][0].shape == (8, 4, 3, 16, 16)]  # optimizer_img on the tensor
    assert len(videos_steps) == 3 and all(g is not None and g.abs().sum() > 0 for g in (s[0][1] for s in videos_steps))
    check_saved_videos(tmp_path / "plain" / "mtt", "images_*.pt", 8)

    built, steps = run_example(wrapped, [*args, "--save_path", str(tmp_path / "wrapped")], monkeypatch)
    assert len(built) == 1 and len(built[0]) == 8
    check_every_part_gets_gradients(built[0], steps)
    check_saved_videos(tmp_path / "wrapped" / "mtt", "images_*.pt", 8)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dm", "dc"])
def test_dm_dc_loops_run_and_every_part_learns(method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = [*TINY, "--Iteration", "2", "--eval_it", "2", "--batch_real", "3"]
    if method == "dc":
        args += ["--outer_loop", "2", "--inner_loop", "1"]
    outer = 2 if method == "dc" else 1
    plain, wrapped = f"{method}_video.py", f"{method}_video_condensed.py"
    _, plain_steps = run_example(plain, [*args, "--save_path", str(tmp_path / "plain")], monkeypatch)
    assert len([s for s in plain_steps if s[0][0].shape == (8, 4, 3, 16, 16)]) == 3 * outer
    check_saved_videos(tmp_path / "plain", "res_*.pt", 8)
    built, steps = run_example(wrapped, [*args, "--save_path", str(tmp_path / "wrapped")], monkeypatch)
    assert len(built) == 1 and isinstance(built[0], tc.DynamicMemoryBlock)
    check_every_part_gets_gradients(built[0], steps)
    check_saved_videos(tmp_path / "wrapped", "vis_*.pt", 8)
    check_saved_videos(tmp_path / "wrapped", "res_*.pt", 8)


def test_s2d_wrap_replaces_the_inlined_method() -> None:
    hunks, removed, added = changes("s2d_video.py", "s2d_video_condensed.py")
    assert (hunks, len(removed), len(added)) == S2D_EDITS, (hunks, len(removed), len(added))
    text = (EXAMPLES / "s2d_video_condensed.py").read_text()
    kept_lines = (
        "label = these_indices // args.vpc",
        "this_y = label.long()",
        "x = image_syn[these_indices]",
        'static_syn = torch.load(args.path_static)["image"]',
        "syn_lr.data = syn_lr.data.clip(min=0.001)",
    )
    for kept in kept_lines:
        assert kept in text, kept
    code = text.split('"""', 2)[2]  # after the module docstring
    for gone in ("hals", "optimizer_static", "optimizer_dynamic", "static_idx", "dynamic_idx"):
        assert gone not in code, gone


@pytest.mark.slow
@pytest.mark.parametrize("train_static", [False, True])
def test_s2d_loops_run_and_every_part_learns(
    train_static: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    static = torch.randn(8 * 2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    torch.save({"image": static}, tmp_path / "static.pt")  # the released stage-1 format
    args = [*TINY, "--Iteration", "2", "--eval_it", "2", "--syn_steps", "3", "--train_epochs", "2", "--num_experts",
            "1", "--max_start_epoch", "1", "--buffer_path", str(tmp_path / "buffers"), "--train_lr",
            "--path_static", str(tmp_path / "static.pt")]  # fmt: skip
    if not train_static:
        args.append("--no_train_static")
    _, plain_steps = run_example("s2d_video.py", [*args, "--save_path", str(tmp_path / "plain")], monkeypatch)
    dynamic_steps = [s for s in plain_steps if s[0][0].shape == (8, 2, 4, 1, 16, 16)]
    assert len(dynamic_steps) == 3 and all(s[0][1] is not None and s[0][1].abs().sum() > 0 for s in dynamic_steps)
    built, steps = run_example("s2d_video_condensed.py", [*args, "--save_path", str(tmp_path / "wrapped")], monkeypatch)
    assert len(built) == 1 and isinstance(built[0], tc.DynamicMemoryBlock)
    synset = built[0]
    assert synset.static.requires_grad == train_static
    assert torch.equal(synset.static.detach(), static) != train_static  # frozen statics stay the stage-1 images
    check_every_part_gets_gradients(synset, steps)
    saved = sorted((tmp_path / "wrapped" / "s2d").glob("synset_*.safetensors"))
    assert len(saved) == 2 and tc.DynamicMemoryBlock.load(saved[-1]).shape == (8, 4, 3, 16, 16)
