//! The operations of the OpenAPI document the code generates, for tests that must cover every
//! endpoint (a new one is covered the moment it exists).

use reqwest::Method;
use serde_json::Value;

/// One operation as the document describes it.
pub struct Operation {
    pub id: String,
    pub method: Method,
    /// As documented, with `{param}` placeholders.
    pub path: String,
    /// Names of the security schemes that accept it (empty: anyone).
    pub schemes: Vec<String>,
    /// The component schema of its JSON request body, if it has one.
    pub body_schema: Option<String>,
    /// That schema's documented example.
    pub example: Option<Value>,
}

/// The generated document, as JSON.
pub fn document() -> Value {
    let (json, _) = merchant_incentives::cli::openapi_documents();
    serde_json::from_str(&json).expect("the document is JSON")
}

/// Every operation of `doc`.
pub fn operations(doc: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let schemes = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s.as_object().unwrap().keys().cloned())
                .collect();
            let body_schema = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .and_then(|m| m["schema"]["$ref"].as_str())
                .and_then(|r| r.rsplit('/').next())
                .map(str::to_string);
            let example = body_schema
                .as_ref()
                .map(|name| doc["components"]["schemas"][name]["example"].clone())
                .filter(|e| !e.is_null());
            ops.push(Operation {
                id: op["operationId"].as_str().unwrap().to_string(),
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                schemes,
                body_schema,
                example,
            });
        }
    }
    ops
}

/// `path` with every `{param}` set to `id`.
pub fn fill(path: &str, id: i64) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        // Parameters that are not ids get a valid value of their own type.
        match &rest[start + 1..end] {
            "day" => out.push_str("2026-11-15"),
            "subject_type" => out.push_str("merchant"),
            _ => out.push_str(&id.to_string()),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The error codes the document lists for `method path` (a concrete request path) and
/// `status`: `None` when no documented operation matches (an unknown route or method).
pub fn documented_codes(method: &Method, path: &str, status: u16) -> Option<Vec<String>> {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(document);
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.split('/').collect();
    let (_, item) = doc["paths"]
        .as_object()?
        .iter()
        .filter(|(template, _)| {
            let t: Vec<&str> = template.split('/').collect();
            t.len() == parts.len()
                && t.iter()
                    .zip(&parts)
                    .all(|(t, p)| t.starts_with('{') || t == p)
        })
        // A literal segment wins over a parameter.
        .max_by_key(|(template, _)| {
            template.matches('{').count() * 1000 + usize::MAX / 2 - template.len()
        })?;
    let op = item.get(method.as_str().to_lowercase())?;
    let description = op["responses"][status.to_string()]["description"]
        .as_str()
        .unwrap_or_default();
    Some(
        merchant_incentives::api::document::listed_codes(description)
            .into_iter()
            .map(|c| c.as_str().to_string())
            .collect(),
    )
}
