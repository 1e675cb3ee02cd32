"""Trajectory matching (MTT) for synthetic video sets: experts, functional student, matching loss.

See ``docs/experts.md`` and ``docs/mtt.md``.
"""

from __future__ import annotations

from temporal_condense.mtt.buffer import (
    ExpertBuffer,
    ExpertWindow,
)
from temporal_condense.mtt.distributed import (
    all_reduce_grads,
    all_reduce_mean,
    barrier,
    get_rank,
    get_world_size,
    init_distributed,
    is_distributed,
    shard_indices,
)
from temporal_condense.mtt.experts import (
    EXPERT_KIND,
    ExpertConfig,
    ExpertTrajectory,
    PublishedTrajectory,
    convert_published_buffer,
    expert_path,
    expert_seed,
    load_expert,
    read_published_buffer,
    save_expert,
    train_experts,
)
from temporal_condense.mtt.matching import (
    MODES,
    TrajectoryMatcher,
    TrajectoryMatchingConfig,
    clamp_after_step,
    make_syn_lr,
    trajectory_matching_loss,
)
from temporal_condense.mtt.student import (
    FlatStudent,
    flatten_params,
)

__all__ = [
    "EXPERT_KIND",
    "MODES",
    "ExpertBuffer",
    "ExpertConfig",
    "ExpertTrajectory",
    "ExpertWindow",
    "FlatStudent",
    "PublishedTrajectory",
    "TrajectoryMatcher",
    "TrajectoryMatchingConfig",
    "all_reduce_grads",
    "all_reduce_mean",
    "barrier",
    "clamp_after_step",
    "convert_published_buffer",
    "expert_path",
    "expert_seed",
    "flatten_params",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_distributed",
    "load_expert",
    "make_syn_lr",
    "read_published_buffer",
    "save_expert",
    "shard_indices",
    "train_experts",
    "trajectory_matching_loss",
]
