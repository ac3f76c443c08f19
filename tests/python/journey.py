#!/usr/bin/env python3
"""The OpenAPI document works for other languages: drive a running server only through the
Python client that openapi-python-client generates from openapi/openapi.json.

usage: journey.py BASE_URL ADMIN_TOKEN
"""

import datetime
import sys
import time

from merchant_incentives_client import AuthenticatedClient, Client
from merchant_incentives_client.api.evaluations import evaluations_get, evaluations_run
from merchant_incentives_client.api.gmv import gmv_records_create
from merchant_incentives_client.api.merchants import merchants_apply, merchants_decide
from merchant_incentives_client.api.programs import programs_my_progress
from merchant_incentives_client.models import (
    Channel, Currency, DecisionRequestApprove, DecisionRequestApproveAction, EvaluationRequest, GmvBatch,
    GmvIngestResult, GmvRecordInput, MerchantApplicationIndustryBeltApplication,
    MerchantApplicationIndustryBeltApplicationKind, MerchantApplied, ProgressPage,
)

WAN = 10_000 * 100  # ¥1万 in fen


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")


def main():
    base, admin = sys.argv[1], sys.argv[2]
    anonymous = Client(base_url=base)
    staff = AuthenticatedClient(base_url=base, token=admin)

    applied = merchants_apply.sync(client=anonymous, body=MerchantApplicationIndustryBeltApplication(
        kind=MerchantApplicationIndustryBeltApplicationKind.INDUSTRY_BELT, legal_name="广州市白马服饰有限公司", display_name="白马女装",
        uscc="91440300708461136T", contact_email="ops@baima.example",
        province="广东", city="广州", category="女装", industry_belt="广州女装"))
    check(isinstance(applied, MerchantApplied), f"apply answered {applied!r}")
    merchant_id = applied.merchant.id

    decided = merchants_decide.sync(merchant_id, client=staff,
                                    body=DecisionRequestApprove(action=DecisionRequestApproveAction.APPROVE,
                                                                 reason="资料齐全"))
    check(decided is not None and decided.status.value == "approved", f"approve answered {decided!r}")

    merchant = AuthenticatedClient(base_url=base, token=applied.api_key.key, prefix="", auth_header_name="X-API-Key")
    at = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.timezone.utc)
    batch = GmvBatch(records=[
        GmvRecordInput(external_id="py-1", occurred_at=at, amount=1_500 * WAN, currency=Currency.CNY,
                       channel=Channel.LIVE_STREAM),
        GmvRecordInput(external_id="py-2", occurred_at=at, amount=-200 * WAN, currency=Currency.CNY,
                       channel=Channel.LIVE_STREAM, corrects="py-1"),
    ])
    result = gmv_records_create.sync(client=merchant, body=batch)
    check(isinstance(result, GmvIngestResult) and result.created == 2, f"ingest answered {result!r}")
    replay = gmv_records_create.sync(client=merchant, body=batch)
    check(isinstance(replay, GmvIngestResult) and replay.duplicates == 2, f"replay answered {replay!r}")

    run = evaluations_run.sync(client=staff, body=EvaluationRequest(
        as_of=datetime.datetime(2026, 11, 25, tzinfo=datetime.timezone.utc)))
    check(run is not None and run.status.value == "running", f"evaluation answered {run!r}")
    for _ in range(600):  # it runs in the background: read it back until it has finished
        if run.status.value != "running":
            break
        time.sleep(0.05)
        run = evaluations_get.sync(run.id, client=staff)
    check(run.status.value == "ok" and run.subjects_evaluated >= 1, f"evaluation finished as {run!r}")

    progress = programs_my_progress.sync(client=merchant)
    check(isinstance(progress, ProgressPage), f"progress answered {progress!r}")
    mine = [p for p in progress.items if p.subject_id == str(merchant_id)]
    check(len(mine) == 1, f"one merchant-programme entry expected, got {progress.items!r}")
    check(mine[0].value == 1_300 * WAN, f"net value ¥1,300万 expected, got {mine[0].value}")
    check(mine[0].tier == "千万商家 ¥10M", f"tier: {mine[0].tier!r}")
    print(f"python client: merchant {merchant_id} approved, 2 records + replay, progress {mine[0].value} fen, tier {mine[0].tier}")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
