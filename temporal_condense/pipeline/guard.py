"""What a run may touch in its folder, and what must hold before it writes anything.

A run claims its folder with a small ledger (``.temporal_condense_run.json``) listing the names it writes
(``config.yaml``, ``result.json``, ``stage1.json``, the artifacts, ``experts/``). The ledger is written before
any of them, so a kill at any point leaves a folder that the next run recognizes as its own; a folder holding
anything else (someone's ``config.yaml``, a ``result.json`` that is not ours, unrelated files) is refused,
naming the files, and nothing is written.

Each stage is keyed by the part of the configuration it depends on (:func:`stage_keys`): stage 1 by
``data``, ``static`` and ``seed``; stage 2 by everything but ``name``, ``evaluation`` and
``checkpoint_every``. A finished stage whose key matches is reused; a finished stage of another key is
refused (its work is not thrown away); an unfinished stage-2 checkpoint of another key is discarded, so a
run that failed can be re-run with a fixed configuration. The artifacts a run reads from elsewhere
(``static.path`` with ``static.method: load``, ``distill.mtt.buffer_path``) enter the keys by their content,
not their location: a copied or moved set of run folders resumes, and a static memory or expert buffer
rewritten at the same path is another configuration, never a stale result.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import re
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, model_validator

from temporal_condense.data import MovingShapes
from temporal_condense.errors import ConfigError, TemporalCondenseError, format_validation_error
from temporal_condense.io import atomic_write, remove_stale_temporaries
from temporal_condense.models import get_model
from temporal_condense.mtt.experts import expert_files, published_files
from temporal_condense.pipeline.checkpoint import read_checkpoint_header
from temporal_condense.pipeline.config import PipelineConfig

logger = logging.getLogger(__name__)

LEDGER = ".temporal_condense_run.json"
#: Every name a run writes in its folder (``experts`` is a folder of expert files).
CLAIMED: tuple[str, ...] = (
    "config.yaml",
    "data.json",
    "result.json",
    "stage1.json",
    "static_memory.safetensors",
    "experts",
    "checkpoint.safetensors",
    "synthetic_set.safetensors",
    "preview.safetensors",
)
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")
#: MovingShapes arguments the pipeline sets itself (``data.options`` may not repeat them).
_DATA_OWN = ("split", "frames", "size", "videos_per_class", "seed")


class _Ledger(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    files: list[StrictStr]


class Stage1Record(BaseModel):
    """``stage1.json``: how long stage 1 took and which inputs produced the saved static memory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seconds: float = Field(ge=0)
    static: dict[str, Any]
    seed: StrictInt
    key: StrictStr | None = None

    @model_validator(mode="after")
    def _finite(self) -> Stage1Record:
        if self.seconds != self.seconds or self.seconds == float("inf"):
            raise ValueError(f"seconds must be finite, got {self.seconds}")
        return self


class ResultRecord(BaseModel):
    """``result.json``: the digest of the configuration that produced it and the result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: StrictStr
    result: dict[str, Any]


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:  # size and mtime: a rewritten file is read again
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    stat = path.stat()
    return _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def content_id(path: str) -> str | dict[str, str]:
    """What a run reads at ``path``, by content: a file's SHA-256, or a trajectory folder's files and theirs.

    A folder counts by its trajectory files (``expert_K.safetensors``, ``replay_buffer_N.pt``: what
    ``distill.mtt.buffer_path`` reads). A path that does not exist stays as it is (the stage that reads it
    names the problem). Each file is read once per process while its size and modification time stay.
    """
    p = Path(path)
    if p.is_file():
        return _sha256(p)
    if p.is_dir():
        return {f.name: _sha256(f) for f in expert_files(p) + published_files(p)}
    return path


def keyed_config(cfg: PipelineConfig) -> dict[str, Any]:
    """``cfg`` as JSON, with the artifacts it reads from elsewhere identified by content (:func:`content_id`)."""
    dump = cfg.model_dump(mode="json")
    if cfg.static.method == "load" and cfg.static.path is not None:
        dump["static"]["path"] = content_id(cfg.static.path)
    if cfg.distill.mtt.buffer_path is not None:
        dump["distill"]["mtt"]["buffer_path"] = content_id(cfg.distill.mtt.buffer_path)
    # options at their defaults leave the keys as they were before the options existed
    for name, default in (("formation", 1), ("static_size", None), ("dynamic_size", None), ("warp_padding", "border")):
        if dump["synthetic"][name] == default:
            del dump["synthetic"][name]
    return dump


def stage_keys(cfg: PipelineConfig) -> dict[str, str]:
    """The key of each stage: a digest of exactly the configuration it depends on (:func:`keyed_config`).

    Returns:
        ``{"stage1": ..., "stage2": ..., "result": ...}`` (``result``: the whole configuration).
    """
    dump = keyed_config(cfg)
    stage1 = {"data": dump["data"], "static": dump["static"], "seed": cfg.seed}
    stage2 = {k: v for k, v in dump.items() if k not in ("name", "evaluation", "checkpoint_every")}
    return {"stage1": _digest(stage1), "stage2": _digest(stage2), "result": _digest(dump)}


def _read_json(path: Path, model: type[BaseModel]) -> Any:
    """Read and validate one of our JSON records; damage is a :class:`ConfigError` naming file and field."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{str(path)!r} must be a JSON file written by the pipeline, got: {exc}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{str(path)!r} is damaged: {format_validation_error(model, exc)}") from None


def read_stage1_record(path: Path) -> Stage1Record:
    """The validated ``stage1.json`` at ``path``."""
    record: Stage1Record = _read_json(path, Stage1Record)
    return record


def read_result_record(path: Path) -> ResultRecord:
    """The validated ``result.json`` at ``path`` (its ``result`` part is checked by the caller)."""
    record: ResultRecord = _read_json(path, ResultRecord)
    return record


def check_folder(out: Path) -> None:
    """Refuse an ``out_dir`` that is a file or holds anything this pipeline did not write (named)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out_dir {str(out)!r} must be a folder, got an existing file")
    if not out.is_dir():
        return
    owned: set[str] = set()
    ledger = out / LEDGER
    if ledger.exists():
        owned = set(_read_json(ledger, _Ledger).files)
    foreign = []
    for entry in sorted(out.iterdir()):
        name = entry.name
        match = _TMP_RE.match(name)
        if name == LEDGER or name in owned or (match is not None and match.group("name") in owned | {LEDGER}):
            continue
        foreign.append(name)
    if foreign:
        more = f" and {len(foreign) - 10} more" if len(foreign) > 10 else ""
        raise ConfigError(
            f"out_dir {str(out)!r} holds files this pipeline did not write: {foreign[:10]}{more}; nothing was "
            "written. Use a new or empty out_dir (a run only writes into a folder it created or claimed)"
        )


def claim_folder(out: Path) -> None:
    """Write the ledger (before any other file of the run) and remove leftovers of killed writes."""
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_Ledger(files=list(CLAIMED)).model_dump(), indent=2)

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    atomic_write(out / LEDGER, write)
    for name in (*CLAIMED, LEDGER):
        remove_stale_temporaries(out, name)
    if (out / "experts").is_dir():
        remove_stale_temporaries(out / "experts")


def check_data_options(options: dict[str, Any]) -> None:
    """``data.options`` must be MovingShapes arguments the pipeline does not set itself."""
    valid = [p for p in inspect.signature(MovingShapes).parameters if p not in _DATA_OWN]
    unknown = sorted(k for k in options if k not in valid)
    if unknown:
        raise ConfigError(f"data.options has unknown MovingShapes argument(s) {unknown}; valid: {valid}")


def plan_existing(cfg: PipelineConfig, out: Path) -> dict[str, bool]:
    """Validate the files an earlier run left in ``out`` and decide what to reuse.

    Returns:
        ``{"discard_checkpoint": bool}``: an unfinished stage-2 checkpoint of another configuration.

    Raises:
        ConfigError: A damaged record or checkpoint (named), a hand-edited iteration beyond the run, or a
            finished stage of another configuration (``out_dir`` holds a run of another configuration).
    """
    keys = stage_keys(cfg)
    plan = {"discard_checkpoint": False}
    side, memory = out / "stage1.json", out / "static_memory.safetensors"
    uses_stage1 = cfg.synthetic.kind in ("static_dynamic", "static_only") and cfg.static.method in ("dc", "dm")
    if side.is_file():
        record = read_stage1_record(side)
        if uses_stage1 and memory.is_file() and record.key != keys["stage1"]:
            raise ConfigError(
                f"out_dir {str(out)!r} holds a finished stage 1 of another configuration ({str(memory)!r}: "
                "data, static or seed differ); use a new out_dir or delete the old run"
            )
    result = out / "result.json"
    if result.is_file():
        read_result_record(result)
    ckpt = out / "checkpoint.safetensors"
    if ckpt.is_file():
        header = read_checkpoint_header(ckpt)
        if header.meta.get("config") == keys["stage2"]:
            if header.iteration > cfg.distill.iterations:
                raise ConfigError(
                    f"checkpoint {str(ckpt)!r} has iteration {header.iteration}, more than distill.iterations "
                    f"({cfg.distill.iterations}) of this configuration: the file was edited by hand"
                )
        elif (out / "synthetic_set.safetensors").is_file():
            raise ConfigError(
                f"out_dir {str(out)!r} holds a finished stage 2 of another configuration ({str(ckpt)!r}); "
                "use a new out_dir or delete the old run"
            )
        else:
            plan["discard_checkpoint"] = True
    return plan


def check_buildable(cfg: PipelineConfig, channels: int, num_classes: int, size: tuple[int, int], frames: int) -> None:
    """Every network the run will build can be built (names and ``model_kwargs``) and takes its inputs.

    Each network is built on the meta device and given one meta batch of the shape it will see (stage 1:
    images ``[2, C, H, W]``; the student: clips of ``frames / distill.segments`` frames; evaluation: whole
    clips), so an image model asked to evaluate videos fails here, not after stage 2. Nothing is allocated.
    """
    wanted: list[tuple[str, str, dict[str, Any], dict[str, Any], tuple[int, ...]]] = []
    if cfg.synthetic.kind in ("static_dynamic", "static_only") and cfg.static.method in ("dc", "dm"):
        wanted.append(("static", cfg.static.model, cfg.static.model_kwargs, {}, (2, channels, *size)))
    if cfg.distill.method != "none":
        student = frames // cfg.distill.segments
        shape = (2, student, channels, *size)
        wanted.append(("distill", cfg.distill.model, cfg.distill.model_kwargs, {"frames": student}, shape))
    if cfg.synthetic.kind in ("kcenter", "herding"):  # the coreset's embedding network sees whole clips
        shape = (2, frames, channels, *size)
        wanted.append(("distill", cfg.distill.model, cfg.distill.model_kwargs, {"frames": frames}, shape))
    shape = (2, frames, channels, *size)
    wanted.append(("evaluation", cfg.evaluation.model, cfg.evaluation.model_kwargs, {"frames": frames}, shape))
    for section, name, kwargs, extra, inputs in wanted:
        try:
            net = get_model(
                name, channels=channels, num_classes=num_classes, size=size, seed=0, device="meta", **extra, **kwargs
            )
        except TemporalCondenseError as exc:
            raise ConfigError(f"{section}.model {name!r} with {section}.model_kwargs {kwargs}: {exc}") from None
        except TypeError as exc:
            raise ConfigError(f"{section}.model_kwargs {kwargs} do not fit model {name!r}: {exc}") from None
        try:
            net(torch.empty(inputs, device="meta"))
        except (TemporalCondenseError, RuntimeError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"{section}.model {name!r} cannot take the inputs of this run, shape {list(inputs)}: {reason}"
            ) from None


def discard_checkpoint(out: Path) -> None:
    """Remove an unfinished stage-2 checkpoint of another configuration (ours, by the ledger)."""
    ckpt = out / "checkpoint.safetensors"
    logger.warning("stage 2: discarding %s (an unfinished run of another configuration)", ckpt)
    ckpt.unlink()
