"""The digest as one self-contained HTML page: headline metrics first, inline SVG charts, every
piece of user text escaped."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from feedback_miner.adapters.charts import bars, spark
from feedback_miner.domain.format import metric_value, plural
from feedback_miner.domain.metrics import MetricValue
from feedback_miner.domain.types import Category
from feedback_miner.stages.digest import Digest

__all__ = ["render_html"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:auto;padding:1rem;line-height:1.45;color:#1f2937}"
    ".scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}"
    "td,th{border-bottom:1px solid #e5e7eb;padding:.3rem;text-align:left}"
    ".card{border:1px solid #d1d5db;border-radius:8px;padding:.8rem 1rem;margin:1rem 0}"
    ".tag{background:#eef2ff;border-radius:4px;padding:0 .4rem}svg.chart{max-width:460px;width:100%}"
    "svg.spark{width:100px;height:30px;vertical-align:middle}.spark-label{color:#6b7280;margin-left:.3rem}"
    "blockquote{margin:.3rem 0;padding-left:.7rem;border-left:3px solid #9ca3af;color:#374151}"
    ".ok{color:#15803d}.bad{color:#b91c1c}"
)


def _e(v: object) -> str:
    return html.escape(str(v))


def _metric_row(m: MetricValue) -> str:
    if m.value is None:
        value = "—"
    elif not m.enough:
        value = f"<em>{_e(m.note)}</em>"
    else:
        value = _e(metric_value(m.value, m.unit))
    cls = "" if m.meets_target is None or not m.enough else ("ok" if m.meets_target else "bad")
    tgt = "—" if m.target is None else metric_value(m.target, m.unit)
    gap = "—" if m.target is None or m.value is None or not m.enough else metric_value(m.value - m.target, m.unit,
                                                                                       change=True)
    chg = "—" if m.change is None or not m.enough else metric_value(m.change, m.unit, change=True)
    return (f"<tr><td>{_e(m.label)}</td><td class='{cls}'>{value}</td><td>{_e(tgt)}</td><td>{_e(gap)}</td>"
            f"<td>{_e(chg)}</td><td>{m.n}</td></tr>")


def _problem_card(p: Mapping[str, Any]) -> str:
    terms = "".join(f"<tr><td>{_e(t['name'])}</td><td>{t['contribution']:.3f}</td><td>{_e(t['explanation'])}</td></tr>"
                    for t in p["severity_terms"])
    quotes = "".join(f"<blockquote>{_e(q)}</blockquote>" for q in p["quotes"])
    bd = "".join(f"<li>{_e(k)}: {_e(', '.join(f'{a} ({b})' for a, b in v.items()))}</li>"
                 for k, v in p["breakdowns"].items())
    status = f" · {_e(p['status'])}" if p.get("status") else ""
    return (
        f"<section class='card' id='{_e(p['id'])}'><h3>{p['rank']}. {_e(p['title'])} {spark(p.get('weekly_counts') or {})}</h3>"
        f"<p><span class='tag'>{_e(Category(p['category']).label)}</span> {plural(p['size'], 'text')} · "
        f"priority {p['priority']:.2f} · severity {p['severity']:.2f}{status}</p>"
        + (f"<p>{_e(p['trend'])}</p>" if p.get("trend") else "")
        + f"<details><summary>Why it ranks here</summary><div class='scroll'><table>{terms}</table></div></details>{quotes}"
        + (f"<p>Error codes: {_e(', '.join(p['error_codes']))}</p>" if p["error_codes"] else "")
        + (f"<ul>{bd}</ul>" if bd else "") + "</section>")


def render_html(d: Digest) -> str:
    c, s = d.counts, d.summary
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Top issues — {_e(d.period)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Top issues — {_e(d.period)}</h1><p><small>Generated {_e(d.generated_at)}</small></p>",
    ]
    if d.metrics:
        parts.append("<h2>Satisfaction and support against targets</h2><div class='scroll'><table><tr><th>metric</th>"
                     "<th>value</th><th>target</th><th>gap</th><th>change</th><th>responses</th></tr>"
                     + "".join(_metric_row(m) for m in d.metrics) + "</table></div>")
    if s.headline:
        parts.append("<h2>Executive summary</h2><ul>" + "".join(f"<li>{_e(h)}</li>" for h in s.headline) + "</ul>")
    if s.actions:
        parts.append("<h3>Recommended actions</h3><ol>" + "".join(f"<li>{_e(a)}</li>" for a in s.actions) + "</ol>")
    parts.append(f"<p>Analysed <b>{plural(c['analysed'], 'text')}</b>: {c['other']} not an issue, "
                 f"{c['unclustered']} joined no problem, {plural(c['problems'], 'problem')}.</p>")
    if d.severe_unclustered:
        parts.append("<h2>Severe reports that joined no problem</h2><div class='scroll'><table><tr><th>category</th>"
                     "<th>why</th><th>report</th></tr>" + "".join(
                         f"<tr><td>{_e(Category(r['category']).label)}</td><td>{_e(r.get('reason', ''))}</td>"
                         f"<td>{_e(r['quote'])}</td></tr>" for r in d.severe_unclustered) + "</table></div>")
    if d.new_and_growing:
        parts.append("<h2>New and growing</h2><ul>" + "".join(
            f"<li><b>{_e(p['title'])}</b> <span class='tag'>{_e(p['status'])}</span> {_e(p.get('trend') or '')}</li>"
            for p in d.new_and_growing) + "</ul>")
    labels = {k.value: k.label for k in Category}
    parts.append("<h2>Category breakdown</h2>" + bars(c["by_category"], "Texts per category", labels))
    parts.append("<h2>Top problems</h2>")
    parts += [_problem_card(p) for p in d.top_problems]
    if d.other_themes:
        parts.append("<h2>Themes among other (a theme here may be a missing category)</h2><ul>" + "".join(
            f"<li><b>{_e(p['title'])}</b> — {plural(p['size'], 'text')}</li>" for p in d.other_themes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
