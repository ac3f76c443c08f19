//! The built binary as a separate process on a port, killed with SIGKILL and restarted in
//! place on the same database.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub const BIN: &str = env!("CARGO_BIN_EXE_merchant-incentives");
/// The admin token every such server accepts.
pub const ADMIN: &str = "crash-admin-token";

/// The server process, restarted in place after every kill.
pub struct Server {
    /// Settings beside the common ones (`NAME`, value).
    pub env: Vec<(String, String)>,
    pub child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    pub database_url: String,
}

impl Server {
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .unwrap();
        let child = Command::new(BIN)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.database_url)
            .env("LISTEN", format!("127.0.0.1:{}", self.port))
            .env("ADMIN_TOKEN", ADMIN)
            .env("SCHEDULER", "off")
            .env("KEY_RATE_PER_SECOND", "100000")
            .env("APPLY_RATE_PER_MINUTE", "100000")
            .env("RUST_LOG", "warn")
            .env("RUN_LEASE_MS", "1500")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `/readyz` answers 200, starting the process again should it have exited
    /// (say, the port was not free yet).
    pub async fn wait_ready(&mut self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", self.base())).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && child.try_wait().unwrap().is_some()
            {
                self.start();
            }
            assert!(
                Instant::now() < deadline,
                "the server did not become ready: {}",
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `GET path` as the admin; the JSON body.
    pub async fn admin_get(&self, http: &reqwest::Client, path: &str) -> serde_json::Value {
        http.get(format!("{}{path}", self.base()))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A merchant applied (application number `n` of `kind`) and approved by the admin: its id
    /// and API key.
    pub async fn approved_merchant(
        &self,
        http: &reqwest::Client,
        kind: &str,
        n: u32,
    ) -> (i64, String) {
        let applied: serde_json::Value = http
            .post(format!("{}/api/v1/merchants", self.base()))
            .json(&super::load::application(kind, n))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = applied["merchant"]["id"].as_i64().unwrap();
        let r = self.decide(http, id, "approve").await;
        assert_eq!(r.status().as_u16(), 200);
        (id, applied["api_key"]["key"].as_str().unwrap().to_string())
    }

    /// A review decision on merchant `id` by the admin.
    pub async fn decide(&self, http: &reqwest::Client, id: i64, action: &str) -> reqwest::Response {
        http.post(format!("{}/api/v1/merchants/{id}/decisions", self.base()))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"action": action, "reason": "复核"}))
            .send()
            .await
            .unwrap()
    }

    /// SIGKILL: no shutdown handler, no flush, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Drops the PostgreSQL database (if one was made) when the test ends, passed or not.
pub struct DropDatabase(pub Option<(String, String)>);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        if let Some((base, name)) = self.0.take() {
            super::drop_database(base, name);
        }
    }
}
