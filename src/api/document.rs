//! The published document: what poem-openapi generates from the operations, plus an example
//! for every error code each operation documents (poem-openapi's response metadata has no
//! place for examples). The committed `openapi/`, `/openapi.json`, `/openapi.yaml` and Swagger
//! UI all serve this one document.

use std::sync::OnceLock;

use serde_json::{Value, json};

use poem_openapi::Tags;

use crate::{api::tags::ApiTags, error_code::ErrorCode};

/// The codes a response description lists: its lines written `` `code`: meaning ``.
pub fn listed_codes(description: &str) -> Vec<ErrorCode> {
    description
        .split("\n\n")
        .filter_map(|line| line.strip_prefix('`')?.split_once("`:"))
        .filter_map(|(code, _)| ErrorCode::parse(code))
        .collect()
}

/// An example error body for `code`.
fn example(code: ErrorCode) -> Value {
    json!({ "code": code.as_str(), "message": code.meaning() })
}

/// Adds, to every error response of every operation, one example per code it lists.
pub fn add_error_examples(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for op in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in op.values_mut() {
            let Some(responses) = op["responses"].as_object_mut() else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                if !status.starts_with('4') && !status.starts_with('5') {
                    continue;
                }
                let codes = listed_codes(response["description"].as_str().unwrap_or_default());
                let Some(content) = response["content"].as_object_mut() else {
                    continue;
                };
                for media in content.values_mut() {
                    media["examples"] = codes
                        .iter()
                        .map(|c| {
                            (
                                c.as_str().to_string(),
                                json!({ "summary": c.meaning(), "value": example(*c) }),
                            )
                        })
                        .collect::<serde_json::Map<_, _>>()
                        .into();
                }
            }
        }
    }
}

/// Examples of schemas whose derive cannot carry one (a `Union` takes no `example`).
fn schema_examples() -> Vec<(&'static str, Value)> {
    use crate::domain::merchant::{DecisionAction, MerchantKind};
    vec![
        (
            "DecisionRequest",
            json!({"action": DecisionAction::Approve.as_str(), "reason": "资料齐全，审核通过"}),
        ),
        (
            "TierReward",
            serde_json::to_value(crate::domain::reward::TierReward::CommissionRebate(
                crate::domain::reward::RebateReward { rate_bp: 50 },
            ))
            .expect("a reward serialises"),
        ),
        (
            "MerchantApplication",
            json!({
                "kind": MerchantKind::Brand.as_str(),
                "legal_name": "深圳市星河美妆科技有限公司",
                "display_name": "星河美妆官方旗舰店",
                "uscc": "91440300708461136T",
                "contact_email": "ecommerce@xinghe-beauty.cn",
                "province": "广东",
                "city": "深圳",
                "category": "美妆个护",
                "brand_name": "星河",
                "trademark_number": "38214567",
            }),
        ),
    ]
}

/// Examples of the success bodies, as values of the response types themselves (serialised the
/// way the server serialises them), so they cannot drift from the schemas.
fn response_examples() -> Vec<(&'static str, Value)> {
    use chrono::{DateTime, NaiveDate, Utc};
    use entity::enums::{
        Channel, DecisionAction, DeliveryStatus, DigestKind, EmailKind, EmailStatus, JobOutcome,
        Locale, MerchantKind, MerchantStatus, Metric, PayoutStatus, PeriodKind, ProgressStatus,
        RewardKind, RewardStatus, Role, Subject, Trigger, WebhookEndpointStatus, WebhookEventType,
    };
    use poem_openapi::types::ToJSON;

    use super::{
        creators, emails, evaluations, gmv, me, merchants, programs, rewards, staff, types::Day,
        webhooks,
    };
    use crate::domain::{
        period::Tier,
        reward::{CashBonus, RebateReward, TierReward, TrafficCredit},
    };

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .expect("an example instant")
            .with_timezone(&Utc)
    }
    fn day(iso: &str) -> Day {
        Day(NaiveDate::parse_from_str(iso, "%Y-%m-%d").expect("an example day"))
    }
    fn json(value: impl ToJSON) -> Value {
        value.to_json().expect("an example serialises")
    }
    let cursor = Some("MTA0Mg".to_string());
    let hook = || webhooks::Webhook {
        id: 5,
        merchant_id: Some(42),
        url: "https://hooks.xinghe-beauty.cn/incentives".into(),
        events: vec![
            WebhookEventType::AchievementRecorded,
            WebhookEventType::ProgressNearTier,
        ],
        status: WebhookEndpointStatus::Active,
        previous_secret_expires_at: None,
        failing_since: None,
        disabled_at: None,
        created_at: at("2026-11-10T02:00:00Z"),
    };
    let hook_with_secret = || webhooks::WebhookWithSecret {
        endpoint: hook(),
        secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".into(),
    };
    let reward = || rewards::Reward {
        id: 901,
        program_id: 1,
        period_start: day("2025-01-01"),
        period_end: day("2025-12-31"),
        subject_type: Subject::Merchant,
        subject_id: "42".into(),
        tier: "亿元".into(),
        kind: RewardKind::CommissionRebate,
        amount: Some(6_172_839),
        rate_bp: Some(50),
        status: RewardStatus::Confirmed,
        created_at: at("2025-11-20T04:00:00Z"),
        confirmed_at: Some(at("2026-01-08T04:00:00Z")),
        paid_at: None,
        payout_id: Some(12),
    };
    let payout = || rewards::Payout {
        id: 12,
        program_id: Some(1),
        status: PayoutStatus::Open,
        rewards: 37,
        total: 48_250_000,
        created_by: "staff:zhao.min".into(),
        created_at: at("2026-01-09T02:00:00Z"),
        paid_at: None,
    };
    let delivery = || webhooks::WebhookDelivery {
        id: 311,
        message_id: "msg_0193a4c1f2e87d3b9c0e5a6f7b8c9d0e".into(),
        event_type: WebhookEventType::AchievementRecorded,
        status: DeliveryStatus::Delivered,
        attempts: 2,
        next_attempt_at: None,
        response_status: Some(200),
        response_body: Some("{\"ok\":true}".into()),
        last_error: None,
        created_at: at("2026-11-16T02:00:00Z"),
        delivered_at: Some(at("2026-11-16T02:00:07Z")),
    };

    let merchant = merchants::Merchant {
        id: 42,
        kind: MerchantKind::Brand,
        status: MerchantStatus::Approved,
        status_reason: None,
        legal_name: "深圳市星河美妆科技有限公司".into(),
        display_name: "星河美妆官方旗舰店".into(),
        uscc: "91440300708461136T".into(),
        contact_email: "ecommerce@xinghe-beauty.cn".into(),
        province: "广东".into(),
        city: "深圳".into(),
        category: "美妆个护".into(),
        brand_name: Some("星河".into()),
        trademark_number: Some("38214567".into()),
        industry_belt: None,
        last_gmv_at: Some(at("2026-11-16T02:00:00Z")),
        weekly_report: true,
        near_tier_alerts: true,
        at_risk_alerts: true,
        locale: Locale::ZhCn,
        created_at: at("2026-03-02T01:15:00Z"),
        updated_at: at("2026-03-03T06:40:00Z"),
    };
    let issued = || merchants::IssuedApiKey {
        id: 7,
        key: "mk_3f9a1c0e_5b8d2e7f4a6c9b1d0e3f5a7c".into(),
        prefix: "mk_3f9a1c0e".into(),
        created_at: at("2026-03-02T01:15:00Z"),
    };
    let key_info = || me::ApiKeyInfo {
        id: 7,
        prefix: "mk_3f9a1c0e".into(),
        created_at: at("2026-03-02T01:15:00Z"),
        last_used_at: Some(at("2026-11-16T02:00:00Z")),
        revoked_at: None,
    };
    let decision = merchants::Decision {
        id: 3,
        merchant_id: 42,
        actor: "staff:wang.li".into(),
        action: DecisionAction::Approve,
        reason: "资料齐全，审核通过".into(),
        from_status: MerchantStatus::Submitted,
        to_status: MerchantStatus::Approved,
        created_at: at("2026-03-03T06:40:00Z"),
    };
    let staff_token = || staff::StaffToken {
        id: 2,
        name: "wang.li".into(),
        role: Role::Reviewer,
        prefix: "st_8c41d2".into(),
        created_at: at("2026-02-20T08:00:00Z"),
        last_used_at: Some(at("2026-11-16T03:30:00Z")),
        revoked_at: None,
    };
    let program = || programs::Program {
        id: 1,
        name: "亿元俱乐部".into(),
        description: "年度 GMV 达到 1 亿元的商家。".into(),
        subject: Subject::Merchant,
        merchant_kinds: vec![MerchantKind::Brand, MerchantKind::IndustryBelt],
        metric: Metric::Gmv,
        channel: None,
        period: PeriodKind::Year,
        time_zone: "Asia/Shanghai".into(),
        starts_on: day("2026-01-01"),
        ends_on: None,
        tiers: vec![
            Tier {
                name: "千万".into(),
                threshold: 1_000_000_000,
                rewards: vec![TierReward::TrafficCredit(TrafficCredit {
                    amount: 2_000_000,
                })],
            },
            Tier {
                name: "亿元".into(),
                threshold: 10_000_000_000,
                rewards: vec![
                    TierReward::CashBonus(CashBonus { amount: 10_000_000 }),
                    TierReward::CommissionRebate(RebateReward { rate_bp: 50 }),
                ],
            },
        ],
        goal: 100,
        active: true,
        seed_key: Some("merchants_100m".into()),
        created_at: at("2026-01-01T00:00:00Z"),
        updated_at: at("2026-01-01T00:00:00Z"),
    };
    let progress = programs::ProgressEntry {
        program_id: 1,
        period_start: day("2026-01-01"),
        period_end: day("2026-12-31"),
        subject_type: Subject::Merchant,
        subject_id: "42".into(),
        name: Some("星河美妆官方旗舰店".into()),
        value: 1_250_000_000,
        tier: Some("千万".into()),
        next_tier: Some("亿元".into()),
        next_threshold: Some(10_000_000_000),
        remaining: 8_750_000_000,
        projected: 1_480_000_000,
        status: ProgressStatus::Behind,
        evaluated_at: at("2026-11-16T02:00:00Z"),
    };
    let shares = |from: &str, to: &str, total: i64, live: i64, belt: i64| {
        let platform = total * 3;
        let days = (day(to).0 - day(from).0).num_days() + 1;
        programs::GmvShares {
            from: Some(day(from)),
            to: Some(day(to)),
            total,
            brand_live_stream: live,
            industry_belt: belt,
            platform_total: Some(platform),
            coverage_days: days,
            brand_live_stream_share_bp: Some(live * 10_000 / platform),
            industry_belt_share_bp: Some(belt * 10_000 / platform),
        }
    };
    let run = || evaluations::EvaluationRun {
        id: 311,
        as_of: at("2026-11-16T02:00:00Z"),
        scheduled_at: at("2026-11-16T02:00:00Z"),
        trigger: Trigger::Scheduler,
        replica: "merchant-incentives-5d8f7c9b4-x2k8p".into(),
        started_at: at("2026-11-16T02:00:00Z"),
        finished_at: Some(at("2026-11-16T02:00:04Z")),
        outcome: JobOutcome::Ok,
        error: None,
        subjects_evaluated: 1_284,
        achievements_recorded: 3,
        achievements_revoked: 0,
        emails_queued: 3,
    };
    let email = emails::Email {
        id: 905,
        kind: EmailKind::MerchantWeekly,
        merchant_id: Some(42),
        recipient: "ecommerce@xinghe-beauty.cn".into(),
        locale: Locale::ZhCn,
        subject: "星河美妆官方旗舰店 · 周报 2026-11-09 至 2026-11-15".into(),
        dedupe_key: format!("{}:42:2026-11-09", EmailKind::MerchantWeekly.as_str()),
        message_id: "<merchant_weekly.42.2026-11-09@merchant-incentives>".into(),
        status: EmailStatus::Sent,
        attempts: 1,
        last_error: None,
        next_attempt_at: at("2026-11-16T01:00:00Z"),
        created_at: at("2026-11-16T01:00:00Z"),
        sent_at: Some(at("2026-11-16T01:00:02Z")),
    };
    let record = gmv::GmvRecord {
        id: 10_231,
        merchant_id: 42,
        external_id: "order-20261115-000123".into(),
        occurred_at: at("2026-11-15T12:30:00Z"),
        local_day: day("2026-11-15"),
        amount: 129_900,
        currency: json(gmv::Currency::CNY)
            .as_str()
            .expect("a currency is a string")
            .into(),
        channel: Channel::LiveStream,
        product_id: Some("SPU-88231".into()),
        creator_id: Some("creator-5521".into()),
        corrects: None,
        created_at: at("2026-11-15T12:30:05Z"),
    };
    vec![
        (
            "StaffWhoami",
            json(staff::StaffWhoami {
                name: "wang.li".into(),
                role: Role::Reviewer,
                token_id: Some(2),
            }),
        ),
        ("StaffToken", json(staff_token())),
        (
            "StaffTokenPage",
            json(staff::StaffTokenPage {
                items: vec![staff_token()],
                next_cursor: None,
            }),
        ),
        (
            "AuditPage",
            json(staff::AuditPage {
                items: vec![staff::AuditEntry {
                    id: 88,
                    actor: "staff:wang.li".into(),
                    action: "merchants_decide".into(),
                    target: "POST /api/v1/merchants/42/decisions".into(),
                    detail: json!({"status": 200, "role": Role::Reviewer.as_str(),
                        "request_id": "01JCX6R7M2Q8V3T5N9K4P0B1ZD"})
                    .to_string(),
                    created_at: at("2026-03-03T06:40:00Z"),
                }],
                next_cursor: cursor.clone(),
            }),
        ),
        ("Merchant", json(merchant.clone())),
        (
            "MerchantApplied",
            json(merchants::MerchantApplied {
                merchant: merchants::Merchant {
                    status: MerchantStatus::Submitted,
                    last_gmv_at: None,
                    updated_at: merchant.created_at,
                    ..merchant.clone()
                },
                api_key: issued(),
            }),
        ),
        (
            "MerchantPage",
            json(merchants::MerchantPage {
                items: vec![merchant],
                next_cursor: cursor.clone(),
            }),
        ),
        (
            "DecisionPage",
            json(merchants::DecisionPage {
                items: vec![decision],
                next_cursor: None,
            }),
        ),
        ("IssuedApiKey", json(issued())),
        ("ApiKeyInfo", json(key_info())),
        (
            "ApiKeyPage",
            json(me::ApiKeyPage {
                items: vec![key_info()],
                next_cursor: None,
            }),
        ),
        ("Program", json(program())),
        (
            "ProgramPage",
            json(programs::ProgramPage {
                items: vec![program()],
                next_cursor: None,
            }),
        ),
        (
            "ProgressPage",
            json(programs::ProgressPage {
                items: vec![progress],
                next_cursor: cursor.clone(),
            }),
        ),
        (
            "AchievementPage",
            json(programs::AchievementPage {
                items: vec![programs::Achievement {
                    id: 57,
                    program_id: 1,
                    period_start: day("2026-01-01"),
                    subject_type: Subject::Merchant,
                    subject_id: "42".into(),
                    name: Some("星河美妆官方旗舰店".into()),
                    merchant_id: Some(42),
                    tier: "千万".into(),
                    threshold: 1_000_000_000,
                    value: 1_003_200_000,
                    achieved_at: at("2026-09-14T02:00:00Z"),
                    revoked_at: None,
                    run_id: 248,
                }],
                next_cursor: None,
            }),
        ),
        (
            "ProgramSummary",
            json(programs::ProgramSummary {
                program_id: 1,
                period_start: day("2026-01-01"),
                period_end: day("2026-12-31"),
                goal: 100,
                subjects: 1_284,
                tiers: vec![
                    programs::TierSummary {
                        name: "千万".into(),
                        threshold: 1_000_000_000,
                        subjects: 212,
                    },
                    programs::TierSummary {
                        name: "亿元".into(),
                        threshold: 10_000_000_000,
                        subjects: 37,
                    },
                ],
                top_tier_reached: 37,
                projected_top_tier: 58,
                statuses: programs::StatusCounts {
                    achieved: 37,
                    on_track: 21,
                    at_risk: 64,
                    behind: 1_162,
                },
                gmv: programs::GmvStructure {
                    current: shares(
                        "2026-01-01",
                        "2026-11-16",
                        900_000_000_000,
                        405_000_000_000,
                        270_000_000_000,
                    ),
                    previous: shares(
                        "2025-01-01",
                        "2025-12-31",
                        800_000_000_000,
                        320_000_000_000,
                        280_000_000_000,
                    ),
                    brand_live_stream_share_change_bp: Some(500),
                    industry_belt_share_change_bp: Some(-500),
                },
            }),
        ),
        ("EvaluationRun", json(run())),
        (
            "Creator",
            json(creators::Creator {
                id: "dy_88120345".into(),
                nickname: "小杨哥的美妆间".into(),
                category: Some("美妆".into()),
                contact_email: Some("biz@xiaoyang.example".into()),
                created_at: at("2026-02-01T02:00:00Z"),
                updated_at: at("2026-02-01T02:00:00Z"),
            }),
        ),
        (
            "CreatorPage",
            json(creators::CreatorPage {
                items: vec![creators::Creator {
                    id: "dy_88120345".into(),
                    nickname: "小杨哥的美妆间".into(),
                    category: Some("美妆".into()),
                    contact_email: None,
                    created_at: at("2026-02-01T02:00:00Z"),
                    updated_at: at("2026-02-01T02:00:00Z"),
                }],
                next_cursor: cursor.clone(),
            }),
        ),
        (
            "CreatorBatchResult",
            json(creators::CreatorBatchResult {
                created: 1,
                updated: 1,
                rejected: 1,
                results: vec![
                    creators::CreatorItemResult {
                        id: "dy_88120345".into(),
                        status: crate::api::types::UpsertStatus::Created,
                        error: None,
                    },
                    creators::CreatorItemResult {
                        id: "dy_10002".into(),
                        status: crate::api::types::UpsertStatus::Updated,
                        error: None,
                    },
                    creators::CreatorItemResult {
                        id: "dy_10003".into(),
                        status: crate::api::types::UpsertStatus::Rejected,
                        error: Some(crate::error::ApiError {
                            code: ErrorCode::Required.as_str().into(),
                            message: "creators.2.nickname must not be empty".into(),
                            field: Some("creators.2.nickname".into()),
                        }),
                    },
                ],
            }),
        ),
        (
            "IssuedCreatorKey",
            json(creators::IssuedCreatorKey {
                id: 3,
                key: "mic_5f0c9a7e3b1d2c4a6e8f0b2d4c6a8e0f1b3d5c7a9e1f3b5d7c9a1e3f5b7d9c1a".into(),
                created_at: at("2026-02-01T02:05:00Z"),
            }),
        ),
        ("Reward", json(reward())),
        (
            "RewardPage",
            json(rewards::RewardPage {
                items: vec![reward()],
                next_cursor: cursor.clone(),
            }),
        ),
        ("Payout", json(payout())),
        ("Webhook", json(hook())),
        ("WebhookWithSecret", json(hook_with_secret())),
        (
            "WebhookPage",
            json(webhooks::WebhookPage {
                items: vec![hook()],
                next_cursor: None,
            }),
        ),
        ("WebhookDelivery", json(delivery())),
        (
            "WebhookDeliveryPage",
            json(webhooks::WebhookDeliveryPage {
                items: vec![delivery()],
                next_cursor: cursor.clone(),
            }),
        ),
        (
            "EvaluationRunPage",
            json(evaluations::EvaluationRunPage {
                items: vec![run()],
                next_cursor: cursor.clone(),
            }),
        ),
        (
            "EmailPage",
            json(emails::EmailPage {
                items: vec![email],
                next_cursor: cursor.clone(),
            }),
        ),
        (
            "DigestRun",
            json(emails::DigestRun {
                id: 212,
                kind: DigestKind::MerchantWeekly,
                outcome: JobOutcome::Ok,
                as_of: at("2026-11-16T01:00:00Z"),
                trigger: Trigger::Api,
                started_at: at("2026-11-16T01:00:00Z"),
                finished_at: Some(at("2026-11-16T01:00:04Z")),
                error: None,
                recipients: 1_190,
                queued: 1_188,
                duplicates: 2,
            }),
        ),
        (
            "GmvIngestResult",
            json(gmv::GmvIngestResult {
                created: 1,
                duplicates: 1,
                rejected: 1,
                results: vec![
                    gmv::GmvItemResult {
                        external_id: "order-20261115-000123".into(),
                        status: gmv::RecordStatus::Created,
                        error: None,
                    },
                    gmv::GmvItemResult {
                        external_id: "order-20261115-000122".into(),
                        status: gmv::RecordStatus::Duplicate,
                        error: None,
                    },
                    gmv::GmvItemResult {
                        external_id: "order-20261115-000124".into(),
                        status: gmv::RecordStatus::Rejected,
                        error: Some(crate::error::ApiError {
                            code: ErrorCode::ExternalIdConflict.as_str().into(),
                            message: ErrorCode::ExternalIdConflict.meaning().into(),
                            field: Some("records.2.external_id".into()),
                        }),
                    },
                ],
            }),
        ),
        (
            "GmvRecordPage",
            json(gmv::GmvRecordPage {
                items: vec![record],
                next_cursor: cursor,
            }),
        ),
        (
            "GmvSummary",
            json(gmv::GmvSummary {
                total: 389_700,
                records: 3,
                buckets: vec![
                    gmv::GmvBucket {
                        period_start: day("2026-11-14"),
                        group: None,
                        amount: 259_800,
                        records: 2,
                    },
                    gmv::GmvBucket {
                        period_start: day("2026-11-15"),
                        group: None,
                        amount: 129_900,
                        records: 1,
                    },
                ],
            }),
        ),
    ]
}

/// Adds each of [`schema_examples`] and [`response_examples`] to its schema.
pub fn add_schema_examples(doc: &mut Value) {
    for (name, example) in schema_examples().into_iter().chain(response_examples()) {
        if let Some(schema) = doc["components"]["schemas"].get_mut(name) {
            schema["example"] = example;
        }
    }
}

/// The tags in the order staff work: merchants, their GMV, programmes and the evaluations
/// that compute progress and achievements, reports, then staff administration and operations.
const TAG_ORDER: [ApiTags; 11] = [
    ApiTags::Merchants,
    ApiTags::Me,
    ApiTags::Gmv,
    ApiTags::Programs,
    ApiTags::Evaluations,
    ApiTags::Creators,
    ApiTags::Rewards,
    ApiTags::Reports,
    ApiTags::Webhooks,
    ApiTags::Staff,
    ApiTags::Operations,
];

/// Lists the document's tags in [`TAG_ORDER`] (poem-openapi sorts them by name); Swagger UI
/// shows the groups in this order.
pub fn order_tags(doc: &mut Value) {
    let Some(tags) = doc["tags"].as_array_mut() else {
        return;
    };
    let rank = |tag: &Value| {
        TAG_ORDER
            .iter()
            .position(|t| tag["name"].as_str() == Some(t.name()))
            .unwrap_or(TAG_ORDER.len())
    };
    tags.sort_by_key(rank);
}

/// The document as JSON (pretty, with a final newline) and as YAML, built once.
pub fn documents() -> &'static (String, String) {
    static DOCS: OnceLock<(String, String)> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut doc: Value = serde_json::from_str(&crate::api::service().spec())
            .expect("the generated document is JSON");
        add_error_examples(&mut doc);
        add_schema_examples(&mut doc);
        order_tags(&mut doc);
        let json = format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).expect("a document serialises")
        );
        let yaml = serde_yaml::to_string(&doc).expect("a document serialises as YAML");
        (json, yaml)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_list_codes_and_examples_follow_them() {
        let description = "`uscc_taken`: A merchant with this unified social credit code already exists.\n\n`invalid_transition`: x.";
        assert_eq!(
            listed_codes(description),
            vec![ErrorCode::UsccTaken, ErrorCode::InvalidTransition]
        );
        let mut doc = json!({"paths": {"/x": {"post": {"responses": {
            "201": {"description": "made", "content": {"application/json": {}}},
            "409": {"description": description, "content": {"application/json; charset=utf-8": {}}}
        }}}}});
        add_error_examples(&mut doc);
        add_schema_examples(&mut doc);
        let examples = &doc["paths"]["/x"]["post"]["responses"]["409"]["content"]["application/json; charset=utf-8"]
            ["examples"];
        assert_eq!(examples["uscc_taken"]["value"]["code"], "uscc_taken");
        assert_eq!(
            examples["invalid_transition"]["value"]["code"],
            "invalid_transition"
        );
        assert!(
            doc["paths"]["/x"]["post"]["responses"]["201"]["content"]["application/json"]
                .get("examples")
                .is_none()
        );
    }
}
