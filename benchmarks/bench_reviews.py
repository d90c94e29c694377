"""Exact cross-validation speed, the working tree against a baseline commit (issue 13).

    python -m benchmarks.bench_reviews [--baseline REF] [--reviews N] [--seed S]
    python -m benchmarks.bench_reviews --run RUN [--limit N] [--workers W] [--baseline REF] [--save]

Without ``--run``: synthetic reviews stand in for a trained model's (``n`` from
50 to 250 tokens, d = 16, float32 embeddings with every 7th token a repeat of
the first, α and the decoder float32, 8 layers). Each tree's
``sentiment.analysis._exact_review`` runs in a fresh process on the same
reviews; the script prints milliseconds per review and requires identical
answers (prediction sign, final leaders, final clusters) from both.

With ``--run``: ``python -m sentiment crosscheck RUN --json`` of a trained run
(all test reviews unless ``--limit``), in each tree, with the same workers; the
script prints both times and requires identical counts (wrong predictions,
leader sets, clusters, test reviews). Each tree first runs it once on one review,
untimed, so that both read the encoded test set from their cache (the first run
of a tree encodes it, about 12 s). ``--save`` merges the result, with its provenance (commit, date,
command, the run's model hash), into ``reports/benchmarks.json`` under ``"reviews"``; nothing is
written otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The last commit before the certified engine kept a float state (issue 13).
DEFAULT_BASELINE = "cab27a2"

_MEASURE = r"""
import hashlib, json, sys, time
from fractions import Fraction
import numpy as np
try:
    from sentiment.analysis import _exact_review
except ImportError:
    _exact_review = None
count, seed = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(seed)
reviews = [rng.standard_normal((int(n), 16)).astype(np.float32) for n in rng.integers(50, 250, count)]
for r in reviews:
    r[::7] = r[0]
alpha = Fraction(float(np.float32(0.184)))
v = [Fraction(float(x)) for x in rng.standard_normal(16).astype(np.float32)]
b = Fraction(float(np.float32(0.1)))
answers = []
start = time.perf_counter()
try:
    from sentiment.analysis import _exact_reviews  # stacked (issue 13)
except ImportError:
    _exact_reviews = None
if _exact_reviews is not None:
    from dynamics.config import Head, identity
    signs, batch = _exact_reviews(reviews, (Head(A=identity(16), alpha=alpha),), 8, v, b)
    answers = [[bool(signs[r] > 0), list(batch.leaders(r)), sorted(sorted(g) for g in batch.exact_classes(r))]
               for r in range(len(reviews))]
for r in reviews if _exact_reviews is None else ():
    result = _exact_review(r, alpha, 8, v, b)
    if len(result) == 2:  # before issue 13: (exact logit, trajectory)
        logit, traj = result
        positive, groups = logit > 0, traj.clusters()
    else:  # (sign, trajectory, exact groups)
        sign, traj, groups = result
        positive = sign > 0
    answers.append([bool(positive), list(traj.leaders[-1]), sorted(sorted(g) for g in groups)])
seconds = time.perf_counter() - start
print(json.dumps({"ms_per_review": 1e3 * seconds / count,
                  "answers": hashlib.sha256(json.dumps(answers).encode()).hexdigest()}))
"""


def measure(root: str, reviews: int, seed: int) -> dict:
    env = dict(os.environ, PYTHONPATH=root)
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(reviews), str(seed)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"bench_reviews: the measurement failed in {root}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


COUNTS = ("test_reviews", "wrong_predictions", "wrong_leader_sets", "wrong_clusters")


def measure_run(root: str, run: str, limit: int | None, workers: int, data_dir: str) -> dict:
    """``sentiment crosscheck`` of ``run`` with the code at ``root`` (fresh process)."""
    command = [sys.executable, "-m", "sentiment", "crosscheck", os.path.abspath(run), "--json",
               "--workers", str(workers), "--data-dir", data_dir] + (["--limit", str(limit)] if limit else [])
    env = dict(os.environ, PYTHONPATH=root)
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=7200)
    if done.returncode != 0:
        raise SystemExit(f"bench_reviews: crosscheck failed in {root}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_reviews", description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help=f"git ref to compare with (default {DEFAULT_BASELINE})")
    parser.add_argument("--reviews", type=int, default=60, help="synthetic reviews (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run", help="a trained run folder: time `sentiment crosscheck` on it instead")
    parser.add_argument("--limit", type=int, help="with --run: this many test reviews (default all)")
    parser.add_argument("--workers", type=int, default=2, help="with --run: processes (default 2)")
    parser.add_argument("--save", action="store_true", help="with --run: merge the result into "
                        "reports/benchmarks.json under 'reviews'")
    parser.add_argument("--data-dir", default=os.environ.get("IMDB_DATA_DIR", os.path.join(ROOT, "..", "shared", "data", "imdb")),
                        help="with --run: the IMDb parquet folder (default $IMDB_DATA_DIR or ../shared/data/imdb)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-reviews-") as folder:
        baseline_root = os.path.join(folder, "baseline")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "--quiet", baseline_root, args.baseline],
                       check=True)
        try:
            if args.run:
                data_dir = os.path.abspath(args.data_dir)
                for root in (baseline_root, ROOT):  # untimed: each tree encodes the test set into its own cache
                    measure_run(root, args.run, 1, 1, data_dir)
                before = measure_run(baseline_root, args.run, args.limit, args.workers, data_dir)
                after = measure_run(ROOT, args.run, args.limit, args.workers, data_dir)
            else:
                before = measure(baseline_root, args.reviews, args.seed)
                after = measure(ROOT, args.reviews, args.seed)
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", baseline_root], check=False)
    if args.run:
        same = all(before[k] == after[k] for k in COUNTS)
        print(f"sentiment crosscheck of {after['test_reviews']} reviews (d = {after['dim']}, {args.workers} workers): "
              f"{before['seconds']:.1f} s -> {after['seconds']:.1f} s ({before['seconds'] / after['seconds']:.1f}x); "
              f"identical counts: {same} ({', '.join(f'{k} {after[k]}' for k in COUNTS[1:])})")
        if args.save:
            from benchmarks import save_section
            from dynamics.provenance import git_commit, utc_now

            save_section("reviews", {
                "command": "python -m benchmarks.bench_reviews " + " ".join(sys.argv[1:] if argv is None else argv),
                "commit": git_commit(), "date": utc_now(), "baseline": args.baseline,
                "model_sha256": after["model_sha256"], "dim": after["dim"], "workers": args.workers,
                "seconds": {"baseline": before["seconds"], "now": after["seconds"]},
                "speedup": before["seconds"] / after["seconds"], "identical_counts": same,
                "counts": {k: after[k] for k in COUNTS}})
        return 0 if same else 1
    same = before["answers"] == after["answers"]
    print(f"exact cross-validation of {args.reviews} synthetic reviews: {before['ms_per_review']:.1f} -> "
          f"{after['ms_per_review']:.1f} ms per review ({before['ms_per_review'] / after['ms_per_review']:.1f}x); "
          f"identical answers: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
