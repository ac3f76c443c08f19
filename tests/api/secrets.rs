//! No key or token is ever logged or stored in plain text: run the real binary with verbose
//! logs, use every kind of secret, then scan the logs and the database files for them.

use std::{
    io::Read,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_merchant-incentives");
const ADMIN: &str = "admin-secret-7f3a9c1e5b2d4f6a";

#[tokio::test]
async fn secrets_never_reach_logs_or_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = |c: &mut Command| {
        c.current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SCHEDULER", "off")
            .env("ADMIN_TOKEN", ADMIN)
            .env("LOG_FORMAT", "json")
            .env("WEBHOOK_ALLOW_PRIVATE", "true")
            .env("RUST_LOG", "debug,sqlx=debug,sea_orm=debug");
    };
    let mut create = Command::new(BIN);
    env(&mut create);
    let out = create
        .args(["staff", "create", "--name", "carol", "--role", "admin"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let staff_token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let mut logs = String::from_utf8(out.stderr).unwrap();

    let mut serve = Command::new(BIN);
    env(&mut serve);
    let mut child = serve
        .env("LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/readyz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let applied: serde_json::Value = http
        .post(format!("{base}/api/v1/merchants"))
        .json(&json!({"kind": "industry_belt", "legal_name": "义乌市星辰日用品有限公司", "display_name": "星辰",
            "uscc": "91440300708461136T", "contact_email": "ops@xingchen.cn", "province": "浙江",
            "city": "金华", "category": "日用百货", "industry_belt": "义乌小商品"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = applied["api_key"]["key"].as_str().unwrap().to_string();
    let id = applied["merchant"]["id"].as_i64().unwrap();
    let rotated: serde_json::Value = http
        .post(format!("{base}/api/v1/me/api-keys"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second_key = rotated["key"].as_str().unwrap().to_string();
    // A webhook endpoint's signing secret, and the one a rotation issues.
    let hook: serde_json::Value = http
        .post(format!("{base}/api/v1/me/webhooks"))
        .header("X-API-Key", &key)
        .json(&json!({"url": format!("{base}/hooks"), "events": ["merchant.decision"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook_secret = hook["secret"].as_str().unwrap().to_string();
    let hook_rotated: serde_json::Value = http
        .post(format!(
            "{base}/api/v1/me/webhooks/{}/rotate-secret",
            hook["id"]
        ))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook_second = hook_rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(hook_secret, hook_second);
    // A creator key, issued and used.
    let registered = http
        .post(format!("{base}/api/v1/creators"))
        .bearer_auth(ADMIN)
        .json(&json!({"creators": [{"id": "dy_secret", "nickname": "保密达人"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 200);
    let creator_key: serde_json::Value = http
        .post(format!("{base}/api/v1/creators/dy_secret/api-keys"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let creator_key = creator_key["key"].as_str().unwrap().to_string();
    let own = http
        .get(format!("{base}/api/v1/creators/dy_secret"))
        .header("x-api-key", &creator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status().as_u16(), 200);
    for (header, value) in [
        ("authorization", format!("Bearer {ADMIN}")),
        ("authorization", format!("Bearer {staff_token}")),
        ("authorization", format!("Bearer {staff_token}x")),
        ("x-api-key", key.clone()),
        ("x-api-key", second_key.clone()),
        ("x-api-key", format!("{key}x")),
    ] {
        for path in [
            "/api/v1/merchants",
            "/api/v1/me",
            &format!("/api/v1/merchants/{id}"),
        ] {
            let r = http
                .get(format!("{base}{path}"))
                .header(header, &value)
                .send()
                .await
                .unwrap();
            assert!(r.status().as_u16() < 500);
        }
    }
    let approve = http
        .post(format!("{base}/api/v1/merchants/{id}/decisions"))
        .bearer_auth(&staff_token)
        .json(&json!({"action": "approve", "reason": "ok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(approve.status().as_u16(), 200);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("served"), "the run produced request logs");
    let serve_logs = logs
        .lines()
        .filter(|l| l.contains("\"served\""))
        .collect::<Vec<_>>();
    assert!(!serve_logs.is_empty());
    for line in serve_logs {
        let v: serde_json::Value =
            serde_json::from_str(line).expect("LOG_FORMAT=json logs are JSON lines");
        assert!(
            v["status"].is_number() && v["operation"].is_string(),
            "{line}"
        );
    }

    let mut stored = Vec::new();
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            stored.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(stored.len() > 10_000, "the database files were read");
    let stored = String::from_utf8_lossy(&stored);
    for secret in [
        ADMIN,
        staff_token.as_str(),
        key.as_str(),
        second_key.as_str(),
        hook_secret.as_str(),
        hook_second.as_str(),
        creator_key.as_str(),
    ] {
        // The whole secret, and its random part without the visible prefix.
        let random_part = &secret[secret.len() - 24..];
        assert!(!logs.contains(random_part), "a secret reached the logs");
        assert!(!stored.contains(random_part), "a secret is stored in clear");
    }
}
