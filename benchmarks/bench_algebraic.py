"""Speed of the algebraic engine (issue 15): 20 tokens, 30 steps, over Q(√2) and the pentagon's field.

    python -m benchmarks.bench_algebraic [--repeat 3] [--save]

Two configurations, split into building the field (SymPy: minimal polynomial, generator, isolation;
the first build, since later ones hit SymPy's caches) and the 30 layers (FLINT polynomial arithmetic
and exact signs; the best of ``--repeat``):

* **Q(√2)**: 20 random tokens ``a + b·sqrt(2)`` (``a, b`` rationals with one-digit numerators and
  denominators, seed 1), ``A = [[2, sqrt(2)/2], [sqrt(2)/2, 1]]``, ``α = 1/2``;
* **pentagon**: the vertices of regular pentagons of radii 1, 2, 1/2 and 3/2
  (``cos(2πk/5)``, ``sin(2πk/5)``: the field ``Q(sin(π/5))`` of degree 4), ``A = I``, ``α = 1/2``.

and one of deep signs: ``float()`` and ``sign()`` of ``(sqrt(5) - 2)^3000`` (about ``2^-6250``, with
6,000-bit coefficients) in the pentagon's field, whose isolating interval must be narrowed about 28,600
halvings' worth: by Newton's iteration with the sign-change check (the engine) and by bisection only,
in the same run, for the ratio.

``--save`` merges the result, with its commit, date and command, into ``reports/benchmarks.json``
under ``algebraic``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

STEPS = 30


def configurations() -> dict[str, dict]:
    """The two benchmark configurations (module docstring)."""
    rng = random.Random(1)

    def q() -> str:
        return f"{rng.randint(-9, 9)}/{rng.randint(1, 7)}"

    sqrt2 = {"tokens": [[f"{q()} + {q()}*sqrt(2)", f"{q()} + {q()}*sqrt(2)"] for _ in range(20)],
             "A": [["2", "sqrt(2)/2"], ["sqrt(2)/2", "1"]], "alpha": "1/2"}
    pentagon = {"tokens": [[f"{r}*cos({2 * k}*pi/5)", f"{r}*sin({2 * k}*pi/5)"]
                           for r in ("1", "2", "1/2", "3/2") for k in range(5)], "alpha": "1/2"}
    return {"sqrt2": sqrt2, "pentagon": pentagon}


def measure(model: dict, repeat: int) -> dict:
    """Seconds to build the field the first time (``field_s``; later builds hit SymPy's caches:
    ``field_s_cached``) and the best of ``repeat`` runs of :data:`STEPS` layers."""
    from dynamics import config_from_dict
    from dynamics.backends.algebraic import AlgebraicEngine
    from dynamics.engine import run_engine

    config = config_from_dict(model)
    field_s, run_s = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        engine = AlgebraicEngine(config)
        field_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        run = run_engine(engine, STEPS)
        run_s.append(time.perf_counter() - start)
    return {"n": config.n, "d": config.d, "steps": STEPS, "field": engine.info()["field"],
            "degree": engine.field.degree, "field_s": field_s[0], "field_s_cached": min(field_s[1:] or field_s),
            "run_s": min(run_s),
            "leaders_at_end": list(run.leaders[-1])}


def measure_deep_signs(power: int = 3000) -> dict:
    """Seconds for ``float(p)`` and ``(p - 2^-6300).sign()``, ``p = (sqrt(5) - 2)^power``, on a fresh field:
    narrowing by Newton's iteration (``newton_s``) and by bisection only (``bisection_s``)."""
    from fractions import Fraction

    from dynamics import number_field
    from dynamics.number_field import field_of
    from dynamics.numbers import parse_number

    def once() -> tuple[float, int, int]:
        field, (c,) = field_of([parse_number("cos(2*pi/5)")])
        u = c * 4 - 1  # sqrt(5) - 2
        p = u
        for _ in range(power - 1):
            p = p * u
        start = time.perf_counter()
        value, sign = float(p), (p - Fraction(1, 2 ** 6300)).sign()
        return time.perf_counter() - start, (value, sign), field.refinements

    newton_s, sign, halvings = once()
    saved = number_field._NEWTON_HALVINGS
    number_field._NEWTON_HALVINGS = 1 << 62  # bisection only
    try:
        bisection_s, bisection_sign, _ = once()
    finally:
        number_field._NEWTON_HALVINGS = saved
    assert sign == bisection_sign and sign[1] == 1  # the same float and sign either way
    return {"power": power, "halvings": halvings, "newton_s": newton_s, "bisection_s": bisection_s,
            "ratio": newton_s / bisection_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_algebraic", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timings per configuration; the best is kept (default 3)")
    parser.add_argument("--save", action="store_true", help="merge the result into reports/benchmarks.json")
    args = parser.parse_args(argv)
    result = {name: measure(model, max(1, args.repeat)) for name, model in configurations().items()}
    for name, r in result.items():
        print(f"{name}: {r['field']} (degree {r['degree']}), n = {r['n']}, {r['steps']} steps: field "
              f"{r['field_s']:.2f} s (cached {r['field_s_cached']:.2f} s), run {r['run_s']:.3f} s")
    deep = result["deep_signs"] = measure_deep_signs()
    print(f"deep signs, (sqrt(5) - 2)^{deep['power']} ({deep['halvings']} halvings' worth): Newton "
          f"{deep['newton_s']:.3f} s, bisection {deep['bisection_s']:.3f} s, ratio {deep['ratio']:.3f}")
    if args.save:
        from benchmarks import save_section
        from dynamics.provenance import git_commit, utc_now

        save_section("algebraic", result | {"commit": git_commit(), "date": utc_now(),
                                            "command": "python -m benchmarks.bench_algebraic"
                                                       + (" " + " ".join(argv) if argv else "")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
