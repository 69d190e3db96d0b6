//! A real `nats-server` for the fleet tests: JetStream on, a store
//! directory of its own, loopback only, on a free port; killed (and its
//! store removed) when dropped.
//!
//! Missing `nats-server` (`scripts/toolchains.sh nats` installs it) skips
//! a test loudly, except under CI (`CI=true`), where it fails.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsServer {
    child: Option<Child>,
    bin: PathBuf,
    pub port: u16,
    store: PathBuf,
}

/// Where `nats-server` is: on PATH, or where Debian puts it.
fn find() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("nats-server"))
            .collect::<Vec<_>>()
    });
    on_path
        .chain([
            PathBuf::from("/usr/sbin/nats-server"),
            PathBuf::from("/usr/bin/nats-server"),
        ])
        .find(|p| p.is_file())
}

impl NatsServer {
    /// Starts a server, or `None` (said loudly) when there is none to start
    /// outside CI.
    pub fn start(name: &str) -> Option<NatsServer> {
        let Some(bin) = find() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("nats-server is not installed (scripts/toolchains.sh nats), and CI=true");
            }
            eprintln!(
                "\n*** SKIPPED {name}: nats-server is not installed (run `scripts/toolchains.sh nats`) ***\n"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let store = std::env::temp_dir().join(format!("openqq-nats-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store);
        let mut s = NatsServer {
            child: None,
            bin,
            port,
            store,
        };
        s.spawn();
        Some(s)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.bin)
            .args(["-js", "-sd"])
            .arg(&self.store)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (as a crash would); its store stays.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
