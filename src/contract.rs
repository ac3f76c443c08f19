//! What the server needs to know about its operations outside of them: which methods a path
//! takes (the `Allow` header of a 405), which operations need credentials and which only staff
//! may call. Read once from the API types' own metadata (the same metadata the document is
//! generated from), never from the generated document.

use std::{collections::HashSet, sync::OnceLock};

use poem_openapi::OpenApi;

/// The staff bearer-token scheme, as named in the document.
const STAFF_SCHEME: &str = "StaffAuth";

/// One operation: its method (upper case), id and security schemes.
struct OperationEntry {
    method: String,
    id: Option<&'static str>,
    schemes: Vec<&'static str>,
}

/// One path, split into segments (`None` is a `{parameter}`).
struct PathEntry {
    segments: Vec<Option<String>>,
    operations: Vec<OperationEntry>,
}

pub struct Contract {
    paths: Vec<PathEntry>,
    staff_only: HashSet<&'static str>,
}

/// The operations of this build, read once.
pub fn get() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        Contract::new(
            <crate::api::Apis as OpenApi>::meta()
                .into_iter()
                .flat_map(|api| api.paths)
                .map(|p| {
                    let ops = p
                        .operations
                        .into_iter()
                        .map(|op| OperationEntry {
                            method: op.method.as_str().to_ascii_uppercase(),
                            id: op.operation_id,
                            schemes: op.security.iter().flat_map(|s| s.keys().copied()).collect(),
                        })
                        .collect();
                    (p.path, ops)
                }),
        )
    })
}

impl Contract {
    fn new(paths: impl IntoIterator<Item = (String, Vec<OperationEntry>)>) -> Self {
        let mut staff_only = HashSet::new();
        let paths = paths
            .into_iter()
            .map(|(path, operations)| {
                for op in &operations {
                    if op.schemes == [STAFF_SCHEME]
                        && let Some(id) = op.id
                    {
                        staff_only.insert(id);
                    }
                }
                PathEntry {
                    segments: path
                        .split('/')
                        .map(|s| {
                            let param =
                                (s.starts_with('{') && s.ends_with('}')) || s.starts_with(':');
                            (!param).then(|| s.to_string())
                        })
                        .collect(),
                    operations,
                }
            })
            .collect();
        Self { paths, staff_only }
    }

    /// The path matching a request path; literal segments win over parameters.
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

    /// The methods a path takes, for the `Allow` header (`None` for unknown paths).
    pub fn allow(&self, path: &str) -> Option<String> {
        let entry = self.path(path)?;
        let mut methods: Vec<&str> = entry.operations.iter().map(|o| o.method.as_str()).collect();
        if methods.contains(&"GET") {
            methods.push("HEAD");
        }
        Some(methods.join(", "))
    }

    /// Whether the operation at `method path` names any security scheme.
    pub fn needs_credentials(&self, method: &str, path: &str) -> bool {
        self.path(path).is_some_and(|p| {
            p.operations
                .iter()
                .any(|o| o.method == method && !o.schemes.is_empty())
        })
    }

    /// Whether the operation's only security scheme is the staff bearer token.
    pub fn staff_only(&self, operation_id: &str) -> bool {
        self.staff_only.contains(operation_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: &str, id: &'static str, schemes: &[&'static str]) -> OperationEntry {
        OperationEntry {
            method: method.into(),
            id: Some(id),
            schemes: schemes.to_vec(),
        }
    }

    fn sample() -> Contract {
        Contract::new([
            (
                "/api/v1/things".to_string(),
                vec![
                    op("GET", "list", &["StaffAuth", "MerchantAuth"]),
                    op("POST", "make", &["StaffAuth"]),
                ],
            ),
            (
                "/api/v1/things/{id}".to_string(),
                vec![op("DELETE", "drop", &["StaffAuth"])],
            ),
            (
                "/api/v1/things/mine".to_string(),
                vec![op("GET", "mine", &["MerchantAuth"])],
            ),
            ("/healthz".to_string(), vec![op("GET", "health", &[])]),
        ])
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
        assert!(c.staff_only("make"));
        assert!(c.staff_only("drop"));
        assert!(!c.staff_only("list"));
        assert!(c.needs_credentials("GET", "/api/v1/things"));
        assert!(!c.needs_credentials("GET", "/healthz"));
    }

    #[test]
    fn the_build_s_operations_are_read_from_the_types() {
        let c = get();
        assert!(c.staff_only("programs_create"));
        assert!(!c.staff_only("gmv_records_create"));
        assert!(c.needs_credentials("POST", "/api/v1/gmv/records"));
        assert!(!c.needs_credentials("POST", "/api/v1/merchants"));
        assert_eq!(
            c.allow("/api/v1/programs/7").as_deref(),
            Some("GET, PATCH, HEAD")
        );
    }
}
