"""Render a :class:`Digest` as JSON, Markdown or a self-contained HTML page (inline SVG charts).

User-controlled text (titles, quotes, keywords, breakdown values) is escaped in every format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from feedback_miner.adapters.render_html import render_html
from feedback_miner.domain.format import md_cell, md_escape, pct, plural
from feedback_miner.domain.metrics import render_metrics_markdown
from feedback_miner.domain.trends import sparkline
from feedback_miner.domain.types import Category
from feedback_miner.errors import InputError
from feedback_miner.stages.digest import Digest

__all__ = ["FORMATS", "Format", "render_digest", "render_html", "render_markdown"]

Format = Literal["json", "md", "html"]
FORMATS: tuple[str, ...] = ("json", "md", "html")


def render_digest(d: Digest, fmt: str) -> str:
    """The digest in ``json``, ``md`` or ``html``."""
    if fmt == "json":
        return json.dumps(d.to_dict(), indent=2, ensure_ascii=False)
    if fmt == "md":
        return render_markdown(d)
    if fmt == "html":
        return render_html(d)
    raise InputError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")


def _bar(share: float, width: int = 20) -> str:
    full = round(share * width)
    return "█" * full + "░" * (width - full)


def _problem_md(p: Mapping[str, Any], heading: str) -> list[str]:
    label = Category(p["category"]).label
    lines = [f"### {heading}{md_escape(p['title'])}", ""]
    meta = (f"`{p['id']}` · {label} · **{plural(p['size'], 'text')}** ({pct(p['share_of_category'])} of the category)"
            f" · priority **{p['priority']:.2f}** · severity {p['severity']:.2f}")
    if p.get("sparkline"):
        meta += f" · weekly {p['sparkline']}"
    lines.append(meta)
    if p.get("trend"):
        lines += ["", f"**{p['status']}** — {md_escape(p['trend'])}"]
    lines += ["", "| severity term | value | weight | contribution | why |", "|---|---:|---:|---:|---|"]
    for t in p["severity_terms"]:
        lines.append(f"| {t['name']} | {t['value']:.2f} | {t['weight']:.2f} | {t['contribution']:.3f} | "
                     f"{md_cell(t['explanation'])} |")
    if p["keywords"]:
        lines += ["", "Keywords: " + ", ".join(md_escape(k) for k in p["keywords"][:8])]
    if p["error_codes"]:
        lines += ["", "Error codes quoted: " + ", ".join(md_escape(c) for c in p["error_codes"])]
    if p.get("member_categories"):
        split = ", ".join(f"{n} {Category(c).label}" for c, n in p["member_categories"].items())
        lines += ["", f"Members disagree on the category: {split} (the problem takes the majority)."]
    sat = p.get("satisfaction") or {}
    if sat.get("sentence"):
        lines += ["", f"Satisfaction: {md_escape(sat['sentence'])}"]
    for k, v in p["breakdowns"].items():
        lines.append(f"- {md_escape(k)}: " + ", ".join(f"{md_escape(a)} ({b})" for a, b in v.items()))
    lines.append("")
    lines += [f"> {md_escape(q)}" for q in p["quotes"]]
    lines.append("")
    return lines


def _numbered(items: tuple[str, ...]) -> list[str]:
    return [f"{n}. {md_escape(t)}" for n, t in enumerate(items, start=1)]


def render_markdown(d: Digest) -> str:
    c = d.counts
    s = d.summary
    out = [f"# Top issues — {d.period}", "", f"_Generated {d.generated_at}_", ""]
    if s.headline:
        out += ["## Executive summary", ""] + [f"- {md_escape(h)}" for h in s.headline] + [""]
    if s.top_problems:
        out += ["**Top three problems**", ""] + _numbered(s.top_problems) + [""]
    if s.changes:
        out += ["**What changed since last period**", ""] + [f"- {md_escape(x)}" for x in s.changes] + [""]
    if s.actions:
        out += ["**Recommended actions**", ""] + _numbered(s.actions) + [""]
    out += [
        f"Analysed **{plural(c['analysed'], 'text')}**: {plural(c['analysed'] - c['other'], 'issue')}, "
        f"{c['other']} not an issue (`other`), {c['unclustered']} joined no problem; "
        f"{plural(c['problems'], 'problem')} found.",
        "",
    ]
    if d.metrics:
        out += ["## Satisfaction and support metrics", "", render_metrics_markdown(d.metrics), ""]
    if d.severe_unclustered:
        out += ["## Severe reports that joined no problem", "", "| category | why | report |", "|---|---|---|"]
        for r in d.severe_unclustered:
            out.append(f"| {Category(r['category']).label} | {md_cell(r.get('reason', ''))} | {md_cell(r['quote'])} |")
        out.append("")
    if d.new_and_growing:
        out += ["## New and growing", ""]
        for p in d.new_and_growing:
            out.append(f"- **{md_escape(p['title'])}** (`{p['id']}`, {p['status']}): {md_escape(p.get('trend') or '')}")
        out.append("")
    if d.fix_watch:
        out += ["## Fixed problems under watch", "",
                "| problem | fixed | verdict | weekly | repeat reporters before → after fix | trend |",
                "|---|---|---|---|---|---|"]
        for f in d.fix_watch:
            mark = "🔴 " if f["verdict"] == "resurfaced" else ""
            out.append(f"| {mark}{md_cell(f['title'])} (`{f['id']}`) | {f['fixed_week']} | **{f['verdict']}** | "
                       f"{sparkline(list(f['weekly_counts'].values()))} | {pct(f.get('repeat_before_fix'))} → "
                       f"{pct(f.get('repeat_after_fix'))} | {md_cell(f['trend'])} |")
        out.append("")
    out += ["## Category breakdown", "", "| category | texts | share |", "|---|---:|---|"]
    for cat, n in c["by_category"].items():
        share = n / c["analysed"] if c["analysed"] else 0.0
        out.append(f"| {Category(cat).label} | {n} | {_bar(share)} {pct(share)} |")
    out += ["", "## Top problems (priority order)", ""]
    if not d.top_problems:
        out += ["No recurring problems were found in this period.", ""]
    for p in d.top_problems:
        out += _problem_md(p, f"{p['rank']}. ")
    if d.other_themes:
        out += ["## Themes among `other` (a theme here may be a missing category)", ""]
        for p in d.other_themes:
            quote = md_escape(p["quotes"][0]) if p["quotes"] else ""
            out.append(f"- **{md_escape(p['title'])}** — {plural(p['size'], 'text')}; e.g. “{quote}”")
        out.append("")
    return "\n".join(out)
