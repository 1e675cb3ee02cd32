"""Benchmark: the quickstart's table with more evaluation runs and a second evaluator (docs/results.md).

Every row of the quickstart plus the FRePo, coreset and the paper's static-dynamic rows (DM+SD, MTT+SD; same
data, same stages, same sets) is evaluated by the benchmark's student, ConvNet3D, and then the *same* sets are
re-evaluated by a per-frame ConvNet + GRU (the paper's cross-architecture check). The targets are checked for
each evaluator. Writes the tables into ``--out/table_<evaluator>/`` and the runs and previews into ``--out``
(default ``outputs/benchmark/``); re-running resumes (a row whose only change is the evaluator is re-evaluated,
not re-distilled).

Usage::

    python examples/benchmark.py                  # test split, 8 runs per row (<= 60 minutes on 2 CPU cores)
    python examples/benchmark.py --validation     # held-out training clips (tuning)
    python examples/benchmark.py --formation      # also the multi-formation rows (random_real+MF, DM+MF, MTT+MF)
    python examples/benchmark.py --methods random_real DM+MF   # only these rows (and the rows they reuse)
    python examples/benchmark.py --texture photo  # shapes that show real photographs (needs scikit-image)
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from temporal_condense.pipeline import METHODS, format_table, write_table
from temporal_condense.pipeline.quickstart import (
    FORMATION_METHODS,
    SECOND_EVALUATOR,
    TEXTURES,
    VIDEO_MODEL,
    base_config,
    check_targets,
    run_table,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/benchmark"), help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    parser.add_argument("--runs", type=int, default=8, help="evaluation runs per row and evaluator")
    parser.add_argument("--validation", action="store_true", help="evaluate on held-out training clips")
    parser.add_argument("--fast", action="store_true", help="a tiny run (seconds) to check the installation")
    parser.add_argument("--formation", action="store_true", help="also the multi-formation rows")
    parser.add_argument(
        "--texture", choices=TEXTURES, default="flat", help="photo: each shape shows a real photograph (scikit-image)"
    )
    parser.add_argument(
        "--methods", nargs="+", choices=METHODS, metavar="ROW", help=f"only these rows, of {', '.join(METHODS)}"
    )
    args = parser.parse_args(argv)
    if args.methods:
        methods = tuple(m for m in METHODS if m in args.methods)
    else:
        methods = tuple(m for m in METHODS if args.formation or m not in FORMATION_METHODS)
    logging.basicConfig(level=logging.WARNING)
    start = time.perf_counter()
    base = base_config(args.seed, args.fast, args.validation, args.texture)
    evaluators = {"ConvNet3D": VIDEO_MODEL, "VideoConvNetGRU": SECOND_EVALUATOR}
    if args.fast:  # the smoke configuration's per-frame model stands in for both
        evaluators = {
            name: {"model": base.evaluation.model, "model_kwargs": base.evaluation.model_kwargs} for name in evaluators
        }
    for name, model in evaluators.items():
        cfg = base.replace(evaluation={"runs": args.runs, **model})
        results = run_table(
            cfg, args.out, progress=False, log_line=lambda line: print(line, flush=True), methods=methods
        )
        rows = list(results.values())
        paths = write_table(rows, args.out / f"table_{name}")
        print(f"\nevaluator {name} ({rows[0].split} clips): {paths['markdown']}")
        print(format_table(rows, "text"))
        for target, ok in check_targets(results):
            print(f"  [{'x' if ok else ' '}] {target}")
        print(flush=True)
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
