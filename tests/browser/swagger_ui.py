#!/usr/bin/env python3
"""Swagger UI, used the way staff use it: headless Chromium driven over the DevTools protocol.

Opens /docs, authorizes with a staff bearer token, executes GET /api/v1/merchants, checks the
page shows the 200 response (with the merchant the script created), and saves a screenshot.

usage: swagger_ui.py BASE_URL STAFF_TOKEN SCREENSHOT.png
"""

import json
import sys

from cdp import chromium


def main():
    base, token, shot = sys.argv[1], sys.argv[2], sys.argv[3]
    with chromium("swagger-ui-failure.png") as page:
        page.call("Page.navigate", url=f"{base}/docs")
        page.wait_for("!!document.querySelector('#operations-Merchants-merchants_list')", "the operation list")

        # Authorize with the staff token.
        page.click("button.authorize")
        page.wait_for("!!document.querySelector('.modal-ux')", "the Authorize dialog")
        # The dialog lists both schemes; use the staff bearer one.
        found = page.js("""(() => {
            const c = [...document.querySelectorAll('.modal-ux .auth-container')]
                .find(c => c.textContent.includes('StaffAuth'));
            if (!c) return false;
            c.id = 'staff-auth-container';
            return true;
        })()""")
        if not found:
            sys.exit("FAIL: the Authorize dialog has no StaffAuth scheme")
        page.type_into("#staff-auth-container input", token)
        page.click("#staff-auth-container .auth-btn-wrapper button.authorize")
        page.wait_for("[...document.querySelectorAll('#staff-auth-container button')].some(b => b.textContent.trim() === 'Logout')", "authorization to be accepted")
        page.click(".modal-ux button.close-modal")

        # Execute GET /api/v1/merchants.
        page.click("#operations-Merchants-merchants_list button.opblock-summary-control")
        page.wait_for("!!document.querySelector('#operations-Merchants-merchants_list .try-out__btn')", "Try it out")
        page.click("#operations-Merchants-merchants_list .try-out__btn")
        page.wait_for("!!document.querySelector('#operations-Merchants-merchants_list button.execute')", "Execute")
        page.click("#operations-Merchants-merchants_list button.execute")
        status = page.wait_for(
            "(() => { const c = document.querySelector('#operations-Merchants-merchants_list .live-responses-table tbody .response-col_status'); return c && c.textContent.trim(); })()",
            "the live response",
        )
        body = page.js("(() => { const b = document.querySelector('#operations-Merchants-merchants_list .live-responses-table .microlight, #operations-Merchants-merchants_list .live-responses-table pre'); return b ? b.textContent : ''; })()")
        page.screenshot(shot)
        if not status.startswith("200"):
            sys.exit(f"FAIL: expected a 200 response in the page, saw {status!r}; screenshot in {shot}")
        if '"items"' not in body or "Swagger UI 商户" not in body:
            sys.exit(f"FAIL: the response body in the page lacks the merchant: {body[:500]!r}")
        print(f"Swagger UI: authorized, executed merchants_list, page shows {status.split()[0]}; screenshot {shot}")
        print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
