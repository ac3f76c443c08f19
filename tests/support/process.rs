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
