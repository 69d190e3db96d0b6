//! End-to-end: `openqq new` (Rust, Python) writes a project that its language's own
//! toolchain tests and builds outside this workspace, `openqq check` accepts,
//! and a gateway loads and answers through.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use openqq::config::Config;
use serde_json::json;
use support::{TestGateway, test_config};

/// Runs `cmd`, panicking with its output unless it succeeds.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn openqq() -> Command {
    Command::new(env!("CARGO_BIN_EXE_openqq"))
}

/// A fresh directory under the workspace's target/ for this test.
fn fresh(name: &str) -> PathBuf {
    let dir = support::workspace().join(format!(
        "target/new-bot-tests/{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The new project's own cargo: outside this workspace, with its target
/// directory kept across runs (the SDK's dependencies compile once).
fn cargo(project: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(project)
        .env(
            "CARGO_TARGET_DIR",
            support::workspace().join("target/new-bots"),
        )
        // What the outer `cargo test` set for this package is not the project's.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_MANIFEST_DIR");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds a whole project with both cores; scripts/test.sh runs it alone, after the rest"]
async fn a_new_rust_bot_tests_builds_checks_and_answers() {
    let project = fresh("rust");
    let out = run(openqq()
        .args(["new", "my-bot", "--lang", "rust", "--dir"])
        .arg(&project));
    assert!(out.contains("wrote a rust bot"), "{out}");
    let readme = std::fs::read_to_string(project.join("README.md")).expect("a README");
    assert!(
        readme.contains("cargo build --release --target wasm32-wasip2"),
        "{readme}"
    );

    // Its unit tests run natively; then the component.
    let tested = run(cargo(&project).arg("test"));
    assert!(tested.contains("3 passed"), "{tested}");
    run(cargo(&project).args(["build", "--release", "--target", "wasm32-wasip2"]));
    let wasm = support::workspace().join("target/new-bots/wasm32-wasip2/release/my_bot.wasm");
    let checked = run(openqq().arg("check").arg(&wasm));
    assert!(checked.contains("verdict:  OK"), "{checked}");

    answers_hello(&wasm, "rust").await;
    let _ = std::fs::remove_dir_all(&project);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds a whole project with both cores; scripts/test.sh runs it alone, after the rest"]
async fn a_new_python_bot_tests_builds_checks_and_answers() {
    let project = fresh("python");
    run(openqq()
        .args(["new", "my-bot", "--lang", "python", "--dir"])
        .arg(&project));
    // componentize-py as scripts/toolchains.sh installs it (the test
    // setup runs it; a missing tool fails here, with the command's output).
    let tools = std::env::var_os("OPENQQ_BOT_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::workspace().join(".venv-bots"));
    let tested = run(Command::new("bash")
        .arg("test.sh")
        .current_dir(&project)
        .env("OPENQQ_BOT_TOOLS", &tools));
    assert!(
        tested.contains("Ran 3 tests") && tested.contains("OK"),
        "{tested}"
    );
    run(Command::new("bash")
        .arg("build.sh")
        .current_dir(&project)
        .env("OPENQQ_BOT_TOOLS", &tools));
    let wasm = project.join("my_bot.wasm");
    let checked = run(openqq().arg("check").arg(&wasm));
    assert!(checked.contains("verdict:  OK"), "{checked}");
    answers_hello(&wasm, "python").await;
    let _ = std::fs::remove_dir_all(&project);
}

/// Loads `wasm` from a scripts directory, as the projects' READMEs run it,
/// and checks the template's greeting comes back.
async fn answers_hello(wasm: &Path, lang: &str) {
    let scripts = fresh(&format!("{lang}-scripts"));
    std::fs::create_dir_all(&scripts).expect("scripts dir");
    std::fs::copy(wasm, scripts.join("my_bot.wasm")).expect("copy the component");
    let gw = TestGateway::with_config(Config {
        scripts_dir: Some(scripts.clone()),
        ..test_config()
    })
    .await;
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "message", "sender_qq": 7891234, "content": "hello"}))
        .await;
    let sent = gw
        .sent_until(seq, Duration::from_secs(30), |s| !s.is_empty())
        .await;
    assert_eq!(sent[0]["content"], "你好, 哈哈!", "{lang}: {sent:?}");
    gw.gateway.stop().await;
    let _ = std::fs::remove_dir_all(&scripts);
}

#[test]
fn new_refuses_a_bad_name_a_used_directory_and_an_unknown_language() {
    let dir = fresh("refusals");
    for (args, says) in [
        (vec!["new", "My Bot"], "bad bot name"),
        (vec!["new", "ok", "--lang", "cobol"], "no template"),
    ] {
        let out = openqq()
            .args(&args)
            .arg("--dir")
            .arg(&dir)
            .output()
            .expect("run openqq new");
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!dir.exists(), "{args:?} wrote something");
    }
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("keep.txt"), "mine").expect("a file");
    let out = openqq()
        .args(["new", "ok", "--dir"])
        .arg(&dir)
        .output()
        .expect("run openqq new");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(
        std::fs::read_to_string(dir.join("keep.txt"))
            .ok()
            .as_deref(),
        Some("mine")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
