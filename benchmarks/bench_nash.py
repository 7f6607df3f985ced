"""Cost of one Nash-meta-learning step versus one ERM step, on one thread.

Same minibatch (B = 512 rows of the Adult training split of seed 0), same default MLP
(d -> 128 -> 64 -> 1, ReLU), same SGD optimiser (momentum 0.9, weight decay 5e-4):

* ERM step: forward, backward of the mean BCE, optimiser step;
* Nash step (:func:`faalgrad.nash.nash_step`): per-example gradients of the batch and
  of the 32-row meta set, the K x B hypergradients, the Nash bargaining solution, the
  weights and the optimiser step on the weighted loss; timed in stage 1 (bargaining,
  ``nash_ltr``) and stage 2 (``ltr``, no bargaining).

Prints the median time of each over many interleaved repeats and the ratios; the target is a
bargaining step costing at most 4x an ERM step.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_nash.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from faalgrad.datasets import load_dataset
from faalgrad.nash import NashConfig, meta_set, nash_step, split_method
from faalgrad.splits import split_dataset
from faalgrad.train import build_mlp


def _median_ms(steps: dict, repeats: int, warmup: int = 10) -> dict[str, float]:
    """Median time of each step in ms.

    The steps are interleaved so that load changes hit all alike.
    """
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t0)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def main(repeats: int = 200) -> dict[str, float]:
    torch.set_num_threads(1)
    data = split_dataset(load_dataset("adult"), 0)
    config = NashConfig()
    rng = np.random.default_rng(0)
    batch = rng.choice(len(data.y_train), size=config.batch_size, replace=False)
    X = torch.from_numpy(data.X_train[batch])
    y = torch.from_numpy(data.y_train[batch].astype(np.float32))
    meta = meta_set(data.y_val, data.a_val, config.meta_per_cell, 0)
    X_meta = torch.from_numpy(data.X_val[meta.indices])
    y_meta = torch.from_numpy(data.y_val[meta.indices].astype(np.float32))

    def fresh():
        model = build_mlp(X.shape[1], config.mlp_config(), 0)
        params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
        opt = torch.optim.SGD(
            params.values(),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
        return model, params, opt

    model_e, _, _ = fresh()
    opt_e = torch.optim.SGD(
        model_e.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )

    def erm_step() -> None:
        opt_e.zero_grad()
        F.binary_cross_entropy_with_logits(model_e(X).squeeze(-1), y).backward()
        opt_e.step()

    def make_nash(method: str):
        objective, bargain = split_method(method)
        model, params, opt = fresh()

        def step() -> None:
            nash_step(
                params,
                model,
                opt,
                X,
                y,
                X_meta,
                y_meta,
                meta,
                objective=objective,
                bargain=bargain,
                lookahead_lr=config.eta,
                weight_norm=config.weight_norm,
            )

        return step

    out = _median_ms(
        {
            "erm_ms": erm_step,
            "nash_bargain_ms": make_nash("nash_ltr"),
            "nash_objective_ms": make_nash("ltr"),
        },
        repeats,
    )
    out["ratio_bargain"] = out["nash_bargain_ms"] / out["erm_ms"]
    out["ratio_objective"] = out["nash_objective_ms"] / out["erm_ms"]
    print(
        f"adult, B={config.batch_size}, d={X.shape[1]}, MLP {config.hidden}, "
        f"K={meta.n_players} players, {len(meta.indices)} meta rows, 1 thread, "
        f"median of {repeats}"
    )
    print(f"ERM step                 {out['erm_ms']:8.3f} ms")
    print(
        f"Nash step, bargaining    {out['nash_bargain_ms']:8.3f} ms   "
        f"ratio {out['ratio_bargain']:.2f}x"
    )
    print(
        f"Nash step, stage 2 (LtR) {out['nash_objective_ms']:8.3f} ms   "
        f"ratio {out['ratio_objective']:.2f}x"
    )
    print(f"target <= 4x: {'met' if out['ratio_bargain'] <= 4 else 'NOT met'}")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    main(parser.parse_args().repeats)
