//! The binary itself: configuration errors, serving, graceful shutdown, the CLI.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_merchant-incentives");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn base_command(dir: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SCHEDULER", "off")
        .env("RUST_LOG", "info");
    c
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("DATABASE_URL", "mysql://nope"),
        ("SCHEDULE_EVALUATE", "every minute"),
        ("LISTEN", "nowhere"),
        ("SMTP_URL", "ftp://mail"),
    ] {
        let out = base_command(dir.path()).env(var, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(var), "names {var}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
    }
}

#[test]
fn settings_are_read_from_a_dot_env_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "APPLY_RATE_PER_MINUTE=0\n").unwrap();
    let out = base_command(dir.path()).arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.trim(),
        "error: configuration error: APPLY_RATE_PER_MINUTE: must be greater than zero"
    );
    // The environment wins over the file.
    let out = base_command(dir.path())
        .env("APPLY_RATE_PER_MINUTE", "5")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn staff_create_prints_a_token_once_and_migrate_works() {
    let dir = tempfile::tempdir().unwrap();
    let out = base_command(dir.path()).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.path().join("data/merchant-incentives.db").exists(),
        "the embedded default database"
    );
    let out = base_command(dir.path())
        .args(["staff", "create", "--name", "alice", "--role", "reviewer"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("mis_") && token.len() > 40, "{token}");
    let out = base_command(dir.path())
        .args(["staff", "create", "--name", "bob", "--role", "owner"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// Serves on the embedded default, answers, and on SIGTERM lets an in-flight request finish.
#[test]
fn serves_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = base_command(dir.path())
        .env("LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The port accepts connections once bound, before the server serves: wait for an answer.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answered = TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        });
        match answered {
            Ok(out) if out.starts_with("HTTP/1.1 200") => break,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("server did not start: {other:?}"),
        }
    }
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // Send half of an application, then SIGTERM, then the rest: the request must still complete.
    let body = r#"{"kind":"industry_belt","legal_name":"义乌市星辰日用品有限公司","display_name":"星辰","uscc":"91440300708461136T","contact_email":"ops@xingchen.cn","province":"浙江","city":"金华","category":"日用百货","industry_belt":"义乌小商品"}"#;
    let head = format!(
        "POST /api/v1/merchants HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..20]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(&body.as_bytes()[20..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "in-flight request finished: {response}"
    );
    // The logs are read beside the wait, and the wait has a deadline: a server that does not
    // stop fails the test with its logs instead of hanging it.
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut logs = String::new();
        let _ = stderr.read_to_string(&mut logs);
        logs
    });
    let stop_by = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if Instant::now() > stop_by {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no exit 30 s after SIGTERM: {}", reader.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let logs = reader.join().unwrap();
    assert!(exit.success(), "clean exit after SIGTERM: {exit:?} {logs}");
    assert!(logs.contains("shutting down"), "{logs}");
    // A new connection is refused once stopped.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn openapi_prints_the_committed_document() {
    let dir = tempfile::tempdir().unwrap();
    let out = base_command(dir.path()).args(["openapi"]).output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}
