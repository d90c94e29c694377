"""``attention-dynamics COMMAND …``: one entry point for the commands of ``dynamics``, ``verify`` and ``sentiment``.

Each command is the library's own command line (``python -m dynamics simulate`` is
``attention-dynamics simulate``, ``python -m sentiment train`` is
``attention-dynamics sentiment train``); this module only picks the library and
names the program. Exit codes are those of the commands: 0 success, 1 a checked
claim fails (``--strict``), 2 bad input or a limit exceeded (one line on stderr),
130 interrupted.
"""

from __future__ import annotations

import importlib
import sys

from dynamics.cli import run_main

from . import __version__

__all__ = ["COMMANDS", "main"]

PROG = "attention-dynamics"

#: Command → (module whose ``main(argv, prog)`` runs it, what it does). ``sentiment`` takes its own subcommands.
COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("dynamics.__main__", "run the dynamics on a JSON config (exact, certified, interval, float, torch)"),
    "plot": ("verify.__main__", "draw a run: tokens through the layers, leaders, follow arrows, hull, certified limit"),
    "check": ("verify.__main__", "check every claim (and your --lemmas) on one config"),
    "limit": ("verify.__main__", "the certified limit of one config"),
    "hunt": ("verify.__main__", "search for a minimal counterexample to a claim or lemma"),
    "crosscheck": ("verify.__main__", "compare a float run with the exact dynamics, step by step"),
    "campaign": ("verify.__main__", "every claim and lemma x matrix class x heads, on a Dask cluster"),
    "report": ("verify.__main__", "write the verification report (Markdown, HTML, JSON)"),
    "sentiment": ("sentiment.__main__", "the IMDb experiment: train, evaluate, leaders, plot, crosscheck"),
}


def usage() -> str:
    """The top-level help: every command with what it does."""
    width = max(len(name) for name in COMMANDS)
    lines = [f"usage: {PROG} COMMAND [options]   ({PROG} COMMAND --help for a command's options)", "",
             "Exact verification of hardmax attention dynamics (Alcalde, Fantuzzi, Zuazua, arXiv 2407.01602).", "",
             "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "options:", "  -h, --help  show this help", "  --version   show the version", "",
              "exit codes: 0 success; 1 a checked claim fails (only with --strict); 2 bad input or a limit "
              "exceeded (one line on stderr, nothing written); 130 interrupted"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run ``attention-dynamics`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"{PROG} {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"{PROG}: error: unknown command {name!r} (expected one of {', '.join(COMMANDS)}; see --help)",
              file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    if name == "sentiment":
        prog = f"{PROG} sentiment"
        return run_main(prog, lambda args: module.main(args, prog=prog), argv[1:])
    return run_main(PROG, lambda args: module.main(args, prog=PROG), argv)
