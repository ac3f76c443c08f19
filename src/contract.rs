//! The API document, read back at run time so the server enforces what it publishes in one
//! place: which methods a path takes (the `Allow` header of a 405), which operations need
//! credentials and which only staff may call, and where a request body may hold `null`.

use std::{collections::HashSet, sync::OnceLock};

use serde_json::Value;

/// One path of the document, split into segments (`None` is a `{parameter}`).
struct PathEntry {
    segments: Vec<Option<String>>,
    /// Upper-case method → operation object.
    operations: Vec<(String, Value)>,
}

pub struct Contract {
    doc: Value,
    paths: Vec<PathEntry>,
    staff_only: HashSet<String>,
}

/// The document of this build, parsed once.
pub fn get() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let doc: Value = serde_json::from_str(&crate::api::service().spec())
            .expect("the generated document is JSON");
        Contract::new(doc)
    })
}

fn schemes(op: &Value) -> Vec<&str> {
    op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|s| s.keys().map(String::as_str))
        .collect()
}

impl Contract {
    pub fn new(doc: Value) -> Self {
        let mut paths = Vec::new();
        let mut staff_only = HashSet::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            let segments = path
                .split('/')
                .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_string()))
                .collect();
            let mut operations = Vec::new();
            for (method, op) in item.as_object().into_iter().flatten() {
                if schemes(op) == ["StaffAuth"]
                    && let Some(id) = op["operationId"].as_str()
                {
                    staff_only.insert(id.to_string());
                }
                operations.push((method.to_ascii_uppercase(), op.clone()));
            }
            paths.push(PathEntry {
                segments,
                operations,
            });
        }
        Self {
            doc,
            paths,
            staff_only,
        }
    }

    /// The document path matching a request path; literal segments win over parameters.
    fn path(&self, path: &str) -> Option<&PathEntry> {
        let parts: Vec<&str> = path.split('/').collect();
        self.paths
            .iter()
            .filter(|p| {
                p.segments.len() == parts.len()
                    && p.segments.iter().zip(&parts).all(|(s, part)| match s {
                        Some(lit) => lit == part,
                        None => !part.is_empty(),
                    })
            })
            .max_by_key(|p| p.segments.iter().filter(|s| s.is_some()).count())
    }

    fn operation(&self, method: &str, path: &str) -> Option<&Value> {
        self.path(path)?
            .operations
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, op)| op)
    }

    /// The methods a path takes, for the `Allow` header (`None` for paths not in the document).
    pub fn allow(&self, path: &str) -> Option<String> {
        let entry = self.path(path)?;
        let mut methods: Vec<&str> = entry.operations.iter().map(|(m, _)| m.as_str()).collect();
        if methods.contains(&"GET") {
            methods.push("HEAD");
        }
        Some(methods.join(", "))
    }

    /// Whether the operation at `method path` names any security scheme.
    pub fn needs_credentials(&self, method: &str, path: &str) -> bool {
        self.operation(method, path)
            .is_some_and(|op| !schemes(op).is_empty())
    }

    /// Operation ids whose only security scheme is the staff bearer token.
    pub fn staff_only(&self) -> &HashSet<String> {
        &self.staff_only
    }

    /// The JSON schema of the operation's request body, if it takes one.
    pub fn body_schema(&self, method: &str, path: &str) -> Option<&Value> {
        let op = self.operation(method, path)?;
        op.pointer("/requestBody/content/application~1json; charset=utf-8/schema")
            .or_else(|| op.pointer("/requestBody/content/application~1json/schema"))
    }

    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        while let Some(r) = schema["$ref"].as_str() {
            match r
                .strip_prefix("#/")
                .and_then(|p| self.doc.pointer(&format!("/{p}")))
            {
                Some(s) => schema = s,
                None => break,
            }
        }
        schema
    }

    /// The dotted path of the first `null` in `value` where `schema` does not allow one.
    /// Properties the schema does not name are not looked into (they are ignored anyway).
    pub fn forbidden_null(&self, schema: &Value, value: &Value) -> Option<String> {
        let mut path = Vec::new();
        self.walk(schema, value, &mut path).then(|| path.join("."))
    }

    fn walk(&self, schema: &Value, value: &Value, path: &mut Vec<String>) -> bool {
        let schema = self.resolve(schema);
        let nullable = schema["nullable"].as_bool() == Some(true);
        match value {
            Value::Null => !nullable,
            Value::Object(fields) => {
                let Some(props) = schema["properties"].as_object() else {
                    return false;
                };
                for (name, v) in fields {
                    if let Some(sub) = props.get(name) {
                        path.push(name.clone());
                        if self.walk(sub, v, path) {
                            return true;
                        }
                        path.pop();
                    }
                }
                false
            }
            Value::Array(items) => {
                let item_schema = &schema["items"];
                if item_schema.is_null() {
                    return false;
                }
                for (i, v) in items.iter().enumerate() {
                    path.push(i.to_string());
                    if self.walk(item_schema, v, path) {
                        return true;
                    }
                    path.pop();
                }
                false
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> Contract {
        Contract::new(json!({
            "paths": {
                "/api/v1/things": {
                    "get": {"operationId": "list", "security": [{"StaffAuth": []}, {"MerchantAuth": []}]},
                    "post": {"operationId": "make", "security": [{"StaffAuth": []}],
                        "requestBody": {"content": {"application/json; charset=utf-8": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}
                },
                "/api/v1/things/{id}": {"delete": {"operationId": "drop", "security": [{"StaffAuth": []}]}},
                "/api/v1/things/mine": {"get": {"operationId": "mine", "security": [{"MerchantAuth": []}]}},
                "/healthz": {"get": {"operationId": "health"}}
            },
            "components": {"schemas": {
                "Thing": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "ends_on": {"type": "string", "nullable": true},
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}
                }},
                "Item": {"type": "object", "properties": {"amount": {"type": "integer"}}}
            }}
        }))
    }

    #[test]
    fn allow_lists_the_methods_of_the_matching_path() {
        let c = sample();
        assert_eq!(
            c.allow("/api/v1/things").as_deref(),
            Some("GET, POST, HEAD")
        );
        assert_eq!(c.allow("/api/v1/things/7").as_deref(), Some("DELETE"));
        // A literal segment wins over a parameter.
        assert_eq!(c.allow("/api/v1/things/mine").as_deref(), Some("GET, HEAD"));
        assert_eq!(c.allow("/api/v1/nothing"), None);
        assert_eq!(c.allow("/api/v1/things/"), None);
    }

    #[test]
    fn staff_only_and_credentials_come_from_security() {
        let c = sample();
        assert!(c.staff_only().contains("make"));
        assert!(c.staff_only().contains("drop"));
        assert!(!c.staff_only().contains("list"));
        assert!(c.needs_credentials("GET", "/api/v1/things"));
        assert!(!c.needs_credentials("GET", "/healthz"));
    }

    #[test]
    fn nulls_are_refused_unless_the_schema_is_nullable() {
        let c = sample();
        let schema = c.body_schema("POST", "/api/v1/things").unwrap().clone();
        let null_at = |v: Value| c.forbidden_null(&schema, &v);
        assert_eq!(null_at(json!({"name": "x"})), None);
        assert_eq!(null_at(json!({"ends_on": null})), None);
        assert_eq!(null_at(json!({"name": null})), Some("name".into()));
        assert_eq!(
            null_at(json!({"items": [{"amount": 1}, {"amount": null}]})),
            Some("items.1.amount".into())
        );
        assert_eq!(null_at(json!({"items": [null]})), Some("items.0".into()));
        // Properties the schema does not name are ignored, as the server ignores them.
        assert_eq!(null_at(json!({"extra": null})), None);
    }
}
