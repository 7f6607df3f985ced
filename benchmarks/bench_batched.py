"""Seeds trained together vs one at a time, and how far a step is from the machine's limit.

For each dataset, in one process on one torch thread, the runs of 10 seeds (seed s on the
split of seed s, Table 1's settings) trained one at a time (each a batch of one, as
``train_erm`` / ``train_faalgrad`` do) and as one batch (:mod:`faalgrad.batched`): the
baseline MLP (up to 1,000 epochs), FaAlGrad Config 1 with I = 1 and I = 10, and the
Nash-style method Nash-gDRO at the authors' schedule (50 epochs, 15 bargaining;
:func:`~faalgrad.nash.train_nash_batch`). Both give the same runs bit for bit (checked here
too). A run alone trains beside a passenger copy (see :mod:`faalgrad.batched`), so "alone"
is what one run costs through the single-run API. Then two distances to the limit:

- Adult: one batched ERM epoch per seed (set-up excluded) against the time to stream that
  seed's training matrix once from memory (its CSR arrays, at the bandwidth of a large
  ``torch.sum``);
- COMPAS: one batched FaAlGrad meta-step (I = 1) per seed (set-up excluded, validation
  included) against its arithmetic
  (matrix-product FLOPs counted by ``torch.utils.flop_counter``) at the throughput of a
  large float32 matrix product on this machine.

    python benchmarks/bench_batched.py [--seeds 10] [--datasets compas german]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from faalgrad import batched
from faalgrad.batched import ErmTask, MetaTask, train_erm_batch, train_faalgrad_batch
from faalgrad.datasets import DATASETS
from faalgrad.nash import NashConfig, NashTask, nash_config, train_nash_batch
from faalgrad.presets import erm_config, faalgrad_config
from faalgrad.runs import cached_split
from faalgrad.splits import support_query
from faalgrad.train import SparseRows, as_inputs, build_mlp, meta_gradient


def _erm_tasks(dataset: str, seeds: int) -> list[ErmTask]:
    tasks = []
    for seed in range(seeds):
        d = cached_split(dataset, seed)
        tasks.append(ErmTask(d.X_train, d.y_train, d.X_val, d.y_val, seed))
    return tasks


def _meta_tasks(dataset: str, seeds: int) -> list[MetaTask]:
    tasks = []
    for seed in range(seeds):
        d = cached_split(dataset, seed)
        s, q = support_query(d.y_train, d.a_train, "config1", dataset=dataset, seed=seed)
        X, y = d.X_train, d.y_train
        tasks.append(MetaTask(X[s], y[s], X[q], y[q], d.X_val, d.y_val, seed))
    return tasks


def _nash_tasks(dataset: str, seeds: int) -> list[NashTask]:
    tasks = []
    for seed in range(seeds):
        d = cached_split(dataset, seed)
        tasks.append(NashTask(d.X_train, d.y_train, d.a_train, d.X_val, d.y_val, d.a_val, seed))
    return tasks


def _train_nash_gdro(tasks: list[NashTask], config: NashConfig) -> list:
    return train_nash_batch("nash_gdro", tasks, config)


def _compare(train, tasks, config) -> tuple[float, float, int]:
    """Seconds one at a time, seconds together, and the seed-epochs trained."""
    start = time.perf_counter()
    alone = [train([t], config)[0] for t in tasks]
    t_alone = time.perf_counter() - start
    start = time.perf_counter()
    together = train(tasks, config)
    t_together = time.perf_counter() - start
    for a, b in zip(alone, together, strict=True):
        if a.val_loss != b.val_loss or a.best_epoch != b.best_epoch:
            raise AssertionError("a run in the batch differs from the run alone")
    return t_alone, t_together, sum(len(r.val_loss) for r in together)


def _bandwidth() -> float:
    """Bytes per second of a large ``torch.sum`` (memory-bound)."""
    x = torch.ones(64 * 2**20 // 4)
    torch.sum(x)
    best = min(_seconds(lambda: torch.sum(x)) for _ in range(5))
    return x.numel() * 4 / best


def _matmul_flops() -> float:
    """Float32 FLOP/s of a 1024-square matrix product."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    best = min(_seconds(lambda: a @ b) for _ in range(5))
    return 2 * 1024**3 / best


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _per_epoch(train, tasks, config) -> float:
    """Seconds per run and epoch, set-up excluded: 40 epochs minus 20, no early stopping."""
    times = []
    for epochs in (20, 40):
        start = time.perf_counter()
        train(tasks, config.updated(max_epochs=epochs, patience=epochs))
        times.append(time.perf_counter() - start)
    return (times[1] - times[0]) / (20 * len(tasks))


def _adult_limit(seeds: int) -> None:
    tasks = _erm_tasks("adult", seeds)
    per_epoch = _per_epoch(train_erm_batch, tasks, erm_config("adult"))
    X = as_inputs(tasks[0].X)
    if isinstance(X, SparseRows):
        csr = X.csr
        nbytes = sum(
            t.numel() * t.element_size()
            for t in (csr.crow_indices(), csr.col_indices(), csr.values())
        )
    else:
        nbytes = X.numel() * X.element_size()
    stream = nbytes / _bandwidth()
    print(
        f"adult: batched ERM epoch per seed {per_epoch * 1e3:.2f} ms; streaming its training "
        f"matrix once ({nbytes / 1e6:.1f} MB) {stream * 1e3:.2f} ms: ratio {per_epoch / stream:.1f}"
    )


def _compas_limit(seeds: int) -> None:
    tasks = _meta_tasks("compas", seeds)
    config = faalgrad_config("compas")
    per_step = _per_epoch(train_faalgrad_batch, tasks, config)
    task = tasks[0]
    model = build_mlp(task.X_s.shape[1], config, 0)
    params = dict(model.named_parameters())
    with FlopCounterMode(display=False) as counter:
        meta_gradient(
            params,
            model,
            torch.from_numpy(task.X_s),
            torch.from_numpy(task.y_s).float(),
            torch.from_numpy(task.X_q),
            torch.from_numpy(task.y_q).float(),
            inner_lr=config.inner_lr,
            inner_steps=1,
        )
    flops = counter.get_total_flops()
    arithmetic = flops / _matmul_flops()
    print(
        f"compas: batched meta-step (I = 1) per seed {per_step * 1e3:.3f} ms; its arithmetic "
        f"({flops / 1e6:.2f} MFLOP) at this machine's matmul throughput "
        f"{arithmetic * 1e3:.3f} ms: ratio {per_step / arithmetic:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{args.seeds} seeds, one torch thread, rows padded to {batched.ROW_ALIGN}")
    print(
        f"{'dataset':<12} {'run':<14} {'alone s':>9} {'together s':>11} {'speed-up':>9} "
        f"{'seed-epochs':>12}"
    )
    for dataset in args.datasets:
        runs = [
            ("baseline MLP", train_erm_batch, _erm_tasks(dataset, args.seeds), erm_config(dataset)),
        ]
        meta = _meta_tasks(dataset, args.seeds)
        for inner in (1, 10):
            config = faalgrad_config(dataset, inner_steps=inner)
            runs.append((f"FaAlGrad I={inner}", train_faalgrad_batch, meta, config))
        nash = (
            "Nash-gDRO",
            _train_nash_gdro,
            _nash_tasks(dataset, args.seeds),
            nash_config(dataset),
        )
        runs.append(nash)
        for label, train, tasks, config in runs:
            t_alone, t_together, epochs = _compare(train, tasks, config)
            print(
                f"{dataset:<12} {label:<14} {t_alone:>9.2f} {t_together:>11.2f} "
                f"{t_alone / t_together:>8.1f}x {epochs:>12}"
            )
    if "adult" in args.datasets:
        _adult_limit(args.seeds)
    if "compas" in args.datasets:
        _compas_limit(args.seeds)


if __name__ == "__main__":
    main()
