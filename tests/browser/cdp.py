"""Headless Chromium driven over the DevTools protocol: the pieces the browser tests share."""

import base64
import contextlib
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
    def __init__(self, ws_url, failure_shot):
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0
        self.failure_shot = failure_shot

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
            try:
                value = self.js(expression)
            except RuntimeError:
                value = None  # the page is navigating
            if value:
                return value
            time.sleep(0.2)
        self.screenshot(self.failure_shot)
        raise SystemExit(f"FAIL: timed out waiting for {what}; screenshot in {self.failure_shot}")

    def click(self, selector):
        ok = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false; e.scrollIntoView(); e.click(); return true; }})()")
        if not ok:
            raise SystemExit(f"FAIL: nothing to click at {selector}")

    def type_into(self, selector, text):
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


@contextlib.contextmanager
def chromium(failure_shot, window="1400,2000"):
    """A headless Chromium with one page, closed afterwards."""
    port = 9222 + (os.getpid() % 1000)
    profile = tempfile.mkdtemp(prefix="browser-test-chromium-")
    proc = subprocess.Popen(
        [
            chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--window-size={window}", f"--user-data-dir={profile}",
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
        page = Page(targets[0]["webSocketDebuggerUrl"], failure_shot)
        page.call("Page.enable")
        page.call("Runtime.enable")
        yield page
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)
