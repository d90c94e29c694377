"""Engine benchmarks, every figure a ratio measured in one run (issue 2, item 8).

    python -m benchmarks.bench_engines [--quick] [--save] [--output FILE]

``--save`` publishes the results to ``reports/benchmarks.json`` (with commit, date and command);
without it nothing is written unless ``--output`` names a file.

(a) exact engine vs a plain ``fractions.Fraction`` implementation, per step,
    n = 128, d = 16, tokens the exact values of random float64s (53-bit dyadics,
    like a trained model's embeddings), A = I, alpha = 1/2;
(b) the batched torch path vs a re-implementation of the paper's per-review,
    per-token Python loop (ties by float ``==``), in torch (the paper's
    framework) and in NumPy (a faster, more generous baseline),
    1000 inputs × 128 tokens × 8 layers, d = 16;
(d) the certified backend vs the exact engine, n = 512, d = 16, 40 steps
    (identical follow sets, leaders and exact states required; the time to
    rebuild the exact states on request is reported beside it);
(e) the certified backend vs the NumPy float64 backend, n = 128 and 512, d = 16, 40 steps;
(c) the batched torch path vs its FLOP floor: the batched Gram products
    ``Z Zᵀ`` alone for the same 8 layers, timed the fastest way we know (one
    batched call, or cache-sized blocks as ``run_layers`` uses).

Timings are the best of several repeats (``time.perf_counter``); the exact and
Fraction results are compared for equality so the speed-up is not bought with
a wrong answer.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from fractions import Fraction
from functools import partial

import numpy as np
import torch

from benchmarks.baselines import fraction_step, paper_loop, paper_loop_torch
from dynamics.backends.exact import ExactEngine
from dynamics.backends.torch_ import run_layers
from dynamics.cli import write_output
from dynamics.config import Config, Head, identity
from dynamics.provenance import git_commit, utc_now

from benchmarks import PUBLISHED, save_section


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_exact(n: int, d: int, steps: int, fraction_steps: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    tokens = tuple(tuple(Fraction(float(x)) for x in row) for row in rng.standard_normal((n, d)))
    config = Config(tokens=tokens, heads=(Head(A=identity(d), alpha=Fraction(1, 2)),))
    engine = ExactEngine(config)
    start = time.perf_counter()
    traj = engine.run(steps)
    exact_per_step = (time.perf_counter() - start) / steps

    Z = [list(r) for r in tokens]
    heads = [([list(r) for r in identity(d)], Fraction(1, 2))]
    start = time.perf_counter()
    for _ in range(fraction_steps):
        Z, _ = fraction_step(Z, heads)
    fraction_per_step = (time.perf_counter() - start) / fraction_steps
    return {
        "n": n, "d": d,
        "exact_steps": steps, "fraction_steps": fraction_steps,
        "exact_s_per_step": exact_per_step,
        "fraction_s_per_step": fraction_per_step,
        "speedup": fraction_per_step / exact_per_step,
        "states_identical": traj.states[fraction_steps].fractions() == Z,
        "max_bits_at_end": traj.states[-1].max_bits(),
    }


def _random_config(n: int, d: int, seed: int) -> Config:
    rng = np.random.default_rng(seed)
    tokens = tuple(tuple(Fraction(float(x)) for x in row) for row in rng.standard_normal((n, d)))
    return Config(tokens=tokens, heads=(Head(A=identity(d), alpha=Fraction(1, 2)),))


def bench_certified(n_exact: int, n_float: tuple[int, ...], d: int, steps: int, repeats: int, seed: int) -> dict:
    """(d) certified vs exact at ``n_exact`` (identical follow sets, leaders and exact states required) and
    (e) certified vs the NumPy float64 backend at each ``n_float`` (best of ``repeats``)."""
    from dynamics import simulate

    big = _random_config(n_exact, d, seed)
    start = time.perf_counter()
    exact = simulate(big, steps, backend="exact")
    exact_s = time.perf_counter() - start
    certified_big = best_of(lambda: simulate(big, steps, backend="certified"), repeats)
    run = simulate(big, steps, backend="certified")
    start = time.perf_counter()
    states = list(run.states)  # the exact states, on request: replayed from the decided follow sets
    states_s = time.perf_counter() - start
    same = (exact.follow == run.follow and exact.leaders == run.leaders
            and all(a.den == b.den and a.ints() == b.ints() for a, b in zip(exact.states, states)))
    versus_float = []
    for n in n_float:
        small = _random_config(n, d, seed)
        certified_s = best_of(lambda: simulate(small, steps, backend="certified"), repeats)
        float_s = best_of(lambda: simulate(small, steps, backend="float", dtype="float64"), repeats)
        info = simulate(small, steps, backend="certified").info["filter"]
        versus_float.append({"n": n, "certified_s": certified_s, "float64_s": float_s,
                             "ratio_to_float64": certified_s / float_s,
                             "rows_decided_by_filter": info["decided_by_float_filter"],
                             "rows_decided_exactly": info["decided_exactly"]})
    return {
        "d": d, "steps": steps,
        "n_vs_exact": n_exact, "exact_s": exact_s, "certified_s": certified_big,
        "speedup_vs_exact": exact_s / certified_big, "identical_follow_sets": same,
        "exact_states_on_request_s": states_s,
        "vs_float64": versus_float,
    }


def bench_float(batch: int, n: int, d: int, layers: int, paper_batch: int, repeats: int, seed: int) -> dict:
    torch.manual_seed(seed)
    Z = torch.randn(batch, n, d, dtype=torch.float32)
    heads = [(None, 0.5)]
    with torch.no_grad():
        run_layers(Z[:8], heads, layers)  # warm-up
        batched = best_of(lambda: run_layers(Z, heads, layers), repeats)

        def gram_only(chunk: int):
            for i in range(0, batch, chunk):
                block = Z[i:i + chunk]
                for _ in range(layers):
                    block @ block.transpose(-1, -2)

        # The floor is the fastest way we know to do the Gram products alone:
        # in one batched call, or in the same cache-sized blocks run_layers uses.
        floors = {chunk: best_of(partial(gram_only, chunk), repeats) for chunk in (batch, 64)}
        floor = min(floors.values())
        ours = run_layers(Z[:paper_batch], heads, layers)
    sample = Z[:paper_batch]
    start = time.perf_counter()
    theirs_np = paper_loop(sample.numpy(), 0.5, layers)
    paper_np = (time.perf_counter() - start) * (batch / paper_batch)
    start = time.perf_counter()
    theirs_torch = paper_loop_torch(sample, 0.5, layers)
    paper_torch = (time.perf_counter() - start) * (batch / paper_batch)
    return {
        "batch": batch, "n": n, "d": d, "layers": layers, "dtype": "float32",
        "torch_threads": torch.get_num_threads(),
        "batched_s": batched,
        "paper_loop_torch_s": paper_torch,
        "paper_loop_numpy_s": paper_np,
        "paper_loop_measured_on": paper_batch,
        "speedup_vs_paper_loop_torch": paper_torch / batched,
        "speedup_vs_paper_loop_numpy": paper_np / batched,
        "gram_floor_s": floor,
        "gram_floor_unchunked_s": floors[batch],
        "gram_floor_chunked_s": floors[64],
        "ratio_to_gram_floor": batched / floor,
        "max_abs_diff_vs_paper_loops": float(max(np.abs(ours.numpy() - theirs_np).max(),
                                                 (ours - theirs_torch).abs().max())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_engines", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run, not the reported figures)")
    parser.add_argument("--save", action="store_true",
                        help=f"publish the results to {PUBLISHED} (with their provenance)")
    parser.add_argument("--output", help="also write the JSON results to this file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.quick:
        exact = bench_exact(32, 4, steps=5, fraction_steps=1, seed=args.seed)
        certified = bench_certified(64, (32,), 4, steps=5, repeats=1, seed=args.seed)
        floats = bench_float(50, 128, 16, 8, paper_batch=5, repeats=2, seed=args.seed)
    else:
        exact = bench_exact(128, 16, steps=20, fraction_steps=2, seed=args.seed)
        certified = bench_certified(512, (128, 512), 16, steps=40, repeats=3, seed=args.seed)
        floats = bench_float(1000, 128, 16, 8, paper_batch=1000, repeats=5, seed=args.seed)
    result = {
        "command": "python -m benchmarks.bench_engines" + (" --quick" if args.quick else ""),
        "commit": git_commit(), "date": utc_now(),
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                    "torch": torch.__version__, "numpy": np.__version__},
        "exact_vs_fraction": exact,
        "certified": certified,
        "float_path": floats,
    }
    print(f"(a) exact engine vs Fraction, n={exact['n']}, d={exact['d']}: "
          f"{exact['exact_s_per_step'] * 1e3:.1f} ms vs {exact['fraction_s_per_step']:.2f} s per step "
          f"-> {exact['speedup']:.0f}x (states identical: {exact['states_identical']})")
    print(f"(d) certified vs exact, n={certified['n_vs_exact']}, d={certified['d']}, {certified['steps']} steps: "
          f"{certified['certified_s']:.3f} s vs {certified['exact_s']:.2f} s -> {certified['speedup_vs_exact']:.0f}x "
          f"(identical follow sets, leaders and states: {certified['identical_follow_sets']}; the exact states "
          f"on request {certified['exact_states_on_request_s']:.2f} s)")
    for row in certified["vs_float64"]:
        print(f"(e) certified vs float64, n={row['n']}: {row['certified_s'] * 1e3:.1f} ms vs "
              f"{row['float64_s'] * 1e3:.1f} ms -> {row['ratio_to_float64']:.2f}x the float64 time")
    print(f"(b) batched torch vs the paper-style per-token loop, {floats['batch']}x{floats['n']}x{floats['d']}, "
          f"{floats['layers']} layers: {floats['batched_s']:.3f} s vs {floats['paper_loop_torch_s']:.1f} s (torch loop) "
          f"-> {floats['speedup_vs_paper_loop_torch']:.0f}x; vs {floats['paper_loop_numpy_s']:.1f} s (numpy loop) "
          f"-> {floats['speedup_vs_paper_loop_numpy']:.0f}x")
    print(f"(c) batched torch vs Gram-only floor: {floats['batched_s']:.3f} s vs {floats['gram_floor_s']:.3f} s "
          f"-> {floats['ratio_to_gram_floor']:.2f}x the floor")
    text = json.dumps(result, indent=2) + "\n"
    if args.save:  # other benchmarks' sections of the published file ("hunt", "reviews") are kept
        save_section(None, result)
    if args.output:
        write_output(args.output, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
