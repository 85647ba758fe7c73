"""Headless Chromium against the real server: a lead reviews with the keyboard, the digest shows the
change after the run, a reader cannot confirm, and screenshots of both pages at two sizes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from feedback_miner.domain.types import CATEGORY_IDS
from tests.browser.conftest import DESKTOP, PHONE, WEEKS, Live, login, run_and_wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WEEK = WEEKS[-1]


def _left(page: Any) -> int:
    return int(page.locator("#progress .left").inner_text())


def _breakdown(page: Any) -> dict[str, int]:
    """Category → count, read from the breakdown chart's bars."""
    bars = page.locator("#categories g.bar")
    return {bars.nth(i).get_attribute("data-key"): int(bars.nth(i).get_attribute("data-count"))
            for i in range(bars.count())}


def _card(page: Any) -> Any:
    return page.locator("form.review-card:not([hidden])")


def test_lead_reviews_with_the_keyboard_and_the_digest_shows_it_after_the_run(browser: Any, live: Live) -> None:
    from playwright.sync_api import expect

    page = login(browser, live, "lead", next_path=f"/digest/{WEEK}")
    before = _breakdown(page)
    assert sum(before.values()) > 0 and set(before) <= set(CATEGORY_IDS)

    page.get_by_role("link", name="Review").click()
    page.wait_for_url("**/review")
    left = _left(page)
    assert left > 2
    expect(page.locator("#progress")).to_contain_text(f"{left} of")

    # (a) confirm the first item as predicted: just Enter
    first = _card(page)
    id1, pred1 = first.get_attribute("data-id"), first.get_attribute("data-predicted")
    page.keyboard.press("Enter")
    expect(page.locator("#progress .left")).to_have_text(str(left - 1))

    # correct the next one: a number key picks another category, Enter confirms
    second = _card(page)
    expect(second).not_to_have_attribute("data-id", id1)
    expect(second).to_be_focused()
    id2, pred2 = second.get_attribute("data-id"), second.get_attribute("data-predicted")
    target = "shipping" if pred2 != "shipping" else "payment"
    page.keyboard.press(str(CATEGORY_IDS.index(target) + 1))
    expect(second.locator(f"input[name=category][value={target}]")).to_be_checked()
    page.keyboard.press("Enter")
    expect(page.locator("#progress .left")).to_have_text(str(left - 2))
    page.reload()
    assert _left(page) == left - 2  # stored, not just shown

    with live.api("lead") as api:
        a1 = api.get("/v1/review/audit", params={"feedback_id": id1}).json()
        a2 = api.get("/v1/review/audit", params={"feedback_id": id2}).json()
    assert a1[0]["new_category"] == pred1 and a1[0]["old_category"] == pred1
    assert (a2[0]["old_category"], a2[0]["new_category"], a2[0]["reviewer"]) == (pred2, target, live.names["lead"])

    # (b) after the run the digest's category breakdown shows the correction
    assert run_and_wait(live, WEEK)["status"] == "done"
    page.goto(f"{live.base}/digest/{WEEK}")
    after = _breakdown(page)
    assert after.get(pred2, 0) == before.get(pred2, 0) - 1
    assert after.get(target, 0) == before.get(target, 0) + 1
    page.context.close()


def test_reader_cannot_confirm(browser: Any, live: Live) -> None:
    page = login(browser, live, "reader", next_path=f"/digest/{WEEK}")
    assert page.get_by_role("link", name="Review").count() == 0  # not offered
    resp = page.goto(f"{live.base}/review")
    assert resp is not None and resp.status == 403
    assert "lead" in page.get_by_role("alert").inner_text()
    assert page.locator("form.review-card").count() == 0
    with live.api("lead") as api:
        item = api.get("/v1/review/queue", params={"limit": 1}).json()["items"][0]
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")  # the reader's own session token
    r = page.request.post(f"{live.base}/review/confirm", headers={"Accept": "application/json"},
                          form={"csrf": csrf, "feedback_id": str(item["id"]), "category": "other", "week": WEEK})
    assert r.status == 403 and "lead" in r.json()["message"]
    with live.api("reader") as api:
        r2 = api.post(f"/v1/review/{item['id']}", json={"category": "other"})
    assert r2.status_code == 403 and r2.json()["error"] == "forbidden"
    with live.api("lead") as api:
        assert api.get("/v1/review/audit", params={"feedback_id": item["id"]}).json() == []
    page.context.close()


@pytest.mark.parametrize(("size", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots(browser: Any, live: Live, out_root: Path, size: str, viewport: dict[str, int]) -> None:
    page = login(browser, live, "lead", viewport=viewport, mobile=size == "phone", next_path="/")
    problems: list[str] = []  # console errors, e.g. a Content-Security-Policy violation or a failed load
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.wait_for_url(re.compile(r"/digest/\d{4}-W\d{2}$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]  # no sideways scrolling
    page.screenshot(path=str(out_root / f"digest-{size}.png"))
    page.screenshot(path=str(out_root / f"digest-{size}-full.png"), full_page=True)
    page.locator("li.problem").first.screenshot(path=str(out_root / f"digest-top-problem-{size}.png"))
    page.keyboard.press("Tab")  # the first Tab stop skips to the content
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.goto(f"{live.base}/review")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    page.screenshot(path=str(out_root / f"review-{size}.png"))
    for _ in range(40):  # every control is reachable with Tab: walk to the card's Confirm button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('form.review-card button[type=submit]') !== null"):
            break
    else:
        raise AssertionError("Tab never reached the Confirm button")
    page.goto(f"{live.base}/review?view=table")
    page.screenshot(path=str(out_root / f"review-table-{size}.png"))
    page.goto(f"{live.base}/digest/{WEEK}")
    page.locator("li.problem h3 a").first.click()  # the top problem's page
    page.wait_for_url("**/problems/*")
    page.screenshot(path=str(out_root / f"problem-{size}.png"), full_page=True)
    assert problems == []
    for name in ("digest", "review", "review-table", "problem"):
        assert (out_root / f"{name}-{size}.png").stat().st_size > 10_000
    page.context.close()
