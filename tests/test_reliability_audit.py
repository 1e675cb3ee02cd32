"""The reliability audit (benchmarks/reliability_audit.py) as a regression guard: every case is named or right."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_every_audit_case_is_a_named_error_or_the_right_result() -> None:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "reliability_audit.py"
    spec = importlib.util.spec_from_file_location("reliability_audit", path)
    assert spec is not None and spec.loader is not None
    audit = importlib.util.module_from_spec(spec)
    sys.modules["reliability_audit"] = audit
    try:
        spec.loader.exec_module(audit)
        outcomes = {name: audit.classify(fn, wrong) for name, fn, wrong in audit.CASES}
    finally:
        sys.modules.pop("reliability_audit", None)
        import shutil

        shutil.rmtree(audit.ROOT, ignore_errors=True)
    bad = {name: o for name, o in outcomes.items() if o[0] not in ("named", "correct")}
    assert len(outcomes) > 250
    assert not bad, bad
