#!/usr/bin/env python3
"""Swagger UI, used the way staff use it: headless Chromium driven over the DevTools protocol.

Opens /docs, authorizes with a staff bearer token, executes GET /api/v1/merchants, checks the
page shows the 200 response (with the merchant the script created), and saves a screenshot.

usage: swagger_ui.py BASE_URL STAFF_TOKEN SCREENSHOT.png
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # websocket-client


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("FAIL: no Chromium on PATH (apt-get install chromium)")


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"JS error in {expression!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expression, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.2)
        self.screenshot("swagger-ui-failure.png")
        raise SystemExit(f"FAIL: timed out waiting for {what}")

    def click(self, selector):
        ok = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false; e.scrollIntoView(); e.click(); return true; }})()")
        if not ok:
            raise SystemExit(f"FAIL: nothing to click at {selector}")

    def type_into(self, selector, text):
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def screenshot(self, path):
        import base64
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


def main():
    base, token, shot = sys.argv[1], sys.argv[2], sys.argv[3]
    port = 9222 + (os.getpid() % 1000)
    profile = tempfile.mkdtemp(prefix="swagger-ui-chromium-")
    proc = subprocess.Popen(
        [
            chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--window-size=1400,2000", f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}", "about:blank",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        targets = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
                    targets = [t for t in json.load(r) if t["type"] == "page"]
                if targets:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        if not targets:
            sys.exit("FAIL: Chromium's DevTools endpoint did not come up")
        page = Page(targets[0]["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Runtime.enable")
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
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
