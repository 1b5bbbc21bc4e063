"""axe-core in the browser tests: `axe_violations(page)` runs the vendored axe-core 4.14.1
(tests/browser/vendor/axe.min.js, MPL-2.0, from the npm registry) inside a Playwright page and
returns its violations at WCAG 2.2 AA.

    violations = axe_violations(page)
    assert not violations, axe_summary(violations)

Only violations are returned ("incomplete" needs a person: contrast over an image, etc.).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2, levels A and AA (axe's tags).
WCAG22_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")

_RUN = """async ([tags, exclude]) => {
  const context = exclude.length
    ? { include: [document], exclude: exclude.map(s => [s]) } : document;
  const result = await axe.run(context, {
    runOnly: { type: "tag", values: tags }, resultTypes: ["violations"],
  });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({ target: n.target, html: n.html, summary: n.failureSummary })),
  }));
}"""


def axe_violations(
    page: Any, *, tags: tuple[str, ...] = WCAG22_AA, exclude: tuple[str, ...] = ()
) -> list[dict]:
    """axe-core's violations on the page as it is now (`exclude`: CSS selectors to leave out)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the page's Content-Security-Policy does
        # not govern (a <script> tag would be refused, as it should be).
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;true")
    return page.evaluate(_RUN, [list(tags), list(exclude)])


def axe_summary(violations: list[dict]) -> str:
    """One line per failing element, for an assertion message a person can act on."""
    lines = []
    for v in violations:
        for n in v["nodes"]:
            lines.append(
                f"{v['id']} ({v['impact']}): {v['help']} at {n['target']}: {n['html'][:160]}"
            )
    return "\n".join(lines)


def tab_stops(page: Any, *, limit: int = 400) -> list[dict]:
    """Press Tab from the top of the page until focus comes back round (or `limit` presses):
    every element keyboard focus reaches, in order, with whether it shows a focus outline."""
    page.evaluate(
        "() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }"
    )
    stops: list[dict] = []
    seen: set[str] = set()
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(
            """() => {
              const e = document.activeElement;
              if (!e || e === document.body) return null;
              const s = getComputedStyle(e);
              const r = e.getBoundingClientRect();
              if (!e.dataset.tabStop) e.dataset.tabStop = String(Math.random());
              return { key: e.dataset.tabStop, tag: e.tagName.toLowerCase(),
                       href: e.getAttribute("href") || "",
                       text: (e.innerText || e.value || "").trim(),
                       outline: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0
                                || s.boxShadow !== "none",
                       visible: r.width > 0 && r.height > 0 };
            }"""
        )
        if stop is None or stop["key"] in seen:
            break
        seen.add(stop["key"])
        stops.append(stop)
    return stops
