"""Exact checking speed of the hunter against a baseline commit, measured in one run (issue 12 §1).

    python -m benchmarks.bench_hunt [--baseline REF] [--examples N] [--seed S] [--save] [--output FILE]

Two measurements, each in a fresh process for the baseline (a ``git worktree``
of ``REF``, default the commit before the exact-checking speed-ups) and for
the working tree, with the same interpreter and packages:

(a) **hunt**: ``python -m verify hunt --claim all --matrix spd --max-examples N --seed S --json``
    (the default sizes: n ≤ 12, d ≤ 3, 30 steps) — examples per second, end to end
    (Hypothesis generation, the exact engine, every finite claim);
(b) **checking**: the same ``N`` configurations (drawn once here from
    ``verify.strategies.configs(matrix="spd")`` and passed to both as JSON),
    each run for 30 exact steps and judged by ``verify.claims.check_all`` —
    seconds, and every claim's verdict, which must be identical (``holds`` per
    claim and configuration; the speed-up is not bought with a different answer).

``--save`` merges the result into ``reports/benchmarks.json`` under ``"hunt"``
(with commit, date and command); without it nothing is written unless
``--output`` names a file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from dynamics.cli import write_output
from dynamics.provenance import git_commit, utc_now

from benchmarks import PUBLISHED, save_section
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The last commit before the exact-checking speed-ups (update-rule P1 certificates, integer D1/D2, O(nK) P2).
DEFAULT_BASELINE = "2cf958f"

_CHECK = r"""
import json, sys, time
from dynamics import config_from_dict, simulate
from verify.claims import check_all
configs = [config_from_dict(c) for c in json.load(open(sys.argv[1]))]
steps = int(sys.argv[2])
start = time.perf_counter()
verdicts = []
for config in configs:
    traj = simulate(config, steps, backend="exact")
    verdicts.append({c: v.holds for c, v in check_all(config, traj).items()})
print(json.dumps({"seconds": time.perf_counter() - start, "verdicts": verdicts}))
"""


def draw_configs(count: int, seed: int) -> list[dict]:
    """``count`` SPD configurations from the hunter's strategy, reproducibly (seeded draws)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed

    from verify.strategies import configs

    drawn: list[dict] = []

    @settings(max_examples=count, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @hypothesis_seed(seed)
    @given(configs(matrix="spd"))
    def collect(config) -> None:
        if len(drawn) < count:
            drawn.append(config.to_dict())

    collect()
    return drawn


def _run(code_root: str, argv: list[str], timeout: int = 3600) -> dict:
    env = dict(os.environ, PYTHONPATH=code_root, HYPOTHESIS_STORAGE_DIRECTORY=tempfile.mkdtemp())
    done = subprocess.run([sys.executable, *argv], cwd=code_root, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"bench_hunt: {' '.join(argv[:4])} failed in {code_root}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def measure_hunt(code_root: str, examples: int, seed: int, steps: int) -> dict:
    """Measurement (a) with the code at ``code_root``: one hunt in a fresh process."""
    hunt = _run(code_root, ["-m", "verify", "hunt", "--claim", "all", "--matrix", "spd", "--max-examples",
                            str(examples), "--seed", str(seed), "--steps", str(steps), "--json"])
    return {"examples_per_s": hunt["examples"] / hunt["elapsed_s"], "counterexample": hunt["counterexample"]}


def measure_check(code_root: str, configs_file: str, steps: int) -> dict:
    """Measurement (b) with the code at ``code_root``."""
    return _run(code_root, ["-c", _CHECK, configs_file, str(steps)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_hunt", description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help=f"git ref to compare with (default {DEFAULT_BASELINE})")
    parser.add_argument("--examples", type=int, default=300, help="examples per hunt and configurations checked")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3,
                        help="hunt pairs (baseline, now) run in turn; the speed-up is the median of their ratios")
    parser.add_argument("--save", action="store_true", help=f"merge the result into {PUBLISHED} under 'hunt'")
    parser.add_argument("--output", help="also write the JSON result to this file")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-hunt-") as folder:
        configs_file = os.path.join(folder, "configs.json")
        with open(configs_file, "w") as handle:
            json.dump(draw_configs(args.examples, args.seed), handle)
        baseline_root = os.path.join(folder, "baseline")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "--quiet", baseline_root, args.baseline],
                       check=True)
        try:
            start = time.perf_counter()
            pairs = []  # baseline and now in turn, so that a drift of the machine's speed hits both alike
            for _ in range(args.repeat):
                before = measure_hunt(baseline_root, args.examples, args.seed, args.steps)
                after = measure_hunt(ROOT, args.examples, args.seed, args.steps)
                pairs.append((before, after))
            check_before = measure_check(baseline_root, configs_file, args.steps)
            check_after = measure_check(ROOT, configs_file, args.steps)
            elapsed = time.perf_counter() - start
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", baseline_root], check=False)
    ratios = [a["examples_per_s"] / b["examples_per_s"] for b, a in pairs]
    same = check_before["verdicts"] == check_after["verdicts"]
    result = {
        "command": "python -m benchmarks.bench_hunt" + "".join(
            f" --{k} {v}" for k, v in (("baseline", args.baseline), ("examples", args.examples), ("seed", args.seed),
                                       ("repeat", args.repeat))),
        "commit": git_commit(), "baseline": args.baseline, "date": utc_now(), "examples": args.examples,
        "steps": args.steps, "cpu_count": os.cpu_count(), "repeat": args.repeat,
        "hunt_examples_per_s": {"baseline": statistics.median(b["examples_per_s"] for b, _ in pairs),
                                "now": statistics.median(a["examples_per_s"] for _, a in pairs)},
        "hunt_speedup": statistics.median(ratios),
        "hunt_pairs": [{"baseline": b["examples_per_s"], "now": a["examples_per_s"], "speedup": r}
                       for (b, a), r in zip(pairs, ratios)],
        "check_s": {"baseline": check_before["seconds"], "now": check_after["seconds"]},
        "check_speedup": check_before["seconds"] / check_after["seconds"],
        "same_verdicts": same, "configs_checked": len(check_after["verdicts"]),
        "same_hunt_result": all(b["counterexample"] == a["counterexample"] for b, a in pairs),
        "elapsed_s": elapsed,
    }
    rates = result["hunt_examples_per_s"]
    print(f"(a) hunt --claim all --matrix spd, {args.examples} examples, {args.repeat} pairs in turn: "
          f"{rates['baseline']:.1f} -> {rates['now']:.1f} examples/s (medians); speed-up per pair "
          f"{', '.join(f'{r:.1f}x' for r in ratios)}, median {result['hunt_speedup']:.1f}x")
    print(f"(b) exact checking of the same {len(check_after['verdicts'])} configurations: "
          f"{check_before['seconds']:.1f} s -> {check_after['seconds']:.1f} s ({result['check_speedup']:.1f}x); "
          f"identical verdicts: {same}")
    text = json.dumps(result, indent=2) + "\n"
    if args.save:
        save_section("hunt", result)
    if args.output:
        write_output(args.output, text)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
