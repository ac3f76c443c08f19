//! A merchant's and a reviewer's whole journey, driven only through the generated Rust client
//! (`openapi/client`) against the real server on a real port.

use crate::support;

use chrono::{TimeZone, Utc};
use futures_util::StreamExt;
use merchant_incentives_client::{
    Error, anonymous,
    types::{
        Channel, Currency, DecisionRequest, DecisionRequestApprove, DecisionRequestApproveAction,
        EvaluationRequest, GmvBatch, GmvRecordInput, MerchantApplication,
        MerchantApplicationBrandApplication, MerchantApplicationBrandApplicationKind,
        MerchantStatus, Outcome, RecordStatus, ReportFormat, Status,
    },
    with_api_key, with_bearer,
};
use support::{ADMIN_TOKEN, spawn_app, uscc};

const WAN: i64 = 10_000 * 100; // ¥1万 in fen

fn sale(id: &str, day: u32, amount: i64, corrects: Option<&str>) -> GmvRecordInput {
    GmvRecordInput {
        external_id: id.parse().unwrap(),
        occurred_at: Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap(),
        amount,
        currency: Currency::Cny,
        channel: Channel::LiveStream,
        product_id: Some("SKU-88".parse().unwrap()),
        creator_id: Some("daren-7".parse().unwrap()),
        corrects: corrects.map(|c| c.parse().unwrap()),
    }
}

#[tokio::test]
async fn apply_review_rotate_ingest_evaluate_and_read_through_the_client() {
    let app = spawn_app().await;
    app.seed_programs().await;
    app.register_creators(&["daren-7"]).await;
    let base = app.base.clone();

    // Apply as a brand merchant.
    let applied = anonymous(&base)
        .merchants_apply(&MerchantApplication::BrandApplication(
            MerchantApplicationBrandApplication {
                kind: MerchantApplicationBrandApplicationKind::Brand,
                legal_name: "深圳市星河美妆科技有限公司".parse().unwrap(),
                display_name: "星河美妆官方旗舰店".parse().unwrap(),
                uscc: uscc(7).parse().unwrap(),
                contact_email: "ecommerce@xinghe.example".parse().unwrap(),
                province: "广东".parse().unwrap(),
                city: "深圳".parse().unwrap(),
                category: "美妆个护".parse().unwrap(),
                brand_name: "星河".parse().unwrap(),
                trademark_number: "38214567".parse().unwrap(),
            },
        ))
        .await
        .expect("apply")
        .into_inner();
    assert_eq!(applied.merchant.status, MerchantStatus::Submitted);
    let id = applied.merchant.id;
    let first_key = applied.api_key.key.clone();

    // Not approved yet: ingestion is refused with the error body.
    let early = with_api_key(&base, &first_key).unwrap();
    match early
        .gmv_records_create(&GmvBatch {
            merchant_id: None,
            records: vec![sale("x", 20, 100, None)],
        })
        .await
    {
        Err(Error::ErrorResponse(e)) => {
            assert_eq!(e.status().as_u16(), 403);
            assert_eq!(e.code, "merchant_not_approved");
        }
        other => panic!("expected 403, got {other:?}"),
    }

    // Staff approve, through the client too.
    let staff = with_bearer(&base, ADMIN_TOKEN).unwrap();
    let approved = staff
        .merchants_decide(
            id,
            &DecisionRequest::Approve(DecisionRequestApprove {
                action: DecisionRequestApproveAction::Approve,
                reason: "资料齐全".parse().unwrap(),
            }),
        )
        .await
        .expect("approve")
        .into_inner();
    assert_eq!(approved.status, MerchantStatus::Approved);

    // Rotate the key: create a new one, revoke the first.
    let new_key = early.me_keys_create().await.expect("new key").into_inner();
    let merchant = with_api_key(&base, &new_key.key).unwrap();
    merchant
        .me_keys_revoke(applied.api_key.id)
        .await
        .expect("revoke the first key");
    match early.me_get().await {
        Err(Error::ErrorResponse(e)) => assert_eq!(e.status().as_u16(), 401),
        other => panic!("the revoked key still works: {other:?}"),
    }
    assert_eq!(merchant.me_get().await.unwrap().into_inner().id, id);

    // Ingest: two sales and a refund that corrects the second; then replay the batch.
    let batch = GmvBatch {
        merchant_id: None,
        records: vec![
            sale("order-1", 18, 1_200 * WAN, None),
            sale("order-2", 19, 300 * WAN, None),
            sale("refund-2", 20, -100 * WAN, Some("order-2")),
        ],
    };
    let first = merchant
        .gmv_records_create(&batch)
        .await
        .expect("ingest")
        .into_inner();
    assert_eq!((first.created, first.duplicates, first.rejected), (3, 0, 0));
    let replay = merchant
        .gmv_records_create(&batch)
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(
        (replay.created, replay.duplicates, replay.rejected),
        (0, 3, 0)
    );
    assert!(
        replay
            .results
            .iter()
            .all(|r| r.status == RecordStatus::Duplicate)
    );

    // Evaluate as of a fixed instant.
    let started = staff
        .evaluations_run(&EvaluationRequest {
            as_of: Some(Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap()),
        })
        .await
        .expect("evaluate")
        .into_inner();
    // It runs in the background: read it back until it has finished.
    let mut run = started;
    for _ in 0..600 {
        if run.status != Outcome::Running {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        run = staff
            .evaluations_get(run.id)
            .await
            .expect("the run")
            .into_inner();
    }
    assert_eq!(run.status, Outcome::Ok, "{run:?}");
    assert!(
        run.subjects_evaluated >= 3,
        "merchant, creator and product subjects: {run:?}"
    );
    assert!(run.achievements_recorded >= 1, "{run:?}");

    // Progress: ¥1,400万 net reaches the ¥10M tier of the merchant programme.
    let mine = merchant
        .programs_my_progress(None, None)
        .await
        .expect("my progress")
        .into_inner();
    let entry = mine
        .items
        .iter()
        .find(|p| p.subject_id == id.to_string())
        .expect("an entry for the merchant programme");
    assert_eq!(entry.value, 1_400 * WAN);
    assert_eq!(entry.tier.as_deref(), Some("千万商家 ¥10M"));
    assert_eq!(entry.next_tier.as_deref(), Some("五千万商家 ¥50M"));
    assert_eq!(entry.next_threshold, Some(5_000 * WAN));
    assert_eq!(entry.remaining, 3_600 * WAN);
    assert_ne!(entry.status, Status::Achieved);

    let summary = staff
        .programs_summary(entry.program_id, None, None)
        .await
        .expect("summary")
        .into_inner();
    assert_eq!(summary.subjects, 1);
    assert_eq!(summary.top_tier_reached, 0);
    assert_eq!(summary.goal, 1000);

    // The weekly report preview shows the figure in 万.
    let mut stream = merchant
        .merchants_report(id, None, Some(ReportFormat::Text))
        .await
        .expect("report")
        .into_inner();
    let mut text = Vec::new();
    while let Some(chunk) = stream.next().await {
        text.extend_from_slice(&chunk.unwrap());
    }
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("¥1,400.00万"), "{text}");
}
