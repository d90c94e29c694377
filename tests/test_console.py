"""The ``attention-dynamics`` command and its ``plot`` subcommand, used as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "emerging_leader.json")


def console() -> list[str]:
    """The installed ``attention-dynamics`` script beside this Python (else ``python -m attention_dynamics``)."""
    script = os.path.join(os.path.dirname(sys.executable), "attention-dynamics")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "attention_dynamics"]


def run(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*console(), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_help_lists_every_command_and_the_exit_codes():
    from attention_dynamics.cli import COMMANDS

    done = run("--help")
    assert done.returncode == 0
    for name in COMMANDS:
        assert f"\n  {name} " in done.stdout
    assert "exit codes" in done.stdout
    assert run("--version").stdout.startswith("attention-dynamics ")


@pytest.mark.parametrize("args, fragment", [((), "usage: attention-dynamics"),
                                            (("frobnicate",), "unknown command 'frobnicate'"),
                                            (("sentiment", "train", "--dim", "0"), "attention-dynamics sentiment train: error"),
                                            (("check", "no-such-file.json"), "attention-dynamics: error")])
def test_mistakes_exit_2_with_one_line(args, fragment):
    done = run(*args)
    assert done.returncode == 2, done
    assert fragment in done.stderr and "Traceback" not in done.stderr
    if args:
        assert len(done.stderr.strip().splitlines()) == 1


def test_simulate_is_the_libraries_command():
    ours = run("simulate", EXAMPLE, "--steps", "4", "--json")
    theirs = subprocess.run([sys.executable, "-m", "dynamics", "simulate", EXAMPLE, "--steps", "4", "--json"],
                            capture_output=True, text=True, timeout=300)
    assert ours.returncode == theirs.returncode == 0
    a, b = json.loads(ours.stdout), json.loads(theirs.stdout)
    for doc in (a, b):
        doc.pop("elapsed_s", None)
    assert a == b


def write(tmp_path, name: str, obj: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path)


CONFIGS = {
    "line": {"tokens": [["-1"], ["-1/3"], ["1/2"], ["1"]], "A": [["1"]], "alpha": "1/2"},
    "idle-third": {"tokens": [["1", "0", "0"], ["0", "1", "0"], ["-1", "-1", "0"], ["1/3", "1/4", "0"]],
                   "A": [["1", "0", "0"], ["0", "1", "0"], ["0", "0", "1"]], "alpha": 1},
    "space": {"tokens": [["1", "0", "0"], ["0", "1", "0"], ["0", "0", "1"], ["1/3", "1/4", "1/5"]],
              "A": [["2", "0", "0"], ["0", "1", "0"], ["0", "0", "1"]], "alpha": 1},
    "five": {"tokens": [[str((3 * i + 2 * t) % 7 - 3) for t in range(5)] for i in range(7)],
             "A": [["1" if i == j else "0" for j in range(5)] for i in range(5)], "alpha": "1/2"},
    "values": {"tokens": [["1", "0"], ["0", "1"], ["1/2", "1/3"]], "A": [["1", "0"], ["0", "1"]], "alpha": 1,
               "V": [["1", "0"], ["0", "1/2"]]},
}
MAGIC = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF", "gif": b"GIF8"}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_plot_draws_every_dimension(tmp_path, name):
    config = write(tmp_path, f"{name}.json", CONFIGS[name])
    out = str(tmp_path / f"{name}.png")
    done = run("plot", config, "--steps", "6", "--output", out, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["output"] == out and document["steps"] == 6
    with open(out, "rb") as handle:
        assert handle.read(4) == MAGIC["png"]
    assert document["certified_limit"] == (name != "values")
    if name == "values":
        assert "V = I" in document["limit"]


@pytest.mark.parametrize("fmt", ("svg", "pdf"))
def test_plot_writes_vector_formats(tmp_path, fmt):
    out = str(tmp_path / f"run.{fmt}")
    assert run("plot", EXAMPLE, "--steps", "5", "--at", "0,1,5", "--output", out).returncode == 0
    with open(out, "rb") as handle:
        assert handle.read(5).startswith(MAGIC[fmt])


@pytest.mark.parametrize("name", ["line", "example", "space", "five"])  # 1-D, 2-D, 3-D, projected
def test_plot_animates_one_frame_per_layer(tmp_path, name):
    from PIL import Image

    out = str(tmp_path / "run.gif")
    config = EXAMPLE if name == "example" else write(tmp_path, f"{name}.json", CONFIGS[name])
    done = run("plot", config, "--steps", "7", "--animate", "--output", out)
    assert done.returncode == 0, done.stderr
    with Image.open(out) as movie:
        assert movie.n_frames == 8
    assert oct(os.stat(out).st_mode & 0o777) != oct(0o600)  # an ordinary file, not a private temp file


def test_plot_refuses_bad_requests_before_work_and_writes_nothing(tmp_path):
    config = write(tmp_path, "c.json", CONFIGS["line"])
    before = sorted(os.listdir(tmp_path))
    for args, fragment in ((("--output", str(tmp_path / "x.jpg")), "expected a .png, .svg or .pdf"),
                           (("--output", str(tmp_path / "x.png"), "--animate"), "expected a .gif or .mp4"),
                           (("--output", str(tmp_path / "x.png"), "--at", "0,99"), "--at"),
                           (("--output", str(tmp_path / "x.png"), "--at", "one"), "--at"),
                           (("--output", config), "c.json")):
        done = run("plot", config, "--steps", "5", *args)
        assert done.returncode == 2, (args, done.stderr)
        assert fragment in done.stderr and len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)
    assert sorted(os.listdir(tmp_path)) == before
    with open(config) as handle:
        assert json.load(handle) == CONFIGS["line"]


@pytest.mark.parametrize("tokens, V, layer", [
    ([["2^4000", "0"], ["0", "1"], ["1", "1"]], None, 0),               # beyond float64 from the start
    ([["2^1020", "0"], ["0", "1"], ["1", "1"]], [["16", "0"], ["0", "16"]], 2),  # grows past it (V = 16 I)
    ([["2^4000*sqrt(2)", "0"], ["0", "1"], ["1", "1"]], None, 0),       # algebraic
])
def test_plot_refuses_tokens_beyond_float64_in_one_line(tmp_path, tokens, V, layer):
    config = write(tmp_path, "big.json", {"tokens": tokens, "alpha": "1/2", **({"V": V} if V else {})})
    done = run("plot", config, "--steps", "3", "--output", str(tmp_path / "big.png"))
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and f"at layer {layer} reach magnitudes beyond" in done.stderr
    assert not os.path.exists(tmp_path / "big.png")


def test_plot_draws_tokens_far_below_one(tmp_path):
    config = write(tmp_path, "tiny.json", {"tokens": [["2^-4000", "0"], ["0", "2^-4001"], ["1", "1"]], "alpha": "1/2"})
    done = run("plot", config, "--steps", "3", "--output", str(tmp_path / "tiny.png"))
    assert done.returncode == 0, done.stderr
    assert os.path.getsize(tmp_path / "tiny.png") > 0


def test_the_picture_drops_constant_coordinates_and_projects_without_stretching():
    from verify.plots import RunPicture

    rng = np.random.default_rng(0)
    flat = [np.hstack([rng.standard_normal((5, 2)), np.zeros((5, 1))]) for _ in range(3)]
    states, _, note, labels = RunPicture(states=flat, leaders=[()] * 3).coordinates()
    assert states[0].shape == (5, 2) and labels == ["z₁", "z₂"] and "z₃ = 0" in note
    wide = [rng.standard_normal((6, 5)) for _ in range(3)]
    states, _, note, labels = RunPicture(states=wide, leaders=[()] * 3).coordinates()
    assert states[0].shape == (6, 2) and "principal axes" in note
    for original, projected in zip(wide, states):
        full = np.linalg.norm(original[:, None] - original[None], axis=2)
        shown = np.linalg.norm(projected[:, None] - projected[None], axis=2)
        assert (shown <= full + 1e-12).all()


def test_identical_runs_give_identical_png_bytes(tmp_path):
    first, second = str(tmp_path / "a.png"), str(tmp_path / "b.png")
    for out in (first, second):
        assert run("plot", EXAMPLE, "--steps", "4", "--output", out).returncode == 0
    with open(first, "rb") as a, open(second, "rb") as b:
        assert a.read() == b.read()


def test_progress_is_plain_lines_off_a_terminal_and_silent_for_short_work():
    import io

    from dynamics.cli import LineProgress

    quick = io.StringIO()
    bar = LineProgress(5, "quick", stream=quick)
    for _ in range(5):
        bar.update()
    bar.close()
    assert quick.getvalue() == ""  # shorter than the interval: nothing at all
    slow = io.StringIO()
    bar = LineProgress(4, "slow", unit="task", interval=0.0, stream=slow)
    bar.set_postfix_str("hunts")
    for _ in range(4):
        bar.update()
    bar.close()
    lines = slow.getvalue().splitlines()
    assert lines[0].startswith("slow: 1/4 tasks (25 %)") and lines[0].endswith(", hunts")
    assert lines[-1].startswith("slow: 4/4 tasks (100 %)") and lines[-1].endswith("— done")
    assert "\r" not in slow.getvalue() and "\x1b" not in slow.getvalue()


def test_every_option_of_every_command_says_what_it_does():
    """``--help`` of every command: each option has a help text, and a default that is not stated in it
    is appended by the formatter."""
    import argparse

    from dynamics.__main__ import build_parser as simulate_parser
    from sentiment.__main__ import build_parser as sentiment_parser
    from verify.__main__ import build_parser as verify_parser

    for build in (simulate_parser, verify_parser, sentiment_parser):
        parser = build()
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction):
                continue
            for name, sub in action.choices.items():
                text = sub.format_help()
                body = text[text.index("options:"):]
                for option in sub._actions:
                    assert option.help, f"{sub.prog}: {option.option_strings or option.dest} has no help"
                    if option.option_strings and option.default not in (None, False, [], argparse.SUPPRESS):
                        start = body.index("\n  " + option.option_strings[0])
                        entry = body[start + 3:]
                        entry = entry[:entry.find("\n  -")] if "\n  -" in entry else entry
                        assert "default" in entry, (sub.prog, option.option_strings, entry)
