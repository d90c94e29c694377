"""Exact hull membership and vertices, with certificates checked independently."""

from __future__ import annotations

from fractions import Fraction as F

from hypothesis import given, settings, strategies as st

from verify.geometry import _float_proposal, _simplex, hull_membership, is_vertex, verify_certificate
from verify.strategies import rationals

SQUARE = [(F(0), F(0)), (F(1), F(0)), (F(1), F(1)), (F(0), F(1))]


def test_square_inside_boundary_outside():
    inside = hull_membership(SQUARE, (F(1, 3), F(2, 3)))
    assert inside.inside and verify_certificate(SQUARE, (F(1, 3), F(2, 3)), inside)
    edge = hull_membership(SQUARE, (F(1), F(1, 2)))
    assert edge.inside
    out = hull_membership(SQUARE, (F(1) + F(1, 10**30), F(1, 2)))
    assert not out.inside and out.margin > 0
    assert verify_certificate(SQUARE, (F(1) + F(1, 10**30), F(1, 2)), out)


def test_vertices_of_a_square_with_interior_and_duplicate_points():
    points = SQUARE + [(F(1, 2), F(1, 2)), (F(1), F(1)), (F(1, 2), F(0))]
    assert not is_vertex(points, 0).inside  # a corner is a vertex
    assert not is_vertex(points, 5).inside  # a duplicate of a corner is still that vertex
    assert is_vertex(points, 4).inside  # the centre is not
    assert is_vertex(points, 6).inside  # the midpoint of an edge is not


def test_collinear_and_single_point():
    line = [(F(0), F(0)), (F(1), F(1)), (F(3), F(3))]
    assert hull_membership(line, (F(2), F(2))).inside
    assert not hull_membership(line, (F(2), F(2) + F(1, 10**9))).inside
    assert not hull_membership([(F(1), F(2))], (F(1), F(3))).inside
    assert hull_membership([(F(1), F(2))], (F(1), F(2))).inside


points_and_query = st.integers(1, 3).flatmap(
    lambda d: st.tuples(
        st.lists(st.tuples(*[rationals(6, 2)] * d), min_size=1, max_size=8),
        st.tuples(*[rationals(6, 2)] * d),
    )
)


@settings(max_examples=200, deadline=None)
@given(points_and_query)
def test_float_path_and_exact_simplex_agree_and_certify(data):
    points, x = data
    exact = _simplex(points, x)
    assert verify_certificate(points, x, exact)
    proposal = _float_proposal(points, x)
    if proposal is not None:  # only ever a verified 'inside'
        assert proposal.inside and exact.inside
    assert hull_membership(points, x).inside == exact.inside


@settings(max_examples=100, deadline=None)
@given(points_and_query, st.lists(st.integers(0, 5), min_size=8, max_size=8))
def test_convex_combinations_are_inside(data, raw):
    points, _ = data
    weights = [F(w) for w in raw[: len(points)]]
    if sum(weights) == 0:
        weights[0] = F(1)
    total = sum(weights)
    x = tuple(sum(w * p[k] for w, p in zip(weights, points)) / total for k in range(len(points[0])))
    assert hull_membership(points, x).inside
