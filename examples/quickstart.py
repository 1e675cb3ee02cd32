"""Quickstart: the whole method on the built-in motion benchmark (MovingShapes), on a CPU, in minutes.

A thin wrapper around :func:`temporal_condense.pipeline.quickstart.main` (the settings live there). Runs
stage 1 (static memory from single frames) -> stage 2 (dynamic memory) -> evaluation for every row of the
comparison table and writes the table, pictures and every run's folder into ``--out`` (default
``outputs/quickstart/``).

Usage::

    python examples/quickstart.py                 # the full table (<= 10 minutes on 2 idle CPU cores)
    python examples/quickstart.py --fast          # a seconds-long smoke run (used by the test suite)
    python examples/quickstart.py --validation    # tuning mode: held-out training clips, never the test split
    python examples/quickstart.py --out runs/qs --seed 1 --no-progress
"""

from __future__ import annotations

import sys

from temporal_condense.pipeline.quickstart import main

if __name__ == "__main__":
    sys.exit(main())
