"""The claim checkers, lemmas and certified limits on algebraic runs (states in a number field).

The main test is metamorphic: rotate a rational config by 45° (``R`` with entries ``±√2/2``,
``A → R A Rᵀ``, ``V → R V Rᵀ``). Every score is unchanged (``⟨R A Rᵀ R z_i, R z_j⟩ = ⟨A z_i, z_j⟩``),
so the rotated config, whose entries live in ``Q(√2)``, must give the same follow sets, the same
verdict on every claim, the same certified limit (rotated) and the same S memberships — all decided
over ``Q(√2)`` by the field code, against the integer code on the original.
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamics import config_from_dict, simulate
from dynamics.backends.algebraic import config_over_field
from dynamics.errors import InputError
from dynamics.number_field import field_of
from dynamics.numbers import parse_number
from verify.claims import FINITE_CLAIMS, check_all
from verify.geometry import hull_membership, is_vertex, verify_certificate
from verify.lemmas import _charpoly, matrix_class
from verify.limits import certified_limit, positive_on_unit_interval
from verify.run import Run, exact_config
from verify.strategies import MATRIX_CLASSES, VALUE_CLASSES, configs, rationals

FIELD, (SQRT2,) = field_of([parse_number("sqrt(2)")])
H = SQRT2 / 2
ROTATION = ((H, -H), (H, H))  # by 45° in the plane of the first two coordinates


def _rotation(d: int):
    return [[ROTATION[i][j] if i < 2 and j < 2 else FIELD.element(int(i == j)) for j in range(d)] for i in range(d)]


def _apply(R, z):
    return [sum((R[i][j] * z[j] for j in range(len(z))), FIELD.element(0)) for i in range(len(R))]


def _conjugate(R, M):
    """``R M Rᵀ``."""
    d = len(R)
    RM = [[sum((R[i][t] * M[t][j] for t in range(d)), FIELD.element(0)) for j in range(d)] for i in range(d)]
    return [[sum((RM[i][t] * R[j][t] for t in range(d)), FIELD.element(0)) for j in range(d)] for i in range(d)]


def rotated(config):
    """The config turned by 45°: its entries as text in the input grammar (``1/2 - 1/4*sqrt(2)``)."""
    R = _rotation(config.d)

    def text(rows):
        return [[str(x) for x in row] for row in rows]

    def head(h):
        out = {"A": text(_conjugate(R, h.A)), "alpha": str(FIELD.element(h.alpha))}
        if h.V is not None:
            out["V"] = text(_conjugate(R, h.V))
        return out

    layers = [{"heads": [head(h) for h in heads]} for heads in config.schedule]
    document = {"tokens": text([_apply(R, z) for z in config.tokens])}
    if len(layers) == 1:
        document["heads"] = layers[0]["heads"]
    else:
        document["layers"] = layers
    return config_from_dict(document)


def _coefficients(rows):
    """Each entry's coefficients in powers of √2 (a Fraction ``c`` as ``[c]``, 0 as ``[]``, as in the field)."""
    return [[x.coefficients() if hasattr(x, "coefficients") else ([x] if x else []) for x in row] for row in rows]


def _summary(verdict):
    witness = verdict.witness or {}
    return verdict.holds, verdict.violations, witness.get("step"), witness.get("token"), verdict.observed


@settings(max_examples=60, deadline=None)
@given(st.tuples(st.sampled_from(MATRIX_CLASSES), st.sampled_from(VALUE_CLASSES)).flatmap(
    lambda mv: configs(matrix=mv[0], heads=(1, 2), max_n=5, min_d=2, max_d=3, values=mv[1], layers=(1, 2))))
def test_a_config_turned_by_45_degrees_gets_the_same_verdicts_over_Q_sqrt2(config):
    steps = 5
    turned = rotated(config)
    exact = simulate(config, steps, backend="exact")
    algebraic = simulate(turned, steps, backend="algebraic")
    assert algebraic.follow_by_head == exact.follow_by_head and algebraic.leaders == exact.leaders
    R = _rotation(config.d)
    for mine, theirs in zip(algebraic.states, exact.states):  # Z'^k = R Z^k, exactly
        assert _coefficients(mine) == _coefficients([_apply(R, z) for z in theirs.fractions()])

    run = Run(turned, algebraic)
    assert run.field is not None or all(x.is_rational() for row in algebraic.states[0] for x in row)
    assert run.follow == Run(config, exact).follow
    assert run.H == Run(config, exact).H
    verdicts, reference = check_all(turned, algebraic), check_all(config, exact)
    assert {c: _summary(v) for c, v in verdicts.items()} == {c: _summary(v) for c, v in reference.items()}


@settings(max_examples=40, deadline=None)
@given(configs(matrix="spd", heads=(1, 2), max_n=5, min_d=2, max_d=3, layers=(1, 2)))
def test_the_certified_limit_of_a_turned_config_is_the_turned_limit(config):
    limit, turned_limit = certified_limit(config, 60), certified_limit(rotated(config), 60)
    assert turned_limit.certified == limit.certified
    assert (turned_limit.certified_at, turned_limit.clusters, turned_limit.leaders, turned_limit.in_S) == (
        limit.certified_at, limit.clusters, limit.leaders, limit.in_S)
    if limit.certified:
        R = _rotation(config.d)
        assert _coefficients(turned_limit.limit) == _coefficients([_apply(R, z) for z in limit.limit])
        document = turned_limit.to_json()  # the limit as text in the input grammar, parsed back exactly
        field, back = config_over_field(config_from_dict({"tokens": document["limit"], "alpha": "1"}), FIELD)
        assert _coefficients(back.tokens) == _coefficients(turned_limit.limit)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4).flatmap(lambda d: st.lists(st.lists(rationals(), min_size=d, max_size=d), min_size=d,
                                                         max_size=d)))
def test_the_characteristic_polynomial_over_a_field_is_flints_over_Q(A):
    from flint import fmpq, fmpq_mat

    d = len(A)
    flint = fmpq_mat(d, d, [fmpq(x.numerator, x.denominator) for row in A for x in row]).charpoly().coeffs()
    assert _charpoly(A) == [Fraction(int(c.p), int(c.q)) for c in flint]
    embedded = [[FIELD.element(x) for x in row] for row in A]  # the same matrix as elements of Q(√2)
    assert all(c == expected for c, expected in zip(_charpoly(embedded), _charpoly(A), strict=True))


@pytest.mark.parametrize("kind", MATRIX_CLASSES)
def test_the_matrix_class_of_a_turned_matrix_is_decided_in_the_field(kind):
    from hypothesis import find

    from verify.strategies import matrices

    A = find(matrices(kind, 3), lambda M: M[0][2] != M[1][2])  # coupled to the third axis: R A Rᵀ has √2 in it
    turned = _conjugate(_rotation(3), A)
    assert any(not x.is_rational() for row in turned for x in row)
    assert matrix_class(turned) == matrix_class(A) == kind


def test_hull_membership_over_a_field_certifies_both_answers():
    pentagon = config_over_field(config_from_dict({"tokens": [
        ["1", "0"], ["cos(2*pi/5)", "sin(2*pi/5)"], ["cos(4*pi/5)", "sin(4*pi/5)"],
        ["cos(4*pi/5)", "-sin(4*pi/5)"], ["cos(2*pi/5)", "-sin(2*pi/5)"]], "alpha": "1"}))[1]
    points = [tuple(z) for z in pentagon.tokens]
    field = points[0][0].field
    centre = (field.element(0), field.element(0))
    inside = hull_membership(points, centre)
    assert inside.inside and verify_certificate(points, centre, inside)
    midpoint = tuple((a + b) / 2 for a, b in zip(points[1], points[2]))  # on an edge: inside, exactly
    assert hull_membership(points, midpoint).inside
    beyond = tuple(x * Fraction(1000001, 1000000) for x in midpoint)  # just past that edge
    outside = hull_membership(points, beyond)
    assert not outside.inside and verify_certificate(points, beyond, outside)
    assert 0 < outside.distance < 1e-5
    for i in range(5):  # every corner of the regular pentagon is an exposed vertex
        assert not is_vertex(points, i).inside


def test_the_quadratic_sign_test_over_a_field():
    # q(λ) = (λ - 1/√2)² = λ² - √2 λ + 1/2: zero at λ = 1/√2 ∈ (0, 1), so not positive there
    assert not positive_on_unit_interval(FIELD.element(1), -SQRT2, FIELD.element(Fraction(1, 2)))
    # q(λ) = λ² - √2 λ + 1/2 + 10⁻⁹: positive on (0, 1]
    assert positive_on_unit_interval(FIELD.element(1), -SQRT2, FIELD.element(Fraction(1, 2)) + Fraction(1, 10**9))


def test_a_run_in_a_field_other_than_the_configs_is_refused():
    square = config_from_dict({"tokens": [["sqrt(2)", "0"], ["0", "1"]], "alpha": "1"})
    triangle = config_from_dict({"tokens": [["sqrt(3)", "0"], ["0", "1"]], "alpha": "1"})
    with pytest.raises(ValueError, match="not the field"):
        Run(square, simulate(triangle, 2, backend="algebraic"))


def test_sqrt_of_a_square_is_a_rational_config_for_the_checkers():
    config = config_from_dict({"tokens": [["sqrt(4)", "0"], ["0", "1"], ["1/2", "1/2"]], "alpha": "1"})
    exact, field = exact_config(config)
    assert field is None and exact.tokens[0][0] == 2 and isinstance(exact.tokens[0][0], Fraction)
    verdicts = check_all(config, simulate(config, 4, backend="algebraic"))
    assert all(v.holds is not False for v in verdicts.values())
    assert certified_limit(config).certified


def test_verify_check_and_limit_run_an_algebraic_config(tmp_path, capsys):
    from verify.__main__ import main

    path = tmp_path / "pentagon.json"
    path.write_text(json.dumps({"tokens": [
        ["1", "0"], ["cos(2*pi/5)", "sin(2*pi/5)"], ["cos(4*pi/5)", "sin(4*pi/5)"],
        ["cos(4*pi/5)", "-sin(4*pi/5)"], ["cos(2*pi/5)", "-sin(2*pi/5)"], ["-1/2", "0"]], "alpha": "1/2"}))
    assert main(["check", str(path), "--steps", "8", "--json", "--strict"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["backend"] == "algebraic" and document["H"] is True
    assert all(document["claims"][c]["holds"] is True for c in ("P1", "P2", "P3", "P4", "P5", "D1", "D2"))
    assert main(["limit", str(path), "--json", "--strict"]) == 0
    limit = json.loads(capsys.readouterr().out)
    assert limit["certified_at"] == 0 and limit["in_S"] == [True] * 6
    assert limit["clusters"] == [[0], [1], [2], [3], [4], [5]]  # the centre-line token stays, tied, between 2 and 3
    from dynamics.cli import run_main

    assert run_main("verify", main, ["check", str(path), "--backend", "exact"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--backend algebraic" in error and "Traceback" not in error


def test_lemmas_read_field_elements(tmp_path):
    """A user's lemma gets states and parameters in the field and combines them exactly."""
    from verify.claims import evaluate
    from verify.lemmas import lemma

    @lemma("norm-up", "the score of a token with itself never decreases", under=("spd",))
    def norm_up(run):
        A = run.config.heads[0].A
        for k in range(run.steps):
            for i in range(run.n):
                def norm(z):
                    return sum((A[r][c] * z[c] * z[r] for r in range(run.d) for c in range(run.d)), 0)
                if norm(run.states[k + 1][i]) < norm(run.states[k][i]):
                    return {"step": k, "token": i}
        return None

    config = config_from_dict({"tokens": [["sqrt(2)/2", "sqrt(2)/2"], ["-sqrt(2)/2", "sqrt(2)/2"],
                                          ["1/3", "1/5"]], "A": [["2", "sqrt(2)/4"], ["sqrt(2)/4", "1"]],
                               "alpha": "1"})
    run = Run(config, simulate(config, 6, backend="algebraic"))
    assert run.field is not None and run.H
    assert evaluate(norm_up, run).holds is True
    assert sorted(check_all(config, run.trajectory, FINITE_CLAIMS)) == sorted(FINITE_CLAIMS)


def test_checking_a_transcendental_config_is_refused_in_one_line():
    config = config_from_dict({"tokens": [["pi", "0"], ["0", "1"]], "alpha": "1"})
    with pytest.raises(InputError, match="interval"):
        certified_limit(config)
