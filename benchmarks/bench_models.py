"""Benchmark the rainkit.nn networks: size, cost and CPU throughput per execution mode.

For every network in ``rainkit.nn.MODELS`` (default settings) it prints the parameter count,
the multiply-accumulates per pixel (``torch.utils.flop_counter.FlopCounterMode``, MACs =
FLOPs / 2) and the throughput in images/s of inference (``torch.no_grad``, eval mode) and of a
training step (forward, MSE loss, backward, Adam step, train mode) on batches of 8 images of
128 x 128, for three modes measured in the same run:

* ``default``: contiguous (NCHW) tensors;
* ``channels_last``: ``model.to(memory_format=torch.channels_last)`` and NHWC inputs;
* ``compile``: ``torch.compile(model)`` (inductor), compile time excluded (reported apart).

The ratio column is throughput / throughput of ``default`` for the same network. The modes are
timed interleaved (one batch of each per round, median over rounds), so a change in machine
load affects them alike.

Run by hand, under the shared CPU lock::

    flock /tmp/rainkit-cpu.lock .venv/bin/python benchmarks/bench_models.py
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from rainkit.nn import MODELS, build_model

MODES = ("default", "channels_last", "compile")


def macs_per_pixel(model: nn.Module, size: int) -> float:
    x = torch.rand(1, 3, size, size)
    model = copy.deepcopy(model).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / 2 / (size * size)


def prepare(model: nn.Module, mode: str) -> tuple[nn.Module, torch.memory_format]:
    model = copy.deepcopy(model)
    fmt = torch.contiguous_format
    if mode == "channels_last":
        fmt = torch.channels_last
        model = model.to(memory_format=fmt)
    elif mode == "compile":
        model = torch.compile(model)
    return model, fmt


def make_step(model: nn.Module, x: torch.Tensor, train: bool) -> Callable[[], None]:
    """One inference batch (eval, no_grad) or one training step (train, MSE, Adam)."""
    if not train:
        model.eval()

        def infer() -> None:
            with torch.no_grad():
                model(x)

        return infer
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    target = x.clone()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        nn.functional.mse_loss(model(x), target).backward()
        optimizer.step()

    return step


def measure(steps: dict[str, Callable[[], None]], warmup: int, rounds: int,
            batch: int) -> tuple[dict[str, float], dict[str, float]]:
    """Warm up every mode, then time one call per mode per round, modes interleaved.

    Interleaving spreads any drift in machine load evenly over the modes; the median over
    rounds is reported. Returns images/s per mode and the warm-up (compile) seconds per mode.
    """
    first = {}
    for mode, step in steps.items():
        start = time.perf_counter()
        for _ in range(warmup):
            step()
        first[mode] = time.perf_counter() - start
    times: dict[str, list[float]] = {mode: [] for mode in steps}
    for _ in range(rounds):
        for mode, step in steps.items():
            start = time.perf_counter()
            step()
            times[mode].append(time.perf_counter() - start)
    return {mode: batch / statistics.median(t) for mode, t in times.items()}, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=sorted(MODELS), choices=sorted(MODELS))
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--iters", type=int, default=3, help="timed rounds (median)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch} x 3 x "
          f"{args.size} x {args.size}, warm-up {args.warmup} + median of {args.iters} "
          "interleaved rounds", flush=True)
    header = (f"| {'model':<18} | {'params':>9} | {'MACs/px':>9} | {'mode':<13} | "
              f"{'infer img/s':>11} | {'ratio':>5} | {'train img/s':>11} | {'ratio':>5} | "
              f"{'1st infer+train s':>17} |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for name in args.models:
        base = build_model(name)
        params = sum(p.numel() for p in base.parameters())
        macs = macs_per_pixel(base, args.size)
        x = torch.rand(args.batch, 3, args.size, args.size)
        rates, first = {}, {}
        for train in (False, True):
            steps = {}
            for mode in args.modes:
                model, fmt = prepare(base, mode)
                steps[mode] = make_step(model, x.contiguous(memory_format=fmt), train)
            rates[train], first[train] = measure(steps, args.warmup, args.iters, args.batch)
        ref = args.modes[0]
        for mode in args.modes:
            infer, train_rate = rates[False][mode], rates[True][mode]
            print(f"| {name:<18} | {params:>9,} | {macs:>9,.0f} | {mode:<13} | {infer:>11.2f} | "
                  f"{infer / rates[False][ref]:>5.2f} | {train_rate:>11.2f} | "
                  f"{train_rate / rates[True][ref]:>5.2f} | "
                  f"{first[False][mode] + first[True][mode]:>17.1f} |", flush=True)

if __name__ == "__main__":
    main()
