"""Testing a lemma of your own with pytest and Hypothesis: a worked example.

Run it from the repository root (it takes a few seconds)::

    python -m pytest examples/test_my_lemma.py

A *lemma* is a function of an exact run that returns ``None`` when it holds on
that run, or a witness dict with the first failing ``"step"`` (see
``verify/lemmas.py``). Declared with ``@lemma``, the same function also works
on the command line::

    python -m verify check examples/emerging_leader.json --lemmas examples/test_my_lemma.py
    python -m verify hunt --lemmas examples/test_my_lemma.py --claim BOUNDING-BOX --max-examples 200

This file uses only the public API:

* ``verify.strategies.configs`` draws configurations (matrix class of ``A``,
  value matrices ``V``, layer schedules, token families) that shrink to small
  rational counterexamples;
* ``dynamics.simulate(config, steps, backend="exact")`` runs the exact dynamics;
* ``verify.run.Run`` holds what a lemma reads: ``run.states[k][i]`` (tuples of
  ``Fraction``), ``run.follow[k][h][i]``, ``run.leaders[k]``, ``run.config``;
* ``verify.lemmas.lemma`` declares the lemma.
"""

from __future__ import annotations

from hypothesis import assume, given, note, settings

from dynamics import simulate
from verify.lemmas import lemma
from verify.run import Run
from verify.strategies import configs

STEPS = 4


def exact_run(config, steps: int = STEPS) -> Run:
    """The exact run of ``config`` for ``steps`` layers, as a lemma reads it."""
    return Run(config, simulate(config, steps, backend="exact"))


@lemma("BOUNDING-BOX", "with V = I and alpha > 0 every token of Z^{k+1} lies in the coordinate bounding box of Z^k",
       requires=("identity_values", "positive_alpha"))
def bounding_box(run):
    # Each new token is a convex combination of old ones (whatever A, heads or layer), so no
    # coordinate can leave the range it had in Z^k.
    for k in range(run.steps):
        for c in range(run.d):
            low = min(z[c] for z in run.states[k])
            high = max(z[c] for z in run.states[k])
            for i, z in enumerate(run.states[k + 1]):
                if not low <= z[c] <= high:
                    return {"step": k + 1, "token": i, "coordinate": c, "value": str(z[c])}
    return None


@lemma("RANK-ONE-STEP", "with one head and V = u v^T, (1 + alpha) z_i^{k+1} - z_i^k is a multiple of u",
       requires=("single_head",))
def rank_one_step(run):
    # z+ = (z + alpha * sum_j P_ij u (v . z_j)) / (1 + alpha): the move is along u, and
    # every nonzero column of V = u v^T is a multiple of u.
    for k in range(run.steps):
        head = run.config.heads_at(k)[0]  # the head of the layer used at step k
        if head.V is None:  # V = I: nothing to claim
            continue
        u = next(col for col in zip(*head.V) if any(col))
        for i in range(run.n):
            w = [(1 + head.alpha) * a - b for a, b in zip(run.states[k + 1][i], run.states[k][i])]
            if any(w[p] * u[q] != w[q] * u[p] for p in range(run.d) for q in range(run.d)):
                return {"step": k + 1, "token": i}
    return None


@settings(max_examples=30, deadline=None)
@given(configs(matrix="spd", values="identity", layers=(1, 3), max_n=6))
def test_tokens_stay_in_the_bounding_box(config):
    assert bounding_box(exact_run(config)) is None


@settings(max_examples=30, deadline=None)
@given(configs(matrix="spd", values="rank_one", layers=(1, 3), max_n=6))
def test_rank_one_values_move_tokens_along_u(config):
    # In d = 1 a "rank-one" V = [[u v]] may be the identity; the lemma is about d >= 2.
    assume(config.d >= 2)
    run = exact_run(config)
    # note() is printed with a failing example: here, the value matrices and whether the
    # bounding-box lemma (not claimed for V != I) happened to hold on this run.
    note(f"V per layer: {[[str(x) for row in heads[0].V for x in row] for heads in config.schedule]}")
    note(f"BOUNDING-BOX on this run: {bounding_box(run)}")
    assert rank_one_step(run) is None
