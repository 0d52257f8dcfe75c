//! The `callflow` binary as a user runs it: bad configuration, unreachable database, a taken
//! port, seeding, and graceful shutdown on SIGINT and SIGTERM.

use crate::helpers::TestDb;
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn callflow(db: &TestDb) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callflow"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CALLFLOW_DATABASE__URL", &db.url)
        .env("CALLFLOW_DATABASE__STARTUP_RETRY_SECS", "0")
        .env("CALLFLOW_LOGGING__LEVEL", "warn")
        .env("CALLFLOW_SERVER__WORKERS", "1")
        // Run from a folder without a config.toml, so only defaults and variables apply.
        .current_dir(std::env::temp_dir());
    command
}

fn run(command: &mut Command) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("callflow runs");
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn one_line(text: &str) -> &str {
    let lines: Vec<_> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{text}");
    assert!(
        !text.contains("panicked") && !text.contains("backtrace"),
        "{text}"
    );
    lines[0]
}

#[test]
fn an_unknown_config_key_exits_2_naming_the_key() {
    let db = TestDb::sqlite();
    let (code, _, stderr) = run(callflow(&db)
        .env("CALLFLOW_SERVER__PROT", "1")
        .arg("check-config"));
    assert_eq!(code, Some(2));
    let line = one_line(&stderr);
    assert!(
        line.contains("`server.prot`") && line.contains("CALLFLOW_SERVER__PROT"),
        "{line}"
    );
}

#[test]
fn a_bad_value_in_a_config_file_exits_2_naming_key_and_file() {
    let db = TestDb::sqlite();
    let file = std::env::temp_dir().join(format!(
        "callflow-cli-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&file, "[scheduling]\nslot_interval_minutes = -5\n").expect("writable");
    let (code, _, stderr) = run(callflow(&db).arg("--config").arg(&file).arg("serve"));
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, Some(2));
    let line = one_line(&stderr);
    assert!(
        line.contains("`scheduling.slot_interval_minutes`")
            && line.contains(&file.display().to_string()),
        "{line}"
    );
}

#[test]
fn check_config_never_prints_secrets() {
    let db = TestDb::sqlite();
    let (code, stdout, _) = run(callflow(&db)
        .env("CALLFLOW_RETELL__API_KEY", "key_very_secret_value")
        .env(
            "CALLFLOW_DATABASE__URL",
            "postgres://callflow:db_password_123@db.internal/callflow",
        )
        .arg("check-config"));
    assert_eq!(code, Some(0));
    assert!(stdout.contains("configuration is valid"));
    assert!(
        !stdout.contains("key_very_secret_value") && !stdout.contains("db_password_123"),
        "{stdout}"
    );
}

#[test]
fn an_unreachable_database_exits_1_with_one_clear_line() {
    let db = TestDb::sqlite();
    let (code, _, stderr) = run(callflow(&db)
        .env(
            "CALLFLOW_DATABASE__URL",
            "postgres://callflow:pw@127.0.0.1:1/callflow",
        )
        .env("CALLFLOW_DATABASE__STARTUP_RETRY_SECS", "1")
        .env("CALLFLOW_LOGGING__LEVEL", "off")
        .arg("serve"));
    assert_eq!(code, Some(1));
    let line = one_line(&stderr);
    assert!(
        line.contains("unreachable") && line.contains("127.0.0.1:1"),
        "{line}"
    );
    assert!(
        !line.contains(":pw@"),
        "the password is not printed: {line}"
    );
}

#[test]
fn a_port_in_use_exits_1_with_one_clear_line() {
    let db = TestDb::sqlite();
    let taken = TcpListener::bind("127.0.0.1:0").expect("free port");
    let addr = taken.local_addr().expect("bound").to_string();
    let (code, _, stderr) = run(callflow(&db)
        .env("CALLFLOW_SERVER__BIND", &addr)
        .env("CALLFLOW_LOGGING__LEVEL", "off"));
    assert_eq!(code, Some(1));
    let line = one_line(&stderr);
    assert!(line.contains(&format!("cannot listen on {addr}")), "{line}");
}

#[test]
fn seed_demo_is_idempotent_and_migrate_reverts_and_reapplies() {
    let db = TestDb::sqlite();
    for _ in 0..2 {
        let (code, stdout, stderr) = run(callflow(&db).args(["seed", "--demo"]));
        assert_eq!(code, Some(0), "{stderr}");
        assert!(
            stdout.contains("3 branches, 12 staff, 7 services, 3 customers"),
            "{stdout}"
        );
    }
    for args in [&["migrate", "--revert"][..], &["migrate"][..]] {
        let (code, _, stderr) = run(callflow(&db).args(args));
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn wait_until_healthy(child: &mut Child, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("callflow exited early: {status}");
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("callflow did not start listening");
}

fn stops_gracefully_on(signal: &str) {
    let db = TestDb::sqlite();
    let port = free_port();
    let mut child = callflow(&db)
        .env("CALLFLOW_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("CALLFLOW_LOGGING__LEVEL", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("callflow starts");
    wait_until_healthy(&mut child, port);
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -{signal} works");
    let output = child.wait_with_output().expect("callflow exits");
    let logs = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{logs}");
    assert!(
        logs.contains("shutdown requested") && logs.contains("callflow stopped"),
        "{logs}"
    );
}

#[test]
fn sigterm_stops_the_server_gracefully_with_exit_code_0() {
    stops_gracefully_on("TERM");
}

#[test]
fn sigint_stops_the_server_gracefully_with_exit_code_0() {
    stops_gracefully_on("INT");
}
