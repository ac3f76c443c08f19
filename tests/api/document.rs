//! The published document reads on its own: every parameter and property says what it is,
//! every JSON success body has an example, and the tags follow the way staff work.

use serde_json::Value;

fn document() -> Value {
    let (json, _) = merchant_incentives::cli::openapi_documents();
    serde_json::from_str(&json).unwrap()
}

fn described(value: &Value) -> bool {
    value["description"]
        .as_str()
        .is_some_and(|d| !d.trim().is_empty())
}

/// The schema a `$ref` names.
fn target<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let name = reference.rsplit('/').next().unwrap();
    &doc["components"]["schemas"][name]
}

/// What a document walker finds missing; empty when the document is complete.
fn missing_descriptions_and_examples(doc: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or(path);
            for p in op["parameters"].as_array().into_iter().flatten() {
                if !described(p) {
                    missing.push(format!(
                        "{method} {path} ({id}): parameter `{}` has no description",
                        p["name"].as_str().unwrap_or("?")
                    ));
                }
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                if !status.starts_with('2') {
                    continue;
                }
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    if !media.starts_with("application/json") {
                        continue;
                    }
                    let has_example = content.get("example").is_some()
                        || content.get("examples").is_some()
                        || content["schema"]["$ref"]
                            .as_str()
                            .is_some_and(|r| target(doc, r).get("example").is_some());
                    if !has_example {
                        missing.push(format!(
                            "{method} {path} ({id}): {status} {media} has no example"
                        ));
                    }
                }
            }
        }
    }
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        for (prop, p) in schema["properties"].as_object().into_iter().flatten() {
            // A plain reference (an enum or an object) is described by the schema it names:
            // a description beside it would need allOf, which some generators cannot read.
            let ok = match p["$ref"].as_str() {
                Some(r) => described(target(doc, r)),
                None => described(p),
            };
            if !ok {
                missing.push(format!("{name}.{prop} has no description"));
            }
        }
    }
    missing
}

#[test]
fn every_parameter_and_property_is_described_and_every_json_success_has_an_example() {
    let missing = missing_descriptions_and_examples(&document());
    assert!(
        missing.is_empty(),
        "{} gaps in the document:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

#[test]
fn the_walker_names_what_is_missing() {
    let mut doc = document();
    let op = &mut doc["paths"]["/api/v1/merchants"]["get"];
    let limit = op["parameters"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["name"] == "limit")
        .unwrap();
    limit.as_object_mut().unwrap().remove("description");
    doc["components"]["schemas"]["Merchant"]
        .as_object_mut()
        .unwrap()
        .remove("example");
    doc["components"]["schemas"]["Program"]["properties"]["name"]
        .as_object_mut()
        .unwrap()
        .remove("description");
    let missing = missing_descriptions_and_examples(&doc);
    for expected in [
        "get /api/v1/merchants (merchants_list): parameter `limit` has no description",
        "get /api/v1/merchants/{id} (merchants_get): 200 application/json; charset=utf-8 has no example",
        "Program.name has no description",
    ] {
        assert!(
            missing.iter().any(|m| m == expected),
            "{expected} not in {missing:#?}"
        );
    }
}

#[test]
fn tags_follow_the_way_staff_work() {
    let doc = document();
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        [
            "Merchants",
            "Me",
            "Gmv",
            "Programs",
            "Evaluations",
            "Creators",
            "Rewards",
            "Reports",
            "Webhooks",
            "Staff",
            "Operations"
        ]
    );
    assert!(doc["tags"].as_array().unwrap().iter().all(described));
}
