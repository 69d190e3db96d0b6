//! Hostile: a bot built straight from `wit/0.1.0/bot.wit` — no SDK, none of its
//! guards — that attacks the gateway's sandbox on command, so the end-to-end
//! tests can show each limit fire.
//!
//! Commands (the whole text of a message):
//!
//! | text | does |
//! |---|---|
//! | `/sleep <ms>` | sleeps (a WASI poll: waiting, not running), then replies `slept` |
//! | `/hoard <n>` | creates `n` WASI pollables and never drops them, then replies `hoarded` |
//! | `/flood <n>` | writes `n` lines with `host.log` and `n` to stdout, then replies `flooded` |
//! | `/huge <n>` | replies with `n` characters |
//! | `/send-huge <n>` | `host.send`s `n` characters to the sender; replies with the result |
//! | `/send-many <n>` | `host.send`s `m1` … `m<n>` to the sender, then passes |
//! | `/mute <secs>` | mutes the sender for `secs` (any u32) and replies `muted` |
//! | `/mute-only <secs>` | mutes the sender for `secs`, no reply |
//! | `/trap` | traps (`abort`: no message, no SDK panic hook) |
//! | `/ok` | replies `ok` |
//!
//! Anything else passes. Config: `init_sleep_ms` makes `init` sleep that
//! long; `init_spin = "true"` makes it loop for ever; `fail_init_if_friend = "<qq>"` makes `init` fail while the account
//! has that friend (so a test can make every later rebuild fail).

use std::time::Duration;

wit_bindgen::generate!({ world: "bot", path: "../../../wit/0.1.0" });

use openqq::bot::host;
use openqq::bot::types::{Address, Destination};

struct Hostile;

impl Guest for Hostile {
    fn init(config: Vec<(String, String)>) -> Result<(), String> {
        let get = |key: &str| {
            config
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        if let Some(ms) = get("init_sleep_ms").and_then(|v| v.parse().ok()) {
            std::thread::sleep(Duration::from_millis(ms));
        }
        if get("init_spin") == Some("true") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        let fail_if = get("fail_init_if_friend").and_then(|v| v.parse::<u64>().ok());
        if let Some(qq) = fail_if.filter(|&qq| host::friend(qq).is_some()) {
            return Err(format!("hostile: init refused while {qq} is a friend"));
        }
        Ok(())
    }

    fn on_message(msg: Message) -> Option<Decision> {
        let text = msg.content.as_str();
        let (command, arg) = text.split_once(' ').unwrap_or((text, ""));
        let n = arg.trim().parse::<u64>().unwrap_or(0);
        let reply = |text: String| {
            Some(Decision {
                reply: Some(text),
                shutup: None,
            })
        };
        match command {
            "/ok" => reply("ok".into()),
            "/sleep" => {
                std::thread::sleep(Duration::from_millis(n));
                reply("slept".into())
            }
            "/hoard" => {
                for _ in 0..n {
                    // Each pollable lives in the host's resource table; the
                    // guest keeps only its handle.
                    let p = wasip2::clocks::monotonic_clock::subscribe_duration(u64::MAX);
                    std::mem::forget(p);
                }
                reply("hoarded".into())
            }
            "/flood" => {
                for i in 0..n {
                    host::log(host::Level::Info, &format!("hostile: flood line {i}"));
                    println!("hostile: flood stdout line {i}");
                }
                reply("flooded".into())
            }
            "/huge" => reply("x".repeat(n as usize)),
            "/send-huge" => {
                let to = Destination::Friend(Address::Number(msg.sender.qq.unwrap_or(0)));
                match host::send(&to, &"y".repeat(n as usize)) {
                    Ok(id) => reply(format!("sent {id}")),
                    Err(e) => reply(format!("send failed: {e}")),
                }
            }
            "/send-many" => {
                let to = Destination::Friend(Address::Number(msg.sender.qq.unwrap_or(0)));
                for i in 1..=n {
                    let _ = host::send(&to, &format!("m{i}"));
                }
                None
            }
            "/mute" => Some(Decision {
                reply: Some("muted".into()),
                shutup: Some(n as u32),
            }),
            "/mute-only" => Some(Decision {
                reply: None,
                shutup: Some(n as u32),
            }),
            "/trap" => std::process::abort(),
            _ => None,
        }
    }
}

export!(Hostile);
