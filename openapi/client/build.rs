//! Generates the client from the committed OpenAPI document. Nothing in the generated code is
//! written by hand.

use std::{env, fs, path::Path};

fn main() {
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
    // Relative, so cargo resolves it in whichever checkout builds: an absolute path would keep
    // pointing at the checkout that first filled a shared target directory.
    println!("cargo:rerun-if-changed=../openapi.json");
    let text = fs::read_to_string(&spec_path).expect("openapi/openapi.json exists");
    let spec: openapiv3::OpenAPI =
        serde_json::from_str(&text).expect("the document parses as OpenAPI 3.0");
    let mut generator = progenitor::Generator::default();
    let tokens = generator
        .generate_tokens(&spec)
        .expect("progenitor generates the client");
    let file: syn::File = syn::parse2(tokens).expect("generated code parses");
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("codegen.rs");
    fs::write(out, prettyplease::unparse(&file)).expect("write generated client");
}
