"""The report's HTML at a desktop and a phone width: nothing clipped, hidden or unlabelled (needs chromium).

The check itself (:mod:`verify.report.layout`) must be able to fail, so it is first run on a page with each
kind of defect. Without Debian's ``chromium`` on PATH these tests skip (CI has none; a developer's machine
may: ``apt-get install chromium``).
"""

from __future__ import annotations

import os

import pytest

from verify.report.layout import WIDTHS, browser, check_layout, problems
from verify.report.render import render_html

pytestmark = pytest.mark.skipif(browser() is None, reason="no chromium on PATH")

_PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                       "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def test_the_check_finds_a_wide_box_hidden_text_and_an_image_without_alt_text(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<html><body><div style="width:900px">a wide box</div>'
                    '<div style="overflow-x:auto"><table style="width:1500px"><tr><td>scrolls</td></tr></table></div>'
                    '<div style="overflow:hidden;width:100px"><span style="white-space:nowrap">a long line that is '
                    'cut off</span></div><p>averyveryveryveryveryveryveryveryveryverylongwordthatdoesnotwrap'
                    'atallanywhereinthewindow</p><img src="data:image/png;base64,iVBORw0KGgo=" width="10" '
                    'height="10"></body></html>', encoding="utf-8")
    found = problems(check_layout(str(page), 390))
    assert any("390 px window" in line for line in found)
    assert any(line.startswith("clipped: div: a wide box") for line in found)
    assert any(line.startswith("clipped: p: averyvery") for line in found)  # a long word runs past the window
    assert any(line.startswith("hidden: div: a long line") for line in found)
    assert any(line.startswith("no alt text") for line in found)
    assert any(line.startswith("needs sideways scrolling: div") for line in found)  # reachable, but cut on screen


def test_the_reports_html_fits_a_desktop_and_a_phone(tmp_path):
    long_command = "python -m verify report --quick --seed 0 --lemmas " + "examples/lemmas/x.json," * 12
    markdown = "\n".join([
        "# Verification report", "", f"- command: `{long_command}`",
        "- commit 412faafeef773ebb59469c4a57c923da55bc1c66, written 2026-11-24T00:00:00+00:00", "",
        "The update $`z_i^{k+1} = \\frac{z_i^k + \\alpha \\bar z}{1 + \\alpha}`$ with a long identifier "
        "`verify.report.sections.section_sources_and_their_provenance_of_every_part`.", "",
        "| " + " | ".join(f"column {i} with a long heading" for i in range(12)) + " |",
        "|" + "---|" * 12,
        "| " + " | ".join(f"[[0, 3, 4, 7], [1], [2, 5, 6, {i}]]" for i in range(12)) + " |", "",
        "```", '{"trajectory": [' + ", ".join(f'"{i}/7"' for i in range(200)) + "]}", "```", "",
        "![a figure](figures/f.png)", ""])
    page = tmp_path / "index.html"
    page.write_text(render_html(markdown, {"f.png": _PIXEL}), encoding="utf-8")
    for width in WIDTHS:
        assert problems(check_layout(str(page), width)) == [], width


@pytest.mark.skipif(not os.path.isfile(os.path.join("reports", "index.html")), reason="no published report")
def test_the_published_report_fits_a_desktop_and_a_phone():
    for width in WIDTHS:
        assert problems(check_layout(os.path.join("reports", "index.html"), width)) == [], width
