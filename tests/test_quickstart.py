"""The quickstart's target checks: 'beats' means the difference of means exceeds the larger std."""

from __future__ import annotations

from temporal_condense.pipeline import PipelineResult
from temporal_condense.pipeline.quickstart import CORE_METHODS, beats, check_targets


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
