"""``python -m verify check|limit|hunt|report`` (SPEC §5)."""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from dynamics import load_config, simulate
from dynamics.errors import InputError
from dynamics.cli import HelpFormatter, Parser, add_limit_options, dump_json, non_negative_int, exit_codes_epilog, positive_int, run_main

from .claims import CLAIMS, Verdict, check_all
from .exact import satisfies_H
from .lemmas import LemmaCheckerError
from .limits import certified_limit
from .run import exact_config
from .strategies import ALPHA_SCHEDULES, FAMILIES, MATRIX_CLASSES, VALUE_CLASSES

PROG = "python -m verify"


def _epilog(strict: bool = False) -> dict:
    """``add_parser`` keywords for the exit-code table in a command's ``--help``."""
    return {"epilog": exit_codes_epilog(strict), "formatter_class": HelpFormatter}


def _strict_exit(args, failed: list[str], what: str) -> int:
    """Exit status of a checking command: 1 under ``--strict`` when ``failed`` is not empty, else 0.

    Parameters
    ----------
    args
        Parsed options (``args.command``, ``args.strict``).
    failed
        What failed (claim ids, limit problems, config names); empty when all held.
    what
        How to name the items of ``failed`` in the one-line note on stderr.
    """
    if not (args.strict and failed):
        return 0
    print(f"{PROG} {args.command}: --strict: {what}: {', '.join(failed)}", file=sys.stderr)
    return 1


def _add_lemma_options(parser) -> None:
    parser.add_argument("--lemmas", action="append", default=[], metavar="FILE",
                        help="a Python file of lemmas (verify.lemmas); repeat for several")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of a lemma checker that raises")


def build_parser(prog: str = PROG) -> Parser:
    parser = Parser(prog=prog, description="Check the claims of hardmax attention dynamics (SPEC §2).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    c = sub.add_parser("check", help="check every claim on one config", **_epilog(strict=True))
    c.add_argument("config", help="JSON config file (SPEC §5)")
    c.add_argument("--steps", type=non_negative_int, default=None,
                   help="steps to check P1–P4, D1–D3 (default: the config's \"steps\" field, as a saved "
                        "counterexample has, else 30; 0 checks Z⁰ alone)")
    c.add_argument("--limit-steps", type=positive_int, default=200, help="step budget of the certified limit (P5)")
    c.add_argument("--backend", choices=("exact", "algebraic", "float", "torch"), default=None,
                   help="whose trajectory to judge (default: exact, or algebraic for a config with irrational "
                        "entries such as sqrt(2) or cos(2*pi/5), run exactly in their number field); float ones "
                        "are judged exactly")
    c.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="precision of a float or torch trajectory (default: float64 for float, float32 for torch)")
    c.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    c.add_argument("--json", action="store_true", help="print the result as one JSON document (its fields: README, \"JSON formats\")")
    _add_lemma_options(c)
    add_limit_options(c)
    c.add_argument("--strict", action="store_true", help="exit 1 when an applicable claim fails (for CI)")

    lim = sub.add_parser("limit", help="certified limit of one config (SPEC §4)", **_epilog(strict=True))
    lim.add_argument("config", help="JSON config file (SPEC §5)")
    lim.add_argument("--max-steps", type=positive_int, default=200,
                     help="step budget: not certified if the follow pattern is not provably frozen by then")
    add_limit_options(lim)
    lim.add_argument("--json", action="store_true", help="print the result as one JSON document (its fields: README, \"JSON formats\")")
    lim.add_argument("--strict", action="store_true",
                     help="exit 1 when the limit is not certified or a limit point is not in S (for CI)")

    pl = sub.add_parser("plot", help="draw a run of one config: tokens through the layers, leaders, follow "
                        "arrows, hulls and the certified limit", **_epilog())
    pl.add_argument("config", help="JSON config file (SPEC §5)")
    pl.add_argument("--steps", type=non_negative_int, default=20, help="layers K to run and draw (default 20)")
    pl.add_argument("--output", metavar="FILE", required=True,
                    help="the figure: .png, .svg or .pdf (with --animate: .gif, or .mp4 where ffmpeg is installed)")
    pl.add_argument("--backend", choices=("exact", "certified", "algebraic", "float"), default=None,
                    help="whose run to draw (default: certified, the exact dynamics drawn from its exact states, "
                         "for a rational config; algebraic, exact in the number field, for one with entries such "
                         "as sqrt(2)/2 or cos(2*pi/5))")
    pl.add_argument("--panels", type=positive_int, default=4,
                    help="panels at evenly spread layers for d ≥ 2 (default 4; ignored with --at or d = 1)")
    pl.add_argument("--at", metavar="K,K,…", default=None, help="draw these layers, e.g. 0,1,5,20")
    pl.add_argument("--animate", action="store_true", help="one frame per layer instead of panels")
    pl.add_argument("--fps", type=positive_int, default=4, help="frames per second with --animate (default 4)")
    pl.add_argument("--no-limit", action="store_true", help="do not compute and draw the certified limit")
    pl.add_argument("--limit-steps", type=positive_int, default=200,
                    help="step budget of the certified limit (default 200)")
    pl.add_argument("--title", default=None, help="figure title (default: the config's name or file)")
    pl.add_argument("--json", action="store_true", help="print what was drawn as JSON")
    add_limit_options(pl)

    h = sub.add_parser("hunt", help="search for a minimal counterexample", **_epilog())
    h.add_argument("--claim", required=True, metavar="NAME",
                   help=f"claim or lemma to break ({', '.join(CLAIMS)}, a lemma of --lemmas), or 'all' "
                        "(every built-in finite-horizon claim on each example)")
    h.add_argument("--matrix", choices=MATRIX_CLASSES, default="spd", help="class of every score matrix A drawn")
    h.add_argument("--values", choices=VALUE_CLASSES, default=None,
                   help="class of the value matrices V drawn (default: the lemma's model, else identity)")
    h.add_argument("--layers", type=positive_int, default=None,
                   help="schedule entries drawn, 1 = no schedule (default: the lemma's model, else 1; at most 8)")
    h.add_argument("--alpha-schedule", choices=ALPHA_SCHEDULES, default=None,
                   help="'decreasing': alpha does not increase with the layer (default: the lemma's, else any)")
    _add_lemma_options(h)
    h.add_argument("--heads", type=int, choices=(1, 2, 3), default=1, help="heads per layer")
    h.add_argument("--family", choices=FAMILIES, default=None, help="restrict to one token family")
    h.add_argument("--max-examples", type=positive_int, default=1000,
                   help="configurations generated and checked before giving up")
    h.add_argument("--steps", type=positive_int, default=30, help="steps checked per example (default 30)")
    h.add_argument("--max-n", type=positive_int, default=12, help="most tokens per example (≤ 32, default 12)")
    h.add_argument("--max-d", type=positive_int, default=3, help="largest dimension (≤ 5, default 3)")
    h.add_argument("--seed", type=int, default=0, help="seed of the search (same seed, same hunt)")
    h.add_argument("--workers", type=positive_int, default=1,
                   help="processes searching in parallel: a local Dask cluster with the 'cluster' extra, "
                        "else a process pool (default 1)")
    h.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                   help="run the search's tasks on this Dask scheduler's workers (verify.cluster)")
    h.add_argument("--database", metavar="DIR|redis://HOST:PORT", default=None,
                   help="Hypothesis example database shared by the searches; a rerun replays what earlier "
                        "runs found (default: none)")
    save = h.add_mutually_exclusive_group()
    save.add_argument("--save", action="store_true",
                      help="add a found counterexample to verify/corpus/ (published: only when asked)")
    save.add_argument("--no-save", action="store_true", help="do not add it (the default)")
    h.add_argument("--json", action="store_true", help="print the result as one JSON document (its fields: README, \"JSON formats\")")

    x = sub.add_parser("crosscheck", help="compare a float run with the exact dynamics step by step",
                       **_epilog(strict=True))
    x.add_argument("configs", nargs="*", metavar="CONFIG", help="JSON config files (or use --random)")
    x.add_argument("--steps", type=positive_int, default=30, help="steps compared")
    x.add_argument("--backend", choices=("float", "torch"), default="float", help="the float run compared with the exact one")
    x.add_argument("--dtype", choices=("float32", "float64"), default="float64", help="its precision")
    x.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    x.add_argument("--random", type=positive_int, metavar="N", help="also check N seeded random configurations")
    x.add_argument("--family", choices=("generic", "duplicates", "reflection"), default="generic",
                   help="token family of the random configurations")
    x.add_argument("--seed", type=non_negative_int, default=0, help="seed of the --random configurations")
    x.add_argument("--json", action="store_true", help="print the result as one JSON document (its fields: README, \"JSON formats\")")
    add_limit_options(x)
    x.add_argument("--strict", action="store_true", help="exit 1 when any float decision is wrong (for CI)")

    cp = sub.add_parser("campaign", help="every claim and lemma × matrix class × heads on a Dask cluster, "
                        "within a budget (resumable)", **_epilog())
    from .campaign import add_arguments as campaign_arguments

    campaign_arguments(cp)

    r = sub.add_parser("report", help="write the verification report to reports/", **_epilog())
    from .report import add_arguments

    add_arguments(r)
    return parser


def _check(args) -> int:
    from .hunt import lemma_registry

    lemmas = lemma_registry(tuple(args.lemmas))
    config = load_config(args.config, max_bytes=args.max_config_size)
    if args.backend is None:
        args.backend = "exact" if config.is_rational else "algebraic"
    options = {}
    if args.backend not in ("exact", "algebraic"):
        options = {"dtype": args.dtype or ("float64" if args.backend == "float" else "float32")}
        if args.backend == "torch":
            options["device"] = args.device
    if args.steps is None:
        args.steps = config.steps if config.steps is not None else 30
    start = time.perf_counter()
    traj = simulate(config, args.steps, backend=args.backend, max_memory=args.max_memory, **options)
    finite = [item.name for item in lemmas if item.kind == "finite"]
    verdicts = check_all(config, traj, finite, lemmas=lemmas)
    exact, _ = exact_config(config, traj)  # entries in the config's number field for an algebraic config
    for item in lemmas:
        if item.kind == "limit":
            verdicts[item.name] = _limit_verdict(item, config, exact, args)
    elapsed = time.perf_counter() - start
    ordered = {name: verdicts[name] for name in lemmas.names()}
    document = {
        "config": args.config, "backend": args.backend, "steps": args.steps,
        "H": satisfies_H([h for _, h in exact.all_heads()]), "elapsed_s": round(elapsed, 6),
        "claims": {c: v.to_json() for c, v in ordered.items()},
    }
    if lemmas.user():
        document["lemmas"] = {item.name: item.describe() for item in lemmas.user()}
    # A claim fails only where it is claimed: a verdict of null (outside its domain) never fails --strict.
    failed = [c for c, v in ordered.items() if v.holds is False]
    if args.strict:
        document["strict_failed"] = failed
    if args.json:
        sys.stdout.write(dump_json(document))
    else:
        print(f"{args.config}: {args.backend} trajectory, {args.steps} step{'s' if args.steps != 1 else ''}, "
              f"hypothesis H {'holds' if document['H'] else 'does not hold'}, {elapsed:.2f} s")
        for c, v in ordered.items():
            status = {True: "holds", False: "FAILS", None: "n/a"}[v.holds]
            detail = v.reason
            if v.holds is False:
                size = "" if v.max_violation is None else f", max {v.max_violation:.3g}"
                detail = f"{v.violations} violation(s){size}; first: {json.dumps(v.witness)}"
            print(f"  {c}: {status}" + (f"  ({detail})" if detail else ""))
    return _strict_exit(args, failed, "claims that fail")


def _limit_verdict(item, config, exact, args) -> Verdict:
    """P5 on the exact or algebraic backend: the certified limit, judged where P5 is claimed (``exact``: the
    config with exact entries, :func:`verify.run.exact_config`)."""
    from .claims import claimed_verdict
    from .lemmas import not_claimed

    if args.backend not in ("exact", "algebraic"):
        return Verdict(item.name, None, reason="P5 is a limit: it is certified on the exact or algebraic engine "
                                               "(verify limit)")
    if not config.identity_values or any(h.alpha <= 0 for _, h in exact.all_heads()):
        return Verdict(item.name, None, reason=not_claimed(item, exact) or "the certified limit needs V = I and alpha > 0")
    verdict = item.checker(config, args.limit_steps, args.max_memory)
    return verdict if verdict.holds is None else claimed_verdict(item, exact, verdict)


def _limit(args) -> int:
    config = load_config(args.config, max_bytes=args.max_config_size)
    result = certified_limit(config, max_steps=args.max_steps, max_memory=args.max_memory)
    document = result.to_json()
    failed = _limit_failures(result)
    if args.strict:
        document["strict_failed"] = failed
    if args.json:
        sys.stdout.write(dump_json(document))
    elif result.certified:
        print(f"{args.config}: pattern certified frozen at step {result.certified_at}; "
              f"leaders {list(result.leaders)}; {len(result.clusters)} clusters {result.clusters}")
        for i, row in enumerate(document["limit"]):
            flag = "" if result.in_S is None else ("  in S" if result.in_S[i] else "  NOT in S")
            print(f"  {i:3d} -> ({', '.join(row)}){flag}")
    else:
        print(f"{args.config}: not certified: {result.reason}")
    return _strict_exit(args, failed, "limit check fails")


def _limit_failures(result) -> list[str]:
    """What ``verify limit --strict`` fails on: no certified limit, or limit points outside S."""
    if not result.certified:
        return ["not certified"]
    outside = [i for i, ok in enumerate(result.in_S or []) if ok is False]
    return [f"tokens {outside} not in S"] if outside else []


def _hunt(args, argv: list[str] | None) -> int:
    from .hunt import hunt, save_counterexample

    progress = _task_progress(args)
    result = hunt(args.claim, matrix=args.matrix, heads=args.heads, max_examples=args.max_examples,
                  seed=args.seed, steps=args.steps, family=args.family, workers=args.workers,
                  max_n=args.max_n, max_d=args.max_d, lemma_files=args.lemmas, values=args.values,
                  layers=args.layers, alpha_schedule=args.alpha_schedule, scheduler=args.scheduler,
                  database=args.database, progress=progress)
    if getattr(progress, "open_line", [False])[0]:  # a search that stopped early leaves its line open
        print(file=sys.stderr)
    if result.counterexample is not None and args.save:
        command = "python -m verify " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]) if a != "--json")
        result.saved_to = save_counterexample(result, command)
    document = result.to_json()
    if args.json:
        sys.stdout.write(dump_json(document))
    else:
        rate = document["examples_per_s"]
        head = f"{args.claim} / {args.matrix} / {args.heads} head(s): {result.examples} examples in " \
               f"{result.elapsed_s:.1f} s ({rate} examples/s)"
        if result.counterexample is None:
            print(head + f": no counterexample (none in {result.examples} examples)")
        else:
            failing = (result.witness or {}).get("step", result.step)
            print(head + f": counterexample (fails at step {failing}; replay with --steps {result.step}):")
            print(json.dumps(result.counterexample))
            if result.saved_to:
                print(f"saved to {result.saved_to}")
    return 0


def _task_progress(args):
    """Progress of a hunt on stderr (examples generated in one process, tasks finished on a cluster): a line
    rewritten in place on a terminal, a plain line at most every 10 s otherwise (none with --json)."""
    if args.json:
        return None
    unit = "task" if (args.scheduler or args.workers > 1) else "example"
    if not sys.stderr.isatty():
        from dynamics.cli import LineProgress

        lines: list[LineProgress] = []

        def log(done: int, total: int) -> None:
            if not lines:
                lines.append(LineProgress(total, f"{PROG} hunt", unit=unit))
            lines[0].update(done - lines[0].n)
            if done == total:
                lines[0].close()

        return log

    def show(done: int, total: int) -> None:
        if unit == "task" or done == total or done % 25 == 0:
            print(f"\r{PROG} hunt: {done}/{total} {unit}s", end="\n" if done == total else "", file=sys.stderr,
                  flush=True)
            show.open_line[0] = done != total

    show.open_line = [False]  # type: ignore[attr-defined]
    return show


def _crosscheck(args) -> int:
    import numpy as np

    from .crosscheck import crosscheck, summarise
    from .strategies import random_config

    if not args.configs and not args.random:
        raise InputError("crosscheck: give CONFIG files or --random N")
    items = [(path, load_config(path, max_bytes=args.max_config_size)) for path in args.configs]
    if args.random:
        rng = np.random.default_rng(args.seed)
        for r in range(args.random):
            n, d = int(rng.integers(2, 17)), int(rng.integers(2, 4))
            items.append((f"random-{r}", random_config(rng, n, d, family=args.family)))
    from dynamics.cli import progress_bar

    results = []
    bar = progress_bar(len(items), f"{PROG} crosscheck", enabled=len(items) > 1, unit="config")
    for name, config in items:
        result = crosscheck(config, args.steps, backend=args.backend, dtype=args.dtype, device=args.device,
                            max_memory=args.max_memory)
        result["config"] = name
        results.append(result)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    document = results[0] if len(results) == 1 else {"results": results, "summary": summarise(results)}
    failed = [r["config"] for r in results if r["wrong_decisions"] > 0]
    if args.strict:
        document = {**document, "strict_failed": failed}
    if args.json:
        sys.stdout.write(dump_json(document))
        return _strict_exit(args, failed, "wrong float decisions in")
    for r in results:
        flagged = sum(1 for s in r["steps"] if s["uncertain_rows"])
        first = "none" if r["first_disagreement"] is None else f"step {r['first_disagreement']}"
        print(f"{r['config']}: {r['backend']} {r['dtype']}, {r['steps_checked']} steps: first disagreement "
              f"{first}, {r['wrong_decisions']} wrong and {r['uncertain_decisions']} uncertain "
              f"decisions ({flagged} steps flagged), final max |dev| {r['final_max_abs_dev']:.3g}"
              + ("" if r.get("float_nonfinite_at") is None else
                 f"; the float run overflowed to inf/NaN at step {r['float_nonfinite_at']}"))
    if len(results) > 1:
        print(_crosscheck_summary(summarise(results)))
    return _strict_exit(args, failed, "wrong float decisions in")


def _crosscheck_summary(summary: dict) -> str:
    """The rates of a batch crosscheck as a few readable lines."""
    configs = summary["configs"]
    devs = summary["final_max_abs_dev"]
    mean_first = summary["mean_first_disagreement"]
    return "\n".join([
        f"summary of {configs} configurations:",
        f"  with a wrong float decision:      {summary['configs_with_wrong_decision']} "
        f"(rate {summary['wrong_decision_rate']:.3g} per decision)",
        f"  with an uncertain float decision: {summary['configs_with_uncertain_decision']} "
        f"(rate {summary['uncertain_decision_rate']:.3g} per decision)",
        "  first disagreement: " + ("none" if mean_first is None else f"at step {mean_first:.1f} on average")
        + f"; wrong but not flagged at the first disagreement: {summary['unflagged_first_errors']}",
        f"  final max |float - exact|: median {devs['median']:.3g}, max {devs['max']:.3g}",
    ])


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); ``prog`` names the program in usage and errors."""
    args = build_parser(prog).parse_args(argv)
    try:
        return _dispatch(args, argv)
    except LemmaCheckerError as exc:
        if getattr(args, "debug", False) and exc.traceback_text:
            sys.stderr.write(exc.traceback_text)
        raise


def _plot(args) -> int:
    """``plot``: run the config, compute its certified limit when there is one, draw (verify.plots)."""
    from dynamics.cli import check_output_path
    from dynamics.floats import approx_float
    from dynamics.trajectory import state_to_float

    from .plots import (ANIMATION_FORMATS, FIGURE_FORMATS, RunPicture, animate, pull_weights_of, save_figure,
                        trajectory_figure)

    fmt = os.path.splitext(args.output)[1].lower().lstrip(".")
    allowed = ANIMATION_FORMATS if args.animate else FIGURE_FORMATS
    if fmt not in allowed:
        names = [f".{f}" for f in allowed]
        raise InputError(f"--output: {args.output} (expected a {', '.join(names[:-1])} or {names[-1]} file"
                         + ("" if args.animate else "; .gif or .mp4 with --animate") + ")")
    check_output_path(args.output, inputs=[args.config])
    at = None
    if args.at is not None:
        try:
            at = sorted({int(x) for x in args.at.split(",") if x.strip()})
        except ValueError:
            raise InputError(f"--at: {args.at!r} (expected layers like 0,1,5)") from None
        if not at or at[0] < 0 or at[-1] > args.steps:
            raise InputError(f"--at: {args.at!r} (expected layers between 0 and --steps {args.steps})")
    config = load_config(args.config, max_bytes=args.max_config_size)
    if args.backend is None:
        args.backend = "certified" if config.is_rational else "algebraic"
    if args.backend not in ("float", "algebraic"):
        config.require_rational(f"plot --backend {args.backend} (--backend algebraic draws algebraic configs "
                                "exactly)")
    traj = simulate(config, args.steps, backend=args.backend, max_memory=args.max_memory)
    states = [state_to_float(s) for s in traj.states]
    for k, S in enumerate(states):  # exact entries beyond float64's range were saturated to ±inf
        if not np.isfinite(S).all():
            raise InputError(f"{args.config}: the tokens at layer {k} reach magnitudes beyond float64's range (about "
                             "1.8e308), which a figure cannot draw (the exact run itself works: attention-dynamics "
                             "simulate)")
    limit, limit_note = None, "not asked for"
    if not args.no_limit:  # exact for a rational config, in its number field for an algebraic one
        try:
            result = certified_limit(config, max_steps=args.limit_steps, max_memory=args.max_memory)
        except InputError as exc:  # V ≠ I or α ≤ 0 (the limit theorem does not apply), or not algebraic
            limit_note = str(exc).split(": ", 1)[-1]
        else:
            if result.certified:
                # approx_float saturates Fractions and field elements to ±inf alike, as the states were
                limit = np.array([[approx_float(x) for x in row] for row in result.limit])
                limit_note = f"certified (the follow pattern is frozen from layer {result.certified_at} on)"
                if not np.isfinite(limit).all():
                    limit, limit_note = None, limit_note + "; beyond float64's range, not drawn"
            else:
                limit_note = f"not certified: {result.reason}"
    title = args.title or config.name or os.path.basename(args.config)
    picture = RunPicture(states=states, leaders=traj.leaders, follow=traj.follow, limit=limit,
                         limit_label="certified limit" + (" (exact run)" if args.backend == "float" else ""),
                         pull_weights=pull_weights_of(config, args.steps), title=f"{title}: {traj.backend}, n = {config.n}, d = {config.d}, {args.steps} layers")
    if args.animate:
        animate(picture, args.output, fps=args.fps)
    else:
        save_figure(trajectory_figure(picture, steps=at, panels=args.panels), args.output)
    document = {"output": args.output, "backend": traj.backend, "n": config.n, "d": config.d, "steps": args.steps,
                "leaders": list(traj.leaders[-1]), "certified_limit": limit is not None, "limit": limit_note}
    if args.json:
        sys.stdout.write(dump_json(document))
    else:
        print(f"wrote {args.output}: {config.n} tokens in R^{config.d}, {args.steps} layers ({traj.backend}); "
              f"leaders at layer {args.steps}: {list(traj.leaders[-1])}; certified limit: {limit_note}")
    return 0


def _dispatch(args, argv: list[str] | None) -> int:
    if args.command == "plot":
        return _plot(args)
    if args.command == "check":
        return _check(args)
    if args.command == "limit":
        return _limit(args)
    if args.command == "crosscheck":
        return _crosscheck(args)
    with private_hypothesis_storage():  # hunts write nothing into the user's folder
        if args.command == "hunt":
            return _hunt(args, argv)
        if args.command == "campaign":
            from .campaign import run_campaign

            return run_campaign(args)
        from .report import run_report

        return run_report(args)


@contextmanager
def private_hypothesis_storage() -> Iterator[None]:
    """Point Hypothesis' storage (its example database, its constants cache) at a temporary folder.

    Hypothesis otherwise creates ``.hypothesis/`` in the current folder, an
    unrequested write. A user's own ``HYPOTHESIS_STORAGE_DIRECTORY`` is kept.
    The variable is inherited by worker processes.
    """
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        yield
        return
    from hypothesis.configuration import set_hypothesis_home_dir

    with tempfile.TemporaryDirectory(prefix="verify-hypothesis-") as folder:
        os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = folder
        set_hypothesis_home_dir(folder)
        try:
            yield
        finally:
            del os.environ["HYPOTHESIS_STORAGE_DIRECTORY"]
            set_hypothesis_home_dir(None)


if __name__ == "__main__":
    sys.exit(run_main(PROG, main))
