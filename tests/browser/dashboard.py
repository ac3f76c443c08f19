#!/usr/bin/env python3
"""The staff dashboard in headless Chromium, as staff use it.

Signs in with a staff token through the form, opens every page on demo data, checks that the
figures the goals page shows equal the API's programme summaries and that Chinese text has a
font to render in, approves an application through the review form (and sees the API agree),
switches to English, and saves a screenshot of every page into OUT_DIR.

usage: dashboard.py BASE_URL STAFF_TOKEN OUT_DIR
"""

import json
import os
import sys
import urllib.request

from cdp import chromium

PAGES = ["goals", "structure", "leaderboard", "merchants", "review", "outbox"]


def api(base, token, method, path, body=None):
    req = urllib.request.Request(
        f"{base}/api/v1{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if token else {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def fail(msg):
    sys.exit(f"FAIL: {msg}")


def main():
    base, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(out, exist_ok=True)
    # An application waiting for review, whose name must come out as text, not markup.
    if not api(base, token, "GET", "/merchants?status=submitted&limit=1")["items"]:
        api(base, None, "POST", "/merchants", {
            "kind": "industry_belt", "legal_name": "义乌市星辰日用品有限公司",
            "display_name": "<b>星辰</b> 日用品工厂店", "uscc": "91440300708461136T",
            "contact_email": "ops@xingchen.example", "province": "浙江", "city": "金华",
            "category": "日用百货", "industry_belt": "义乌小商品",
        })
    passed = 0
    with chromium(os.path.join(out, "failure.png"), window="1400,1000") as page:
        page.call("Page.navigate", url=f"{base}/dashboard")
        page.wait_for("!!document.querySelector('#sign-in-form')", "the sign-in form")
        page.type_into("#token", token)
        page.click("#sign-in-form button[type=submit]")
        page.wait_for("location.pathname === '/dashboard/goals' && document.readyState === 'complete'", "the goals page after signing in")
        passed += 1

        # Chinese text has a CJK font (not empty boxes), and the page says it is zh-CN.
        if page.js("document.documentElement.lang") != "zh-CN":
            fail("the dashboard is not in zh-CN by default")
        if not page.js("document.fonts.check('16px \"Noto Sans CJK SC\"', '目标商家')"):
            fail("no CJK font for the Chinese text (install fonts-noto-cjk)")
        passed += 1

        for name in PAGES:
            page.call("Page.navigate", url=f"{base}/dashboard/{name}")
            page.wait_for(f"location.pathname === '/dashboard/{name}' && document.readyState === 'complete' && !!document.querySelector('main h1')", f"the {name} page")
            if page.js("document.querySelectorAll('script').length") != 0:
                fail(f"{name} has a script element")
            page.screenshot(os.path.join(out, f"{name}.png"))
            passed += 1

        # The goals page shows the API's figures.
        programs = api(base, token, "GET", "/programs")["items"]
        compared = 0
        for p in programs:
            if not p["active"]:
                continue
            s = api(base, token, "GET", f"/programs/{p['id']}/summary")
            page.call("Page.navigate", url=f"{base}/dashboard/goals")
            page.wait_for(f"!!document.querySelector('#program-{p['id']}')", f"programme {p['id']}")
            shown = page.js(f"""Object.fromEntries([...document.querySelectorAll('#program-{p["id"]} [data-figure]')]
                .map(e => [e.dataset.figure, e.textContent.trim()]))""")
            expected = {k: str(s[k]) for k in ("goal", "top_tier_reached", "projected_top_tier", "subjects")}
            expected.update({f"tier-{i}": str(t["subjects"]) for i, t in enumerate(s["tiers"])})
            for k, v in expected.items():
                if shown.get(k) != v:
                    fail(f"programme {p['id']}: the page shows {k} = {shown.get(k)!r}, the API {v!r}")
            compared += 1
        if compared == 0:
            fail("no active programme to compare (is the demo data loaded?)")
        passed += 1

        # A merchant's page, from the leaderboard's first link.
        page.call("Page.navigate", url=f"{base}/dashboard/leaderboard")
        href = page.wait_for("(() => { const a = document.querySelector('#leaderboard a[href^=\"/dashboard/merchants/\"]'); return a && a.getAttribute('href'); })()", "a merchant on the leaderboard")
        page.call("Page.navigate", url=f"{base}{href}")
        page.wait_for("!!document.querySelector('#progress') && document.readyState === 'complete'", "the merchant page")
        if page.js("document.querySelectorAll('figure svg').length") < 1:
            fail("the merchant page draws no chart")
        page.screenshot(os.path.join(out, "merchant.png"))
        passed += 1

        # Approve the oldest waiting application through the review form.
        waiting = api(base, token, "GET", "/merchants?status=submitted&limit=1")["items"]
        if not waiting:
            fail("the demo data has no application waiting for review")
        mid = waiting[0]["id"]
        page.call("Page.navigate", url=f"{base}/dashboard/review")
        page.wait_for(f"!!document.querySelector('#application-{mid} button.approve')", f"application {mid}")
        if "<b>" in waiting[0]["display_name"] and page.js("document.querySelectorAll('main b').length") != 0:
            fail("a merchant's markup was rendered, not escaped")
        page.type_into(f"#reason-{mid}", "资料齐全")
        page.click(f"#application-{mid} button.approve")
        page.wait_for("location.search.startsWith('?decided=') && !!document.querySelector('.notice')", "the decision notice")
        status = api(base, token, "GET", f"/merchants/{mid}")["status"]
        if status != "approved":
            fail(f"approved in the page, but the API says {status}")
        passed += 1

        # English.
        page.click("#lang-toggle")
        page.wait_for("document.documentElement.lang === 'en' && document.readyState === 'complete'", "the English page")
        if "Review queue" not in page.js("document.body.innerText"):
            fail("the English page is not in English")
        page.screenshot(os.path.join(out, "review-en.png"))
        passed += 1
    print(f"dashboard: signed in, {len(PAGES)} pages, figures equal the API's, approved #{mid}; screenshots in {out}")
    print(f"{passed} passed, 0 failed")


if __name__ == "__main__":
    main()
