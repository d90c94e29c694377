"""Float backends (NumPy, torch): agreement with the exact engine where floats are safe."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings

from dynamics import config_from_dict, load_config, simulate
from dynamics.backends.torch_ import heads_from_config, layer, run_layers
from dynamics.rational import RationalMatrix
from verify.strategies import configs

EMERGING = "examples/emerging_leader.json"


def min_relative_gap(traj, config) -> float:
    """Smallest gap between the best and second-best distinct score over all rows and steps.

    Large gaps mean float rounding cannot change a decision (then float and exact must agree).
    """
    gap = float("inf")
    for state in traj.states:
        Z = state.fractions()
        for head in config.heads:
            A = head.A
            for zi in Z:
                Az = [sum(A[r][k] * zi[k] for k in range(len(zi))) for r in range(len(zi))]
                values = sorted({sum(a * b for a, b in zip(Az, zj)) for zj in Z}, reverse=True)
                if len(values) > 1:
                    scale = max(1, max(abs(v) for v in values))
                    gap = min(gap, float((values[0] - values[1]) / scale))
    return gap


def test_numpy_matches_exact_on_the_paper_example():
    config = load_config(EMERGING)
    exact = simulate(config, 30, backend="exact")
    for dtype, tol in (("float64", 1e-12), ("float32", 1e-5)):
        t = simulate(config, 30, backend="float", dtype=dtype)
        assert t.follow == exact.follow
        assert t.leaders == exact.leaders
        assert np.abs(t.states[-1] - exact.states[-1].to_numpy()).max() < tol


@settings(max_examples=60, deadline=None)
@given(configs(matrix="spd", heads=(1, 2), family="generic", max_n=10, max_d=3))
def test_float64_agrees_with_exact_when_gaps_are_large(config):
    steps = 5
    exact = simulate(config, steps, backend="exact")
    assume(min_relative_gap(exact, config) > 1e-9)
    t = simulate(config, steps, backend="float", dtype="float64")
    assert t.follow == exact.follow
    for k in range(steps + 1):
        assert np.allclose(t.states[k], exact.states[k].to_numpy(), rtol=0, atol=1e-12)


def test_torch_cpu_matches_numpy():
    config = load_config(EMERGING)
    a = simulate(config, 20, backend="float", dtype="float64")
    b = simulate(config, 20, backend="torch", dtype="float64")
    assert a.follow == b.follow and a.leaders == b.leaders
    assert np.abs(a.states[-1] - b.states[-1]).max() < 1e-13


def test_float32_breaks_the_persistent_tie():
    """The exact engine keeps token 0 strictly inside forever; float32 lands it on the leaders' line."""
    config = load_config("examples/rotation_tie.json")
    exact = simulate(config, 60, backend="exact")
    t = simulate(config, 60, backend="float", dtype="float32")
    assert exact.follow[60][0] == (1, 2)
    assert t.follow[60][0] != exact.follow[60][0]


def test_batched_torch_equals_one_by_one():
    torch.manual_seed(0)
    Z = torch.rand(5, 7, 3, dtype=torch.float64)
    A = torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    heads = [(A, 0.5), (None, 1.5)]
    batched = run_layers(Z, heads, 6)
    for b in range(5):
        single = run_layers(Z[b:b + 1], heads, 6)
        assert torch.equal(batched[b], single[0])


def test_torch_agrees_with_exact_multi_head():
    obj = {"tokens": [["1", "0"], ["0", "1"], ["-1", "-1/2"], ["1/3", "1/5"]],
           "heads": [{"A": [["2", "1"], ["1", "1"]], "alpha": "1/2"}, {"alpha": "1/4"}]}
    config = config_from_dict(obj)
    exact = simulate(config, 8, backend="exact")
    t = simulate(config, 8, backend="torch", dtype="float64")
    assert t.follow_by_head == exact.follow_by_head
    assert np.abs(t.states[-1] - exact.states[-1].to_numpy()).max() < 1e-13


def test_mask_removes_padded_keys():
    torch.manual_seed(1)
    real = torch.rand(1, 5, 2, dtype=torch.float64)
    pads = torch.full((1, 3, 2), 10.0, dtype=torch.float64)  # pads would win every argmax if seen
    Z = torch.cat([real, pads], dim=1)
    mask = torch.tensor([[True] * 5 + [False] * 3])
    heads = [(None, 0.5)]
    for rule in ("hardmax", "softmax"):
        masked = run_layers(Z, heads, 4, rule=rule, tau=0.1, mask=mask)[:, :5]
        alone = run_layers(real, heads, 4, rule=rule, tau=0.1)
        assert torch.allclose(masked, alone, atol=1e-14)
    _, winners = layer(Z, heads, mask=mask, return_winners=True)
    assert not winners[0][..., 5:].any()


def test_softmax_low_temperature_approaches_hardmax_and_is_differentiable():
    config = load_config(EMERGING)
    heads = heads_from_config(config, torch.float64, "cpu")
    Z = torch.tensor([[float(x) for x in row] for row in config.tokens], dtype=torch.float64)[None]
    hard = run_layers(Z, heads, 5, rule="hardmax")
    soft = run_layers(Z, heads, 5, rule="softmax", tau=1e-4)
    assert torch.allclose(hard, soft, atol=1e-10)
    alpha = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    out = run_layers(Z, [(None, alpha)], 5, rule="softmax", tau=0.3)
    out.sum().backward()
    assert alpha.grad is not None and torch.isfinite(alpha.grad) and alpha.grad.abs() > 0


def test_float_softmax_in_numpy_matches_torch():
    config = load_config(EMERGING)
    a = simulate(config, 6, backend="float", dtype="float64", rule="softmax", tau=0.2)
    b = simulate(config, 6, backend="torch", dtype="float64", rule="softmax", tau=0.2)
    assert np.abs(a.states[-1] - b.states[-1]).max() < 1e-12


def test_float_state_keys_treat_signed_zeros_as_equal():
    t = simulate(config_from_dict({"tokens": [[0.0, 1], [-0.0, 1]], "alpha": 1}), 1, backend="float")
    assert t.leaders[0] == (0, 1)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    config = load_config(EMERGING)
    for dtype in ("float32", "float64"):
        cpu = simulate(config, 30, backend="torch", dtype=dtype, device="cpu")
        gpu = simulate(config, 30, backend="torch", dtype=dtype, device="cuda")
        assert gpu.follow == cpu.follow
        assert np.abs(gpu.states[-1] - cpu.states[-1]).max() < (1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.gpu
def test_cuda_batched_hardmax_matches_exact_decisions():
    config = load_config(EMERGING)
    exact = simulate(config, 10, backend="exact")
    heads = heads_from_config(config, torch.float64, "cuda")
    Z = torch.tensor(RationalMatrix.from_rows(config.tokens).to_numpy(), device="cuda")[None].repeat(64, 1, 1)
    out = run_layers(Z, heads, 10)
    target = torch.tensor(exact.states[-1].to_numpy(), device="cuda")
    assert torch.allclose(out, target.expand_as(out), atol=1e-12)


def test_rational_float_input_round_trip():
    assert RationalMatrix.from_rows([[Fraction(0.1)]]).to_numpy()[0, 0] == 0.1
