//! End-to-end: `openqq new` in every language writes a project that its
//! language's own toolchain tests natively and builds outside this
//! workspace, offline; `openqq check` accepts the component, and a gateway
//! loads it from its scripts directory and answers through it.
//!
//! A language whose toolchain is not installed (`scripts/toolchains.sh`) is
//! skipped with a note, except in CI (`CI=true` or
//! `OPENQQ_REQUIRE_ALL_LANGS=1`), where it fails. Each test prints how long
//! each step took (`--nocapture`).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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

/// Where scripts/toolchains.sh put the bot tools.
fn tools() -> PathBuf {
    std::env::var_os("OPENQQ_BOT_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::workspace().join(".venv-bots"))
}

/// Whether `cmd` is on PATH or in the tools' bin/.
fn have(cmd: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([tools().join("bin")])
        .any(|dir| dir.join(cmd).is_file())
}

/// Whether `lang`'s toolchain is there, as the project's scripts look for
/// it. Missing in CI is a failure; elsewhere the test is skipped.
fn toolchain(lang: &str) -> bool {
    let adapter = || {
        tools()
            .join("share/wasi_snapshot_preview1.reactor.wasm")
            .is_file()
    };
    let zig = || {
        have("zig")
            || Command::new(tools().join("bin/python"))
                .args(["-c", "import ziglang"])
                .status()
                .is_ok_and(|s| s.success())
    };
    let wasip2 = || {
        Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .is_some_and(|root| Path::new(&root).join("lib/rustlib/wasm32-wasip2").is_dir())
    };
    let (ok, install) = match lang {
        "rust" => (wasip2(), "rustup target add wasm32-wasip2"),
        "python" => (have("componentize-py"), "scripts/toolchains.sh python"),
        "js" => (
            have("node") && have("npm") && have("wasm-tools"),
            "scripts/toolchains.sh js",
        ),
        "c" => (
            have("wit-bindgen")
                && have("wasm-tools")
                && have("clang-19")
                && have("cc")
                && adapter(),
            "scripts/toolchains.sh c",
        ),
        "zig" => (
            have("wit-bindgen") && have("wasm-tools") && zig() && adapter(),
            "scripts/toolchains.sh zig",
        ),
        other => panic!("no toolchain check for {other}"),
    };
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("OPENQQ_REQUIRE_ALL_LANGS").is_ok_and(|v| v == "1");
    if !ok && ci {
        panic!("{lang}: toolchain missing in CI (install: {install})");
    }
    if !ok {
        eprintln!("{lang}: skipped, toolchain not installed (install: {install})");
    }
    ok
}

/// Times the steps of one language's test and prints them at the end.
struct Steps {
    lang: &'static str,
    start: Instant,
    at: Instant,
    done: Vec<(&'static str, Duration)>,
}

impl Steps {
    fn new(lang: &'static str) -> Steps {
        let now = Instant::now();
        Steps {
            lang,
            start: now,
            at: now,
            done: Vec::new(),
        }
    }

    fn step(&mut self, name: &'static str) {
        let now = Instant::now();
        self.done.push((name, now - self.at));
        self.at = now;
    }

    fn report(&self) {
        let steps: Vec<String> = self
            .done
            .iter()
            .map(|(name, d)| format!("{name} {:.1} s", d.as_secs_f64()))
            .collect();
        eprintln!(
            "new_bot timing: {}: {} (total {:.1} s)",
            self.lang,
            steps.join(", "),
            self.start.elapsed().as_secs_f64()
        );
    }
}

/// `openqq new my-bot --lang LANG` into a fresh directory.
fn new_project(lang: &str) -> PathBuf {
    let project = fresh(lang);
    let out = run(openqq()
        .args(["new", "my-bot", "--lang", lang, "--dir"])
        .arg(&project));
    assert!(out.contains(&format!("wrote a {lang} bot")), "{out}");
    project
}

/// A command run in the project, finding the tools as its README says.
fn in_project(project: &Path, program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(project)
        .env("OPENQQ_BOT_TOOLS", tools());
    cmd
}

/// `openqq check` says the gateway can run `wasm`; then a gateway does.
async fn checks_and_answers(wasm: &Path, lang: &str, steps: &mut Steps) {
    let checked = run(openqq().arg("check").arg(wasm));
    assert!(checked.contains("verdict:  OK"), "{checked}");
    steps.step("check");
    answers_hello(wasm, lang).await;
    steps.step("gateway answers");
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
    if !toolchain("rust") {
        return;
    }
    let mut steps = Steps::new("rust");
    let project = new_project("rust");
    let readme = std::fs::read_to_string(project.join("README.md")).expect("a README");
    assert!(
        readme.contains("cargo build --release --target wasm32-wasip2"),
        "{readme}"
    );
    steps.step("new");

    // Its unit tests run natively; then the component. --locked --offline:
    // the project's Cargo.lock is complete and needs nothing downloaded.
    let tested = run(cargo(&project).args(["test", "--locked", "--offline"]));
    assert!(tested.contains("3 passed"), "{tested}");
    steps.step("native test");
    run(cargo(&project).args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--locked",
        "--offline",
    ]));
    steps.step("build");
    let wasm = support::workspace().join("target/new-bots/wasm32-wasip2/release/my_bot.wasm");
    checks_and_answers(&wasm, "rust", &mut steps).await;
    steps.report();
    let _ = std::fs::remove_dir_all(&project);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds a whole project with both cores; scripts/test.sh runs it alone, after the rest"]
async fn a_new_python_bot_tests_builds_checks_and_answers() {
    if !toolchain("python") {
        return;
    }
    let mut steps = Steps::new("python");
    let project = new_project("python");
    steps.step("new");
    let tested = run(&mut in_project(&project, "bash", &["test.sh"]));
    assert!(
        tested.contains("Ran 3 tests") && tested.contains("OK"),
        "{tested}"
    );
    // The command layer's helper comes with the project and imports.
    let helper = run(&mut in_project(
        &project,
        "bash",
        &[
            "-c",
            "PYTHONPATH=.:bindings python3 -c 'import openqq_commands as c; print(\"helper\", c.Commands.__name__)'",
        ],
    ));
    assert!(helper.contains("helper Commands"), "{helper}");
    steps.step("native test");
    run(&mut in_project(&project, "bash", &["build.sh"]));
    steps.step("build");
    checks_and_answers(&project.join("my_bot.wasm"), "python", &mut steps).await;
    steps.report();
    let _ = std::fs::remove_dir_all(&project);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds a whole project; scripts/test.sh runs it alone, after the rest"]
async fn a_new_js_bot_tests_builds_checks_and_answers() {
    if !toolchain("js") {
        return;
    }
    let mut steps = Steps::new("js");
    let project = new_project("js");
    steps.step("new");
    // The pinned componentize-qjs, from npm's cache (scripts/toolchains.sh js
    // filled it installing the same lock for the repository's JS example).
    run(&mut in_project(
        &project,
        "npm",
        &[
            "ci",
            "--offline",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ],
    ));
    steps.step("npm ci --offline");
    let helper = std::fs::read_to_string(project.join("openqq_commands.js")).unwrap_or_default();
    assert!(
        helper.contains("export class Commands"),
        "the command helper"
    );
    let tested = run(&mut in_project(&project, "npm", &["test"]));
    assert!(
        tested.contains("# pass 3") && tested.contains("# fail 0"),
        "{tested}"
    );
    steps.step("native test");
    run(&mut in_project(&project, "npm", &["run", "build"]));
    steps.step("build");
    checks_and_answers(&project.join("my_bot.wasm"), "js", &mut steps).await;
    steps.report();
    let _ = std::fs::remove_dir_all(&project);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds a whole project; scripts/test.sh runs it alone, after the rest"]
async fn a_new_c_bot_tests_builds_checks_and_answers() {
    if !toolchain("c") {
        return;
    }
    let mut steps = Steps::new("c");
    let project = new_project("c");
    steps.step("new");
    let tested = run(&mut in_project(&project, "bash", &["test.sh"]));
    assert!(tested.contains("passed: 0 failed"), "{tested}");
    steps.step("native test");
    run(&mut in_project(&project, "bash", &["build.sh"]));
    steps.step("build");
    checks_and_answers(&project.join("my_bot.wasm"), "c", &mut steps).await;
    steps.report();
    let _ = std::fs::remove_dir_all(&project);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds a whole project; scripts/test.sh runs it alone, after the rest"]
async fn a_new_zig_bot_tests_builds_checks_and_answers() {
    if !toolchain("zig") {
        return;
    }
    let mut steps = Steps::new("zig");
    let project = new_project("zig");
    steps.step("new");
    let tested = run(&mut in_project(&project, "bash", &["test.sh"]));
    assert!(tested.contains("All 3 tests passed"), "{tested}");
    steps.step("native test");
    run(&mut in_project(&project, "bash", &["build.sh"]));
    steps.step("build");
    checks_and_answers(&project.join("my_bot.wasm"), "zig", &mut steps).await;
    steps.report();
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
        (vec!["new", "std"], "standard library"),
        (vec!["new", "openqq-bot", "--lang", "c"], "SDK's own name"),
        (vec!["new", "fs", "--lang", "js"], "Node.js built-in"),
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
