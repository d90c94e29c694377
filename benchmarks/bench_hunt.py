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
import subprocess
import sys
import tempfile
import time

from dynamics.cli import write_output
from dynamics.provenance import git_commit, utc_now

PUBLISHED = "reports/benchmarks.json"
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


def measure(code_root: str, configs_file: str, examples: int, seed: int, steps: int) -> dict:
    """Both measurements with the code at ``code_root``."""
    hunt = _run(code_root, ["-m", "verify", "hunt", "--claim", "all", "--matrix", "spd", "--max-examples",
                            str(examples), "--seed", str(seed), "--steps", str(steps), "--json"])
    check = _run(code_root, ["-c", _CHECK, configs_file, str(steps)])
    return {"hunt_examples": hunt["examples"], "hunt_s": hunt["elapsed_s"],
            "hunt_examples_per_s": hunt["examples"] / hunt["elapsed_s"],
            "hunt_counterexample": hunt["counterexample"], "check_s": check["seconds"],
            "verdicts": check["verdicts"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_hunt", description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help=f"git ref to compare with (default {DEFAULT_BASELINE})")
    parser.add_argument("--examples", type=int, default=300, help="examples per hunt and configurations checked")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=30)
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
            before = measure(baseline_root, configs_file, args.examples, args.seed, args.steps)
            after = measure(ROOT, configs_file, args.examples, args.seed, args.steps)
            elapsed = time.perf_counter() - start
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", baseline_root], check=False)
    same = before["verdicts"] == after["verdicts"]
    result = {
        "command": "python -m benchmarks.bench_hunt" + "".join(
            f" --{k} {v}" for k, v in (("baseline", args.baseline), ("examples", args.examples), ("seed", args.seed))),
        "commit": git_commit(), "baseline": args.baseline, "date": utc_now(), "examples": args.examples,
        "steps": args.steps, "cpu_count": os.cpu_count(),
        "hunt_examples_per_s": {"baseline": before["hunt_examples_per_s"], "now": after["hunt_examples_per_s"]},
        "hunt_speedup": after["hunt_examples_per_s"] / before["hunt_examples_per_s"],
        "check_s": {"baseline": before["check_s"], "now": after["check_s"]},
        "check_speedup": before["check_s"] / after["check_s"],
        "same_verdicts": same, "configs_checked": len(after["verdicts"]),
        "same_hunt_result": before["hunt_counterexample"] == after["hunt_counterexample"],
        "elapsed_s": elapsed,
    }
    print(f"(a) hunt --claim all --matrix spd, {args.examples} examples: {before['hunt_examples_per_s']:.1f} -> "
          f"{after['hunt_examples_per_s']:.1f} examples/s ({result['hunt_speedup']:.1f}x)")
    print(f"(b) exact checking of the same {len(after['verdicts'])} configurations: {before['check_s']:.1f} s -> "
          f"{after['check_s']:.1f} s ({result['check_speedup']:.1f}x); identical verdicts: {same}")
    text = json.dumps(result, indent=2) + "\n"
    if args.save:
        published = {}
        if os.path.exists(PUBLISHED):
            with open(PUBLISHED) as handle:
                published = json.load(handle)
        published["hunt"] = result
        write_output(PUBLISHED, json.dumps(published, indent=2) + "\n")
        print(f"written {PUBLISHED}", file=sys.stderr)
    if args.output:
        write_output(args.output, text)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
