//! The shape of `src/`: layers call downward only, and the file-level import graph has no
//! cycle. Read from the source files, so a new file is covered the moment it exists.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// Every module of `src/` (`api::gmv`, `services::reports`, …) with its source, tests left out.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let text = match text.find("#[cfg(test)]\nmod tests") {
                    Some(i) => text[..i].to_string(),
                    None => text,
                };
                out.insert(parts.join("::"), text);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// The paths a `use` group names: `prefix` joined to each of `{a, b::{c, d}}`.
fn expand(prefix: &str, body: &str, out: &mut Vec<String>) {
    let body = body.trim();
    if let Some(inner) = body.strip_prefix('{').and_then(|b| b.strip_suffix('}')) {
        let (mut depth, mut start) = (0, 0);
        let bytes = inner.as_bytes();
        for i in 0..=bytes.len() {
            match bytes.get(i) {
                Some(b'{') => depth += 1,
                Some(b'}') => depth -= 1,
                Some(b',') | None if depth == 0 => {
                    expand(prefix, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
    } else if let Some((head, rest)) = body.split_once("::")
        && !head.contains('{')
    {
        expand(&format!("{prefix}{head}::"), rest, out);
    } else if !body.is_empty() {
        let name = body.split(" as ").next().unwrap().trim();
        out.push(
            format!("{prefix}{name}")
                .trim_end_matches("::self")
                .to_string(),
        );
    }
}

/// The paths a `use crate::…` or `crate::…` mention names, with `{…}` groups expanded.
fn crate_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let end = if rest.starts_with('{')
            || rest
                .split(['{', ';'])
                .next()
                .is_some_and(|s| s.ends_with("::"))
        {
            // A `use` group: up to the end of the statement.
            rest.find(';').unwrap_or(rest.len())
        } else {
            rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len())
        };
        expand("", &rest[..end], &mut out);
    }
    out
}

/// The module a path lands in: its longest prefix that is a module.
fn owner(path: &str, modules: &BTreeMap<String, String>) -> Option<String> {
    let segs: Vec<&str> = path.split("::").collect();
    (1..=segs.len())
        .rev()
        .map(|n| segs[..n].join("::"))
        .find(|m| modules.contains_key(m))
}

/// Module → the modules it names (through `crate::`, `super::` or a child's name).
fn graph(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges = BTreeMap::new();
    for (name, text) in modules {
        let mut deps = BTreeSet::new();
        for p in crate_paths(text) {
            deps.extend(owner(&p, modules));
        }
        let parent = name.rsplit_once("::").map_or("", |(p, _)| p);
        for (i, _) in text.match_indices("super::") {
            let rest = &text[i + "super::".len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            if end > 0 {
                let full = if parent.is_empty() {
                    rest[..end].to_string()
                } else {
                    format!("{parent}::{}", &rest[..end])
                };
                deps.extend(owner(&full, modules));
            }
            // `use super::{a, b::{c, d}}`
            if rest.starts_with('{') {
                let group = &rest[..rest.find(';').unwrap_or(rest.len())];
                let prefix = if parent.is_empty() {
                    String::new()
                } else {
                    format!("{parent}::")
                };
                let mut paths = Vec::new();
                expand(&prefix, group, &mut paths);
                for p in paths {
                    deps.extend(owner(&p, modules));
                }
            }
        }
        // A parent naming its child (`ops::OpsApi` in `api/mod.rs`).
        let prefix = if name.is_empty() {
            String::new()
        } else {
            format!("{name}::")
        };
        for child in modules
            .keys()
            .filter(|m| m.starts_with(&prefix) && !m[prefix.len()..].contains("::") && *m != name)
        {
            let short = &child[prefix.len()..];
            if text.match_indices(&format!("{short}::")).any(|(i, _)| {
                i == 0
                    || !text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
            }) {
                deps.insert(child.clone());
            }
        }
        deps.remove(name);
        deps.remove("");
        edges.insert(name.clone(), deps);
    }
    edges
}

#[test]
fn the_module_graph_has_no_cycle() {
    let modules = modules();
    let edges = graph(&modules);
    assert!(edges.len() > 30, "read {} modules", edges.len());
    assert!(
        edges["api::gmv"].contains("services::gmv"),
        "the graph sees uses: {:?}",
        edges["api::gmv"]
    );
    // Depth-first search for a back edge.
    fn visit<'a>(
        m: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, bool>,
        stack: &mut Vec<&'a str>,
    ) {
        match state.get(m) {
            Some(true) => return,
            Some(false) => {
                let at = stack.iter().position(|s| *s == m).unwrap();
                panic!("import cycle: {} -> {m}", stack[at..].join(" -> "));
            }
            None => {}
        }
        state.insert(m, false);
        stack.push(m);
        for d in &edges[m] {
            visit(d, edges, state, stack);
        }
        stack.pop();
        state.insert(m, true);
    }
    let mut state = BTreeMap::new();
    for m in edges.keys() {
        visit(m, &edges, &mut state, &mut Vec::new());
    }
}

#[test]
fn services_domain_jobs_and_mail_know_nothing_of_http() {
    let modules = modules();
    let edges = graph(&modules);
    let lower = [
        "services",
        "domain",
        "jobs",
        "mail",
        "pagination",
        "error_code",
    ];
    let web = [
        "api",
        "app",
        "auth",
        "contract",
        "error",
        "state",
        "metrics",
        "ratelimit",
    ];
    let mut leaks = Vec::new();
    for (m, deps) in &edges {
        if !lower
            .iter()
            .any(|l| m == l || m.starts_with(&format!("{l}::")))
        {
            continue;
        }
        for d in deps {
            if web
                .iter()
                .any(|w| d == w || d.starts_with(&format!("{w}::")))
            {
                leaks.push(format!("{m} -> {d}"));
            }
        }
        let text = &modules[m];
        for web_type in ["poem::", "AppState", "AppError", "StatusCode"] {
            if text.contains(web_type) {
                leaks.push(format!("{m} mentions {web_type}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "web types below the API layer: {leaks:#?}"
    );
}
