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

/// A command for `program`, run as `postgres` when we are root.
fn as_postgres(program: impl AsRef<std::ffi::OsStr>) -> Command {
    if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A PostgreSQL server tool (`initdb`, `pg_ctl`, `pg_basebackup`) run as [`as_postgres`].
fn tool(name: &str) -> Command {
    as_postgres(bin_dir().expect("PostgreSQL binaries").join(name))
}

/// Runs a PostgreSQL tool; panics with its output on failure.
pub fn run(name: &str, args: &[&str]) {
    let out = tool(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}{}",
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

    /// A hot standby of this server, streaming from it: `pg_basebackup -R` into `parent/name`,
    /// started on a port of its own.
    pub fn standby(&self, parent: &Path, name: &str) -> Cluster {
        let data = owned_dir(parent, name);
        run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-D",
                data.to_str().unwrap(),
                "-R",
                "-X",
                "stream",
            ],
        );
        let mut standby = Cluster::over(data, super::free_port());
        standby.start();
        standby
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn start(&mut self) {
        let d = self.data.to_str().unwrap().to_string();
        let log = format!("{d}/server.log");
        let started = tool("pg_ctl")
            .args([
                "-D",
                &d,
                "-l",
                &log,
                "-o",
                &format!("-p {}", self.port),
                "-w",
                "start",
            ])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            started,
            "PostgreSQL did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
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
            let _ = tool("pg_ctl")
                .args(["-D", &d, "-m", "immediate", "stop"])
                .output();
        }
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// A `pgbouncer` in front of one server: the stable address clients use, repointed at
/// another server by rewriting its configuration and reloading it (SIGHUP).
pub struct Bouncer {
    pub port: u16,
    dir: PathBuf,
    child: std::process::Child,
}

impl Bouncer {
    pub fn start(parent: &Path, target_port: u16) -> Self {
        let dir = owned_dir(parent, "pgbouncer");
        std::fs::write(dir.join("users.txt"), "\"postgres\" \"\"\n").unwrap();
        let port = super::free_port();
        let mut b = Self {
            port,
            dir: dir.clone(),
            child: {
                Self::configure(&dir, port, target_port);
                let ini = dir.join("pgbouncer.ini");
                as_postgres("pgbouncer")
                    .arg(&ini)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("pgbouncer (Debian package pgbouncer) runs")
            },
        };
        b.wait_listening();
        b
    }

    fn configure(dir: &Path, port: u16, target_port: u16) {
        let d = dir.to_str().unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\npostgres = host=127.0.0.1 port={target_port} dbname=postgres\n\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {d}/users.txt\npool_mode = session\n\
                 max_client_conn = 200\ndefault_pool_size = 50\nserver_login_retry = 1\n\
                 ignore_startup_parameters = extra_float_digits\nquery_wait_timeout = 2\n\
                 logfile = {d}/pgbouncer.log\npidfile = {d}/pgbouncer.pid\n"
            ),
        )
        .unwrap();
        if as_root() {
            let _ = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir)
                .status();
        }
    }

    fn wait_listening(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "pgbouncer exited: {}",
                std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
            );
            assert!(
                std::time::Instant::now() < deadline,
                "pgbouncer did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Points the stable address at the server on `target_port`.
    pub fn repoint(&mut self, target_port: u16) {
        Self::configure(&self.dir, self.port, target_port);
        assert!(self.signal("-HUP"), "pgbouncer did not take SIGHUP");
    }

    /// Signals pgbouncer itself (by its pidfile; `runuser` does not pass signals on).
    fn signal(&self, sig: &str) -> bool {
        let Ok(pid) = std::fs::read_to_string(self.dir.join("pgbouncer.pid")) else {
            return false;
        };
        Command::new("kill")
            .args([sig, pid.trim()])
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        self.signal("-INT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The one BIGINT value of `sql`.
pub async fn scalar(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}
