//! What the operations' types cannot say for themselves: which methods a path takes, for the
//! `Allow` header of a 405. Read once from the API types' own metadata (the same metadata the
//! document is generated from), never from the generated document.

use std::sync::OnceLock;

use poem_openapi::OpenApi;

/// One path, split into segments (`None` is a `{parameter}`), with its methods (upper case).
struct PathEntry {
    segments: Vec<Option<String>>,
    methods: Vec<String>,
}

pub struct Contract {
    paths: Vec<PathEntry>,
}

/// The paths of this build, read once.
pub fn get() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        Contract::new(
            <crate::api::Apis as OpenApi>::meta()
                .into_iter()
                .flat_map(|api| api.paths)
                .map(|p| {
                    let methods = p
                        .operations
                        .iter()
                        .map(|op| op.method.as_str().to_ascii_uppercase())
                        .collect();
                    (p.path, methods)
                }),
        )
    })
}

impl Contract {
    fn new(paths: impl IntoIterator<Item = (String, Vec<String>)>) -> Self {
        let paths = paths
            .into_iter()
            .map(|(path, methods)| PathEntry {
                segments: path
                    .split('/')
                    .map(|s| {
                        let param = (s.starts_with('{') && s.ends_with('}')) || s.starts_with(':');
                        (!param).then(|| s.to_string())
                    })
                    .collect(),
                methods,
            })
            .collect();
        Self { paths }
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
        let mut methods: Vec<&str> = entry.methods.iter().map(String::as_str).collect();
        if methods.contains(&"GET") {
            methods.push("HEAD");
        }
        Some(methods.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Contract {
        let m = |ms: &[&str]| ms.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Contract::new([
            ("/api/v1/things".to_string(), m(&["GET", "POST"])),
            ("/api/v1/things/{id}".to_string(), m(&["DELETE"])),
            ("/api/v1/things/mine".to_string(), m(&["GET"])),
            ("/healthz".to_string(), m(&["GET"])),
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
    fn the_build_s_paths_are_read_from_the_types() {
        assert_eq!(
            get().allow("/api/v1/programs/7").as_deref(),
            Some("GET, PATCH, HEAD")
        );
    }
}
