"""The one chart implementation: inline SVG bars, sparklines and week charts, each with a text
alternative. Used by the self-contained HTML digest and by the pages (as Jinja globals)."""

from __future__ import annotations

import html
from collections.abc import Mapping

__all__ = ["bars", "spark", "weeks_chart"]


def _e(v: object) -> str:
    return html.escape(str(v), quote=True)


def _alt(title: str, data: Mapping[str, int], labels: Mapping[str, str] | None = None) -> str:
    return f"{title}: " + ", ".join(f"{(labels or {}).get(k, k)} {v}" for k, v in data.items())


def bars(data: Mapping[str, int], title: str, labels: Mapping[str, str] | None = None) -> str:
    """Horizontal bars, one per key (``labels`` renames keys, e.g. category ids to names)."""
    hi = max(data.values(), default=0)
    rows = []
    for i, (k, v) in enumerate(data.items()):
        y, w = i * 34, (0.0 if hi == 0 else 290 * v / hi)
        rows.append(
            f'<g class="bar" data-key="{_e(k)}" data-count="{v}">'
            f'<text x="0" y="{y + 12}" font-size="13" fill="#1f2937">{_e((labels or {}).get(k, k))}</text>'
            f'<rect x="0" y="{y + 16}" width="{w:.1f}" height="14" rx="2" fill="#2563eb"></rect>'
            f'<text x="{w + 6:.1f}" y="{y + 28}" font-size="12" fill="#374151">{v}</text></g>')
    return (f'<svg class="chart" role="img" aria-label="{_e(_alt(title, data, labels))}" '
            f'viewBox="0 0 360 {len(data) * 34 + 4}" preserveAspectRatio="xMinYMin meet">{"".join(rows)}</svg>')


def spark(counts: Mapping[str, int]) -> str:
    """A small line of weekly counts, labelled first and last week; empty for fewer than two weeks."""
    vals = list(counts.values())
    if len(vals) < 2:
        return ""
    hi = max(max(vals), 1)
    pts = " ".join(f"{i * 100 / (len(vals) - 1):.1f},{28 - 26 * v / hi:.1f}" for i, v in enumerate(vals))
    keys = list(counts)
    return (f'<span class="spark-wrap"><svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none" role="img" '
            f'aria-label="{_e(_alt("weekly counts", counts))}"><polyline fill="none" stroke="#c2410c" stroke-width="2" '
            f'vector-effect="non-scaling-stroke" points="{pts}"></polyline></svg>'
            f'<small class="spark-label">{_e(keys[0])}–{_e(keys[-1])}: {vals[0]} → {vals[-1]}</small></span>')


def weeks_chart(counts: Mapping[str, int], title: str) -> str:
    """Vertical bars per ISO week, value on top and week number below."""
    n = len(counts)
    hi = max(max(counts.values(), default=0), 1)
    parts = [f'<line x1="0" y1="116" x2="{n * 40 + 10}" y2="116" stroke="#9ca3af"></line>']
    for i, (w, v) in enumerate(counts.items()):
        h, x = 96 * v / hi, i * 40 + 5
        parts.append(
            f'<g class="week-bar" data-week="{_e(w)}" data-count="{v}">'
            f'<rect x="{x + 5}" y="{116 - h:.1f}" width="30" height="{h:.1f}" fill="#2563eb"></rect>'
            f'<text x="{x + 20}" y="{111 - h:.1f}" text-anchor="middle" font-size="12" fill="#1f2937">{v}</text>'
            f'<text x="{x + 20}" y="134" text-anchor="middle" font-size="11" fill="#4b5563">{_e(w[5:])}</text></g>')
    return (f'<svg class="chart wide" role="img" aria-label="{_e(_alt(title, counts))}" '
            f'viewBox="0 0 {max(n * 40 + 10, 360)} 150" preserveAspectRatio="xMinYMin meet">{"".join(parts)}</svg>')
