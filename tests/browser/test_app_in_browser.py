"""The app as people use it, in headless Chromium: an analyst's search and
masked view, a steward's decision that the next day's run applies, the run
dashboard, and nothing for a visitor without a login. The tests run in file
order: the steward's test runs the next day on the shared warehouse."""

from __future__ import annotations

import re

from tests.app.support import (
    ANALYST,
    STEWARD,
    add_later_days,
    cross_customer_review_pair,
    customer_with_own_email,
    run_pipeline,
)


def log_in(page, user: tuple[str, str, str], screenshot=None) -> None:
    page.goto("/login")
    page.fill("input[name=username]", user[0])
    page.fill("input[name=password]", user[2])
    if screenshot:
        screenshot(page, "login")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/search$"))


def search(page, text: str) -> None:
    page.goto("/search")
    page.fill("input[name=q]", text)
    page.click("form.search button")
    page.wait_for_url(re.compile(r"/customers/"))


def test_a_visitor_without_a_login_gets_no_data(page, site: dict, base_url: str) -> None:
    subject = customer_with_own_email(site["warehouse"])
    page.goto(f"/customers/{subject['customer_id']}")
    assert "/login" in page.url
    assert page.locator("input[name=password]").is_visible()
    html = page.content()
    assert subject["email"] not in html and "Golden record" not in html
    response = page.request.get(f"{base_url}/review", max_redirects=0)
    assert response.status == 303 and response.headers["location"].startswith("/login")
    assert page.request.post(f"{base_url}/review/decide", max_redirects=0).status == 401


def test_an_analyst_finds_a_customer_by_an_untidy_email_and_sees_pii_masked(
    page, site: dict, screenshot
) -> None:
    subject = customer_with_own_email(site["warehouse"])
    log_in(page, ANALYST, screenshot)
    page.fill("input[name=q]", f"   {subject['email'].upper()} ")
    screenshot(page, "search")
    page.click("form.search button")
    page.wait_for_url(re.compile(f"/customers/{subject['customer_id']}$"))
    golden_email = page.locator("td.value[data-attribute=email]")
    assert golden_email.inner_text().strip() == subject["masked"]
    assert page.locator("table.records tbody tr").count() >= 2
    assert subject["email"] not in page.content()
    screenshot(page, "customer_analyst")


def test_a_steward_accepts_a_pair_and_the_next_day_links_it(page, site: dict, screenshot) -> None:
    subject = customer_with_own_email(site["warehouse"])
    pair = cross_customer_review_pair(site["warehouse"])
    log_in(page, STEWARD)
    page.goto(f"/customers/{subject['customer_id']}")
    assert page.locator("td.value[data-attribute=email]").inner_text().strip() == subject["email"]
    screenshot(page, "customer_steward")

    page.goto("/review")
    row = page.locator(f"tr[data-item='{pair['review_item_id']}']")
    assert row.count() == 1
    screenshot(page, "review_queue", full_page=False)
    row.locator("a").first.click()
    page.wait_for_selector(".waterfall .main-svg")
    assert "Veto" in page.content() or "No veto" in page.content()
    screenshot(page, "review_item")
    page.fill("form.decide input[name=reason]", "same person: checked the order history")
    page.click("form.decide button.accept")
    page.wait_for_selector("#decided")
    assert "Decided, applies at the next run" in page.content()
    page.goto("/review")
    assert page.locator(f"tr[data-item='{pair['review_item_id']}']").count() == 0
    decided = page.locator("table.decided tbody tr")
    assert decided.count() == 1 and pair["review_item_id"] in decided.inner_text()

    # The next landing date, run in this process while the app keeps serving.
    add_later_days(site["generated"], site["landing"])
    run_pipeline(site["landing"], site["warehouse"])

    page.goto("/review")
    assert page.locator(f"tr[data-item='{pair['review_item_id']}']").count() == 0
    assert page.locator("table.decided").count() == 0
    search(page, pair["record_key_a"])
    keys = page.locator("table.records tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.recordKey)"
    )
    assert {pair["record_key_a"], pair["record_key_b"]} <= set(keys)


def test_the_run_dashboard_charts_each_run(page, screenshot) -> None:
    log_in(page, ANALYST)
    page.goto("/runs")
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4")
    options = page.locator("select[name=date] option").all_inner_texts()
    assert options == ["2025-01-02", "2025-01-01"]
    assert "B-cubed" in page.content()
    screenshot(page, "run_dashboard")
    page.select_option("select[name=date]", "2025-01-01")
    page.wait_for_url(re.compile(r"date=2025-01-01"))
    assert "Ids minted" in page.content()
