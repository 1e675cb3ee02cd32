"""The two-stage pipeline: stage 1 (static memory) -> stage 2 (dynamic memory) -> evaluation.

One :class:`PipelineConfig` (pydantic, frozen, readable and writable as YAML) describes a whole run:
the data, stage 1 (distill ``static_per_class`` images per class from single frames, or load them), the
synthetic set (static-dynamic, the plain baseline, static memory only, random real videos or the full
data), stage 2 (DM or MTT matching of the trainable parts, SGD with one learning rate per part) and the
evaluation protocol. :func:`run_pipeline` runs it into a folder:

* ``config.yaml`` -- the configuration;
* ``static_memory.safetensors`` (+ ``stage1.json``) -- the stage-1 result, reused when present;
* ``experts/`` -- MTT expert trajectories (resumable, reused);
* ``checkpoint.safetensors`` -- written atomically every ``checkpoint_every`` stage-2 iterations: the
  synthetic set's tensors, the optimizer state, the learnable ``syn_lr``, torch's global RNG state, the
  state of the pipeline's ``torch.Generator``, Python's ``random`` state, the iteration and the loss
  history. A run killed at any point restarts from the last checkpoint and ends with the same numbers as an
  uninterrupted run with the same seed (every random draw of an iteration comes from those saved states or
  from seeds derived from ``(seed, iteration)``);
* ``synthetic_set.safetensors`` -- the final synthetic set (``SyntheticSet.save``);
* ``result.json`` -- accuracies, storage and times (:class:`PipelineResult`).

Layout (one module per part): :mod:`~temporal_condense.pipeline.config` (the schema),
:mod:`~temporal_condense.pipeline.methods` (table rows), :mod:`~temporal_condense.pipeline.data` (the real
data), :mod:`~temporal_condense.pipeline.stages` (stage 1, the training set, the experts, stage 2),
:mod:`~temporal_condense.pipeline.checkpoint` (resumable state), :mod:`~temporal_condense.pipeline.run`
(:func:`run_pipeline`), :mod:`~temporal_condense.pipeline.report` (results, previews, tables) and
:mod:`~temporal_condense.pipeline.loggers` (metrics to TensorBoard / Weights & Biases),
:mod:`~temporal_condense.pipeline.sweep` (:func:`run_sweep`: a grid of settings on validation clips),
:mod:`~temporal_condense.pipeline.quickstart` (the quickstart) and :mod:`~temporal_condense.pipeline.cli` (the
``temporal-condense`` command).

Example:
    >>> cfg = PipelineConfig(name="demo", synthetic={"kind": "static_dynamic"}, distill={"method": "DM"})
    >>> PipelineConfig.from_yaml(cfg.to_yaml()) == cfg
    True
"""

from __future__ import annotations

from temporal_condense.pipeline.checkpoint import CHECKPOINT_KIND, load_checkpoint, save_checkpoint
from temporal_condense.pipeline.config import (
    DATASETS,
    DataSpec,
    DistillSpec,
    EvaluationSpec,
    ExpertSpec,
    FRePoSpec,
    MTTSpec,
    PipelineConfig,
    SetKind,
    StaticSpec,
    SyntheticSpec,
)
from temporal_condense.pipeline.loggers import tensorboard_logger
from temporal_condense.pipeline.methods import METHODS, method_config
from temporal_condense.pipeline.report import (
    PREVIEW_KIND,
    TABLE_COLUMNS,
    PipelineResult,
    format_table,
    load_preview,
    pool_results,
    write_table,
)
from temporal_condense.pipeline.run import Logger, run_pipeline
from temporal_condense.pipeline.sweep import SweepRow, run_sweep

__all__ = [
    "CHECKPOINT_KIND",
    "DATASETS",
    "METHODS",
    "PREVIEW_KIND",
    "TABLE_COLUMNS",
    "DataSpec",
    "DistillSpec",
    "EvaluationSpec",
    "ExpertSpec",
    "FRePoSpec",
    "Logger",
    "MTTSpec",
    "PipelineConfig",
    "PipelineResult",
    "SetKind",
    "StaticSpec",
    "SweepRow",
    "SyntheticSpec",
    "format_table",
    "load_checkpoint",
    "load_preview",
    "method_config",
    "pool_results",
    "run_pipeline",
    "run_sweep",
    "save_checkpoint",
    "tensorboard_logger",
    "write_table",
]
