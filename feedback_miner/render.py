"""Render a digest dict as Markdown, JSON or a self-contained HTML page (inline SVG charts)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from feedback_miner.domain.metrics import MetricValue, render_metrics_markdown
from feedback_miner.domain.types import Category
from feedback_miner.stages.digest import render_markdown

__all__ = ["render_digest", "render_html", "metrics_from_dicts"]


def metrics_from_dicts(rows: list[Mapping[str, Any]]) -> list[MetricValue]:
    return [MetricValue(**{k: r[k] for k in ("key", "label", "value", "unit", "target", "n", "previous", "change",
                                              "enough", "note", "parts", "meets_target")}) for r in rows]


def render_digest(d: Mapping[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(d, indent=2, ensure_ascii=False)
    table = render_metrics_markdown(metrics_from_dicts(d["metrics"])) if d.get("metrics") else None
    if fmt == "md":
        return render_markdown(d, table)
    return render_html(d)


def _e(v: object) -> str:
    return html.escape(str(v))


def _bars(data: Mapping[str, int]) -> str:
    hi = max(data.values()) if data else 0
    rows = []
    for i, (k, v) in enumerate(data.items()):
        w = 0 if hi == 0 else int(260 * v / hi)
        rows.append(f'<text x="0" y="{i * 22 + 15}" font-size="13">{_e(Category(k).label)}</text>'
                    f'<rect x="150" y="{i * 22 + 3}" width="{w}" height="16" fill="#4a78c2"/>'
                    f'<text x="{155 + w}" y="{i * 22 + 15}" font-size="12">{v}</text>')
    return f'<svg role="img" aria-label="texts per category" width="460" height="{len(data) * 22 + 6}">{"".join(rows)}</svg>'


def _spark(counts: Mapping[str, int]) -> str:
    vals = list(counts.values())
    if len(vals) < 2:
        return ""
    hi = max(vals) or 1
    pts = " ".join(f"{i * 100 / (len(vals) - 1):.1f},{28 - 26 * v / hi:.1f}" for i, v in enumerate(vals))
    label = ", ".join(f"{k}: {v}" for k, v in counts.items())
    return f'<svg class="spark" role="img" aria-label="weekly counts {_e(label)}" width="100" height="30"><polyline fill="none" stroke="#c2410c" stroke-width="2" points="{pts}"/></svg>'


def _metric_cell(m: Mapping[str, Any]) -> str:
    if m["value"] is None:
        return "—"
    if not m["enough"]:
        return f"<em>{_e(m['note'])}</em>"
    v = m["value"]
    return {"share": f"{v:.1%}", "points": f"{v:+.0f}", "hours": f"{v:.1f} h"}.get(m["unit"], f"{v:g}")


def render_html(d: Mapping[str, Any]) -> str:
    c = d["counts"]
    s = d.get("summary") or {}
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Top issues — {_e(d['period'])}</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:960px;margin:auto;padding:1rem;line-height:1.45;color:#1f2937}",
        "table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border-bottom:1px solid #e5e7eb;padding:.3rem;text-align:left}",
        ".card{border:1px solid #d1d5db;border-radius:8px;padding:.8rem 1rem;margin:1rem 0}.tag{background:#eef2ff;border-radius:4px;padding:0 .4rem}",
        "blockquote{margin:.3rem 0;padding-left:.7rem;border-left:3px solid #9ca3af;color:#374151}.ok{color:#15803d}.bad{color:#b91c1c}",
        "</style></head><body>",
        f"<h1>Top issues — {_e(d['period'])}</h1><p><small>Generated {_e(d['generated_at'])}</small></p>",
    ]
    if s.get("headline"):
        parts.append("<h2>Executive summary</h2><ul>" + "".join(f"<li>{_e(h)}</li>" for h in s["headline"]) + "</ul>")
    if s.get("actions"):
        parts.append("<h3>Recommended actions</h3><ol>" + "".join(f"<li>{_e(a)}</li>" for a in s["actions"]) + "</ol>")
    parts.append(f"<p>Analysed <b>{c['analysed']}</b> texts: {c['other']} not an issue, {c['unclustered']} joined no problem, "
                 f"{c['problems']} problems.</p>")
    if d.get("metrics"):
        parts.append("<h2>Satisfaction and support</h2><table><tr><th>metric</th><th>value</th><th>target</th><th>responses</th></tr>")
        for m in d["metrics"]:
            cls = "" if m["meets_target"] is None or not m["enough"] else ("ok" if m["meets_target"] else "bad")
            tgt = "" if m["target"] is None else (f"{m['target']:.0%}" if m["unit"] == "share" else m["target"])
            parts.append(f"<tr><td>{_e(m['label'])}</td><td class='{cls}'>{_metric_cell(m)}</td><td>{_e(tgt)}</td><td>{m['n']}</td></tr>")
        parts.append("</table>")
    if d["new_and_growing"]:
        parts.append("<h2>New and growing</h2><ul>" + "".join(
            f"<li><b>{_e(p['title'])}</b> <span class='tag'>{_e(p['status'])}</span> {_e(p.get('trend') or '')}</li>"
            for p in d["new_and_growing"]) + "</ul>")
    parts.append("<h2>Category breakdown</h2>" + _bars(c["by_category"]))
    parts.append("<h2>Top problems</h2>")
    for p in d["top_problems"]:
        terms = "".join(f"<tr><td>{_e(t['name'])}</td><td>{t['contribution']:.3f}</td><td>{_e(t['explanation'])}</td></tr>"
                        for t in p["severity_terms"])
        quotes = "".join(f"<blockquote>{_e(q)}</blockquote>" for q in p["quotes"])
        bd = "".join(f"<li>{_e(k)}: {_e(', '.join(f'{a} ({b})' for a, b in v.items()))}</li>" for k, v in p["breakdowns"].items())
        parts.append(
            f"<section class='card' id='{_e(p['id'])}'><h3>{p['rank']}. {_e(p['title'])} {_spark(p.get('weekly_counts') or {})}</h3>"
            f"<p><span class='tag'>{_e(Category(p['category']).label)}</span> {p['size']} texts · priority {p['priority']:.2f} · "
            f"severity {p['severity']:.2f}{' · ' + _e(p['status']) if p.get('status') else ''}</p>"
            + (f"<p>{_e(p['trend'])}</p>" if p.get("trend") else "")
            + f"<details><summary>Why it ranks here</summary><table>{terms}</table></details>{quotes}"
            + (f"<p>Error codes: {_e(', '.join(p['error_codes']))}</p>" if p["error_codes"] else "")
            + (f"<ul>{bd}</ul>" if bd else "") + "</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
