"""The ``temporal-condense`` command: run a config, tabulate finished runs, sweep a grid, run the quickstart.

Usage::

    temporal-condense run CONFIG --out DIR      # CONFIG: a YAML file or the name of a shipped config
    temporal-condense table DIR [DIR ...]       # one row per finished run (its result.json)
    temporal-condense sweep CONFIG --out DIR --grid 'distill.lr.videos=[10, 100]' [--grid ...]
                                                # every point on validation clips, every setting recorded
    temporal-condense quickstart [--fast]       # the built-in benchmark, every method (see the quickstart)
    temporal-condense configs                   # the shipped configs, one per line
    temporal-condense --help                    # also lists the shipped configs

The shipped configs (the published settings, ``temporal_condense/configs/*.yaml``) are package data, so an
installed wheel runs them by name: ``temporal-condense run miniucf_dm_sd_vpc1 --out runs/dm_sd`` (with the
data in the published layout under the config's ``data.root``; ``--root`` overrides it).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import yaml

from temporal_condense.errors import ConfigError, TemporalCondenseError
from temporal_condense.pipeline.config import PipelineConfig
from temporal_condense.pipeline.guard import read_result_record
from temporal_condense.pipeline.quickstart import main as quickstart_main
from temporal_condense.pipeline.report import PipelineResult, format_table
from temporal_condense.pipeline.run import run_pipeline
from temporal_condense.pipeline.sweep import format_sweep, run_sweep

__all__ = ["config_path", "main", "shipped_configs"]


def shipped_configs() -> list[str]:
    """Names of the configs shipped with the package (``temporal_condense/configs/<name>.yaml``), sorted.

    Example:
        >>> "miniucf_dm_sd_vpc1" in shipped_configs()
        True
    """
    folder = resources.files("temporal_condense") / "configs"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def config_path(name: str) -> Path:
    """The YAML file of ``name``: an existing path, else a shipped config (with or without ``.yaml``).

    Raises:
        ConfigError: Neither a file nor a shipped config (the message lists the shipped ones).
    """
    path = Path(name)
    if path.is_file():
        return path
    stem = name.removesuffix(".yaml")
    if stem in shipped_configs():
        return Path(str(resources.files("temporal_condense") / "configs" / f"{stem}.yaml"))
    raise ConfigError(f"config must be a YAML file or a shipped config ({', '.join(shipped_configs())}), got {name!r}")


def _parser() -> argparse.ArgumentParser:
    epilog = "shipped configs (temporal-condense run NAME --out DIR):\n  " + "\n  ".join(shipped_configs())
    parser = argparse.ArgumentParser(
        prog="temporal-condense",
        description="Temporal condensation for video dataset distillation: stage 1 -> stage 2 -> evaluation.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,table,sweep,quickstart,configs}")
    run = sub.add_parser("run", help="run one config into a folder (resumes what is there)")
    run.add_argument("config", help="a YAML file or the name of a shipped config")
    run.add_argument("--out", required=True, type=Path, help="output folder")
    run.add_argument("--root", help="override data.root (where the dataset lives)")
    run.add_argument("--seed", type=int, help="override the config's seed")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    table = sub.add_parser("table", help="one row per finished run folder")
    table.add_argument("dirs", nargs="+", type=Path, help="run folders (holding result.json)")
    table.add_argument("--format", choices=("text", "markdown", "csv"), default="text")
    sweep = sub.add_parser(
        "sweep", help="run a config at every point of a grid, on validation clips, recording every setting tried"
    )
    sweep.add_argument("config", help="a YAML file or the name of a shipped config")
    sweep.add_argument("--out", required=True, type=Path, help="the sweep's folder (one run folder per point)")
    sweep.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="KEY=[V1, V2]",
        help="a dotted config key and a YAML list of its values (repeat for more keys; every combination runs)",
    )
    sweep.add_argument(
        "--validation-per-class",
        type=int,
        help="override data.validation_per_class (training clips per class held out as the validation split)",
    )
    sweep.add_argument("--allow-test", action="store_true", help="sweep on the test split anyway (not for tuning)")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bars")
    # the quickstart parses its own options (--fast, --out, --seed, --no-progress, --help)
    sub.add_parser("quickstart", help="the quickstart: every method on the built-in dataset", add_help=False)
    sub.add_parser("configs", help="list the shipped configs")
    return parser


def _run(args: argparse.Namespace) -> int:
    cfg = PipelineConfig.load_yaml(config_path(args.config))
    changes: dict[str, object] = {}
    if args.root is not None:
        changes["data"] = {"root": args.root}
    if args.seed is not None:
        changes["seed"] = args.seed
    if changes:
        cfg = cfg.replace(**changes)
    progress = not args.no_progress and sys.stderr.isatty()
    result = run_pipeline(cfg, args.out, progress=progress)
    print(format_table([result], "text"), end="")
    print(f"written to {args.out}/")
    return 0


def _grid(items: Sequence[str]) -> dict[str, list[object]]:
    """``["distill.iterations=[50, 100]", ...]`` -> ``{"distill.iterations": [50, 100], ...}`` (YAML values)."""
    grid: dict[str, list[object]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        key = name.strip()
        try:
            values = yaml.safe_load(text) if sep else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--grid {item!r}: the values must be a YAML list ({exc})") from None
        if not isinstance(values, list):
            raise ConfigError(f"--grid must be KEY=[V1, V2, ...] (a YAML list of values), got {item!r}")
        if key in grid:
            raise ConfigError(f"--grid gives {key!r} twice")
        grid[key] = values
    return grid


def _sweep(args: argparse.Namespace) -> int:
    cfg = PipelineConfig.load_yaml(config_path(args.config))
    if args.validation_per_class is not None:
        cfg = cfg.replace(data={"validation_per_class": args.validation_per_class})
    progress = not args.no_progress and sys.stderr.isatty()
    rows = run_sweep(cfg, _grid(args.grid), args.out, progress=progress, allow_test=args.allow_test, log_line=print)
    print(format_sweep(rows), end="")
    print(f"written to {args.out}/ (sweep.json, sweep.md, one run folder per point)")
    return 0


def _table(args: argparse.Namespace) -> int:
    results = []
    for folder in args.dirs:
        path = folder / "result.json"
        if not path.is_file():
            raise ConfigError(f"{str(folder)!r} holds no result.json (not a finished run)")
        results.append(PipelineResult.from_dict(read_result_record(path).result))
    print(format_table(results, args.format), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``temporal-condense`` console script; returns the exit status.

    A :class:`~temporal_condense.errors.TemporalCondenseError` (a bad config, a missing file) is printed as one
    line on stderr with status 2, not a traceback.
    """
    parser = _parser()
    args, rest = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if rest and args.command != "quickstart":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    logging.basicConfig(level=logging.WARNING)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "table":
            return _table(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "configs":
            print("\n".join(shipped_configs()))
            return 0
        return quickstart_main(rest)
    except TemporalCondenseError as exc:
        print(f"temporal-condense: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
