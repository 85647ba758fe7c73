"""Digest: the prioritised top-issues report as a JSON-able dict, and its Markdown rendering."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from feedback_miner.domain.trends import sparkline
from feedback_miner.domain.types import CATEGORY_IDS, Category, Problem

__all__ = ["problem_dict", "build_digest", "render_markdown"]

def problem_dict(p: Problem, rank: int | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": p.id, "category": p.category, "title": p.title, "keywords": p.keywords, "size": p.size,
        "share_of_category": p.share_of_category, "quotes": p.quotes, "breakdowns": p.breakdowns,
        "error_codes": p.error_codes, "severity": p.severity,
        "severity_terms": [
            {"name": t.name, "value": round(t.value, 4), "weight": t.weight,
             "contribution": round(t.contribution, 4), "explanation": t.explanation}
            for t in p.severity_terms
        ],
        "priority": p.priority,
    }
    if p.satisfaction:
        d["satisfaction"] = dict(p.satisfaction)
    if rank is not None:
        d = {"rank": rank, **d}
    if p.weekly_counts:
        d["weekly_counts"] = dict(p.weekly_counts)
        d["sparkline"] = sparkline(list(p.weekly_counts.values()))
    if p.status:
        d["status"] = p.status
        d["trend"] = p.trend_statistic
    return d


def build_digest(
    *,
    period: str,
    problems: Sequence[Problem],
    categories: Sequence[str],
    unclustered: int,
    top_n: int = 10,
    metrics: Sequence[Mapping[str, Any]] | None = None,
    summary: Mapping[str, Any] | None = None,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The digest of one period. ``categories`` holds one effective category per analysed text."""
    cnt = Counter(categories)
    n = len(categories)
    ranked = sorted(problems, key=lambda p: (-p.priority, p.id))
    issues = [p for p in ranked if p.category != "other"]
    emerging = [p for p in ranked if p.emerging and p.category != "other"]
    return {
        "period": period,
        "generated_at": (generated_at or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "counts": {
            "analysed": n,
            "other": cnt.get("other", 0),
            "unclustered": unclustered,
            "problems": len(problems),
            "by_category": {c: cnt.get(c, 0) for c in CATEGORY_IDS},
        },
        "summary": dict(summary or {}),
        "metrics": list(metrics or []),
        "new_and_growing": [problem_dict(p) for p in emerging],
        "top_problems": [problem_dict(p, i) for i, p in enumerate(issues[:top_n], start=1)],
        "other_themes": [problem_dict(p) for p in ranked if p.category == "other"][:5],
    }


def _share(v: float | None) -> str:
    return "—" if v is None else f"{v:.0%}"


def _bar(share: float, width: int = 20) -> str:
    full = int(round(share * width))
    return "█" * full + "░" * (width - full)


def _problem_md(p: Mapping[str, Any], heading: str) -> list[str]:
    label = Category(p["category"]).label
    lines = [f"### {heading}{p['title']}", ""]
    meta = f"`{p['id']}` · {label} · **{p['size']}** texts ({p['share_of_category']:.0%} of the category)"
    meta += f" · priority **{p['priority']:.2f}** · severity {p['severity']:.2f}"
    if p.get("sparkline"):
        meta += f" · weekly {p['sparkline']}"
    lines.append(meta)
    if p.get("trend"):
        lines += ["", f"**{p['status']}** — {p['trend']}"]
    lines += ["", "| severity term | value | weight | contribution | why |", "|---|---:|---:|---:|---|"]
    for t in p["severity_terms"]:
        lines.append(f"| {t['name']} | {t['value']:.2f} | {t['weight']:.2f} | {t['contribution']:.3f} | {t['explanation']} |")
    lines += ["", "Keywords: " + ", ".join(p["keywords"][:8])] if p["keywords"] else []
    if p["error_codes"]:
        lines += ["", "Error codes quoted: " + ", ".join(p["error_codes"])]
    sat = p.get("satisfaction") or {}
    if sat.get("sentence"):
        lines += ["", f"Satisfaction: {sat['sentence']}"]
    for k, v in p["breakdowns"].items():
        lines.append(f"- {k}: " + ", ".join(f"{a} ({b})" for a, b in v.items()))
    lines.append("")
    lines += [f"> {q}" for q in p["quotes"]]
    lines.append("")
    return lines


def render_markdown(d: Mapping[str, Any], metrics_table: str | None = None) -> str:
    c = d["counts"]
    out = [f"# Top issues — {d['period']}", "", f"_Generated {d['generated_at']}_", ""]
    s = d.get("summary") or {}
    if s.get("headline"):
        out += ["## Executive summary", ""] + [f"- {h}" for h in s["headline"]] + [""]
    if s.get("top_problems"):
        out += ["**Top three problems**", ""] + [f"1. {t}" for t in s["top_problems"]] + [""]
    if s.get("changes"):
        out += ["**What changed since last period**", ""] + [f"- {c}" for c in s["changes"]] + [""]
    if s.get("actions"):
        out += ["**Recommended actions**", ""] + [f"1. {a}" for a in s["actions"]] + [""]
    out += [
        f"Analysed **{c['analysed']}** texts: {c['analysed'] - c['other']} issues, {c['other']} not an issue (`other`), "
        f"{c['unclustered']} joined no problem; {c['problems']} problems found.",
        "",
    ]
    if metrics_table:
        out += ["## Satisfaction and support metrics", "", metrics_table, ""]
    if d["new_and_growing"]:
        out += ["## New and growing", ""]
        for p in d["new_and_growing"]:
            out.append(f"- **{p['title']}** (`{p['id']}`, {p['status']}): {p.get('trend') or ''}")
        out.append("")
    if d.get("fix_watch"):
        out += ["## Fixed problems under watch", "",
                "| problem | fixed | verdict | weekly | repeat reporters before → after fix | trend |",
                "|---|---|---|---|---|---|"]
        for f in d["fix_watch"]:
            mark = "🔴 " if f["verdict"] == "resurfaced" else ""
            out.append(f"| {mark}{f['title']} (`{f['id']}`) | {f['fixed_week']} | **{f['verdict']}** | "
                       f"{sparkline(list(f['weekly_counts'].values()))} | {_share(f.get('repeat_before_fix'))} → "
                       f"{_share(f.get('repeat_after_fix'))} | {f['trend']} |")
        out.append("")
    out += ["## Category breakdown", "", "| category | texts | share |", "|---|---:|---|"]
    for cat, n in c["by_category"].items():
        share = n / c["analysed"] if c["analysed"] else 0.0
        out.append(f"| {Category(cat).label} | {n} | {_bar(share)} {share:.0%} |")
    out += ["", "## Top problems (priority order)", ""]
    if not d["top_problems"]:
        out += ["No recurring problems were found in this period.", ""]
    for p in d["top_problems"]:
        out += _problem_md(p, f"{p['rank']}. ")
    if d.get("other_themes"):
        out += ["## Themes among `other` (a theme here may be a missing category)", ""]
        for p in d["other_themes"]:
            out.append(f"- **{p['title']}** — {p['size']} texts; e.g. “{p['quotes'][0] if p['quotes'] else ''}”")
        out.append("")
    return "\n".join(out)
