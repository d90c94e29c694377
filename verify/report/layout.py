"""Layout check of the report's HTML in headless Chromium: nothing clipped, hidden or unlabelled.

``python -m verify.report.layout [INDEX_HTML] [--widths 1280 390]`` loads a copy of the page with a small
script appended (the page itself is not touched) at each width, and reports, per width:

* ``page_overflow``: the page is wider than the window (the whole page scrolls sideways);
* ``clipped``: elements whose box runs past the window's right edge with no sideways-scrolling ancestor;
* ``scrolled``: sideways-scrolling boxes whose content is wider than they are (reachable, but a screenshot
  or a glance shows it cut: the report's tables fit a phone instead);
* ``hidden``: elements with ``overflow-x: hidden`` whose content is wider than they are;
* ``unlabelled``: images without alt text.

Exit status 0: no problem at any width; 1: a problem (listed); 2: no Chromium or no such file. Needs
Debian's ``chromium`` (``apt-get install chromium``); the tests that use it skip without it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

__all__ = ["browser", "check_layout", "problems", "main"]

#: Appended to a copy of the page: measures the layout and writes a JSON verdict into <pre id="layout-check">.
CHECK_SCRIPT = r"""<script>
// Layout check of the page at the current window width, in headless Chromium: a JSON verdict in a
// new element at the end of the body, with:
//   page_overflow: the page is wider than the viewport (a horizontal scroll of the whole page);
//   clipped: elements whose box runs past the right edge of the viewport without a scrolling ancestor;
//   hidden: text clipped by overflow:hidden (scrollWidth > clientWidth);
//   unlabelled: images without alt text.
(function () {
  var width = document.documentElement.clientWidth;
  function scrolls(el) {
    for (var p = el.parentElement; p; p = p.parentElement) {
      var o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll") return true;
    }
    return false;
  }
  function name(el) {
    var text = (el.getAttribute("alt") || el.textContent || "").replace(/\s+/g, " ").trim();
    return el.tagName.toLowerCase() + (text ? ": " + text.slice(0, 60) : "");
  }
  var clipped = [], hidden = [], unlabelled = [], scrolled = [];
  var all = document.body.querySelectorAll("*");
  for (var i = 0; i < all.length; i++) {
    var el = all[i], r = el.getBoundingClientRect(), o = getComputedStyle(el).overflowX;
    if (scrolls(el)) continue;  // inside a sideways-scrolling box: it can be scrolled to
    // a scrolling box must fit; any other box must fit with its content (long words, wide children)
    var right = (o === "auto" || o === "scroll" || o === "hidden") ? r.right : Math.max(r.right, r.left + el.scrollWidth);
    if (right > width + 1) clipped.push(name(el) + " (right edge " + Math.round(right) + " px)");
    if (o === "hidden" && el.scrollWidth > el.clientWidth + 1) hidden.push(name(el));
    // a sideways-scrolling box whose content is wider than it: a screenshot (or a glance) shows it cut
    if ((o === "auto" || o === "scroll") && el.scrollWidth > el.clientWidth + 1) scrolled.push(name(el));
    if (el.tagName === "IMG" && !(el.getAttribute("alt") || "").trim()) unlabelled.push(name(el));
  }
  var out = document.createElement("pre");
  out.id = "layout-check";
  out.textContent = JSON.stringify({width: width, page_overflow: document.documentElement.scrollWidth > width + 1,
                                    page_width: document.documentElement.scrollWidth, clipped: clipped.slice(0, 50),
                                    hidden: hidden.slice(0, 50), unlabelled: unlabelled.slice(0, 50),
                                    scrolled: scrolled.slice(0, 50)});
  document.body.appendChild(out);
  if (window.parent !== window) window.parent.postMessage(out.textContent, "*");
})();
</script>"""

#: The page is measured in an iframe of the given width (a headless window is at least 500 px wide); the
#: frame passes the verdict up, and it is written into the outer page's DOM.
FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="page.html" style="width:{width}px;height:1800px;border:0"></iframe>
<script>addEventListener("message", function (e) {{
  var out = document.createElement("pre"); out.id = "layout-check"; out.textContent = e.data;
  document.body.appendChild(out);
}});</script></body></html>"""

#: Widths checked by default: a desktop window and a phone.
WIDTHS = (1280, 390)


def browser() -> str | None:
    """The Chromium executable on PATH, or ``None``."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def check_layout(page: str, width: int, timeout: float = 120.0) -> dict:
    """The layout verdict of ``page`` (an HTML file) in a ``width``-pixel-wide headless Chromium window.

    Returns
    -------
    dict
        ``{"width", "page_width", "page_overflow", "clipped", "hidden", "unlabelled"}`` (see the module).

    Raises
    ------
    RuntimeError
        No Chromium on PATH, or it gave no verdict (its stderr's last line is in the message).
    """
    exe = browser()
    if exe is None:
        raise RuntimeError("no chromium on PATH (expected Debian's chromium: apt-get install chromium)")
    with open(page, encoding="utf-8") as handle:
        html = handle.read()
    with tempfile.TemporaryDirectory() as work:
        copy, frame = os.path.join(work, "page.html"), os.path.join(work, "frame.html")
        closing = html.rfind("</body>")
        with open(copy, "w", encoding="utf-8") as handle:
            handle.write(html[:closing] + CHECK_SCRIPT + html[closing:] if closing >= 0 else html + CHECK_SCRIPT)
        with open(frame, "w", encoding="utf-8") as handle:  # headless windows are at least 500 px: an iframe is not
            handle.write(FRAME.format(width=width))
        done = subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--hide-scrollbars", f"--user-data-dir={work}/profile",
             f"--window-size={max(width, 500) + 40},2000", "--virtual-time-budget=10000", "--dump-dom",
             f"file://{frame}"],
            capture_output=True, text=True, timeout=timeout)
    found = re.findall(r'<pre id="layout-check">(.*?)</pre>', done.stdout, re.S)
    if not found:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{page}: chromium gave no layout verdict at {width} px ({last})")
    text = found[-1].replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return json.loads(text)


def problems(verdict: dict) -> list[str]:
    """The problems of one :func:`check_layout` verdict, one line each (empty: none)."""
    out = [f"the page is {verdict['page_width']} px wide in a {verdict['width']} px window"] \
        if verdict["page_overflow"] else []
    out += [f"clipped: {item}" for item in verdict["clipped"]]
    out += [f"hidden: {item}" for item in verdict["hidden"]]
    out += [f"no alt text: {item}" for item in verdict["unlabelled"]]
    out += [f"needs sideways scrolling: {item}" for item in verdict.get("scrolled", [])]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verify.report.layout", description=__doc__.splitlines()[0])
    parser.add_argument("page", nargs="?", default=os.path.join("reports", "index.html"),
                        help="the report's HTML (default reports/index.html)")
    parser.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS),
                        help="window widths in px (default 1280 390)")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.page):
        print(f"{parser.prog}: error: {args.page}: no such file (expected the report's index.html)", file=sys.stderr)
        return 2
    if browser() is None:
        print(f"{parser.prog}: error: no chromium on PATH (expected Debian's chromium: apt-get install chromium)",
              file=sys.stderr)
        return 2
    failed = False
    for width in args.widths:
        found = problems(check_layout(args.page, width))
        failed |= bool(found)
        print(f"{width} px: " + ("no clipped, hidden or unlabelled content" if not found else f"{len(found)} problems"))
        for line in found:
            print(f"  {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
