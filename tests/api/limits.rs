//! Abuse limits: per-credential rate limits, server-side timeouts for stalled clients.

use crate::support;

use std::time::{Duration, Instant};

use support::{As, spawn_app_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn each_key_and_token_has_a_request_budget() {
    let app = spawn_app_with(&[("KEY_RATE_PER_SECOND", "1")]).await;
    let (_, key) = app.register_merchant("brand").await;
    // Burst of twice the rate, then 429 with Retry-After.
    app.get("/api/v1/me", &As::Merchant(key.clone()))
        .await
        .expect(200);
    app.get("/api/v1/me", &As::Merchant(key.clone()))
        .await
        .expect(200);
    let r = app
        .get("/api/v1/me", &As::Merchant(key.clone()))
        .await
        .expect_error(429, "rate_limited");
    assert_eq!(r.headers["retry-after"], "1");
    // Another credential has its own budget.
    let (_, other) = app.register_merchant("brand").await;
    app.get("/api/v1/me", &As::Merchant(other))
        .await
        .expect(200);
    app.get("/api/v1/staff/me", &As::Admin).await.expect(200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.get("/api/v1/me", &As::Merchant(key)).await.expect(200);
}

#[tokio::test]
async fn a_stalled_client_is_cut_off() {
    let app = spawn_app_with(&[("REQUEST_TIMEOUT_MS", "500")]).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // Promise 100 bytes of body, send 10, then stall.
    stream
        .write_all(b"POST /api/v1/merchants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"kind\":\"b")
        .await
        .unwrap();
    let started = Instant::now();
    let mut response = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    assert!(
        read.is_ok(),
        "the server let a stalled client hold the connection"
    );
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("\"code\":\"timeout\""), "{text}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
