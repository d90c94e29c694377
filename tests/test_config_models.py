"""Config contracts of the model features: value matrices ``V`` and layer schedules ``"layers"``."""

from __future__ import annotations

import json
from fractions import Fraction as F

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dynamics import config_from_dict, simulate
from dynamics.backends.interval import endpoints
from dynamics.config import Config, ConfigError, Head, identity, load_config
from verify.strategies import MATRIX_CLASSES, VALUE_CLASSES, configs

I2 = [[1, 0], [0, 1]]
SWAP = [[0, 1], [1, 0]]
TOKENS = [[1, "1/3"], ["-1/2", "1/5"], [-1, -1]]


def fr(M):
    return tuple(tuple(F(x) for x in row) for row in M)


def load_error(write_json, obj, **kwargs) -> tuple[str, str]:
    """``(path, message)`` of the ConfigError that ``load_config`` raises on ``obj``."""
    path = write_json(obj)
    with pytest.raises(ConfigError) as info:
        load_config(path, **kwargs)
    return path, str(info.value)


def assert_one_line(path: str, message: str, field: str) -> None:
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(path), message
    assert f"'{field}" in message, message
    assert "Traceback" not in message


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

def test_top_level_V_beside_A_and_alpha():
    c = config_from_dict({"tokens": TOKENS, "A": [[2, 0], [0, 1]], "V": [["1/2", 1], [0, "-3"]], "alpha": "1/2"})
    assert c.layers is None and len(c.heads) == 1
    h = c.heads[0]
    assert h.A == fr([[2, 0], [0, 1]]) and h.alpha == F(1, 2)
    assert h.V == fr([["1/2", 1], [0, -3]])
    assert h.value_matrix == h.V
    assert not c.identity_values and c.fixed_scores


def test_V_defaults_to_identity_and_identity_V_is_none():
    c = config_from_dict({"tokens": TOKENS, "alpha": 1})
    assert c.heads[0].V is None and c.heads[0].value_matrix == identity(2)
    c2 = config_from_dict({"tokens": TOKENS, "alpha": 1, "V": [["1", "0"], ["0/3", "2/2"]]})
    assert c2.heads[0].V is None and c2 == c
    assert c2.to_dict() == c.to_dict() and "V" not in c2.to_dict()


def test_V_inside_heads():
    c = config_from_dict({"tokens": TOKENS, "heads": [
        {"A": I2, "alpha": 1},
        {"A": SWAP, "V": [["3/5", "-4/5"], ["4/5", "3/5"]], "alpha": "1/4"},
        {"V": [[0, 0], [0, 1]], "alpha": 2}]})
    assert [h.V for h in c.heads] == [None, fr([["3/5", "-4/5"], ["4/5", "3/5"]]), fr([[0, 0], [0, 1]])]
    assert c.heads[2].A == identity(2)
    assert [p for p, _ in c.all_heads()] == ["heads[0].", "heads[1].", "heads[2]."]
    assert not c.identity_values


def test_layers_both_entry_forms():
    obj = {"tokens": TOKENS, "layers": [
        {"A": I2, "alpha": "1/2"},
        {"heads": [{"A": SWAP, "V": [[2, 0], [0, 1]], "alpha": 1}]},
        {"V": SWAP, "alpha": "3"}]}
    c = config_from_dict(obj)
    assert c.layers is not None and len(c.layers) == 3
    assert c.heads == c.layers[0]
    assert c.layers[0] == (Head(A=fr(I2), alpha=F(1, 2)),)
    assert c.layers[1] == (Head(A=fr(SWAP), alpha=F(1), V=fr([[2, 0], [0, 1]])),)
    assert c.layers[2] == (Head(A=identity(2), alpha=F(3), V=fr(SWAP)),)
    assert c.schedule == c.layers
    assert [c.layer_index(k) for k in range(6)] == [0, 1, 2, 2, 2, 2]
    assert [c.heads_at(k) for k in range(5)] == [c.layers[0], c.layers[1], c.layers[2], c.layers[2], c.layers[2]]
    assert [p for p, _ in c.all_heads()] == ["layers[0].", "layers[1].", "layers[2]."]
    assert not c.identity_values and not c.fixed_scores
    # a one-head {"heads": [...]} entry is the same parameter set as the flat form
    flat = dict(obj, layers=[obj["layers"][0], {"A": SWAP, "V": [[2, 0], [0, 1]], "alpha": 1}, obj["layers"][2]])
    assert config_from_dict(flat) == c


def test_layers_multi_head_entries_and_prefixes():
    c = config_from_dict({"tokens": TOKENS, "layers": [
        {"heads": [{"alpha": 1}, {"A": SWAP, "alpha": 1}]},
        {"heads": [{"alpha": 2, "V": SWAP}, {"A": SWAP, "alpha": "1/2"}]}]})
    assert [p for p, _ in c.all_heads()] == [
        "layers[0].heads[0].", "layers[0].heads[1].", "layers[1].heads[0].", "layers[1].heads[1]."]
    assert c.fixed_scores and not c.identity_values
    assert c.heads_at(10)[0].V == fr(SWAP)


def test_one_entry_schedule_is_stored_as_no_schedule():
    c = config_from_dict({"tokens": TOKENS, "layers": [{"A": SWAP, "V": [[2, 0], [0, 1]], "alpha": 1}]})
    assert c.layers is None
    assert c == config_from_dict({"tokens": TOKENS, "A": SWAP, "V": [[2, 0], [0, 1]], "alpha": 1})
    assert "layers" not in c.to_dict()
    h = Head(A=fr(I2), alpha=F(1))
    c2 = Config(tokens=fr(TOKENS), heads=(), layers=((h,),))
    assert c2.layers is None and c2.heads == (h,)
    assert c2.schedule == ((h,),) and c2.heads_at(5) == (h,)


def test_config_constructor_with_layers():
    h0, h1 = Head(A=fr(I2), alpha=F(1)), Head(A=fr(SWAP), alpha=F(2), V=fr(SWAP))
    c = Config(tokens=fr(TOKENS), heads=(), layers=((h0,), (h1,)))
    assert c.heads == (h0,) and c.layers == ((h0,), (h1,))
    assert Config(tokens=fr(TOKENS), heads=(h0,), layers=((h0,), (h1,))) == c
    with pytest.raises(ValueError):
        Config(tokens=fr(TOKENS), heads=(h1,), layers=((h0,), (h1,)))
    with pytest.raises(ValueError):
        Config(tokens=fr(TOKENS), heads=(), layers=((h0,), (h0, h1)))
    with pytest.raises(ValueError):
        Config(tokens=fr(TOKENS), heads=(), layers=((h0,), ()))
    # lists are accepted and stored as tuples
    c3 = Config(tokens=fr(TOKENS), heads=(), layers=[[h0], [h1]])
    assert c3.layers == ((h0,), (h1,)) and c3 == c


def test_head_normalises_identity_V():
    assert Head(A=fr(I2), alpha=F(1), V=fr(I2)).V is None
    assert Head(A=fr(I2), alpha=F(1), V=I2).V is None
    assert Head(A=fr(I2), alpha=F(1), V=((F(1),),)).V is None
    assert Head(A=fr(I2), alpha=F(1), V=fr(I2)) == Head(A=fr(I2), alpha=F(1))
    assert Head(A=fr(I2), alpha=F(1), V=fr([[2, 0], [0, 2]])).V == fr([[2, 0], [0, 2]])
    assert Head(A=fr(I2), alpha=F(1), V=fr(SWAP)).value_matrix == fr(SWAP)


def test_identity_values_and_fixed_scores():
    h = lambda A=I2, alpha=1, V=None: Head(A=fr(A), alpha=F(alpha), V=None if V is None else fr(V))
    T = fr(TOKENS)
    plain = Config(tokens=T, heads=(h(),))
    assert plain.identity_values and plain.fixed_scores
    assert not Config(tokens=T, heads=(h(V=SWAP),)).identity_values
    assert Config(tokens=T, heads=(h(V=I2),)).identity_values
    # alpha and V vary by layer, A does not: fixed scores
    c = Config(tokens=T, heads=(), layers=((h(alpha=1),), (h(alpha=2, V=SWAP),), (h(alpha=3),)))
    assert c.fixed_scores and not c.identity_values
    # A varies by layer
    c = Config(tokens=T, heads=(), layers=((h(),), (h(A=SWAP),)))
    assert not c.fixed_scores and c.identity_values
    # multi-head: the same matrices in another head order are different scores
    c = Config(tokens=T, heads=(), layers=((h(), h(A=SWAP)), (h(A=SWAP), h())))
    assert not c.fixed_scores
    c = Config(tokens=T, heads=(), layers=((h(), h(A=SWAP)), (h(alpha=5), h(A=SWAP, V=[[1, 1], [0, 1]]))))
    assert c.fixed_scores and not c.identity_values
    # the identity written out equals the default
    c = config_from_dict({"tokens": TOKENS, "layers": [{"alpha": 1}, {"A": I2, "V": I2, "alpha": 2}]})
    assert c.fixed_scores and c.identity_values


# --------------------------------------------------------------------------------------------
# to_dict round trips
# --------------------------------------------------------------------------------------------

def test_to_dict_shape_with_layers():
    c = config_from_dict({"tokens": TOKENS, "name": "x", "steps": 3, "layers": [
        {"A": I2, "alpha": "1/2"},
        {"heads": [{"A": SWAP, "V": [[2, 0], [0, 1]], "alpha": 1}]},
        {"V": SWAP, "alpha": "3"}]})
    d = c.to_dict()
    assert set(d) == {"tokens", "layers", "name", "steps"}
    assert d["layers"][0] == {"A": [["1", "0"], ["0", "1"]], "alpha": "1/2"}
    assert d["layers"][1] == {"A": [["0", "1"], ["1", "0"]], "alpha": "1", "V": [["2", "0"], ["0", "1"]]}
    assert d["layers"][2]["V"] == [["0", "1"], ["1", "0"]]
    assert config_from_dict(json.loads(json.dumps(d))) == c


@pytest.mark.parametrize("values", VALUE_CLASSES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_to_dict_round_trip(values, data, tmp_path_factory):
    matrix = data.draw(st.sampled_from(MATRIX_CLASSES))
    config = data.draw(configs(matrix=matrix, heads=(1, 3), values=values, layers=(1, 4), max_n=5, max_d=3,
                               alpha_schedule=data.draw(st.sampled_from(("any", "decreasing")))), label="config")
    d = config.to_dict()
    back = config_from_dict(json.loads(json.dumps(d)))
    assert back == config
    assert back.to_dict() == d
    assert back.schedule == config.schedule and back.layers == config.layers
    assert back.identity_values == config.identity_values and back.fixed_scores == config.fixed_scores
    if config.layers is None:
        assert "layers" not in d
    else:
        assert set(d) == {"tokens", "layers"} and len(d["layers"]) == len(config.layers) > 1
    for prefix, head in config.all_heads():
        assert (head.V is None) == all(x == int(i == j) for i, row in enumerate(head.value_matrix)
                                       for j, x in enumerate(row)), prefix
    path = tmp_path_factory.mktemp("rt") / "c.json"
    path.write_text(json.dumps(d))
    assert load_config(path) == config


# --------------------------------------------------------------------------------------------
# One-line ConfigErrors
# --------------------------------------------------------------------------------------------

BAD = [
    # (description, document, expected field)
    ("top-level V with too few rows", {"tokens": TOKENS, "alpha": 1, "V": [[1, 0]]}, "V"),
    ("top-level V with too many rows", {"tokens": TOKENS, "alpha": 1, "V": [[1, 0], [0, 1], [0, 0]]}, "V"),
    ("top-level V with a short row", {"tokens": TOKENS, "alpha": 1, "V": [[1], [0]]}, "V[0]"),
    ("top-level V not a list", {"tokens": TOKENS, "alpha": 1, "V": "I"}, "V"),
    ("top-level V bad entry", {"tokens": TOKENS, "alpha": 1, "V": [[1, "x"], [0, 1]]}, "V[0][1]"),
    ("head V wrong shape", {"tokens": TOKENS, "heads": [{"alpha": 1}, {"alpha": 1, "V": [[1, 0, 0], [0, 1, 0]]}]},
     "heads[1].V"),
    ("head V with three rows", {"tokens": TOKENS, "heads": [{"alpha": 1}, {"alpha": 1, "V": [[1, 0]] * 3}]},
     "heads[1].V"),
    ("top-level V beside heads", {"tokens": TOKENS, "V": I2, "heads": [{"alpha": 1}]}, "V"),
    ("layer V wrong shape", {"tokens": TOKENS, "layers": [{"alpha": 1}, {"alpha": 1, "V": [[1, 0]]}]}, "layers[1].V"),
    ("layer V with long rows", {"tokens": TOKENS, "layers": [{"alpha": 1}, {"alpha": 1, "V": [[1, 0, 0], [0, 1, 0]]}]},
     "layers[1].V"),
    ("layer head V wrong shape",
     {"tokens": TOKENS, "layers": [{"alpha": 1}, {"heads": [{"alpha": 1, "V": [[1]]}]}]}, "layers[1].heads[0].V"),
    ("layer V bad entry", {"tokens": TOKENS, "layers": [{"alpha": 1}, {"alpha": 1, "V": [[1, 0], [0, "1/0"]]}]},
     "layers[1].V[1][1]"),
    ("layer A wrong shape", {"tokens": TOKENS, "layers": [{"alpha": 1, "A": [[1, 0]]}]}, "layers[0].A"),
    ("unknown key in a layer", {"tokens": TOKENS, "layers": [{"alpha": 1, "beta": 2}]}, "layers[0].beta"),
    ("unknown key in a later layer", {"tokens": TOKENS, "layers": [{"alpha": 1}, {"alpha": 1, "Vv": I2}]},
     "layers[1].Vv"),
    ("unknown key in a layer's head",
     {"tokens": TOKENS, "layers": [{"heads": [{"alpha": 1, "gamma": 1}]}]}, "layers[0].heads[0].gamma"),
    ("layer entry a number", {"tokens": TOKENS, "layers": [{"alpha": 1}, 5]}, "layers[1]"),
    ("layer entry a list", {"tokens": TOKENS, "layers": [[{"alpha": 1}]]}, "layers[0]"),
    ("layer entry null", {"tokens": TOKENS, "layers": [{"alpha": 1}, None]}, "layers[1]"),
    ("empty layers", {"tokens": TOKENS, "layers": []}, "layers"),
    ("layers an object", {"tokens": TOKENS, "layers": {"alpha": 1}}, "layers"),
    ("layers with top-level alpha", {"tokens": TOKENS, "alpha": 1, "layers": [{"alpha": 1}]}, "alpha"),
    ("layers with top-level A", {"tokens": TOKENS, "A": I2, "layers": [{"alpha": 1}]}, "A"),
    ("layers with top-level V", {"tokens": TOKENS, "V": I2, "layers": [{"alpha": 1}]}, "V"),
    ("layers with top-level heads", {"tokens": TOKENS, "heads": [{"alpha": 1}], "layers": [{"alpha": 1}]}, "heads"),
    ("different head counts", {"tokens": TOKENS, "layers": [
        {"alpha": 1}, {"heads": [{"alpha": 1}, {"alpha": 2}]}]}, "layers[1]"),
    ("different head counts later", {"tokens": TOKENS, "layers": [
        {"heads": [{"alpha": 1}, {"alpha": 2}]}, {"heads": [{"alpha": 1}, {"alpha": 2}]}, {"alpha": 1}]},
     "layers[2]"),
    ("missing alpha in a layer", {"tokens": TOKENS, "layers": [{"alpha": 1}, {"A": I2}]}, "layers[1].alpha"),
    ("missing alpha in an empty layer", {"tokens": TOKENS, "layers": [{"alpha": 1}, {}]}, "layers[1].alpha"),
    ("missing alpha in a layer head",
     {"tokens": TOKENS, "layers": [{"alpha": 1}, {"heads": [{"A": I2}]}]}, "layers[1].heads[0].alpha"),
    ("heads and A in a layer", {"tokens": TOKENS, "layers": [{"A": I2, "heads": [{"alpha": 1}]}]}, "layers[0].A"),
    ("heads and V in a layer", {"tokens": TOKENS, "layers": [{"V": I2, "heads": [{"alpha": 1}]}]}, "layers[0].V"),
    ("empty heads in a layer", {"tokens": TOKENS, "layers": [{"heads": []}]}, "layers[0].heads"),
    ("nonpositive alpha in a layer", {"tokens": TOKENS, "layers": [{"alpha": 1}, {"alpha": "-1"}]},
     "layers[1].alpha"),
    ("zero alpha in a layer head", {"tokens": TOKENS, "layers": [{"heads": [{"alpha": 1}, {"alpha": 0}]}]},
     "layers[0].heads[1].alpha"),
]


@pytest.mark.parametrize("doc,field", [(d, f) for _, d, f in BAD], ids=[name for name, _, _ in BAD])
def test_one_line_config_errors(write_json, doc, field):
    path, message = load_error(write_json, doc)
    assert_one_line(path, message, field)


@pytest.mark.parametrize("layer", [
    {"alpha": "-1"},
    {"heads": [{"alpha": "-1/2"}, {"alpha": "-1/2"}]},
    {"heads": [{"alpha": "1"}, {"alpha": "-2"}]},
])
def test_normalisation_zero_inside_a_layer(write_json, layer):
    heads = len(layer.get("heads", [0]))
    first = {"alpha": 1} if heads == 1 else {"heads": [{"alpha": 1}] * heads}
    path, message = load_error(write_json, {"tokens": TOKENS, "layers": [first, layer]}, allow_nonpositive_alpha=True)
    assert_one_line(path, message, "layers[1]")
    assert "alpha" in message and "1 + sum" in message


def test_different_head_counts_message_names_both_counts(write_json):
    path, message = load_error(write_json, {"tokens": TOKENS, "layers": [
        {"alpha": 1}, {"heads": [{"alpha": 1}, {"alpha": 2}]}]})
    assert_one_line(path, message, "layers[1]")
    assert "1" in message and "2" in message


def test_nonpositive_alpha_allowed_in_layers_when_asked(write_json):
    path = write_json({"tokens": TOKENS, "layers": [{"alpha": 1}, {"alpha": "-1/2", "V": SWAP}]})
    c = load_config(path, allow_nonpositive_alpha=True)
    assert c.layers[1][0].alpha == F(-1, 2)


# --------------------------------------------------------------------------------------------
# Float range and irrational value matrices
# --------------------------------------------------------------------------------------------

HUGE = [
    ({"tokens": TOKENS, "alpha": 1, "V": [["1e400", 0], [0, 1]]}, "V[0][0]"),
    ({"tokens": TOKENS, "layers": [{"alpha": 1}, {"alpha": 1, "V": [["1e400", 0], [0, 1]]}]}, "layers[1].V[0][0]"),
    ({"tokens": TOKENS, "heads": [{"alpha": 1}, {"alpha": 1, "V": [[1, 0], [0, "-1e400"]]}]}, "heads[1].V[1][1]"),
    ({"tokens": TOKENS, "layers": [{"heads": [{"alpha": 1}, {"alpha": 1}]},
                                   {"heads": [{"alpha": 1}, {"alpha": 1, "V": [[1, "1e400"], [0, 1]]}]}]},
     "layers[1].heads[1].V[0][1]"),
]


@pytest.mark.parametrize("backend", ["float", "torch"])
@pytest.mark.parametrize("doc,field", HUGE, ids=[f for _, f in HUGE])
def test_value_matrix_outside_float_range(write_json, backend, doc, field):
    path = write_json(doc)
    config = load_config(path)
    for dtype in ("float64", "float32"):
        with pytest.raises(ConfigError) as info:
            simulate(config, 1, backend=backend, dtype=dtype)
        assert_one_line(path, str(info.value), field)
        assert f"'{field}'" in str(info.value)


def test_value_matrix_outside_float32_only(write_json):
    path = write_json({"tokens": TOKENS, "layers": [{"alpha": 1}, {"alpha": 1, "V": [["1e39", 0], [0, 1]]}]})
    config = load_config(path)
    for backend in ("float", "torch"):
        simulate(config, 2, backend=backend, dtype="float64")
        with pytest.raises(ConfigError) as info:
            simulate(config, 2, backend=backend, dtype="float32")
        assert_one_line(path, str(info.value), "layers[1].V[0][0]")


def test_huge_value_matrix_runs_exactly(write_json):
    config = load_config(write_json(HUGE[1][0]))
    t = simulate(config, 2, backend="exact")
    assert t.states[2].fractions()[0][0] > 10**399
    c = simulate(config, 2, backend="certified")
    assert [s.fractions() for s in c.states] == [s.fractions() for s in t.states] and c.follow == t.follow


IRRATIONAL = [
    ({"tokens": [[1, 0], [0, 1]], "alpha": 1, "V": [["sqrt(2)/2", 0], [0, 1]]}, "V[0][0]"),
    ({"tokens": [[1, 0], [0, 1]], "layers": [{"alpha": 1}, {"alpha": 1, "V": [[1, 0], [0, "sqrt(2)/2"]]}]},
     "layers[1].V[1][1]"),
    ({"tokens": [[1, 0], [0, 1]], "layers": [{"heads": [{"alpha": 1}, {"alpha": 1}]},
                                             {"heads": [{"alpha": 1}, {"alpha": 1, "V": [["cos(pi/4)", 0], [0, 1]]}]}]},
     "layers[1].heads[1].V[0][0]"),
]


@pytest.mark.parametrize("doc,field", IRRATIONAL, ids=[f for _, f in IRRATIONAL])
def test_irrational_value_matrix_exact_refuses_float_rounds_interval_runs(write_json, doc, field):
    path = write_json(doc)
    config = load_config(path)
    assert not config.is_rational
    assert config.first_irrational().startswith(field + " = ")
    for backend in ("float", "torch"):  # sqrt(2)/2 rounded to the nearest float, as 1/3 is
        assert simulate(config, 3, backend=backend).follow[0] == ((0,), (1,))
    for backend in ("exact", "certified"):
        with pytest.raises(ConfigError) as info:
            simulate(config, 2, backend=backend)
        message = str(info.value)
        assert "\n" not in message and message.startswith(path), message
        assert field in message, message
    t = simulate(config, 3, backend="interval")
    assert t.info["complete"] and len(t.states) == 4
    assert t.follow[0] == ((0,), (1,))


def test_irrational_value_matrix_interval_encloses_true_value():
    """tokens e0, e1, A = I, V = diag(√2/2, 1), alpha = 1: each leads; z0+ = ((1 + √2/2)/2, 0), z1 fixed."""
    config = config_from_dict({"tokens": [[1, 0], [0, 1]], "alpha": 1, "V": [["sqrt(2)/2", 0], [0, 1]]})
    t = simulate(config, 2, backend="interval", prec=80)
    assert t.info["complete"]
    lo, hi = endpoints(t.states[1][0][0])
    # √2 ∈ (1414213562373095/10^15, 1414213562373096/10^15)
    s_lo, s_hi = F(1414213562373095, 10**15), F(1414213562373096, 10**15)
    assert lo <= (1 + s_hi / 2) / 2 and (1 + s_lo / 2) / 2 <= hi
    assert hi - lo < F(1, 10**15)
    assert endpoints(t.states[1][1][1]) == (F(1), F(1))
    assert endpoints(t.states[1][0][1]) == (F(0), F(0))
    # step 2: z0 = x (x + x√2/2)/2 = x·x with x = (1 + √2/2)/2
    lo2, hi2 = endpoints(t.states[2][0][0])
    x_lo, x_hi = (1 + s_lo / 2) / 2, (1 + s_hi / 2) / 2
    assert lo2 <= x_hi * x_hi and x_lo * x_lo <= hi2


def test_irrational_enclosure_failure_in_V_names_the_field():
    from dynamics.numbers import NumberError

    config = config_from_dict({"tokens": [[1, 0], [0, 1]], "layers": [
        {"alpha": 1}, {"alpha": 1, "V": [[1, 0], [0, "tan(pi/2)"]]}]})
    with pytest.raises(NumberError) as info:
        simulate(config, 2, backend="interval", prec=16, max_prec=64)
    message = str(info.value)
    assert "\n" not in message and "layers[1].V[1][1]" in message, message
