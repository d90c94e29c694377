"""Lemmas: the built-in claims and a user's own conjectures, one kind of object in one registry.

A lemma is a function of an exact run that returns ``None`` when the lemma
holds on that run, or a JSON-serialisable **witness** dict with a ``"step"``
key (the first step at which it fails)::

    from verify.lemmas import lemma

    @lemma("FOLLOWED-ARE-LEADERS", statement="every token that another token follows is a leader",
           under=("spd",))
    def followed_are_leaders(run):
        for k in range(run.steps):
            for i in range(run.n):
                for j in run.follow[k][0][i]:
                    if j not in run.leaders[k] and run.states[k][j] != run.states[k][i]:
                        return {"step": k, "token": i, "follows": j}
        return None

``python -m verify check CONFIG --lemmas FILE`` reports it beside P1–P5 and
D1–D3, ``python -m verify hunt --lemmas FILE --claim FOLLOWED-ARE-LEADERS``
searches for a minimal counterexample, ``python -m verify report --lemmas
FILE`` gives it a section. Installed packages register lemmas through the
entry-point group :data:`ENTRY_POINT_GROUP` (an entry point may name a
:class:`Lemma`, an iterable of them, or a module that defines them).

The run (:class:`~verify.run.Run`) holds exact data only: ``run.config``,
``run.n``, ``run.d``, ``run.steps`` (K), ``run.states[k][i]`` (a tuple of
:class:`fractions.Fraction`, k = 0…K), ``run.follow[k][h][i]`` (sorted tuple of
token indices, head h, k = 0…K-1) and ``run.leaders[k]`` (sorted tuple,
k = 0…K). Follow sets and leaders are recomputed exactly from the states,
independently of the engine that produced them.

Where a lemma is claimed
------------------------
``under`` lists the matrix classes of ``A`` it is claimed for
(:data:`MATRIX_CLASSES`; every head of every layer must be in one of them, see
:func:`matrix_class`), ``requires`` the model assumptions it needs
(:data:`REQUIREMENTS`). On a config outside them ``check`` reports
``holds: null`` with the reason, and what the checker observed anyway
(``"observed": true|false`` and the witness); a hunt outside them is allowed
(that is how one learns what survives).

Errors
------
A file that fails to import, a name that clashes, a malformed declaration or a
checker that raises or returns something other than ``None`` or a witness is
a :class:`LemmaError`: one line naming the file and the lemma. A checker's
exception is a bug in the checker, never a counterexample; ``--debug`` prints
its traceback.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterable, Sequence

from dynamics.config import Config
from dynamics.errors import InputError

from dynamics.number_field import FieldElement

from .exact import is_field_valued, is_symmetric

__all__ = [
    "ENTRY_POINT_GROUP",
    "MATRIX_CLASSES",
    "REQUIREMENTS",
    "Lemma",
    "LemmaError",
    "LemmaCheckerError",
    "Registry",
    "lemma",
    "load_lemma_file",
    "entry_point_lemmas",
    "registry",
    "matrix_class",
    "not_claimed",
]

#: The entry-point group through which installed packages register lemmas.
ENTRY_POINT_GROUP = "attention_dynamics.lemmas"

#: Matrix classes of ``A`` (those of :mod:`verify.strategies`; :func:`matrix_class` assigns one to each matrix).
MATRIX_CLASSES = ("spd", "symmetric", "indefinite", "nonsymmetric")

#: Model assumptions a lemma may require, each with the reason given where it fails.
REQUIREMENTS = {
    "identity_values": "not claimed for V ≠ I",
    "fixed_scores": "not claimed when the layers have different A",
    "single_head": "not claimed for several heads",
    "positive_alpha": "not claimed for alpha ≤ 0",
}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")


class LemmaError(InputError):
    """A lemma file or declaration that cannot be used; ``str(error)`` is one line naming file and lemma."""


class LemmaCheckerError(LemmaError):
    """A checker that raised: a bug in the checker, never a counterexample.

    ``traceback_text`` holds the checker's traceback (printed under ``--debug``).
    """

    def __init__(self, message: str, traceback_text: str = ""):
        super().__init__(message)
        self.traceback_text = traceback_text


def matrix_class(A: Sequence[Sequence[Fraction]]) -> str:
    """The class of one exact matrix: ``nonsymmetric`` (A ≠ Aᵀ), ``spd``, ``indefinite``
    (a positive and a negative eigenvalue), else ``symmetric`` (semidefinite, negative definite, zero).

    Decided exactly for any size: the characteristic polynomial of a symmetric
    ``A`` (FLINT, exact rationals) has only real roots, so by Descartes' rule of
    signs — exact when every root is real — its sign changes count the
    positive eigenvalues, and those of ``p(-x)`` the negative ones.
    """
    if not is_symmetric(A):
        return "nonsymmetric"
    positive, negative = _inertia(A)
    d = len(A)
    if positive == d:
        return "spd"
    if positive and negative:
        return "indefinite"
    return "symmetric"


def _inertia(A: Sequence[Sequence[Fraction]]) -> tuple[int, int]:
    """``(positive, negative)`` eigenvalue counts of a symmetric ``A`` (docstring of :func:`matrix_class`);
    rational entries through FLINT, number-field entries through :func:`_charpoly` in the field."""
    from flint import fmpq, fmpq_mat

    d = len(A)
    if is_field_valued(A):
        coefficients = _charpoly(A)
    else:
        M = fmpq_mat(d, d, [fmpq(Fraction(x).numerator, Fraction(x).denominator) for row in A for x in row])
        coefficients = [Fraction(int(c.p), int(c.q)) for c in M.charpoly().coeffs()]  # constant term first

    def changes(values: list) -> int:
        signs = [v > 0 for v in values if v != 0]
        return sum(1 for a, b in zip(signs, signs[1:]) if a != b)

    return changes(coefficients), changes([c if k % 2 == 0 else -c for k, c in enumerate(coefficients)])


def _charpoly(A: Sequence[Sequence[Any]]) -> list:
    """``det(x I - A)``'s coefficients, constant term first, for ``A`` over any field of characteristic 0
    (Faddeev–LeVerrier: ``M_k = A M_{k-1} + c_{d-k+1} I``, ``c_{d-k} = -tr(A M_k) / k``; exact, O(d⁴))."""
    d = len(A)
    coefficients = [Fraction(0)] * d + [Fraction(1)]
    M = [[Fraction(0)] * d for _ in range(d)]
    for k in range(1, d + 1):
        AM = [[sum((A[i][t] * M[t][j] for t in range(d)), Fraction(0)) for j in range(d)] for i in range(d)]
        M = [[AM[i][j] + (coefficients[d - k + 1] if i == j else 0) for j in range(d)] for i in range(d)]
        trace = sum((sum((A[i][t] * M[t][i] for t in range(d)), Fraction(0)) for i in range(d)), Fraction(0))
        coefficients[d - k] = -trace / k
    return coefficients


def config_classes(config: Config) -> list[str]:
    """The sorted matrix classes of every head's ``A`` in every layer of ``config``."""
    return sorted({matrix_class(h.A) for _, h in config.all_heads()})


@dataclass(eq=False)
class Lemma:
    """A claim about exact runs: built-in (P1 … D3) or a user's, treated alike everywhere.

    Attributes
    ----------
    name
        Identifier (letters, digits, ``_ . + -``; at most 64 characters), unique in a registry.
    statement
        One sentence: what the lemma says.
    checker
        ``run -> None | witness dict | Verdict`` (module docstring).
    under
        Matrix classes it is claimed for (default: all).
    requires
        Model assumptions (keys of :data:`REQUIREMENTS`).
    steps_needed
        ``witness -> steps`` a replay needs; default ``witness["step"] + 1``
        (checked by replaying, see :mod:`verify.hunt`).
    model
        Default strategy options when hunting it (``values``, ``layers``,
        ``alpha_schedule``, ``family``; see :func:`verify.strategies.configs`).
    kind
        ``"finite"`` (a function of a run) or ``"limit"`` (P5: a certified limit).
    source
        Where it was defined: ``"built-in"``, a file path, or ``"entry point NAME"``.
    title
        A short name for tables (``"hull monotonicity"``); may be empty.
    """

    name: str
    statement: str
    checker: Callable[[Any], Any]
    under: tuple[str, ...] = MATRIX_CLASSES
    requires: tuple[str, ...] = ()
    steps_needed: Callable[[dict], int] | None = None
    model: dict[str, Any] = field(default_factory=dict)
    kind: str = "finite"
    source: str = "<unknown>"
    title: str = ""

    @property
    def builtin(self) -> bool:
        return self.source == "built-in"

    def __call__(self, run: Any) -> Any:
        """Call the checker directly (for a user's own tests)."""
        return self.checker(run)

    def judge(self, run: Any):
        """The :class:`~verify.run.Verdict` of the checker on ``run``, validated (module docstring)."""
        from .run import Verdict

        try:
            result = self.checker(run)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - every checker failure (SystemExit too) is a checker bug
            text = "".join(traceback.format_exception(exc))
            message = " ".join(str(exc).split())[:300]
            raise LemmaCheckerError(
                f"{self.source}: lemma {self.name!r}: the checker raised {type(exc).__name__}"
                f"{': ' + message if message else ''} (a bug in the checker, not a counterexample; "
                "--debug shows the traceback)", text) from None
        if result is None:
            return Verdict(self.name, True)
        if isinstance(result, Verdict):
            result.claim = self.name
            return result
        if not isinstance(result, dict):
            raise LemmaError(f"{self.source}: lemma {self.name!r}: the checker returned {type(result).__name__} "
                             "(expected None when the lemma holds, or a witness dict with a 'step' key)")
        step = result.get("step")
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= run.steps:
            raise LemmaError(f"{self.source}: lemma {self.name!r}: the witness needs an integer 'step' in "
                             f"0..{run.steps} (the first step at which the lemma fails), got {step!r}")
        try:
            json.dumps(result, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise LemmaError(f"{self.source}: lemma {self.name!r}: the witness is not JSON-serialisable "
                             f"({' '.join(str(exc).split())}); give Fractions as strings") from None
        return Verdict(self.name, False, witness=result, violations=1)

    def replay_steps(self, witness: dict[str, Any], budget: int) -> int:
        """Steps a replay of a counterexample with this ``witness`` needs (at most ``budget``)."""
        if self.steps_needed is None:
            return min(budget, int(witness.get("step", budget)) + 1)
        try:
            needed = self.steps_needed(witness)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a user's function: reported, never a traceback
            raise LemmaError(f"{self.source}: lemma {self.name!r}: steps_needed raised {type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:200]}") from None
        if isinstance(needed, bool) or not isinstance(needed, int) or needed < 0:
            raise LemmaError(f"{self.source}: lemma {self.name!r}: steps_needed must return a non-negative "
                             f"integer, got {needed!r}"[:400])
        return min(budget, needed)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "statement": self.statement, "under": list(self.under),
                "requires": list(self.requires), "kind": self.kind, "source": self.source}


def lemma(name: str, statement: str, *, under: Iterable[str] = MATRIX_CLASSES, requires: Iterable[str] = (),
          steps_needed: Callable[[dict], int] | None = None, model: dict[str, Any] | None = None,
          **unknown: Any) -> Callable[[Callable], Lemma]:
    """Declare a lemma: decorate ``checker(run) -> None | witness``; returns the :class:`Lemma`.

    Parameters
    ----------
    name
        Unique identifier (letters, digits, ``_ . + -``; at most 64 characters; not ``all``).
    statement
        What the lemma says, one sentence.
    under
        Matrix classes of ``A`` it is claimed for (:data:`MATRIX_CLASSES`; default all).
    requires
        Model assumptions (:data:`REQUIREMENTS`): ``"identity_values"`` (V = I),
        ``"fixed_scores"`` (the same A in every layer), ``"single_head"``,
        ``"positive_alpha"``.
    steps_needed
        ``witness -> int``: the steps a replay needs (default ``witness["step"] + 1``).
    model
        Default options of :func:`verify.strategies.configs` when hunting it,
        e.g. ``{"values": "rank_one", "layers": (1, 3)}``.

    Raises
    ------
    LemmaError
        A malformed declaration (the message names the lemma).
    """
    where = f"lemma {name!r}" if isinstance(name, str) else "a lemma"
    if unknown:
        raise LemmaError(f"{where}: unknown keyword {sorted(unknown)[0]!r} (@lemma takes name, statement, under, "
                         "requires, steps_needed, model)")
    try:
        under, requires, model = tuple(under), tuple(requires), dict(model or {})
    except (TypeError, ValueError):
        raise LemmaError(f"{where}: under and requires must be lists of names, model a dict") from None
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.lower() == "all":
        raise LemmaError(f"{where}: a name needs 1-64 letters, digits or '_.+-' (starting with a letter or digit), "
                         "and not 'all'")
    if not isinstance(statement, str) or not statement.strip():
        raise LemmaError(f"{where}: statement must be a non-empty string")
    bad = [u for u in under if u not in MATRIX_CLASSES]
    if bad or not under:
        raise LemmaError(f"{where}: under must list matrix classes from {', '.join(MATRIX_CLASSES)}, got {bad or []}")
    bad = [r for r in requires if r not in REQUIREMENTS]
    if bad:
        raise LemmaError(f"{where}: unknown requirement {bad[0]!r} (choose from {', '.join(REQUIREMENTS)})")
    _check_model(where, model)

    def decorate(checker: Callable) -> Lemma:
        if not callable(checker):
            raise LemmaError(f"{where}: @lemma decorates a function of the run")
        item = Lemma(name=name, statement=" ".join(statement.split()), checker=checker, under=under,
                     requires=requires, steps_needed=steps_needed, model=model,
                     source=getattr(checker, "__module__", "<unknown>"))
        if _COLLECTING:
            _COLLECTING[-1].append(item)
        return item

    return decorate


#: While a lemma file is imported, the lemmas created meanwhile are collected here (a stack of lists).
_COLLECTING: list[list[Lemma]] = []


def _check_model(where: str, model: dict[str, Any]) -> None:
    """Refuse (one line naming the lemma) a ``model`` declaration the hunter could not draw."""
    from .strategies import model_problem

    problem = model_problem(model)
    if problem is not None:
        raise LemmaError(f"{where}: model {problem}")


def not_claimed(lemma_: Lemma, config: Config) -> str | None:
    """Why ``lemma_`` is not claimed for ``config`` (one phrase), or ``None`` where it is."""
    reasons = []
    outside = [c for c in config_classes(config) if c not in lemma_.under]
    if outside:
        reasons.append(f"not claimed for {', '.join(outside)} A ({lemma_.name} is claimed for "
                       f"{', '.join(lemma_.under)})")
    checks = {"identity_values": config.identity_values, "fixed_scores": config.fixed_scores,
              "single_head": len(config.heads) == 1,
              "positive_alpha": all(_positive(h.alpha) for _, h in config.all_heads())}
    reasons.extend(REQUIREMENTS[r] for r in lemma_.requires if not checks[r])
    return "; ".join(reasons) or None


def _positive(x: Any) -> bool:
    return isinstance(x, (Fraction, FieldElement)) and x > 0


class Registry:
    """An ordered set of lemmas with unique names: the built-ins first, then plugins and files."""

    def __init__(self, lemmas: Iterable[Lemma] = ()):
        self._lemmas: dict[str, Lemma] = {}
        for item in lemmas:
            self.add(item)

    def add(self, item: Lemma) -> None:
        """Register ``item``; a name already taken is a :class:`LemmaError` naming both sources."""
        taken = self._lemmas.get(item.name)
        if taken is not None:
            other = "the built-in claim" if taken.builtin else f"lemma {taken.name!r} from {taken.source}"
            raise LemmaError(f"{item.source}: lemma {item.name!r} clashes with {other} (names must be unique)")
        self._lemmas[item.name] = item

    def __getitem__(self, name: str) -> Lemma:
        if name not in self._lemmas:
            raise LemmaError(f"unknown claim or lemma {name!r} (known: {', '.join(self._lemmas)}; "
                             "load a lemma file with --lemmas FILE)")
        return self._lemmas[name]

    def __contains__(self, name: object) -> bool:
        return name in self._lemmas

    def __iter__(self):
        return iter(self._lemmas.values())

    def __len__(self) -> int:
        return len(self._lemmas)

    def names(self) -> list[str]:
        return list(self._lemmas)

    def builtins(self) -> list[Lemma]:
        return [x for x in self if x.builtin]

    def user(self) -> list[Lemma]:
        return [x for x in self if not x.builtin]


def load_lemma_file(path: str | os.PathLike) -> list[Lemma]:
    """Import a Python file and return the lemmas it declares, in order.

    A lemma belongs to the file if it is created (``@lemma``/``lemma(...)(f)``)
    while the file is imported, whatever module its checker comes from; a
    lemma it merely imports (a built-in claim, say) does not.

    While the file is imported its folder is first on ``sys.path`` (as when
    running a script), so it may import modules beside it.

    Raises
    ------
    LemmaError
        The file is missing, not a Python file, fails to import (the exception
        is named), or defines no lemma.
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise LemmaError(f"{name}: no such lemma file" if not os.path.exists(name)
                         else f"{name}: not a regular file (expected a Python file of lemmas)")
    digest = hashlib.sha256(os.path.abspath(name).encode()).hexdigest()[:12]
    module_name = f"_verify_lemmas_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, name)
    if spec is None or spec.loader is None:
        raise LemmaError(f"{name}: cannot import (expected a Python file ending in .py)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    folder = os.path.dirname(os.path.abspath(name))
    sys.path.insert(0, folder)  # as when running a script: the file may import its neighbours
    bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # never write __pycache__ into the user's folder
    created: list[Lemma] = []
    _COLLECTING.append(created)
    try:
        spec.loader.exec_module(module)
    except LemmaError as exc:
        sys.modules.pop(module_name, None)
        raise LemmaError(f"{name}: {exc}") from None
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        raise LemmaError(f"{name}: cannot import: SyntaxError at line {exc.lineno}: {exc.msg}") from None
    except BaseException as exc:  # noqa: BLE001 - a user file's import may raise anything (SystemExit included)
        sys.modules.pop(module_name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        message = " ".join(str(exc).split())[:300]
        raise LemmaError(f"{name}: cannot import: {type(exc).__name__}{': ' + message if message else ''}") from None
    finally:
        _COLLECTING.pop()
        sys.dont_write_bytecode = bytecode
        if folder in sys.path:
            sys.path.remove(folder)
    found = []  # every lemma created while the file was imported (not one it merely imports), in order
    for item in created:
        if not item.builtin and item not in found:
            item.source = name
            found.append(item)
    if not found:
        raise LemmaError(f"{name}: defines no lemma (decorate a function with @verify.lemmas.lemma(...))")
    return found


def _lemmas_in(module: Any, source: str) -> list[Lemma]:
    """Every non-built-in lemma ``module`` holds at module level (an entry point that names a module)."""
    out = []
    for value in vars(module).values():
        if isinstance(value, Lemma) and value not in out and not value.builtin:
            value.source = source
            out.append(value)
    return out


def entry_point_lemmas() -> list[Lemma]:
    """Lemmas registered by installed packages under :data:`ENTRY_POINT_GROUP`.

    An entry point may load a :class:`Lemma`, an iterable of lemmas, or a
    module defining them. A failing entry point is a :class:`LemmaError`
    naming it.
    """
    from importlib.metadata import entry_points

    out: list[Lemma] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        source = f"entry point {ep.name} ({ep.value})"
        try:
            value = ep.load()
        except Exception as exc:  # noqa: BLE001
            message = " ".join(str(exc).split())[:300]
            raise LemmaError(f"{source}: cannot load: {type(exc).__name__}{': ' + message if message else ''}") from None
        if isinstance(value, Lemma):
            items = [value]
        elif hasattr(value, "__dict__") and not callable(value):
            items = _lemmas_in(value, source)
        else:
            try:
                items = list(value)
            except TypeError:
                items = []
            if not all(isinstance(x, Lemma) for x in items):
                items = []
        if not items:
            raise LemmaError(f"{source}: expected a Lemma, an iterable of lemmas or a module defining them")
        for item in items:
            item.source = source
        out.extend(items)
    return out


def registry(files: Sequence[str | os.PathLike] = (), entry_points: bool = True) -> Registry:
    """The built-in claims, then installed plugins (``entry_points``), then the lemmas of ``files``."""
    from .claims import BUILTIN_LEMMAS

    reg = Registry(BUILTIN_LEMMAS)
    if entry_points:
        for item in entry_point_lemmas():
            reg.add(item)
    seen: set[str] = set()
    for path in files:
        key = os.path.realpath(path)
        if key in seen:  # the same file named twice is loaded once
            continue
        seen.add(key)
        for item in load_lemma_file(path):
            reg.add(item)
    return reg
