//! The published document: what poem-openapi generates from the operations, plus an example
//! for every error code each operation documents (poem-openapi's response metadata has no
//! place for examples). The committed `openapi/`, `/openapi.json`, `/openapi.yaml` and Swagger
//! UI all serve this one document.

use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::error_code::ErrorCode;

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

/// Adds each of [`schema_examples`] to its schema.
pub fn add_schema_examples(doc: &mut Value) {
    for (name, example) in schema_examples() {
        if let Some(schema) = doc["components"]["schemas"].get_mut(name) {
            schema["example"] = example;
        }
    }
}

/// The document as JSON (pretty, with a final newline) and as YAML, built once.
pub fn documents() -> &'static (String, String) {
    static DOCS: OnceLock<(String, String)> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut doc: Value = serde_json::from_str(&crate::api::service().spec())
            .expect("the generated document is JSON");
        add_error_examples(&mut doc);
        add_schema_examples(&mut doc);
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
