//! Templates live in `src/mail/templates/<kind>/{subject.txt,text.txt,html.html}` and are
//! compiled into the binary. HTML is auto-escaped; subject and text are not.

use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use super::{EmailKind, Rendered};

macro_rules! kind {
    ($env:ident, $kind:literal) => {
        $env.add_template(
            concat!($kind, "/subject.txt"),
            include_str!(concat!("templates/", $kind, "/subject.txt")),
        )
        .expect("subject template compiles");
        $env.add_template(
            concat!($kind, "/text.txt"),
            include_str!(concat!("templates/", $kind, "/text.txt")),
        )
        .expect("text template compiles");
        $env.add_template(
            concat!($kind, "/html.html"),
            include_str!(concat!("templates/", $kind, "/html.html")),
        )
        .expect("html template compiles");
    };
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_template("chart.html", include_str!("templates/chart.html"))
            .expect("the chart partial compiles");
        kind!(env, "onboarding_status");
        kind!(env, "tier_achieved");
        kind!(env, "merchant_weekly");
        kind!(env, "staff_daily");
        kind!(env, "near_tier");
        kind!(env, "at_risk");
        kind!(env, "webhook_disabled");
        kind!(env, "creator_weekly");
        env
    })
}

/// Renders the three parts of `kind` with `ctx`.
pub fn render<C: Serialize>(kind: EmailKind, ctx: &C) -> anyhow::Result<Rendered> {
    let env = env();
    let part = |p: &str| -> anyhow::Result<String> {
        Ok(env.get_template(&format!("{kind}/{p}"))?.render(ctx)?)
    };
    Ok(Rendered {
        subject: part("subject.txt")?.trim().replace(['\r', '\n'], " "),
        text: part("text.txt")?,
        html: part("html.html")?,
        images: Vec::new(),
    })
}
