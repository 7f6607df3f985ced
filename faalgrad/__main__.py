"""Command line: ``python -m faalgrad run ...`` and ``python -m faalgrad table1 ...``."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from faalgrad.datasets import DATASETS
from faalgrad.metrics import aggregate, mean_std
from faalgrad.nash import nash_config
from faalgrad.runs import (
    METHODS,
    SETUPS,
    RunSpec,
    run_grid,
    setup_fields,
    table1_specs,
)
from faalgrad.splits import DIRECTIONS
from faalgrad.studies.table1 import format_table, table1
from faalgrad.validation import check_choice, check_seeds

#: The output formats of ``--format``.
FORMATS = ("table", "csv", "json")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _integer(text: str, minimum: int | None = None, nonzero: bool = False) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise argparse.ArgumentTypeError(
            f"{value} must be {'a positive' if minimum == 1 else 'a non-negative'} integer"
        )
    if nonzero and value == 0:
        raise argparse.ArgumentTypeError(
            "0 is not a number of workers; use a non-zero integer (-1 = all cores)"
        )
    return value


def _positive_int(text: str) -> int:
    return _integer(text, minimum=1)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m faalgrad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _Parser(add_help=False)
    seeds = common.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seeds", type=_positive_int, default=5, help="number of seeds 0..N-1 (default 5)"
    )
    seeds.add_argument(
        "--seed", type=lambda t: _integer(t, minimum=0), default=None, help="one given seed S"
    )
    common.add_argument(
        "--epochs", type=_positive_int, default=None, help="override the preset's max epochs"
    )
    common.add_argument(
        "--exclude-protected",
        action="store_true",
        help="leave the protected attribute out of the inputs",
    )
    common.add_argument(
        "--n-jobs",
        type=lambda t: _integer(t, nonzero=True),
        default=-1,
        help="parallel workers (joblib; -1 = all cores, the default)",
    )
    common.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on a Dask cluster: its scheduler's address, e.g. tcp://scheduler-host:8786",
    )
    common.add_argument("--format", default="table", help="table, csv or json")

    r = sub.add_parser("run", parents=[common], help="one method on one dataset, over seeds")
    r.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS)}")
    r.add_argument("--method", default="faalgrad", help=", ".join(METHODS))
    r.add_argument("--split", default="config1", help="config1, config2, ratio, swap")
    r.add_argument("--ratio", default=None, help="X_s share for ratio/swap, e.g. 0.2 or 80:20")
    r.add_argument("--inner-steps", type=_positive_int, default=1)
    r.add_argument("--first-order", action="store_true", help="first-order meta-gradient")
    r.add_argument(
        "--direction",
        default="counter",
        choices=DIRECTIONS,
        help="Config 2: the cells in X_q, counter-stereotypical (default) or stereotype-consistent",
    )
    r.add_argument(
        "--setup",
        default="paper",
        choices=SETUPS,
        help="paper (default) or code: the authors' released script replayed (FaAlGrad on COMPAS)",
    )

    t = sub.add_parser(
        "table1", parents=[common], help="the paper's Table 1, paper numbers beside ours"
    )
    t.add_argument(
        "--datasets", nargs="+", default=list(DATASETS), help=f"subset of {', '.join(DATASETS)}"
    )
    return parser


def _emit(df: pd.DataFrame, fmt: str) -> None:
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        sys.stdout.write(df.to_json(orient="records", indent=1) + "\n")
    else:
        with pd.option_context("display.width", 250, "display.max_columns", 50):
            print(df.to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        check_choice("format", args.format, FORMATS)
        seed_list = [args.seed] if args.seed is not None else list(range(check_seeds(args.seeds)))
        overrides = {} if args.epochs is None else {"max_epochs": args.epochs}
        include = not args.exclude_protected
        if args.command == "run":
            if (
                args.epochs is not None
                and METHODS.get(args.method)
                and METHODS[args.method].config is nash_config
            ):
                # Nash-style methods run a fixed number of epochs, bargaining in the first ones.
                bargain = min(nash_config(args.dataset).bargain_epochs, args.epochs)
                overrides = {"epochs": args.epochs, "bargain_epochs": bargain}
            if args.first_order:
                overrides["first_order"] = True
            fields = setup_fields(args.setup, args.dataset, args.method)
            overrides = {**fields.pop("overrides", {}), **overrides}
            specs = [
                RunSpec(
                    args.dataset,
                    args.method,
                    split=args.split,
                    ratio=args.ratio,
                    inner_steps=args.inner_steps,
                    seed=s,
                    include_protected=include,
                    overrides=overrides,
                    direction=args.direction,
                    **fields,
                )
                for s in seed_list
            ]
            rows = run_grid(specs, n_jobs=args.n_jobs, scheduler=args.scheduler)
            if args.format == "table":
                agg = aggregate(rows, ["dataset", "label", "inner_steps"])
                out = agg[["dataset", "label", "inner_steps", "n_seeds"]].copy()
                for m in (
                    "accuracy",
                    "dp_diff",
                    "eod_diff",
                    "dp_ratio",
                    "eod_ratio",
                    "auc",
                    "auc_gap",
                    "auc_worst",
                ):
                    out[m] = [
                        mean_std(a, b, 3)
                        for a, b in zip(agg[f"{m}_mean"], agg[f"{m}_std"], strict=True)
                    ]
                _emit(out, "table")
            else:
                _emit(rows, args.format)
        else:
            specs = table1_specs(
                args.datasets, max(seed_list) + 1, include_protected=include, **overrides
            )
            specs = [s for s in specs if s.seed in seed_list]
            table = table1(run_grid(specs, n_jobs=args.n_jobs, scheduler=args.scheduler))
            _emit(format_table(table) if args.format == "table" else table, args.format)
    except ValueError as err:
        print(f"python -m faalgrad: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
