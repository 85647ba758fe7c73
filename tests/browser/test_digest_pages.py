"""Headless Chromium at 1280×800 and 390×844 against the real server: the digest page shows the
headline support-plan metrics before the problems, the severe reports that joined no problem and
the themes among "other"; the problem page its trend, breakdowns against all feedback, fix status
and a link to its follow-up list; the review page preselects nothing but the predicted category.
Each page: no sideways scrolling, the elements visible, reachable with Tab; screenshots of each.

The store: two demo weeks; after the first week's run its top problem is marked fixed, so the
second week's digest watches that fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.routes.pages_view import HEADLINE_KEYS
from feedback_miner.adapters.readers import read_rows
from feedback_miner.domain.format import metric_value
from feedback_miner.domain.weeks import week_of
from feedback_miner.stages.ingest import ColumnMapping, IngestReport, parse_rows
from tests.browser.conftest import DESKTOP, PHONE, WEEKS, Live, login, seeded_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WEEK = WEEKS[-1]
SIZES = [pytest.param("desktop", DESKTOP, id="1280x800"), pytest.param("phone", PHONE, id="390x844")]


def _fix_the_first_weeks_top_problem(live: Live, week: str) -> None:
    if week != WEEKS[0]:
        return
    with live.api("reader") as c:
        d = c.get(f"/v1/digests/{week}")
        assert d.status_code == 200, d.text
        pid = d.json()["top_problems"][0]["id"]
    with live.api("lead") as c:
        r = c.post(f"/v1/problems/{pid}/fix", json={"week": week, "link": "https://tracker.example/FIX-1"})
        assert r.status_code == 200, r.text
    live.facts["fixed"] = r.json()["id"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with seeded_server(tmp_path_factory.mktemp("pages"), after_run=_fix_the_first_weeks_top_problem) as lv:
        yield lv


@pytest.fixture(scope="module")
def digest(live: Live) -> dict[str, Any]:
    with live.api("reader") as c:
        return dict(c.get(f"/v1/digests/{WEEK}").json())


def _open(browser: Any, live: Live, size: str, viewport: dict[str, int], path: str, role: str = "lead") -> Any:
    page = login(browser, live, role, viewport=viewport, mobile=size == "phone", next_path=path)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors  # console errors (a CSP violation, a failed load), checked by _done
    return page


def _no_sideways_scroll(page: Any, width: int) -> None:
    got = page.evaluate("document.documentElement.scrollWidth")
    assert got <= width, f"page is {got} px wide at a {width} px viewport"
    wide = page.evaluate("""() => [...document.querySelectorAll('.table-wrap')]
        .filter(w => w.offsetParent !== null && w.scrollWidth > w.clientWidth + 1)
        .map(w => { const t = w.querySelector('table') || w; return `${t.id || t.dataset.field || w.parentElement.id} ${w.scrollWidth}>${w.clientWidth}`; })""")
    assert wide == [], f"tables that scroll sideways: {wide}"


def _tab_to(page: Any, selector: str, limit: int = 150) -> None:
    """Press Tab from the top of the page until ``selector`` has the focus (fails if it never does)."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def _shot(page: Any, out: Path, name: str, size: str) -> None:
    page.screenshot(path=str(out / f"{name}-{size}.png"))
    page.screenshot(path=str(out / f"{name}-{size}-full.png"), full_page=True)
    assert (out / f"{name}-{size}.png").stat().st_size > 10_000


def _done(page: Any) -> None:
    assert page.errors == []
    page.context.close()


@pytest.mark.parametrize(("size", "viewport"), SIZES)
def test_digest_shows_the_headline_metrics_first(browser: Any, live: Live, digest: dict[str, Any], out_root: Path,
                                                 size: str, viewport: dict[str, int]) -> None:
    from playwright.sync_api import expect

    page = _open(browser, live, size, viewport, f"/digest/{WEEK}")
    metrics = {m["key"]: m for m in digest["metrics"]}
    tiles = page.locator("#headline li.tile")
    assert [tiles.nth(i).get_attribute("data-metric") for i in range(tiles.count())] == \
        [k for k in HEADLINE_KEYS if k in metrics]
    for key in ("csat", "resolution_48h", "nps", "repeat_issue_rate"):
        m, tile = metrics[key], page.locator(f"#headline li[data-metric={key}]")
        expect(tile).to_be_visible()
        expect(tile.locator(".tile-value")).to_have_text(metric_value(m["value"], m["unit"]) if m["enough"]
                                                         else re.compile(r"\S"))
        if m["target"] is not None and m["enough"]:
            assert tile.get_attribute("data-state") == ("ok" if m["meets_target"] else "bad")
            expect(tile).to_contain_text(f"the {metric_value(m['target'], m['unit'])} target")
            expect(tile).to_contain_text("gap " + metric_value(m["value"] - m["target"], m["unit"], change=True))
    expect(page.locator("#headline li[data-metric=csat]")).to_contain_text("90.0% target")
    # the headline is on the first screen, above the problems; the full table is one click away
    head, problems = page.locator("#headline").bounding_box(), page.locator("ol.problems").bounding_box()
    assert head["y"] < viewport["height"] and head["y"] < problems["y"]
    last_tile = tiles.nth(tiles.count() - 1).bounding_box()
    assert last_tile["y"] + last_tile["height"] <= viewport["height"] + (450 if size == "phone" else 0)
    _no_sideways_scroll(page, viewport["width"])
    _shot(page, out_root, "digest", size)
    table = page.locator("#metrics table")
    expect(table).to_be_hidden()
    _tab_to(page, "#metrics > summary")
    page.keyboard.press("Enter")
    expect(table).to_be_visible()
    assert table.locator("tbody tr").count() == sum(m["value"] is not None for m in digest["metrics"])
    _no_sideways_scroll(page, viewport["width"])  # the open table fits too (one block per metric on a phone)
    _tab_to(page, "li.problem h3 a")
    _done(page)


@pytest.mark.parametrize(("size", "viewport"), SIZES)
def test_digest_severe_reports_and_other_themes(browser: Any, live: Live, digest: dict[str, Any], out_root: Path,
                                               size: str, viewport: dict[str, int]) -> None:
    from playwright.sync_api import expect

    assert digest["severe_unclustered"] and digest["other_themes"], "the demo weeks must hold both"
    page = _open(browser, live, size, viewport, f"/digest/{WEEK}")
    severe = page.locator("#severe")
    severe.scroll_into_view_if_needed()
    expect(severe).to_be_visible()
    rows = severe.locator("tbody tr")
    assert rows.count() == len(digest["severe_unclustered"])
    for i, r in enumerate(digest["severe_unclustered"]):
        expect(rows.nth(i)).to_be_visible()
        expect(rows.nth(i)).to_contain_text(r["quote"])
    # on a phone each report is one labelled block, not a table cut off at the right edge
    label = rows.first.locator("td").nth(1).evaluate("td => getComputedStyle(td, '::before').content")
    assert (label == '"Why"') == (size == "phone")
    severe.screenshot(path=str(out_root / f"digest-severe-{size}.png"))
    themes = page.locator("#other-themes")
    themes.scroll_into_view_if_needed()
    expect(themes).to_be_visible()
    items = themes.locator("li")
    assert items.count() == len(digest["other_themes"])
    for i, t in enumerate(digest["other_themes"]):
        expect(items.nth(i)).to_contain_text(t["title"])
    themes.screenshot(path=str(out_root / f"digest-other-themes-{size}.png"))
    _no_sideways_scroll(page, viewport["width"])
    _done(page)


@pytest.mark.parametrize(("size", "viewport"), SIZES)
def test_problem_page_trend_breakdowns_fix_status_and_followup(browser: Any, live: Live, digest: dict[str, Any],
                                                               out_root: Path, size: str,
                                                               viewport: dict[str, int]) -> None:
    from playwright.sync_api import expect

    pid = live.facts["fixed"]
    watch = next(f for f in digest["fix_watch"] if f["id"] == pid)
    with live.api("reader") as c:
        detail = c.get(f"/v1/problems/{pid}").json()
    with live.api("lead") as c:
        follow = c.get(f"/v1/problems/{pid}/followup").json()
    page = _open(browser, live, size, viewport, f"/problems/{pid}")
    expect(page.locator("h1")).to_have_text(detail["title"])
    if detail.get("trend"):
        expect(page.locator("main")).to_contain_text(detail["trend"])
    expect(page.locator("#severity-terms")).to_be_visible()
    # each breakdown against all feedback of the problem's weeks, computed here from the ingested file
    weeks = sorted(detail["weekly_counts"])[-6:]
    items = [i for i in parse_rows(read_rows(Path(live.facts["csv"])), ColumnMapping(), default_source="demo",
                                   report=IngestReport()) if week_of(i.created_at) in weeks]
    assert detail["breakdowns"]
    concentrated = 0
    for field, counts in detail["breakdowns"].items():
        table = page.locator(f"table.breakdown[data-field={field}]")
        table.scroll_into_view_if_needed()
        expect(table).to_be_visible()
        known = [str(getattr(i, field)) for i in items if getattr(i, field) is not None]
        total = sum(counts.values())
        for key, n in counts.items():
            row = table.locator("tbody tr").filter(has=page.locator("td", has_text=re.compile(f"^{re.escape(key)}$")))
            share, base = n / total, known.count(key) / len(known)
            cells = [c.strip() for c in row.locator("td").all_inner_texts()]
            assert cells[1] == str(n) and cells[2].startswith(f"{100 * share:.0f}%") and cells[3] == f"{100 * base:.0f}%"
            hot = n >= 2 and share >= 1.5 * base
            assert (row.get_attribute("class") == "concentrated") == hot, (field, key, cells)
            concentrated += hot
    assert concentrated > 0, "no concentration in the demo data: the marker check proves nothing"
    page.evaluate("window.scrollTo(0, 0)")
    status = page.locator("#fix-status")
    expect(status).to_contain_text(f"Marked fixed in {WEEKS[0]}")
    expect(status.locator("[data-verdict]")).to_have_text(watch["verdict"])
    expect(status.get_by_role("link", name="the fix")).to_have_attribute("href", "https://tracker.example/FIX-1")
    link = page.locator("#followup-link")
    n = follow["customers"]
    expect(link).to_have_text(f"{n} {'customer' if n == 1 else 'customers'} reported it")
    _no_sideways_scroll(page, viewport["width"])
    _shot(page, out_root, "problem", size)
    _tab_to(page, "#followup-link")
    page.keyboard.press("Enter")  # the keyboard follows the link to the follow-up list
    page.wait_for_url(f"**/problems/{pid}/followup")
    rows = page.locator("#reporters tbody tr")
    assert rows.count() == n
    expect(page.locator("#followup-summary")).to_contain_text(f"{n} ")
    expect(rows.first).to_contain_text(follow["reporters"][0]["tickets"][0])
    _no_sideways_scroll(page, viewport["width"])
    _shot(page, out_root, "followup", size)
    csv = page.request.get(f"{live.base}/problems/{pid}/followup.csv")
    assert csv.status == 200 and csv.text().splitlines()[0].startswith("customer_id,source,external_id")
    assert len(csv.text().splitlines()) == n + 1
    _tab_to(page, "a[href$='/followup.csv']")
    _done(page)


def test_readers_get_no_followup_list(browser: Any, live: Live) -> None:
    pid = live.facts["fixed"]
    page = _open(browser, live, "desktop", DESKTOP, f"/problems/{pid}", role="reader")
    assert page.locator("#fix-status").is_visible() and page.locator("#followup-link").count() == 0
    resp = page.goto(f"{live.base}/problems/{pid}/followup")
    assert resp is not None and resp.status == 403
    assert page.request.get(f"{live.base}/problems/{pid}/followup.csv").status == 403
    page.context.close()


@pytest.mark.parametrize(("size", "viewport"), SIZES)
def test_review_page_preselects_only_the_predicted_category(browser: Any, live: Live, out_root: Path, size: str,
                                                            viewport: dict[str, int]) -> None:
    from playwright.sync_api import expect

    page = _open(browser, live, size, viewport, "/review")
    cards = page.locator("form.review-card")
    assert cards.count() > 1
    guesses = 0
    for i in range(cards.count()):
        card = cards.nth(i)
        assert card.locator("select[name=secondary_category]").input_value() == ""  # hidden cards too
        checked = card.locator("input[name=category]:checked")
        assert checked.count() == 1 and checked.get_attribute("value") == card.get_attribute("data-predicted")
        guesses += card.locator("small", has_text="model's second guess").count()
    assert guesses > 0, "no item has a second guess: the check above would prove nothing"
    card = page.locator("form.review-card:not([hidden])")
    expect(card).to_be_visible()
    # the keyboard hint only where there is a keyboard
    if size == "desktop":
        expect(page.locator("#keys-help")).to_be_visible()
    else:
        expect(page.locator("#keys-help")).to_be_hidden()
    _no_sideways_scroll(page, viewport["width"])
    _shot(page, out_root, "review", size)
    fid, predicted = card.get_attribute("data-id"), card.get_attribute("data-predicted")
    _tab_to(page, "form.review-card:not([hidden]) button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator(f"form.review-card[data-id='{fid}']")).to_have_count(0)
    with live.api("lead") as c:
        entry = c.get("/v1/review/audit", params={"feedback_id": fid}).json()[0]
    assert (entry["new_category"], entry["new_secondary"]) == (predicted, None)  # saved as shown: no secondary
    _done(page)
