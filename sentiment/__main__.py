"""``python -m sentiment train|evaluate|leaders|plot|crosscheck`` (SPEC §6).

Nothing under ``reports/`` is written unless asked: ``--record`` writes the
published ``results.json`` / ``results.md`` (and, for ``plot``, the figures
beside them); without it ``plot`` draws into ``RUN/figures/``. A record
belongs to one model (see :mod:`sentiment.results`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from dynamics.cli import Parser, dump_json, non_negative_int, positive_float, positive_int, run_main
from dynamics.errors import InputError

from .recipes import PROTOCOLS, RECIPES, recipe
from .results import DEFAULT_DIR, DEFAULT_RESULTS
from .text import TRUNCATIONS

PROG = "python -m sentiment"


def _float_in(what: str, accept, interval: str):
    """An argparse type: a float for which ``accept(value)`` holds (``interval`` names the range)."""
    import argparse

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {what} in {interval}, got {text!r}")
        return value

    parse.__name__ = what.split()[-1]
    return parse


probability = _float_in("a probability", lambda p: 0 <= p < 1, "[0, 1)")
decay_factor = _float_in("a factor", lambda g: 0 < g <= 1, "(0, 1]")
non_negative_float = _float_in("a non-negative number", lambda x: 0 <= x < float("inf"), "[0, inf)")
#: The analyses: what each writes into a record (None: its numbers at the top level).
RECORD_KEYS = {"evaluate": None, "leaders": "leaders", "plot": "figures", "crosscheck": "exact_crosscheck"}


def build_parser(prog: str = PROG) -> Parser:
    parser = Parser(prog=prog, description="The paper's IMDb sentiment experiment on hardmax attention dynamics.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    t = sub.add_parser("train", help="train the classifier")
    t.add_argument("--dim", type=positive_int, default=16, help="token dimension d")
    t.add_argument("--depth", type=non_negative_int, default=8, help="attention layers")
    t.add_argument("--tau", type=positive_float, default=1e-3, help="softmax temperature (default 0.001)")
    t.add_argument("--recipe", choices=RECIPES, default="validated",
                   help="the settings to start from: 'validated' (chosen on validation accuracy; the published "
                        "numbers) or 'paper' (the paper's); options given explicitly override it")
    t.add_argument("--mask-pads", action=argparse.BooleanOptionalAction, default=None,
                   help="exclude <PAD> from attention and the mean (default: the recipe's)")
    t.add_argument("--keep-negations", action=argparse.BooleanOptionalAction, default=None,
                   help="keep not/no/never… (dropped by stop-word lists; default: the recipe's)")
    t.add_argument("--lemmatize", action=argparse.BooleanOptionalAction, default=None,
                   help="simplemma lemmas, or words as written (default: the recipe's)")
    t.add_argument("--epochs", type=positive_int, default=None,
                   help="most epochs, early stopping may end sooner (default: the recipe's, 30 or 100)")
    t.add_argument("--batch-size", type=positive_int, default=64, help="reviews per optimiser step")
    t.add_argument("--lr", type=positive_float, default=None, help="Adam learning rate (default: the recipe's)")
    t.add_argument("--weight-decay", type=non_negative_float, default=None,
                   help="decoupled (AdamW) weight decay; 0 is the paper's plain Adam (default: the recipe's)")
    t.add_argument("--lr-decay", type=decay_factor, default=None,
                   help="multiply the learning rate by this after every epoch; 1 keeps it (default: the recipe's)")
    t.add_argument("--token-dropout", type=probability, default=None,
                   help="training only: drop each word with this probability (default: the recipe's)")
    t.add_argument("--truncate", choices=TRUNCATIONS, default=None,
                   help="keep the first 128 tokens of a long review (the paper) or the last 128 (default: the recipe's)")
    t.add_argument("--patience", type=positive_int, default=None,
                   help="early stopping: epochs without improvement (default: the recipe's, 3 or 5)")
    t.add_argument("--protocol", choices=PROTOCOLS, default="ours",
                   help="'ours': train on the 25k training reviews less a validation split, choose the epoch on "
                        "validation, test on the 25k test reviews; 'paper': the paper's code (all 50k reviews in a "
                        "seeded random order, vocabulary on all of them, train on the first 70 %%, test on the "
                        "last 30 %%, the epoch chosen on that test set)")
    t.add_argument("--val-split", choices=("movies", "random"), default="movies",
                   help="validation = blocks of consecutive review ids, i.e. held-out movies (default), or random "
                        "(--protocol ours only)")
    t.add_argument("--seed", type=non_negative_int, default=0, help="seed of the split, the initialisation and the batches")
    t.add_argument("--limit", type=positive_int, help="train on this many reviews (quick runs)")
    t.add_argument("--eval-limit", type=positive_int, help="validate and test on this many reviews")
    t.add_argument("--min-count", type=positive_int, default=None,
                   help="words seen fewer times become <UNK> (default 2; 1 with --protocol paper, the paper's "
                        "vocabulary of every word)")
    t.add_argument("--max-vocab", type=positive_int,
                   help="keep the most frequent words only (default: the recipe's, 10,000 or no cap)")
    t.add_argument("--threads", type=positive_int, help="torch threads")
    t.add_argument("--out-dir", help="run folder (default runs/sentiment-d{dim}, or runs/sentiment-d{dim}-paper-protocol)")
    t.add_argument("--data-dir", help="folder with train.parquet and test.parquet (else $IMDB_DATA_DIR, "
                                      "../shared/data/imdb, or the hub)")
    t.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its last.pt, with the same options (only --epochs, "
                        "--patience, --no-progress, --threads, --track-test, --data-dir may change)")
    t.add_argument("--track-test", action="store_true",
                   help="also record test accuracy per epoch (a diagnostic; selection stays on validation)")
    t.add_argument("--record", action="store_true",
                   help="make this run the record of its d in reports/sentiment/results.json (and results.md)")
    t.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    t.add_argument("--json", action="store_true", help="print the result as one JSON document (its fields: README, \"JSON formats\")")

    for name, text in (("evaluate", "softmax and hardmax test accuracy of a trained run"),
                       ("leaders", "leaders per review and the leader words of confident reviews"),
                       ("plot", "figures: leader-word bar chart and (d = 2) a review's tokens through the layers"),
                       ("crosscheck", "the hardmax dynamics of test reviews in exact arithmetic vs float")):
        p = sub.add_parser(name, help=text)
        p.add_argument("run", help="run folder written by `train` (model.pt + meta.json)")
        p.add_argument("--data-dir", help="folder with train.parquet and test.parquet (else $IMDB_DATA_DIR, "
                                          "../shared/data/imdb, or the hub)")
        p.add_argument("--limit", type=positive_int, help="use this many test reviews (default all)")
        p.add_argument("--record", action="store_true",
                       help="add the result to the record of this model in OUTPUT_DIR/results.json"
                            + (" and draw the figures into OUTPUT_DIR" if name == "plot" else ""))
        p.add_argument("--replace", action="store_true",
                       help="with --record: replace the record of this d even if it belongs to another model "
                            "(it restarts from RUN/summary.json when that describes the same model.pt)")
        p.add_argument("--output-dir",
                       help=f"the published results' folder for --record (default {DEFAULT_DIR})"
                            + ("; the figures' folder (default RUN/figures, or that folder with --record)"
                               if name == "plot" else ""))
        p.add_argument("--json", action="store_true", help="print the result as one JSON document (its fields: README, \"JSON formats\")")
        if name == "plot":
            p.add_argument("--review", type=non_negative_int, default=0,
                           help="index of the test review to draw (d = 2)")
        if name == "crosscheck":
            p.add_argument("--workers", type=positive_int, default=2, help="processes (default 2)")
    return parser


def _command(argv: list[str] | None) -> str:
    return f"{PROG} " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))


def default_out_dir(args) -> str:
    """``runs/sentiment-d{dim}``, or ``runs/sentiment-d{dim}-paper-protocol`` under the paper's protocol."""
    return f"runs/sentiment-d{args.dim}" + ("-paper-protocol" if args.protocol == "paper" else "")


def train_config(args):
    """The :class:`~sentiment.train.TrainConfig` of ``train``'s options: the ``--recipe`` at ``--dim``
    (:func:`sentiment.recipes.recipe`), with every option given explicitly overriding it."""
    from .train import TrainConfig

    chosen = {"mask_pads": args.mask_pads, "keep_negations": args.keep_negations, "lemmatize": args.lemmatize,
              "epochs": args.epochs, "lr": args.lr, "weight_decay": args.weight_decay, "lr_decay": args.lr_decay,
              "token_dropout": args.token_dropout, "truncate": args.truncate, "patience": args.patience,
              "max_vocab": args.max_vocab}
    settings = recipe(args.recipe, args.dim) | {k: v for k, v in chosen.items() if v is not None}
    cfg = TrainConfig(dim=args.dim, depth=args.depth, tau=args.tau, batch_size=args.batch_size, seed=args.seed,
                      limit=args.limit, eval_limit=args.eval_limit, threads=args.threads,
                      min_count=args.min_count or (1 if args.protocol == "paper" else 2),
                      out_dir=args.out_dir or default_out_dir(args), data_dir=args.data_dir,
                      resume=args.resume, track_test=args.track_test, progress=not args.no_progress,
                      val_split=args.val_split, protocol=args.protocol, recipe=args.recipe, **settings)
    return cfg


def _train(args, argv) -> int:
    from .results import read_results, record_training
    from .train import train

    cfg = train_config(args)
    if args.record:
        read_results(DEFAULT_RESULTS)  # an unreadable results file fails now, not after the training
    summary = train(cfg, command=_command(argv))
    if args.record:
        record_training(summary, DEFAULT_RESULTS)
    if args.json:
        sys.stdout.write(dump_json({k: v for k, v in summary.items() if k != "history"}))
    else:
        chosen = ("epoch chosen on test: the paper's protocol" if summary["chosen_on"] == "test"
                  else f"val {summary['val_accuracy']:.4f}")
        print(f"d={summary['dim']}: {chosen}, test {summary['test_accuracy']:.4f} "
              f"(hardmax {summary['hardmax_test_accuracy']:.4f}, agreement {summary['agreement']:.4f}), "
              f"{summary['epochs']} epochs, best {summary['best_epoch']}, alpha {summary['alpha']:.3f}, "
              f"{summary['train_seconds_per_epoch']:.1f} s/epoch; saved in {summary['checkpoint']}")
    return 0


def _precheck_record(args, results_path: str) -> tuple[int, str, str]:
    """Before any work: the run loads, and --record would not mix models (see :func:`results.check_record`).
    Returns the run's record key (d, protocol, recipe)."""
    from .results import check_record, run_key
    from .train import load_model

    model, meta = load_model(args.run)
    key = run_key(model.dim, meta)
    check_record(results_path, key, meta["model_sha256"], args.replace)
    return key


def _record(args, result: dict, results_path: str, run: tuple[int, str, str]) -> None:
    """Add an analysis result to the record of its model (``run``: the run's record key (d, protocol, recipe))."""
    from .results import record_analysis, training_base
    from .runs import provenance

    sha = result["model_sha256"]
    key = RECORD_KEYS[args.command]
    if key is None:
        fields = {k: v for k, v in result.items() if k != "command"}
    else:
        fields = {"dim": result["dim"], key: result[key] if key == "figures" else result}
    fields |= {"protocol": run[1], "recipe": run[2]}
    record_analysis(results_path, args.command, fields, provenance(result["command"], sha), args.replace,
                    training_base(args.run, sha))


def _analysis(args, argv) -> int:
    from . import analysis

    if args.replace and not args.record:
        raise InputError("--replace: only with --record (expected --record --replace)")
    results_path = os.path.join(args.output_dir or DEFAULT_DIR, "results.json")
    if args.command == "plot":  # figures: published only with --record (or where --output-dir says)
        args.output_dir = args.output_dir or (DEFAULT_DIR if args.record else os.path.join(args.run, "figures"))
    key = _precheck_record(args, results_path) if args.record else None
    runner = {"evaluate": analysis.evaluate, "leaders": analysis.leaders_report,
              "plot": analysis.plots, "crosscheck": analysis.exact_crosscheck}[args.command]
    result = runner(args)
    result["command"] = _command(argv)
    if args.record:
        _record(args, result, results_path, key)
    if args.json:
        sys.stdout.write(dump_json(result))
    else:
        print(summary(args.command, result))
    return 0


def summary(command: str, result: dict) -> str:
    """A readable account of an analysis (``--json`` gives every number)."""
    sha = f"model sha256 {result['model_sha256'][:12]}…"
    if command == "evaluate":
        return (f"d = {result['dim']}: test accuracy {result['test_accuracy']:.4f} (softmax), "
                f"{result['hardmax_test_accuracy']:.4f} (hardmax dynamics), agreement {result['agreement']:.4f}, "
                f"on {result['test_reviews']} test reviews; validation {result['val_accuracy']:.4f}, "
                f"α = {result['alpha']:.4g}, best epoch {result['epochs_best']}; {sha}")
    if command == "leaders":
        stats = result["leaders_per_review"]
        words = {side: ", ".join(f"{w} ({c})" for w, c in pairs[:10])
                 for side, pairs in result["top_leader_words"].items()}
        return "\n".join([
            f"d = {result['dim']}, {result['test_reviews']} test reviews; {sha}",
            f"leaders per review: {stats['mean']:.2f} ± {stats['std']:.2f} (min {stats['min']}, max {stats['max']}); "
            f"{100 * result['fraction_leaders_at_layer_0']:.1f} % of the final leaders are leaders at layer 0",
            f"confident reviews (|logit| > 2): {result['confident_reviews']}",
            f"leader words of confident positive reviews: {words.get('positive', '')}",
            f"leader words of confident negative reviews: {words.get('negative', '')}"] + [
            f"by lift ({side}: leads / contains): " + ", ".join(f"{w} {lift:.2f} ({lead}/{n})" for w, lift, lead, n in
                                                                pairs[:10])
            for side, pairs in result.get("top_leader_words_by_lift", {}).items()])
    if command == "plot":
        return f"d = {result['dim']}: wrote " + ", ".join(result["figures"]) + f"; {sha}"
    return (f"d = {result['dim']}, {result['layers']} layers, α = {result['alpha']:.4g}: "
            f"{result['test_reviews']} test reviews in exact arithmetic vs float: wrong predictions "
            f"{result['wrong_predictions']}, wrong leader sets {result['wrong_leader_sets']}, wrong clusters "
            f"{result['wrong_clusters']}; {result['reviews_needing_exact_rows']} reviews needed exact rows "
            f"({result['rows_decided_exactly']} of {result['rows']} rows); {result['seconds']:.1f} s with "
            f"{result['workers']} workers; {sha}")


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); ``prog`` names the program in usage and errors."""
    args = build_parser(prog).parse_args(argv)
    if args.command == "train":
        return _train(args, argv)
    return _analysis(args, argv)


if __name__ == "__main__":
    sys.exit(run_main(PROG, main))
