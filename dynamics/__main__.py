"""``python -m dynamics simulate CONFIG --steps K --backend … [--json]`` (SPEC §5)."""

from __future__ import annotations

import sys

from . import BACKENDS, load_config, simulate
from .cli import (HelpFormatter, Parser, add_limit_options, check_output_path, dump_json, exit_codes_epilog, non_negative_int, positive_float,
                  positive_int, progress_bar, run_main, write_output)
from .trajectory import Trajectory, approx_state

PROG = "python -m dynamics"


def build_parser(prog: str = PROG) -> Parser:
    parser = Parser(prog=prog, description="Simulate hardmax attention dynamics (SPEC §1).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sim = sub.add_parser("simulate", help="run the dynamics on a JSON config", epilog=exit_codes_epilog(),
                         formatter_class=HelpFormatter)
    sim.add_argument("config", help="JSON config file (SPEC §5)")
    sim.add_argument("--steps", type=non_negative_int, default=30, help="number of layers K (default 30)")
    sim.add_argument("--backend", choices=BACKENDS, default=None,
                     help="arithmetic (default: exact for a rational config, algebraic for one with entries such "
                          "as sqrt(2)/2 or cos(2*pi/5))")
    sim.add_argument("--device", default="cpu", help="torch device: cpu or cuda (default cpu)")
    sim.add_argument("--dtype", choices=("float32", "float64"), default=None,
                     help="float precision (default: float64 for float, float32 for torch)")
    sim.add_argument("--rule", choices=("hardmax", "softmax"), default="hardmax",
                     help="attention rule for float/torch backends (default hardmax)")
    sim.add_argument("--tau", type=positive_float, default=1.0, help="softmax temperature (default 1)")
    sim.add_argument("--prec", type=positive_int, default=64, help="interval precision in bits (default 64)")
    sim.add_argument("--max-prec", type=positive_int, default=None,
                     help="largest interval precision to retry with (default 8 × --prec)")
    sim.add_argument("--allow-nonpositive-alpha", action="store_true",
                     help="accept alpha <= 0 (outside the paper's hypotheses)")
    sim.add_argument("--json", action="store_true", help="print the SPEC §5 JSON document")
    sim.add_argument("--output", metavar="FILE",
                     help="also write the JSON document to FILE: a regular file is replaced atomically, "
                          "a device or FIFO (/dev/null, /dev/stdout) written through; never the config itself")
    sim.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_limit_options(sim)
    return parser




def _backend_options(args) -> dict:
    if args.backend == "interval":
        return {"prec": args.prec, "max_prec": args.max_prec}
    if args.backend == "float":
        return {"dtype": args.dtype or "float64", "rule": args.rule, "tau": args.tau}
    if args.backend == "torch":
        return {"dtype": args.dtype or "float32", "rule": args.rule, "tau": args.tau, "device": args.device}
    return {}


def summary(traj: Trajectory, config_path: str) -> str:
    """A readable account of a run: leaders, when they emerged, who follows whom."""
    K = traj.steps
    heads = len(traj.follow_by_head[0]) if traj.follow_by_head else 1
    lines = [
        f"{config_path}: {traj.backend} backend, n={traj.n} tokens in R^{traj.d}, "
        f"{heads} head{'s' if heads > 1 else ''}, {K} steps, {traj.elapsed_s * 1e3:.1f} ms"
    ]
    for key in ("dtype", "device", "rule", "prec"):
        if key in traj.info:
            lines[0] += f", {key}={traj.info[key]}"
    if traj.info.get("nonfinite_at") is not None:
        lines.append(f"FLOAT OVERFLOW at step {traj.info['nonfinite_at']}: scores or tokens are inf or NaN from "
                     "there on, so the float run's decisions are artefacts (--backend exact or certified decides them)")
    if traj.info.get("undecided"):
        u = traj.info["undecided"]
        lines.append(f"UNDECIDED at step {u['step']}: rows {u['rows']} cannot be decided at {u['prec']} bits "
                     "(an exact tie between different tokens, or too little precision); run stopped there")
    if traj.leaders:
        last = len(traj.leaders) - 1
        lines.append(f"leaders at step {last}: {list(traj.leaders[last])} ({len(traj.leaders[last])} of {traj.n})")
        seen: set[int] = set()
        events = []
        for k, lead in enumerate(traj.leaders):
            new = sorted(set(lead) - seen)
            lost = sorted(seen - set(lead))
            if new or lost:
                events.append(f"step {k}: " + (f"+{new}" if new else "") + (f" -{lost}" if lost else ""))
            seen = set(lead)
        lines.append("leader changes: " + ("; ".join(events) if events else "none"))
        follow = traj.follow[last]
        followers = [f"{i}->{list(follow[i])}" for i in range(traj.n) if i not in traj.leaders[last]]
        if followers:
            shown = followers[:20] + (["…"] if len(followers) > 20 else [])
            lines.append(f"followers at step {last} (token -> tokens it follows): " + ", ".join(shown))
    if traj.n <= 16:
        lines.append(f"tokens at step {K} (approximately):")
        for i, row in enumerate(approx_state(traj.states[-1])):
            lines.append(f"  {i:3d}  " + "  ".join(row))
    groups = traj.clusters()
    lines.append(f"distinct token values at step {K}: {len(groups)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); ``prog`` names the program in usage and errors."""
    args = build_parser(prog).parse_args(argv)
    if args.output is not None:
        check_output_path(args.output, inputs=[args.config])  # fail before simulating
    config = load_config(args.config, allow_nonpositive_alpha=args.allow_nonpositive_alpha,
                         max_bytes=args.max_config_size)
    if args.backend is None:
        args.backend = "exact" if config.is_rational else "algebraic"
    options = _backend_options(args)
    long_run = args.steps >= 50 or config.n * config.n * max(args.steps, 1) >= 10 ** 8  # many steps, or big n
    bar = progress_bar(args.steps, f"{args.backend} steps", enabled=not args.no_progress and long_run)
    try:
        traj = simulate(config, args.steps, backend=args.backend, max_memory=args.max_memory,
                        progress=(lambda k: bar.update(1)) if bar is not None else None, **options)
    finally:
        if bar is not None:
            bar.close()
    document = None
    if args.json or args.output:
        document = dump_json(traj.to_json())
    if args.output:
        write_output(args.output, document, inputs=[args.config])
    if args.json:
        sys.stdout.write(document)
    else:
        print(summary(traj, args.config))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(PROG, main))
