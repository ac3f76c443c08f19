//! Hostile input on every write endpoint, driven by the OpenAPI document: for every operation
//! with a JSON body and every property of that body (recursively, array items included) — wrong
//! types, null, huge strings, control characters, integer overflow and invalid UTF-8 — the
//! answer is 400 or 422 with the one error body (a 422 names the field), and nothing is written.
//! A batch is answered item by item, so there the refusal is the item's. An optional field set
//! to null is answered as if it were absent, unless the document gives null a meaning.
//! SQL and HTML fragments in free text are stored verbatim and escaped in HTML email.

use crate::support;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use support::{
    As, Response, TestApp,
    openapi::{self, Operation, fill},
    spawn_app, table_counts,
};

/// Far over every text limit, far under the 2 MiB body limit.
const HUGE: usize = 100_000;
/// Stands in the JSON for bytes that are spliced into the body text as they are.
const RAW_MARK: &str = "@@raw-bytes@@";

/// A value to put in a field: JSON, or bytes written into the body as they are.
#[derive(Clone, Debug)]
enum Bad {
    Json(Value),
    Raw(&'static [u8]),
}

/// The bad values for a field of this schema, each with what it is. Wrong types are the ones
/// the field is not; text gets oversized, control characters and broken UTF-8; integers get
/// values beyond 64 bits.
fn bad_values(schema: &Value, required: bool) -> Vec<(&'static str, Bad)> {
    use Bad::{Json, Raw};
    let ty = schema["type"].as_str().unwrap_or("object");
    let mut out = Vec::new();
    if ty != "integer" && ty != "number" {
        out.push(("a number", Json(json!(42))));
    }
    if ty != "string" {
        out.push(("a string", Json(json!("42"))));
    }
    if ty != "boolean" {
        out.push(("a boolean", Json(json!(true))));
    }
    if ty != "object" {
        out.push(("an object", Json(json!({}))));
    }
    if ty != "array" {
        out.push(("an array", Json(json!([]))));
    }
    if required {
        out.push(("null", Json(Value::Null)));
    }
    match ty {
        "integer" => out.extend([
            ("a fraction", Json(json!(1.5))),
            ("2^63", Raw(b"9223372036854775808")),
            ("-2^63 - 1", Raw(b"-9223372036854775809")),
            ("1e400", Raw(b"1e400")),
        ]),
        "string" => {
            if schema["enum"].is_array() {
                out.push(("not one of the values", Json(json!("no_such_value"))));
            }
            if schema["format"].is_string() {
                out.push(("not in its format", Json(json!("yesterday"))));
            }
            out.extend([
                ("a huge string", Json(json!("x".repeat(HUGE)))),
                ("a NUL character", Json(json!("a\u{0}b"))),
                ("an escape character", Json(json!("a\u{1b}b"))),
                ("invalid UTF-8", Raw(b"\"a\xff\xfeb\"")),
            ]);
        }
        _ => {}
    }
    out
}

/// A property of a request body (or the body itself, with an empty path).
struct Field {
    path: Vec<String>,
    /// With `$ref` followed.
    schema: Value,
    required: bool,
    /// The document marks it `nullable`: `null` has a meaning of its own there.
    nullable: bool,
}

impl Field {
    fn name(&self) -> String {
        self.path.join(".")
    }
}

/// `schema` with `$ref` (also inside a one-element `allOf`) followed. A discriminated `oneOf`
/// stands for the variant its example names, and a variant's `allOf` parts are merged into one
/// object schema.
fn resolve(doc: &Value, schema: &Value) -> Value {
    let reference = schema["$ref"].as_str().or_else(|| {
        (schema["allOf"].as_array().map(Vec::len) == Some(1))
            .then(|| schema["allOf"][0]["$ref"].as_str())
            .flatten()
    });
    let mut s = match reference {
        Some(r) => doc["components"]["schemas"][r.rsplit('/').next().unwrap()].clone(),
        None => schema.clone(),
    };
    if let Some(prop) = s["discriminator"]["propertyName"].as_str() {
        let chosen = s["example"][prop]
            .as_str()
            .expect("a discriminated union has an example");
        let target = s["discriminator"]["mapping"][chosen].clone();
        let example = s["example"].clone();
        s = resolve(doc, &json!({ "$ref": target }));
        s["example"] = example;
    }
    if let Some(parts) = s["allOf"].as_array().filter(|p| p.len() > 1).cloned() {
        let mut merged = json!({"type": "object", "properties": {}, "required": []});
        for part in parts {
            let part = resolve(doc, &part);
            for (name, prop) in part["properties"].as_object().into_iter().flatten() {
                merged["properties"][name] = prop.clone();
            }
            for name in part["required"].as_array().into_iter().flatten() {
                merged["required"]
                    .as_array_mut()
                    .unwrap()
                    .push(name.clone());
            }
        }
        merged["example"] = s["example"].clone();
        s = merged;
    }
    s
}

/// Every property under `schema`, depth first; array items are `<array>.0`.
fn fields(doc: &Value, schema: &Value, path: Vec<String>, required: bool, out: &mut Vec<Field>) {
    let resolved = resolve(doc, schema);
    out.push(Field {
        path: path.clone(),
        schema: resolved.clone(),
        required,
        nullable: schema["nullable"] == true || resolved["nullable"] == true,
    });
    if let Some(props) = resolved["properties"].as_object() {
        let needed: Vec<&str> = resolved["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (name, prop) in props {
            let mut p = path.clone();
            p.push(name.clone());
            fields(doc, prop, p, needed.contains(&name.as_str()), out);
        }
    }
    if resolved["type"] == "array" {
        let mut p = path;
        p.push("0".into());
        fields(doc, &resolved["items"], p, true, out);
    }
}

/// A plausible value of `schema`: its example, else built from its type.
fn sample(doc: &Value, schema: &Value) -> Value {
    let s = resolve(doc, schema);
    if !s["example"].is_null() {
        return s["example"].clone();
    }
    if let Some(first) = s["enum"].get(0) {
        return first.clone();
    }
    match (s["type"].as_str(), s["format"].as_str()) {
        (Some("array"), _) => json!([sample(doc, &s["items"])]),
        (Some("integer" | "number"), _) => json!(1),
        (Some("boolean"), _) => json!(true),
        (Some("string"), Some("date-time")) => json!("2026-01-01T00:00:00Z"),
        (Some("string"), Some(f)) if f.contains("date") => json!("2026-01-01"),
        (Some("string"), _) => json!("x"),
        _ => {
            let mut obj = serde_json::Map::new();
            for name in s["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                obj.insert(name.into(), sample(doc, &s["properties"][name]));
            }
            Value::Object(obj)
        }
    }
}

/// `value` with the field at `path` set to `leaf` (`None`: left out). Arrays on the way are cut
/// to their first item; containers missing on the way are made from the schema.
fn put(
    doc: &Value,
    value: Option<&Value>,
    schema: &Value,
    path: &[String],
    leaf: Option<Value>,
) -> Option<Value> {
    let Some((head, rest)) = path.split_first() else {
        return leaf;
    };
    let schema = resolve(doc, schema);
    let current = value.cloned().unwrap_or_else(|| sample(doc, &schema));
    if schema["type"] == "array" {
        let item = put(doc, current.get(0), &schema["items"], rest, leaf);
        return Some(Value::Array(item.into_iter().collect()));
    }
    let mut obj = current.as_object().cloned().unwrap_or_default();
    match put(doc, obj.get(head), &schema["properties"][head], rest, leaf) {
        Some(v) => obj.insert(head.clone(), v),
        None => obj.remove(head),
    };
    Some(Value::Object(obj))
}

/// A reference to the schema of `op`'s request body.
fn body_schema(op: &Operation) -> Value {
    json!({ "$ref": format!("#/components/schemas/{}", op.body_schema.as_ref().unwrap()) })
}

/// The request body: `base` with the field set to `bad` (or left out), as bytes.
fn body(doc: &Value, op: &Operation, base: &Value, path: &[String], bad: Option<&Bad>) -> Vec<u8> {
    let schema = body_schema(op);
    let leaf = bad.map(|b| match b {
        Bad::Json(v) => v.clone(),
        Bad::Raw(_) => json!(RAW_MARK),
    });
    let value = match path {
        [] => leaf.unwrap_or_else(|| base.clone()),
        _ => put(doc, Some(base), &schema, path, leaf).expect("an object"),
    };
    let text = serde_json::to_vec(&value).unwrap();
    match bad {
        Some(Bad::Raw(bytes)) => {
            let mark = format!("\"{RAW_MARK}\"");
            let at = text
                .windows(mark.len())
                .position(|w| w == mark.as_bytes())
                .unwrap();
            [&text[..at], bytes, &text[at + mark.len()..]].concat()
        }
        _ => text,
    }
}

/// Where, and as whom, an operation's documented example is accepted. Made afresh before every
/// request that may be accepted, so that each meets the same state: a new USCC to apply with,
/// a new application to decide on or edit, a new approved merchant without records.
struct Target {
    who: As,
    path: String,
    body: Value,
}

async fn target(app: &TestApp, doc: &Value, op: &Operation, n: u32, program: i64) -> Target {
    let mut t = Target {
        who: As::Anonymous,
        path: op.path.clone(),
        body: op
            .example
            .clone()
            .unwrap_or_else(|| sample(doc, &body_schema(op))),
    };
    if op.schemes.iter().any(|s| s == "MerchantAuth") {
        let (id, key) = app.approved_merchant("brand").await;
        t.who = As::Merchant(key);
        t.path = fill(&op.path, id);
    } else if op.schemes.iter().any(|s| s == "StaffAuth") {
        t.who = As::Admin;
    }
    match op.id.as_str() {
        "merchants_apply" => t.body["uscc"] = json!(support::uscc(50_000 + n)),
        "merchants_decide" => t.path = fill(&op.path, app.register_merchant("brand").await.0),
        "me_update" => t.who = As::Merchant(app.register_merchant("brand").await.1),
        "programs_update" => t.path = fill(&op.path, program),
        "gmv_records_create" => app.register_creators(&["creator-li"]).await,
        "platform_gmv_put" => t.path = fill(&op.path, 0),
        "payouts_open" => {
            let merchant = app.approved_merchant("brand").await.0;
            support::insert_confirmed_reward(&app.db, program, merchant, 50_000).await;
            t.body["program_id"] = json!(program);
        }
        _ => assert!(
            !t.path.contains('{'),
            "{}: say which resource its example applies to",
            op.id
        ),
    }
    t
}

async fn send(app: &TestApp, op: &Operation, t: &Target, body: Vec<u8>) -> Response {
    app.raw(op.method.clone(), &t.path, &t.who, "application/json", body)
        .await
}

/// The error body: a string `code` and a non-empty `message`; `field`, if there, a string.
fn assert_error_body(e: &Value, case: &str) {
    assert!(
        e["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{case}: {e}"
    );
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{case}: {e}"
    );
    assert!(
        e["field"].is_null() || e["field"].is_string(),
        "{case}: {e}"
    );
}

/// A batch answered item by item (200 with `results`).
fn per_item(r: &Response) -> bool {
    r.status.as_u16() == 200 && r.body["results"].is_array()
}

/// The request was refused because of `field`: 400 or 422 with the error body — a 422 names
/// the field, a 400 names it or nothing — or, for a batch, every item rejected the same way.
fn assert_refused(r: &Response, field: &str, case: &str) {
    if per_item(r) {
        assert_eq!(r.body["created"], 0, "{case}: {}", r.text);
        // GMV batches count duplicates, creator batches updates: none of either.
        for other in ["duplicates", "updated"] {
            assert!(
                r.body[other].is_null() || r.body[other] == 0,
                "{case}: {}",
                r.text
            );
        }
        let results = r.body["results"].as_array().unwrap();
        assert!(!results.is_empty(), "{case}");
        for item in results {
            assert_eq!(item["status"], "rejected", "{case}: {}", r.text);
            assert_error_body(&item["error"], case);
        }
        assert!(
            results.iter().any(|i| i["error"]["field"] == field),
            "{case}: an item names {field}: {}",
            r.text
        );
        return;
    }
    let status = r.status.as_u16();
    assert!(
        status == 400 || status == 422,
        "{case}: expected 400 or 422, got {status}: {}",
        r.text
    );
    assert_error_body(&r.body, case);
    if status == 422 || !r.body["field"].is_null() {
        assert_eq!(r.body["field"], field, "{case}: {}", r.text);
    }
}

/// 2xx, or a 4xx with the error body.
fn assert_answered(r: &Response, case: &str) {
    let status = r.status.as_u16();
    assert!(status < 500, "{case}: {status} {}", r.text);
    if status >= 400 {
        assert_error_body(&r.body, case);
    }
}

#[tokio::test]
async fn every_field_of_every_write_refuses_bad_values_and_writes_nothing() {
    let app = spawn_app().await;
    let doc = openapi::document();
    let program = support::insert_program(&app.db, "输入测试", "quarter", &[("a", 100)], 10).await;
    let ops: Vec<Operation> = openapi::operations(&doc)
        .into_iter()
        .filter(|o| o.body_schema.is_some())
        .collect();
    assert!(ops.len() >= 8, "the document lists the writes");
    let mut n = 0u32;
    let mut refused = 0;
    let mut covered: BTreeMap<String, usize> = BTreeMap::new();
    for op in &ops {
        let mut all = Vec::new();
        fields(&doc, &body_schema(op), Vec::new(), true, &mut all);

        // The documented example, where it applies, is accepted: the refusals below are the
        // bad value's doing.
        n += 1;
        let t = target(&app, &doc, op, n, program).await;
        let r = send(&app, op, &t, body(&doc, op, &t.body, &[], None)).await;
        assert!(r.status.is_success(), "{} example: {}", op.id, r.text);
        if r.status.as_u16() == 202 {
            // Work that goes on in the background ends before the counts below are taken.
            let location = r.headers["location"].to_str().unwrap().to_string();
            app.finished_run(&location).await;
        }
        if per_item(&r) {
            assert_eq!(r.body["rejected"], 0, "{} example: {}", op.id, r.text);
        }

        n += 1;
        let t = target(&app, &doc, op, n, program).await;
        for f in &all {
            for (what, bad) in bad_values(&f.schema, f.required) {
                let case = format!("{} {} = {what}", op.id, f.name());
                let mut before = table_counts(&app.db).await;
                let bytes = body(&doc, op, &t.body, &f.path, Some(&bad));
                let r = send(&app, op, &t, bytes).await;
                assert_refused(&r, &f.name(), &case);
                let mut after = table_counts(&app.db).await;
                if per_item(&r) {
                    // A batch answered item by item is a request that succeeded: a staff
                    // member's is in the audit log, though every item was rejected.
                    before.remove("audit_log");
                    after.remove("audit_log");
                }
                assert_eq!(after, before, "{case}: wrote");
                refused += 1;
            }
            *covered.entry(op.id.clone()).or_default() += 1;
        }

        // Optional fields set to null: refused and named, unless the document marks them
        // nullable (then null means something, e.g. removing an end date).
        for f in all.iter().filter(|f| !f.required) {
            let case = format!("{} {} = null", op.id, f.name());
            n += 1;
            let t = target(&app, &doc, op, n, program).await;
            let before = table_counts(&app.db).await;
            let r = send(
                &app,
                op,
                &t,
                body(&doc, op, &t.body, &f.path, Some(&Bad::Json(Value::Null))),
            )
            .await;
            if f.nullable {
                assert_answered(&r, &case);
                continue;
            }
            assert_eq!(r.status.as_u16(), 400, "{case}: {}", r.text);
            assert_eq!(r.body["code"], "null_not_allowed", "{case}: {}", r.text);
            assert_eq!(r.body["field"], f.name().as_str(), "{case}: {}", r.text);
            assert_eq!(table_counts(&app.db).await, before, "{case}: wrote");
        }
    }
    println!("{refused} bad values refused; fields per operation: {covered:?}");
    for id in [
        "merchants_apply",
        "merchants_decide",
        "me_update",
        "programs_create",
        "gmv_records_create",
    ] {
        assert!(covered.get(id).is_some_and(|&n| n > 1), "{id} is covered");
    }
}

/// Text a client might try to smuggle through: SQL, HTML, an entity.
const FRAGMENTS: [&str; 5] = [
    "'; DROP TABLE merchant; --",
    "<script>alert(1)</script>",
    "Robert'); DROP TABLE gmv_record; --",
    "&lt;b&gt; & <b>bold</b>",
    "\"quoted\" \\ back`tick`",
];

#[tokio::test]
async fn sql_and_html_fragments_are_stored_verbatim_and_escaped_in_email() {
    let app = spawn_app().await;
    let admin = As::Admin;

    // An application whose free text is all fragments, read back exactly.
    let mut application = app.application("brand");
    let texts = [
        ("legal_name", FRAGMENTS[2]),
        ("display_name", FRAGMENTS[1]),
        ("brand_name", FRAGMENTS[0]),
        ("category", FRAGMENTS[3]),
        ("city", FRAGMENTS[4]),
    ];
    for (field, text) in texts {
        application[field] = json!(text);
    }
    let applied = app
        .post("/api/v1/merchants", &As::Anonymous, application)
        .await
        .expect(201);
    let id = applied.body["merchant"]["id"].as_i64().unwrap();
    let me = As::Merchant(applied.body["api_key"]["key"].as_str().unwrap().into());
    app.patch(
        "/api/v1/me",
        &me,
        json!({"province": "<img src=x onerror=alert(1)>"}),
    )
    .await
    .expect(200);
    for (path, who) in [
        ("/api/v1/me".to_string(), &me),
        (format!("/api/v1/merchants/{id}"), &admin),
    ] {
        let m = app.get(&path, who).await.expect(200).body;
        for (field, text) in texts {
            assert_eq!(m[field], text, "{path} {field}");
        }
        assert_eq!(m["province"], "<img src=x onerror=alert(1)>");
    }

    // A decision whose reason is a fragment: stored verbatim, escaped in the email's HTML.
    let reason = format!("{} {}", FRAGMENTS[3], FRAGMENTS[1]);
    app.post(
        &format!("/api/v1/merchants/{id}/decisions"),
        &admin,
        json!({"action": "approve", "reason": reason}),
    )
    .await
    .expect(200);
    let decisions = app
        .get(&format!("/api/v1/merchants/{id}/decisions"), &admin)
        .await
        .expect(200)
        .body;
    assert_eq!(decisions["items"][0]["reason"], reason.as_str());
    let outbox = app.outbox().await;
    let mail = outbox
        .iter()
        .rfind(|m| m.kind.as_str() == "onboarding_status" && m.merchant_id == Some(id))
        .expect("the approval is emailed");
    assert!(
        mail.html_body.contains("&lt;script&gt;alert(1)&lt;"),
        "{}",
        mail.html_body
    );
    assert!(
        mail.html_body
            .contains("&amp;lt;b&amp;gt; &amp; &lt;b&gt;bold&lt;"),
        "{}",
        mail.html_body
    );
    assert!(
        mail.html_body
            .contains("Robert&#x27;); DROP TABLE gmv_record; --"),
        "{}",
        mail.html_body
    );
    for raw in ["<script", "<b>", "<img"] {
        assert!(
            !mail.html_body.contains(raw),
            "{raw} in the HTML part: {}",
            mail.html_body
        );
    }
    assert!(
        mail.text_body.contains(&reason),
        "the text part is verbatim: {}",
        mail.text_body
    );
    assert!(mail.text_body.contains(FRAGMENTS[2]), "{}", mail.text_body);

    // The weekly report's HTML escapes the merchant's names the same way.
    let report = app
        .get(
            &format!("/api/v1/merchants/{id}/report?format=html"),
            &admin,
        )
        .await
        .expect(200)
        .text;
    assert!(report.contains("&lt;script&gt;alert(1)&lt;"), "{report}");
    assert!(!report.contains("<script"), "{report}");

    // GMV ids, and a programme's name, description and tier names.
    app.register_creators(&[FRAGMENTS[0]]).await;
    let record = json!({
        "external_id": FRAGMENTS[2], "occurred_at": chrono::Utc::now().to_rfc3339(),
        "amount": 100, "currency": "CNY", "channel": "live_stream",
        "product_id": FRAGMENTS[1], "creator_id": FRAGMENTS[0],
    });
    let r = app
        .post("/api/v1/gmv/records", &me, json!({"records": [record]}))
        .await
        .expect(200);
    assert_eq!(r.body["created"], 1, "{}", r.text);
    let listed = app.get("/api/v1/gmv/records", &me).await.expect(200).body;
    for field in ["external_id", "product_id", "creator_id"] {
        assert_eq!(listed["items"][0][field], record[field], "{field}");
    }
    let mut program = openapi::document()["components"]["schemas"]["NewProgram"]["example"].clone();
    program["name"] = json!(FRAGMENTS[1]);
    program["description"] = json!(FRAGMENTS.join("\n"));
    program["tiers"][0]["name"] = json!(FRAGMENTS[0]);
    let created = app
        .post("/api/v1/programs", &admin, program.clone())
        .await
        .expect(201);
    let pid = created.body["id"].as_i64().unwrap();
    let stored = app
        .get(&format!("/api/v1/programs/{pid}"), &admin)
        .await
        .expect(200)
        .body;
    for field in ["name", "description", "tiers"] {
        assert_eq!(stored[field], program[field], "{field}");
    }

    // And every table is still there.
    let counts = table_counts(&app.db).await;
    for table in ["merchant", "merchant_decision", "gmv_record", "program"] {
        assert!(
            counts.get(table).is_some_and(|&n| n > 0),
            "{table}: {counts:?}"
        );
    }
}
