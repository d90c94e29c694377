"""Float runs of algebraic configs: each entry rounded correctly to the dtype, compared with the exact run.

The float backends round ``sqrt(2)/2`` as they round ``1/3``: to the nearest value of their dtype
(:func:`dynamics.floats.nearest_float` from rigorous bounds of the field element), and ``verify
crosscheck`` compares such a run with the algebraic engine's, which follows the exact ties.
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamics import config_from_dict, simulate
from dynamics.floats import nearest_float
from dynamics.number_field import NotAlgebraicError, field_of
from dynamics.numbers import parse_number
from verify.crosscheck import crosscheck

GENERATORS = {"sqrt2": ["sqrt(2)"], "pentagon": ["cos(2*pi/5)", "sin(2*pi/5)"], "cube_root": ["2^(1/3)"],
              "sqrt2_sqrt3": ["sqrt(2)", "sqrt(3)"]}
_FIELDS = {name: field_of([parse_number(t) for t in texts]) for name, texts in GENERATORS.items()}

#: The report's pentagon turned by 36°: its symmetry axis is not a coordinate axis, so rounding breaks the tie.
TURNED_PENTAGON = {"tokens": [[f"cos({k}*pi/5)", f"sin({k}*pi/5)"] for k in (1, 3, 5, 7, 9)]
                   + [["-cos(pi/5)/2", "-sin(pi/5)/2"]], "alpha": "1/2"}


@st.composite
def elements(draw):
    """``c0 + c1 g1 + …`` over the generators of one field, at scales from 2^-1000 to 2^1000."""
    _, gens = _FIELDS[draw(st.sampled_from(sorted(_FIELDS)))]
    value = Fraction(draw(st.integers(-99, 99)), draw(st.integers(1, 99)))
    for g in gens:
        value = value + Fraction(draw(st.integers(-99, 99)), draw(st.integers(1, 99))) * g
    if isinstance(value, Fraction):
        return value
    return value * Fraction(2) ** draw(st.integers(-1000, 1000)) if draw(st.booleans()) else value


def _reference(element, dtype: str) -> float:
    """The nearest dtype value from a 2000-bit mpmath value (mpmath rounds once, to nearest-even)."""
    from dynamics.floats import approx_float

    if isinstance(element, Fraction):
        return nearest_float(element, dtype)
    lo, hi = element.bounds(2000)
    with mpmath.workprec(2000):
        mid = (mpmath.mpf(lo.numerator) / lo.denominator + mpmath.mpf(hi.numerator) / hi.denominator) / 2
    with mpmath.workprec(53 if dtype == "float64" else 24):
        rounded = +mid
    assert approx_float(hi - lo) <= 2.0 ** -900 * max(1.0, abs(float(rounded)))  # far tighter than a float
    return float(rounded) if dtype == "float64" else float(np.float32(float(rounded)))


@settings(max_examples=150, deadline=None)
@given(elements(), st.sampled_from(["float64", "float32"]))
def test_an_algebraic_entry_is_rounded_to_the_nearest_float(element, dtype):
    if dtype == "float32" and not isinstance(element, Fraction) and abs(float(element)) > 1e38:
        return  # beyond float32's range: refused, tested below
    expected = _reference(element, dtype)
    if expected == 0 or abs(expected) < (2.0 ** -1022 if dtype == "float64" else 2.0 ** -126):
        return  # mpmath's workprec has no subnormals; subnormal rounding is tested for Fractions
    assert nearest_float(element, dtype) == expected


def test_a_float_run_starts_from_the_rounded_entries_and_refuses_transcendental_ones():
    traj = simulate(config_from_dict({"tokens": [["sqrt(2)/2", "1/3"], ["0", "cos(pi/5)"]], "alpha": "1/2"}), 1,
                    backend="float", dtype="float32")
    assert traj.states[0].tolist() == [[np.float32(2 ** 0.5 / 2), np.float32(1 / 3)],
                                       [0.0, np.float32((1 + 5 ** 0.5) / 4)]]
    with pytest.raises(NotAlgebraicError, match="field 'tokens\\[0\\]\\[0\\]': 'pi' is not an algebraic number.*the float backend rounds"):
        simulate(config_from_dict({"tokens": [["pi", "0"], ["0", "1"]], "alpha": 1}), 1, backend="float")


def test_crosscheck_against_the_algebraic_engine_finds_the_broken_tie_of_the_turned_pentagon():
    result = crosscheck(config_from_dict(TURNED_PENTAGON), 5, dtype="float64")
    assert result["reference"] == "algebraic"
    assert result["first_disagreement"] == 1 and 5 in result["steps"][1]["wrong_rows"]
    assert 5 in result["steps"][1]["uncertain_rows"]  # the first wrong decision is flagged by the error bound
    assert result["steps"][2]["max_abs_dev"] > 0.1  # then the runs part (later decisions are wrong but sure)
    exact = simulate(config_from_dict(TURNED_PENTAGON), 5, backend="algebraic")
    assert all(f[5] == (2, 3) for f in exact.follow)  # the exact tie the float run loses


def test_crosscheck_on_the_axis_aligned_pentagon_keeps_the_tie_and_flags_it(examples_dir):
    done = subprocess.run([sys.executable, "-m", "verify", "crosscheck", f"{examples_dir}/pentagon.json",
                           "--steps", "4", "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["reference"] == "algebraic" and result["wrong_decisions"] == 0
    assert all(s["uncertain_rows"] == [5] for s in result["steps"])  # a float tie cannot be proved


@pytest.mark.parametrize("backend", ["float", "torch"])
def test_check_judges_a_float_run_of_an_algebraic_config(examples_dir, backend):
    """The claims on the float run's own states (exact doubles) with the config's exact parameters."""
    done = subprocess.run([sys.executable, "-m", "verify", "check", f"{examples_dir}/pentagon.json", "--backend",
                           backend, "--steps", "4", "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stderr, done.stderr
    document = json.loads(done.stdout)
    assert document["backend"] == backend and document["H"] is True
    assert document["claims"]["P1"]["holds"] is True and document["claims"]["P5"]["holds"] is None


def test_simulate_and_plot_default_to_the_algebraic_backend_for_algebraic_configs(examples_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "dynamics", "simulate", f"{examples_dir}/pentagon.json", "--steps",
                           "2", "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["backend"] == "algebraic"
    out = tmp_path / "p.png"
    done = subprocess.run([sys.executable, "-m", "verify", "plot", f"{examples_dir}/pentagon.json", "--steps", "2",
                           "--output", str(out), "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["backend"] == "algebraic" and out.stat().st_size > 0
