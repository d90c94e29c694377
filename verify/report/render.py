"""Rendering of the report document (results.json) as Markdown."""

from __future__ import annotations

import json
from typing import Any

CLAIM_TEXT = {
    "P1": ("hull monotonicity", "conv(Z^{k+1}) ⊆ conv(Z^k); every token stays in conv(Z^0)"),
    "P2": ("leader persistence", "a leader at step k stays put and stays a leader at every later step"),
    "P3": ("leaders exist", "every step has at least one leader (under H)"),
    "P4": ("hyperplane separation", "C_i(Z) is exactly the set of tokens on the supporting hyperplane "
                                    "with normal A z_i"),
    "P5": ("convergence to S", "the certified limit points lie in S = {x ∈ K : ⟨Ax, x⟩ = max_{y∈K} ⟨Ax, y⟩}, "
                               "K = conv(leaders)"),
    "D1": ("leaders are vertices", "a leader is an exposed vertex of conv(Z^k)"),
    "D2": ("A-norm monotonicity", "⟨A z_i^{k+1}, z_i^{k+1}⟩ ≥ ⟨A z_i^k, z_i^k⟩ (under H)"),
    "D3": ("P2 outside H", "P2 needs neither symmetry nor definiteness of A"),
}

MATRIX_TEXT = {
    "spd": "symmetric positive definite (H)",
    "symmetric": "symmetric, any signs",
    "indefinite": "symmetric indefinite",
    "nonsymmetric": "nonsymmetric",
}


def _cell(h: dict[str, Any]) -> str:
    if h["counterexample"] is None:
        return f"none in {h['examples']}"
    c = h["counterexample"]
    return f"**found**: n={len(c['tokens'])}, d={len(c['tokens'][0])}, step {h['step']}"


def _hunts(doc: dict[str, Any]) -> list[str]:
    hunts = doc["hunts"]
    columns = []
    for h in hunts:
        key = (h["matrix"], h["heads"])
        if key not in columns:
            columns.append(key)
    lines = [
        "## Counterexample hunts",
        "",
        f"Each cell is one Hypothesis hunt (`python -m verify hunt`): up to {doc['budget']['hunt_examples']} "
        f"generated configurations (n ≤ 12, d ≤ 3, every token family: generic, duplicates, zero token, "
        f"collinear, coplanar, rational rotations and reflections, near ties), {doc['budget']['hunt_steps']} "
        f"exact steps checked each (P5: certified limit within {doc['budget']['limit_steps'] // 2} steps). "
        "A found counterexample is shrunk to a minimal one and saved to `verify/corpus/`, where the test "
        "suite replays it. The count includes the shrinking runs.",
        "",
        "| claim | " + " | ".join(f"{m}, {h} head{'s' if h > 1 else ''}" for m, h in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for claim in CLAIM_TEXT:
        row = {(h["matrix"], h["heads"]): h for h in hunts if h["claim"] == claim}
        cells = [_cell(row[c]) if c in row else "–" for c in columns]
        lines.append(f"| {claim} {CLAIM_TEXT[claim][0]} | " + " | ".join(cells) + " |")
    lines.append("")
    total_examples = sum(h["examples"] for h in hunts)
    total_time = sum(h["elapsed_s"] for h in hunts)
    lines.append(f"{total_examples} examples in {total_time:.0f} s of hunting "
                 f"({total_examples / max(total_time, 1e-9):.1f} examples/s per process).")
    lines.append("")
    found = [h for h in hunts if h["counterexample"] is not None]
    if found:
        lines += ["### The counterexamples", ""]
        for h in found:
            lines.append(f"**{h['claim']}, {MATRIX_TEXT[h['matrix']]}, {h['heads']} head(s)**: fails at step "
                         f"{h['step']}.")
            lines.append("")
            lines.append("```json")
            lines.append(json.dumps(h["counterexample"]))
            lines.append("```")
            lines.append(f"Witness: `{json.dumps(h['witness'])[:600]}`")
            lines.append("")
    return lines


def _limits(doc: dict[str, Any]) -> list[str]:
    lines = [
        "## Certified limits (SPEC §4) and P5",
        "",
        "Seeded random configurations (n from 2 to 16, d from 1 to 3, rational tokens in [-1, 1] with "
        "denominators ≤ 10). For each, the exact engine runs until the follow pattern is *proved* frozen "
        "(every score a quadratic in λ = (1+α)^-t, exact sign checks on (0, 1]). The exact limit points "
        "are then tested for membership in S.",
        "",
        "| A | tokens | configs | certified within budget | all limit points in S | steps to certify (mean / max) |",
        "|---|---|---|---|---|---|",
    ]
    for s in doc["limits"]:
        steps = s["steps_to_certify"]
        mean = f"{steps['mean']:.1f}" if steps["mean"] is not None else "–"
        lines.append(f"| {s['matrix']} | {s['family']} | {s['configs']} | {s['certified']} "
                     f"({100 * s['fraction_certified']:.1f} %) | {s['all_limit_points_in_S']} | "
                     f"{mean} / {steps['max']} |")
    lines.append("")
    for s in doc["limits"]:
        for failure in s["not_certified"]:
            lines.append(f"Not certified ({s['matrix']}, {s['family']}): {failure['reason']}; final max gap "
                         f"{failure['final_max_gap']:.3g}")
            lines.append("```json")
            lines.append(json.dumps(failure["config"]))
            lines.append("```")
        for bad in s["not_in_S"]:
            lines.append(f"Certified limit outside S ({s['matrix']}, {s['family']}): in_S = {bad['in_S']}")
            lines.append("```json")
            lines.append(json.dumps(bad["config"]))
            lines.append("```")
    lines.append("")
    return lines


def _floats(doc: dict[str, Any]) -> list[str]:
    from ..claims import FINITE_CLAIMS

    first = doc["floats"][0]
    lines = [
        "## What float rounding does to the claims",
        "",
        f"The NumPy float backend runs {first['configs']} seeded random SPD configurations per row "
        f"(n from 2 to 12, d from 2 to 3) for {first['steps']} steps. The checkers then judge the float "
        "states *exactly* (every float is a dyadic rational). A cell gives the runs with at least one "
        "violation, then in brackets the violations in total and the largest. P1: distance outside the "
        "previous hull. P2: drift of a leader. D2: A-norm decrease.",
        "",
        "| tokens | dtype | " + " | ".join(FINITE_CLAIMS) + " |",
        "|---|---|" + "---|" * len(FINITE_CLAIMS),
    ]
    for row in doc["floats"]:
        cells = []
        for claim in FINITE_CLAIMS:
            c = row["claims"][claim]
            if c["runs_violating"] == 0:
                cells.append("0")
            else:
                size = f", max {c['max_violation']:.2g}" if c["max_violation"] else ""
                cells.append(f"{c['runs_violating']}/{row['configs']} ({c['violations']}{size})")
        lines.append(f"| {row['family']} | {row['dtype']} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("D3 is not applicable here (A satisfies H). Under exact arithmetic all of these are 0 (see the "
                 "hunts above).")
    lines.append("")
    return lines


def findings(doc: dict[str, Any]) -> list[str]:
    """Plain statements derived from the data (so they stay true when the data change)."""
    out: list[str] = []
    if "hunts" in doc:
        hunts = doc["hunts"]
        under_H = [h for h in hunts if h["matrix"] == "spd" and h["heads"] == 1]
        broken_H = sorted({h["claim"] for h in under_H if h["counterexample"]})
        examples_H = sum(h["examples"] for h in under_H)
        if broken_H:
            out.append(f"Under H (one SPD head) the hunts broke {', '.join(broken_H)}: see the counterexamples; "
                       "each is either an engine/checker bug or a real finding.")
        else:
            out.append(f"Under H (one SPD head) no claim was broken in {examples_H} examples, duplicates and "
                       "the zero token included (the paper assumes distinct, nonzero tokens; these results do not need it).")
        for claim, label in (("P3", "leaders exist"), ("D2", "A-norm monotonicity")):
            outside = [h for h in hunts if h["claim"] == claim and h["counterexample"]
                       and not (h["matrix"] == "spd" and h["heads"] == 1)]
            if outside:
                where = ", ".join(f"{h['matrix']} ({h['heads']} head{'s' if h['heads'] > 1 else ''})" for h in outside)
                out.append(f"{claim} ({label}) fails outside H: {where}.")
        multi = [h for h in hunts if h["heads"] > 1 and h["matrix"] == "spd" and h["counterexample"]]
        if multi:
            out.append("Multi-head with every head SPD is *not* covered by the paper's argument, and "
                       + ", ".join(sorted({h["claim"] for h in multi}))
                       + " fails there. A token can be a leader of one head and follow another token in a second head, "
                         "so no token stays put.")
        robust = [c for c in ("P1", "P2", "P4", "D1") if not any(h["counterexample"] for h in hunts if h["claim"] == c)]
        if robust:
            out.append(f"{', '.join(robust)} held in every class searched, nonsymmetric and indefinite A and "
                       "several heads included. For P2 this is D3: leader persistence needs neither symmetry nor definiteness.")
    if "limits" in doc:
        spd = [s for s in doc["limits"] if s["matrix"] == "spd"]
        total = sum(s["configs"] for s in spd)
        certified = sum(s["certified"] for s in spd)
        in_S = sum(s["all_limit_points_in_S"] for s in spd)
        out.append(f"Certified limits (SPD): {certified}/{total} configurations certified within "
                   f"{doc['budget']['limit_steps']} steps ({100 * certified / max(total, 1):.1f} %); in {in_S} of them "
                   "every exact limit point lies in S (P5).")
    if "floats" in doc:
        for dtype in ("float32", "float64"):
            rows = [r for r in doc["floats"] if r["dtype"] == dtype]
            runs = sum(r["configs"] for r in rows)
            broken = {c: sum(r["claims"][c]["runs_violating"] for r in rows) for c in rows[0]["claims"]}
            parts = [f"{c} in {n}/{runs}" for c, n in broken.items() if n]
            if parts:
                out.append(f"{dtype} trajectories, judged exactly, break " + ", ".join(parts) + " runs.")
            else:
                out.append(f"{dtype} trajectories broke no claim in {runs} runs.")
    return out


def render_markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Verification report: hardmax attention dynamics",
        "",
        f"Generated by `{doc['command']}` (budget `{doc['budget']['name']}`, seed {doc['seed']}). "
        "Every number below is in `results.json` beside this file.",
        "",
        "## The model and the claims",
        "",
        "Tokens z_1 … z_n in R^d, heads (A_h, α_h). Follow sets C_i = argmax_j ⟨A z_i, z_j⟩, with every "
        "tie decided exactly. One layer: z_i⁺ = (z_i + Σ_h α_h mean_{j ∈ C^h_i} z_j) / (1 + Σ_h α_h). "
        "A leader is a token whose follow set holds only copies of itself. Hypothesis H: A symmetric "
        "positive definite, α > 0.",
        "",
        "| id | claim | statement |",
        "|---|---|---|",
    ]
    for claim, (name, text) in CLAIM_TEXT.items():
        lines.append(f"| {claim} | {name} | {text} |")
    lines.append("")
    lines += ["## Findings", ""] + [f"- {f}" for f in findings(doc)] + [""]
    if "hunts" in doc:
        lines += _hunts(doc)
    if "limits" in doc:
        lines += _limits(doc)
    if "floats" in doc:
        lines += _floats(doc)
    env = doc["environment"]
    lines += [
        "## Environment and reproduction",
        "",
        f"- command: `{doc['command']}`",
        f"- Python {env['python']} on {env['platform']}, {env['cpu_count']} CPUs",
        "- " + ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
        f"- section timings (s): {json.dumps(doc['timings_s'])}; total {doc.get('elapsed_s', '–')} s",
        "",
    ]
    return "\n".join(lines)
