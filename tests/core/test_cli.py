import json
import subprocess
import sys

import pytest

from faalgrad.__main__ import main


def _cli(*args):
    """The real entry point, in a new interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "faalgrad", *args], capture_output=True, text=True, timeout=300
    )


def _main_status(args, capsys) -> tuple[int, str]:
    """``main(args)`` in this process: its exit status and stderr.

    argparse's own errors exit too; their status is returned likewise.
    """
    try:
        status = main(args)
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    "args, needle",
    [
        (
            ["run", "--dataset", "nope"],
            "unknown dataset 'nope'; valid choices: compas, adult, communities, german",
        ),
        (["run", "--dataset", "german", "--method", "magic"], "unknown method 'magic'"),
        (["run", "--dataset", "german", "--split", "config9"], "unknown split 'config9'"),
        (["run", "--dataset", "german", "--seeds", "0"], "must be a positive integer"),
        (["run", "--dataset", "german", "--epochs", "-3"], "must be a positive integer"),
        (
            ["run", "--dataset", "adult", "--split", "ratio", "--ratio", "50:50"],
            "largest feasible ratio is 0.33",
        ),
        (["table1", "--datasets", "german", "mars"], "unknown dataset 'mars'"),
        (["table1", "--format", "xml"], "unknown format 'xml'"),
        (
            ["run", "--dataset", "german", "--n-jobs", "0"],
            "argument --n-jobs: 0 is not a number of workers",
        ),
        (["run", "--dataset", "german", "--seed", "-1"], "must be a non-negative integer"),
        (
            ["run", "--dataset", "german", "--seed", "1", "--seeds", "2"],
            "not allowed with argument",
        ),
        (
            ["run", "--dataset", "german", "--split", "ratio", "--ratio", "abc"],
            "0.2 or look like '80:20'",
        ),
    ],
)
def test_errors_exit_nonzero_with_one_line(args, needle, capsys):
    status, err = _main_status(args, capsys)
    assert status == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert "Traceback" not in err


def test_run_json_rows(capsys):
    assert (
        main(
            [
                "run",
                "--dataset",
                "german",
                "--seeds",
                "2",
                "--epochs",
                "3",
                "--format",
                "json",
                "--n-jobs",
                "1",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [r["seed"] for r in rows] == [0, 1]
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["method"] == "faalgrad" for r in rows)


def test_table1_csv_has_paper_and_ours(capsys):
    assert (
        main(
            [
                "table1",
                "--datasets",
                "german",
                "--seeds",
                "1",
                "--epochs",
                "3",
                "--format",
                "csv",
                "--n-jobs",
                "1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    header = out[0].split(",")
    assert {"accuracy_paper", "accuracy_mean", "dp_diff_diff", "eod_diff_std"} <= set(header)
    assert len(out) == 1 + 8


def test_n_jobs_zero_is_refused_before_any_work():
    proc = _cli("run", "--dataset", "german", "--n-jobs", "0")
    assert proc.returncode == 2 and "runs:" not in proc.stderr  # no progress bar started
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_decimal_ratio_and_the_suggested_ratio_are_accepted(capsys):
    status, err = _main_status(
        ["run", "--dataset", "german", "--split", "ratio", "--ratio", "0.5"], capsys
    )
    assert status == 2
    suggested = err.split("largest feasible ratio is ")[1].split()[0]
    for ratio in ("0.2", suggested):
        assert (
            main(
                [
                    "run",
                    "--dataset",
                    "german",
                    "--split",
                    "ratio",
                    "--ratio",
                    ratio,
                    "--seed",
                    "0",
                    "--epochs",
                    "2",
                    "--format",
                    "json",
                    "--n-jobs",
                    "1",
                ]
            )
            == 0
        )
        rows = json.loads(capsys.readouterr().out)
        assert rows[0]["ratio"] == pytest.approx(float(ratio))


def test_one_given_seed(capsys):
    assert (
        main(
            [
                "run",
                "--dataset",
                "german",
                "--seed",
                "3",
                "--epochs",
                "2",
                "--format",
                "json",
                "--n-jobs",
                "1",
            ]
        )
        == 0
    )
    assert [r["seed"] for r in json.loads(capsys.readouterr().out)] == [3]
