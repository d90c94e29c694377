"""Robustness fuzzing of the config parser and every command-line entry point (issue #10).

Hypothesis feeds malformed and adversarial input to

* the library parser: ``dynamics.config_from_dict`` (any JSON value),
  ``dynamics.parse_number`` (number strings with extreme exponents and digits,
  grammar-aware expressions, token soup, deep nesting) and
  ``dynamics.load_config`` (any bytes in a file, odd paths): they return, or
  raise a :class:`dynamics.errors.UserError` with a one-line message, promptly;
* the argument parsers of ``python -m dynamics`` and ``python -m verify``:
  bad option values (negative, huge, non-numeric, unknown choices);
* the commands themselves, ``dynamics simulate`` and ``verify check|limit|
  crosscheck|hunt`` (hunt with ``--no-save``): in-process through
  ``dynamics.cli.run_main`` for many examples, and as real subprocesses for a
  smaller sample. Each exits 0 (1 only under ``--strict`` with its note), or 2
  with exactly one line on stderr; never a traceback; within a time bound;
  and touches no file but the requested ``--output`` (the temporary folder and
  the repository's ``reports/`` and ``verify/corpus/`` are snapshotted: mtime,
  size and SHA-256).

Counterexamples found by the fuzzer are kept below as explicit regression
cases (``REGRESSIONS`` and ``@example``). The budget is small here (well under a
minute); ``scripts/fuzz`` runs the same tests with ``FUZZ_EXAMPLES`` examples
(see ``tests/fuzzing.py``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import dynamics
from dynamics.errors import UserError
from tests.fuzzing import (
    COMMAND_SECONDS,
    CONFIG_OBJECTS,
    EXAMPLES_ARGPARSE,
    EXAMPLES_CLI,
    EXAMPLES_PARSER,
    EXAMPLES_SUBPROCESS,
    GUARDED,
    NUMBER_VALUES,
    PARSE_SECONDS,
    PROCESS_SECONDS,
    Budget,
    Plan,
    _Capture,
    check_cli,
    check_files,
    command_plans,
    config_texts,
    parser_argvs,
    run_inprocess,
    run_subprocess,
    snapshot,
    terminal_lines,
    time_bound,
)

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
            HealthCheck.large_base_example]


# FUZZ_NEW_ONLY=1 (scripts/fuzz): skip the explicit examples and the replay of saved failures.
_PHASES = [p for p in Phase if not (os.environ.get("FUZZ_NEW_ONLY") == "1" and p in (Phase.explicit, Phase.reuse))]


def fuzz_settings(examples: int, shrink: bool = True):
    """Settings of one fuzz test. ``shrink=False`` for commands: a failure that is a time-out would be
    replayed (seconds each) many times by shrinking, and a command line is short already."""
    phases = [p for p in _PHASES if shrink or p is not Phase.shrink]
    return settings(max_examples=examples, deadline=None, suppress_health_check=_SLOW_OK, print_blob=True,
                    phases=phases)


def _one_line_user_error(exc: BaseException, what: str, max_length: int | None = 2000) -> None:
    assert isinstance(exc, UserError), (
        f"{what}: raised {type(exc).__module__}.{type(exc).__qualname__} (not a dynamics.errors.UserError): "
        f"{str(exc)[:300]!r}")
    message = str(exc)
    assert message.strip(), f"{what}: empty error message ({type(exc).__name__})"
    assert "\n" not in message and "\r" not in message, f"{what}: message of several lines: {message[:300]!r}"
    if max_length is not None:  # messages shorten what they quote (a path the user gave is quoted whole)
        assert len(message) < max_length, f"{what}: message of {len(message)} characters: {message[:200]!r}…"


def _short(value, width: int = 300) -> str:
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # only for this repr; the code under test runs with the default
    try:
        text = repr(value)
    finally:
        sys.set_int_max_str_digits(old)
    return text if len(text) <= width else text[:width] + f"… ({len(text)} characters)"


# --------------------------------------------------------------------------- the library parser

_PARSER_BUDGET: dict[str, Budget] = {}


def _budget(name: str) -> Budget:
    return _PARSER_BUDGET.setdefault(name, Budget())


@fuzz_settings(EXAMPLES_PARSER)
@given(obj=CONFIG_OBJECTS, nonpositive=st.booleans())
@example(obj={"tokens": [["1e999999999"]], "alpha": 1}, nonpositive=False)
@example(obj={"tokens": [["(-8)^(1/3)"]], "alpha": 1}, nonpositive=False)
@example(obj={"tokens": [["tan(pi/2)"]], "alpha": 1}, nonpositive=False)
@example(obj={"tokens": [["2^2^2^2^2^2^2"]], "alpha": 1}, nonpositive=False)
@example(obj={"tokens": [["exp(exp(exp(exp(exp(1)))))"]], "alpha": 1}, nonpositive=False)
@example(obj={"tokens": [[float("nan")]], "alpha": float("inf")}, nonpositive=False)
@example(obj={"tokens": [[10**5000]], "alpha": 1}, nonpositive=False)
@example(obj={"tokens": [[1]], "alpha": 1, "steps": 10**5000}, nonpositive=False)
@example(obj={"tokens": [[1]], "alpha": "-1", "heads": []}, nonpositive=False)
@example(obj={"tokens": [[1, 2]], "A": [[1, 2], [3]], "alpha": 1}, nonpositive=False)
@example(obj={"tokens": [[1]], "heads": [{"alpha": "-1/2"}, {"alpha": "-1/2"}]}, nonpositive=True)
@example(obj={"tokens": [[1]], "alpha": "pi-pi-1"}, nonpositive=True)
@example(obj={"tokens": [[1]], "alpha": "-1"}, nonpositive=True)
# regressions: a key with a newline or a carriage return is quoted raw (a message of two lines);
# more than 4000 fullwidth (or other non-ASCII) digits: UnicodeEncodeError from FLINT
@example(obj={"tokens": [[1]], "alpha": 1, "a\nb": 1}, nonpositive=False)
@example(obj={"tokens": [[1]], "heads": [{"alpha": 1, "x\ry": 2}]}, nonpositive=False)
@example(obj={"tokens": [["\uff19" * 4001]], "alpha": 1}, nonpositive=False)
def test_config_from_dict_raises_only_user_errors(obj, nonpositive):
    """``config_from_dict``: a Config, or a one-line UserError, within a few seconds, for any value."""
    if _budget("from_dict").spent():
        return
    what = f"config_from_dict({_short(obj)}, allow_nonpositive_alpha={nonpositive})"
    try:
        with time_bound(PARSE_SECONDS, what):
            config = dynamics.config_from_dict(obj, allow_nonpositive_alpha=nonpositive)
    except Exception as exc:  # noqa: BLE001
        _one_line_user_error(exc, what)
        return
    assert isinstance(config, dynamics.Config)
    with time_bound(PARSE_SECONDS, "to_dict round trip"):
        again = dynamics.config_from_dict(config.to_dict(), allow_nonpositive_alpha=nonpositive)
    assert again == config, f"to_dict() does not round-trip for {_short(obj)}"


@fuzz_settings(EXAMPLES_PARSER)
@given(value=NUMBER_VALUES)
@example(value="1e999999999")
@example(value="1" + "0" * 30_104)
@example(value="((2^4096)^4096)^4096")
@example(value="2^4096^4096")
@example(value="exp(exp(exp(exp(10))))")
@example(value="sin(2^99999)")
@example(value="(" * 5000 + "1" + ")" * 5000)
@example(value="-" * 5000 + "1")
@example(value="١" * 5000)
@example(value="(-8)^(1/3)")
@example(value="tan(pi/2)")
def test_parse_number_raises_only_user_errors(value):
    """``parse_number``: a Fraction or an Expr, or a one-line UserError, promptly."""
    if _budget("parse_number").spent():
        return
    try:
        with time_bound(PARSE_SECONDS, f"parse_number({_short(value)})"):
            result = dynamics.parse_number(value)
    except Exception as exc:  # noqa: BLE001
        _one_line_user_error(exc, f"parse_number({_short(value)})")
        return
    assert isinstance(result, (Fraction, dynamics.Expr)), type(result)


@fuzz_settings(EXAMPLES_PARSER)
@given(content=config_texts())
@example(content=b"[" * 100_000)
@example(content=b'{"tokens": [[' + b"1" * 30_104 + b"]], \"alpha\": 1}")
@example(content=b'{"tokens": [[1e999999999]], "alpha": 1}')
@example(content=b'{"tokens": [[NaN]], "alpha": 1}')
@example(content=b'{"tokens": [["\\ud800"]], "alpha": 1}')
@example(content=b"\xff\xfe{")
def test_load_config_raises_only_user_errors(content):
    """``load_config`` on any file content: a Config, or a one-line UserError, promptly."""
    if _budget("load_config").spent():
        return
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        path = Path(folder) / "config.json"
        path.write_bytes(content)
        before = snapshot(folder, *GUARDED)
        try:
            with time_bound(PARSE_SECONDS, f"load_config of {_short(content)}"):
                config = dynamics.load_config(path)
        except Exception as exc:  # noqa: BLE001
            _one_line_user_error(exc, f"load_config of a file holding {_short(content)}")
        else:
            assert isinstance(config, dynamics.Config)
        assert snapshot(folder, *GUARDED) == before, "load_config touched a file"


def _special_paths(folder: Path) -> dict[str, str]:
    folder.mkdir(exist_ok=True)
    (folder / "dir").mkdir(exist_ok=True)
    (folder / "file.json").write_text('{"tokens": [[1]], "alpha": 1}')
    loop = folder / "loop.json"
    if not loop.is_symlink():
        loop.symlink_to(loop)
    dangling = folder / "dangling.json"
    if not dangling.is_symlink():
        dangling.symlink_to(folder / "nowhere.json")
    return {
        "directory": str(folder / "dir"),
        "missing": str(folder / "missing.json"),
        "missing folder": str(folder / "nope" / "c.json"),
        "through a file": str(folder / "file.json" / "c.json"),
        "symlink loop": str(loop),
        "dangling symlink": str(dangling),
        "/dev/null": "/dev/null",
        "/dev/zero": "/dev/zero",
        "/dev/urandom": "/dev/urandom",
        "/proc/self/mem": "/proc/self/mem",
        "long name": str(folder / ("x" * 300)),
        "long path": str(folder / "/".join(["y" * 200] * 30)),
        "empty": "",
        "NUL byte": str(folder / "a\x00b.json"),  # regression: ValueError from os.stat
        "newline": str(folder / "a\nb.json"),  # regression: the path is quoted raw, a 2-line message
        "surrogate": str(folder / "\udcff.json"),
    }


@pytest.mark.parametrize("kind", ["directory", "missing", "missing folder", "through a file", "symlink loop",
                                  "dangling symlink", "/dev/null", "/dev/zero", "/dev/urandom", "/proc/self/mem",
                                  "long name", "long path", "empty", "NUL byte", "newline", "surrogate"])
def test_load_config_odd_paths(tmp_path, kind):
    path = _special_paths(tmp_path / "paths")[kind]
    try:
        with time_bound(PARSE_SECONDS, f"load_config({path!r})"):
            dynamics.load_config(path)
    except Exception as exc:  # noqa: BLE001
        _one_line_user_error(exc, f"load_config({_short(path)})", max_length=None)
    else:
        pytest.fail(f"load_config({path!r}) returned a config")


# --------------------------------------------------------------------------- the argument parsers


def _parse_only(module: str, argv: list[str]) -> tuple[int | None, str, str, str | None]:
    """``build_parser().parse_args(argv)``: (exit code or None, stdout, stderr, escaped exception)."""
    if module == "dynamics":
        from dynamics.__main__ import build_parser
    else:
        from verify.__main__ import build_parser
    out, err = _Capture(), _Capture()
    code, error = None, None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with time_bound(PARSE_SECONDS, "parse_args"):
                build_parser().parse_args(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:  # noqa: BLE001
            import traceback

            error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:]
    return code, out.getvalue(), err.getvalue(), error


@fuzz_settings(EXAMPLES_ARGPARSE)
@given(case=parser_argvs())
@example(case=("dynamics", ["simulate", "c.json", "--max-memory", "9" * 400]))
@example(case=("dynamics", ["simulate", "c.json", "--steps", "9" * 5000]))
@example(case=("dynamics", ["simulate", "c.json", "--tau", "1e-320"]))
@example(case=("verify", ["hunt", "--claim", "P1", "--heads", "9" * 5000]))
@example(case=("verify", ["crosscheck", "--seed", "9" * 5000]))
def test_argument_parsers(case):
    """Parsing alone: a namespace, ``--help`` (exit 0), or one line on stderr with exit 2."""
    module, argv = case
    code, out, err, error = _parse_only(module, argv)
    assert error is None, f"parse_args({argv!r}) of python -m {module} raised:\n{error}"
    if code is None:
        assert not err, f"parse_args({argv!r}) succeeded but wrote to stderr: {err!r}"
        return
    if code == 0:
        assert "-h" in " ".join(argv) and out, f"exit 0 without --help: {argv!r}"
        return
    lines = terminal_lines(err)
    assert code == 2 and len(lines) == 1 and ": error: " in lines[0], (
        f"python -m {module} {argv!r}: exit {code}, stderr {err!r}")


# --------------------------------------------------------------------------- the commands, in-process


def _separate_database_keys(run, parameters: tuple[str, ...]) -> None:
    """Give the inner test of each parametrization its own key in Hypothesis' example database."""
    run.hypothesis.inner_test._hypothesis_internal_add_digest = "/".join(parameters).encode()


def _run_plan_inprocess(plan: Plan, seconds: float = COMMAND_SECONDS) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as name:
        folder = Path(name)
        argv = plan.materialize(folder)
        before = snapshot(folder, *GUARDED)
        outcome = run_inprocess(plan.module, argv, cwd=folder, seconds=seconds)
        after = snapshot(folder, *GUARDED)
        described = plan.describe()
        check_cli(outcome, plan, described)
        check_files(before, after, folder, outcome, plan, described)


@pytest.mark.parametrize("commands", [("simulate",), ("check", "limit"), ("crosscheck",), ("plot",)],
                         ids=["simulate", "check-limit", "crosscheck", "plot"])
def test_commands_inprocess(commands):
    """Many command lines through ``run_main`` in this process: the exit-status and output contract."""
    budget = Budget()

    @fuzz_settings(EXAMPLES_CLI, shrink=False)
    @given(plan=command_plans(commands=commands))
    def run(plan):
        if budget.spent():
            return
        _run_plan_inprocess(plan)

    _separate_database_keys(run, commands)
    run()


# --------------------------------------------------------------------------- the commands, as processes


@pytest.mark.parametrize("commands", [("simulate",), ("check", "limit", "crosscheck"), ("hunt",)],
                         ids=["dynamics", "verify", "hunt"])
def test_commands_subprocess(commands):
    """A smaller sample as real processes: one stderr line, no traceback, bounded time, no stray files."""
    budget = Budget()

    @fuzz_settings(EXAMPLES_SUBPROCESS // 2 if commands == ("hunt",) else EXAMPLES_SUBPROCESS, shrink=False)
    @given(plan=command_plans(commands=commands, process=True))
    def run(plan):
        if budget.spent():
            return
        _run_plan_subprocess(plan)

    _separate_database_keys(run, ("subprocess",) + commands)
    run()


def _run_plan_subprocess(plan: Plan, seconds: float = PROCESS_SECONDS) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as name:
        folder = Path(name)
        argv = plan.materialize(folder)
        before = snapshot(folder, *GUARDED)
        stdin = folder / "config.json" if plan.stdin_config and plan.config is not None else None
        outcome = run_subprocess(plan.module, argv, cwd=folder, seconds=seconds, stdin=stdin)
        after = snapshot(folder, *GUARDED)
        check_cli(outcome, plan, plan.describe())
        check_files(before, after, folder, outcome, plan, plan.describe())


# --------------------------------------------------------------------------- regressions

LEADER = '{"tokens": [[1, 2], [3, 4], [0, -1]], "alpha": "1/2"}'
# Never certified: verify limit runs its whole step budget on it (about 1,500 exact steps a second).
NOT_CERTIFIED = '{"tokens": [["-2", "-1"], ["3", "-1"], ["1", "1"], ["3", "-1"]], "A": [["0", "0"], ["0", "-2"]], ' \
                '"alpha": "1/2"}'


def _case(id: str, module: str, argv: list[str], config: str | None = LEADER, *, process: bool = False,
          stdin_config: bool = False, seconds: float = 10):
    return pytest.param(module, argv, config, process, stdin_config, seconds, id=id)


#: Inputs that broke the contract (found by this fuzzer), replayed on every run. They stay once fixed.
REGRESSIONS = [
    # --max-memory with more digits than a double holds: OverflowError in dynamics.budget.parse_size
    # (argparse catches only ValueError/TypeError from a type function): a traceback.
    _case("simulate-max-memory-overflow", "dynamics", ["simulate", "{CONFIG}", "--max-memory", "9" * 400]),
    _case("check-max-memory-overflow", "verify", ["check", "{CONFIG}", "--steps", "2", "--max-memory", "9" * 400]),
    # crosscheck --seed below 0: numpy's ValueError ("expected non-negative integer"), a traceback.
    _case("crosscheck-negative-seed", "verify", ["crosscheck", "--random", "1", "--seed", "-1", "--steps", "2"], None),
    # crosscheck of an irrational config: TypeError in dynamics.floats (abs() of an Expr), a traceback,
    # where check/limit/simulate say "field … is irrational" (exit 2).
    _case("crosscheck-irrational", "verify", ["crosscheck", "{EXAMPLES}/irrational.json", "--steps", "2"], None),
    _case("crosscheck-irrational-torch", "verify",
          ["crosscheck", "{CONFIG}", "--backend", "torch", "--steps", "2"], '{"tokens": [["sqrt(2)"], [1]], "alpha": 1}'),
    # More than 4000 Unicode decimal digits (Python's \d matches them): FLINT's fmpz() raises
    # UnicodeEncodeError in dynamics.numbers._int_of_digits, a traceback.
    _case("unicode-digits", "dynamics", ["simulate", "{CONFIG}", "--steps", "1"],
          '{"tokens": [["%s"]], "alpha": 1}' % ("\u0661" * 5000)),
    _case("unicode-digits-decimal", "verify", ["limit", "{CONFIG}"],
          '{"tokens": [["1.%s"]], "alpha": 1}' % ("\u0663" * 4005)),
    # An argument with a newline that argparse does not recognise: its message is two lines.
    _case("argparse-newline", "dynamics", ["simulate", "{CONFIG}", "a\nb"]),
    _case("argparse-newline-verify", "verify", ["limit", "{CONFIG}", "--json", "x\ny"]),
    # Softmax with a tiny temperature: NumPy's RuntimeWarning (two lines) on stderr of a successful run.
    _case("softmax-tiny-tau", "dynamics",
          ["simulate", "{CONFIG}", "--backend", "float", "--rule", "softmax", "--tau", "5e-324", "--steps", "2"]),
    # --device mkldnn: torch's UserWarning (two lines) before the one-line error.
    _case("device-mkldnn", "dynamics", ["simulate", "{CONFIG}", "--backend", "torch", "--device", "mkldnn"],
          process=True, seconds=60),
    # hunt --no-save writes Hypothesis' .hypothesis/constants/ cache into the working folder.
    _case("hunt-writes-hypothesis-folder", "verify",
          ["hunt", "--no-save", "--claim", "P1", "--max-examples", "2", "--steps", "4", "--max-n", "4"], None,
          process=True, seconds=60),
    # --output /dev/stdin (/dev/fd/0, /proc/self/fd/0) while standard input is the config file: the
    # config is truncated and overwritten (the input check is skipped for descriptor aliases).
    _case("output-dev-stdin-is-config", "dynamics", ["simulate", "{CONFIG}", "--steps", "1", "--output", "/dev/stdin"],
          process=True, stdin_config=True, seconds=60),
    _case("output-fd0-is-config", "dynamics", ["simulate", "{CONFIG}", "--steps", "1", "--output", "/proc/self/fd/0"],
          process=True, stdin_config=True, seconds=60),
    # A step budget no run can spend: simulate refuses --steps 10**12 at once (exit 2, memory budget);
    # limit and check's P5 run it (unbounded time; the gaps list grows without bound).
    _case("limit-huge-max-steps", "verify", ["limit", "{CONFIG}", "--max-steps", "1000000000000"], NOT_CERTIFIED,
          seconds=5),
    _case("check-huge-limit-steps", "verify", ["check", "{CONFIG}", "--steps", "2", "--limit-steps", "1000000000000"],
          NOT_CERTIFIED, seconds=5),
]


@pytest.mark.parametrize("module, argv, config, process, stdin_config, seconds", REGRESSIONS)
def test_regressions(module, argv, config, process, stdin_config, seconds):
    plan = Plan(module=module, argv=argv, config=config.encode() if config is not None else None,
                strict="--strict" in argv, output="--output" in argv, stdin_config=stdin_config)
    if process:
        _run_plan_subprocess(plan, seconds=seconds)
    else:
        _run_plan_inprocess(plan, seconds=seconds)
