#!/usr/bin/env python3
"""Webhook deliveries verify with the Standard Webhooks reference library (`standardwebhooks`
from PyPI), received by a real HTTP server on a port. A merchant registers an endpoint, is
approved (one delivery), rotates its secret and is suspended (a delivery that verifies with
the old and with the new secret); a wrong secret and a tampered body fail verification.

usage: webhooks.py BASE_URL ADMIN_TOKEN   (the server runs with WEBHOOK_ALLOW_PRIVATE=true)
"""

import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

RECEIVED = []


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        RECEIVED.append((dict((k.lower(), v) for k, v in self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")


def call(base, method, path, body=None, admin=None, key=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if admin:
        req.add_header("authorization", f"Bearer {admin}")
    if key:
        req.add_header("x-api-key", key)
    with urllib.request.urlopen(req) as r:
        text = r.read()
        return json.loads(text) if text else None


def wait_for(n):
    deadline = time.time() + 30
    while len(RECEIVED) < n:
        check(time.time() < deadline, f"expected {n} deliveries, got {len(RECEIVED)}")
        time.sleep(0.1)


def verifies(secret, headers, body):
    try:
        Webhook(secret).verify(body, headers)
        return True
    except WebhookVerificationError:
        return False


def main():
    base, admin = sys.argv[1], sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{server.server_address[1]}/hooks"

    applied = call(base, "POST", "/api/v1/merchants", {
        "kind": "brand", "legal_name": "杭州市云栖美妆有限公司", "display_name": "云栖美妆",
        "uscc": "91440300708461136T", "contact_email": "ops@yunqi.example", "province": "浙江",
        "city": "杭州", "category": "美妆个护", "brand_name": "云栖", "trademark_number": "41234567"})
    key, merchant = applied["api_key"]["key"], applied["merchant"]["id"]
    hook = call(base, "POST", "/api/v1/me/webhooks",
                {"url": target, "events": ["merchant.decision"]}, key=key)
    old = hook["secret"]
    check(old.startswith("whsec_"), f"secret {old!r}")

    call(base, "POST", f"/api/v1/merchants/{merchant}/decisions", {"action": "approve"}, admin=admin)
    wait_for(1)
    headers, body = RECEIVED[0]
    check(verifies(old, headers, body), "the first delivery verifies with the secret")
    event = json.loads(body)
    check(event["type"] == "merchant.decision" and event["data"]["to_status"] == "approved", event)
    check(not verifies("whsec_" + "A" * 43 + "=", headers, body), "a wrong secret fails")
    check(not verifies(old, headers, body.replace(b"approved", b"rejected")), "a tampered body fails")

    new = call(base, "POST", f"/api/v1/me/webhooks/{hook['id']}/rotate-secret", key=key)["secret"]
    check(new != old, "rotation issues a new secret")
    call(base, "POST", f"/api/v1/merchants/{merchant}/decisions",
         {"action": "suspend", "reason": "风控复核"}, admin=admin)
    wait_for(2)
    headers, body = RECEIVED[1]
    check(len(headers["webhook-signature"].split(" ")) == 2, "two signatures during the overlap")
    check(verifies(new, headers, body), "the delivery verifies with the new secret")
    check(verifies(old, headers, body), "and, for 24 hours, with the old one")
    check(headers["webhook-id"] != RECEIVED[0][0]["webhook-id"], "each event has its own id")

    time.sleep(0.5)
    check(len(RECEIVED) == 2, f"each delivery once: {len(RECEIVED)}")
    print("webhooks: 2 deliveries verified with standardwebhooks (before and during a rotation)")


if __name__ == "__main__":
    main()
