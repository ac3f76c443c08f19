//! A PostgreSQL server of the test's own: `initdb` into a temporary directory, started with
//! `pg_ctl` on a free port, so a test may stop it, restart it, or stream it to a standby
//! without touching the machine's shared server. Debian's PostgreSQL binaries; run as the
//! `postgres` user when the tests run as root (PostgreSQL refuses to run as root).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// The directory of the PostgreSQL server binaries (`initdb`, `pg_ctl`, `pg_basebackup`).
pub fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// Why a test that needs its own PostgreSQL is skipped, if it is: no PostgreSQL test run
/// (`TEST_DATABASE_URL`), or no server binaries on this machine.
pub fn skip_reason() -> Option<&'static str> {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        return Some("it runs with the PostgreSQL suite (TEST_DATABASE_URL=postgres://…)");
    }
    if bin_dir().is_none() {
        panic!("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are missing");
    }
    None
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL tool, as `postgres` when we are root; panics with its output on failure.
pub fn run(tool: &str, args: &[&str]) {
    let bin = bin_dir().expect("PostgreSQL binaries").join(tool);
    let out = if as_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&bin)
            .args(args)
            .output()
    } else {
        Command::new(&bin).args(args).output()
    }
    .unwrap_or_else(|e| panic!("running {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A directory the `postgres` user owns, private to it (PostgreSQL insists on both for its
/// data directory).
pub fn owned_dir(parent: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    if as_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(parent)
            .status()
            .unwrap();
        assert!(status.success());
    }
    dir
}

/// One PostgreSQL server: its data directory and port.
pub struct Cluster {
    pub data: PathBuf,
    pub port: u16,
    running: bool,
}

impl Cluster {
    /// A new server (trust authentication, replication allowed from localhost), started.
    pub fn start_new(parent: &Path, name: &str) -> Self {
        let data = owned_dir(parent, name);
        let d = data.to_str().unwrap();
        run(
            "initdb",
            &[
                "-D",
                d,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let port = super::free_port();
        // Sockets beside the data directories, not in them (a base backup would copy them).
        let sockets = parent.to_str().unwrap();
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{sockets}'\n\
             wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\nfsync = off\n\
             shared_buffers = 32MB\n"
        );
        append(&data.join("postgresql.conf"), &conf);
        append(
            &data.join("pg_hba.conf"),
            "host replication all 127.0.0.1/32 trust\n",
        );
        let mut c = Self {
            data,
            port,
            running: false,
        };
        c.start();
        c
    }

    /// A server over an existing data directory (a standby made by `pg_basebackup`).
    pub fn over(data: PathBuf, port: u16) -> Self {
        Self {
            data,
            port,
            running: false,
        }
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn start(&mut self) {
        let d = self.data.to_str().unwrap().to_string();
        let log = format!("{d}/server.log");
        run(
            "pg_ctl",
            &[
                "-D",
                &d,
                "-l",
                &log,
                "-o",
                &format!("-p {}", self.port),
                "-w",
                "start",
            ],
        );
        self.running = true;
    }

    /// Stops the server: `fast` or `immediate` (a crash: no checkpoint, clients cut off).
    pub fn stop(&mut self, mode: &str) {
        let d = self.data.to_str().unwrap().to_string();
        run("pg_ctl", &["-D", &d, "-m", mode, "-w", "stop"]);
        self.running = false;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            let d = self.data.to_str().unwrap().to_string();
            let bin = bin_dir().unwrap().join("pg_ctl");
            let _ = if as_root() {
                Command::new("runuser")
                    .args(["-u", "postgres", "--"])
                    .arg(bin)
                    .args(["-D", &d, "-m", "immediate", "stop"])
                    .output()
            } else {
                Command::new(bin)
                    .args(["-D", &d, "-m", "immediate", "stop"])
                    .output()
            };
        }
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}
