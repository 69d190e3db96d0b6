//! Keeper: a test fixture on `openqq:bot@0.2.0` that turns chat commands
//! into KV and timer calls and answers with what the host said, so the
//! end-to-end tests see exactly what a bot sees.
//!
//! - `kv set K V`, `kv get K`, `kv del K`, `kv incr K N`, `kv keys [P]`
//! - `kv fill K N`: sets K to N bytes (for quota tests)
//! - `kv many N`: N writes in one call (`m0`…), or where the first failed
//! - `remind MS TEXT`: a one-shot timer; when it fires, TEXT is sent to the
//!   chat it was set in
//! - `trap`: panics (the instance is rebuilt; the KV stays)
//! - `seen TEXT`: replies `seen: TEXT` (a test sees which chats reach it)
//! - `send group|friend N TEXT`, `send temp G Q TEXT`: `host.send`, answers
//!   `sent` or the error
//! - `mute G Q SECS`, `unmute G Q`, `kick G Q`: moderation calls, answer
//!   `ok` or the error
//! - `member G Q`: `host.group-member`; answers the member's card or nick,
//!   or `none`
//!
//! Config: `every_ms` and/or `cron` declare timers named `every` / `cron`;
//! each call sends `tick:<name>` to the group `group` (a number).
//! Everything else passes.

use openqq_bot::{Address, Bot, Config, Decision, Destination, Message, host, kv, timer};

pub struct Keeper {
    group: Option<u64>,
}

fn answer(r: Result<String, String>) -> Option<Decision> {
    Some(Decision::reply(match r {
        Ok(t) => t,
        Err(e) => format!("error: {e}"),
    }))
}

/// Where a reminder goes: the chat the message came from, as `g:<n>` or
/// `f:<qq>`.
fn origin(msg: &Message) -> Option<String> {
    match (&msg.group, msg.sender.qq) {
        (Some(g), _) => g.number.map(|n| format!("g:{n}")),
        (None, Some(qq)) => Some(format!("f:{qq}")),
        _ => None,
    }
}

fn number(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("not a number: {s}"))
}

/// `send group|friend N TEXT` or `send temp G Q TEXT`.
fn send(text: &str) -> Result<String, String> {
    let words: Vec<&str> = text.splitn(5, ' ').collect();
    let (to, content) = match words.as_slice() {
        ["send", "group", n, rest @ ..] => (
            Destination::Group(Address::Number(number(n)?)),
            rest.join(" "),
        ),
        ["send", "friend", n, rest @ ..] => (
            Destination::Friend(Address::Number(number(n)?)),
            rest.join(" "),
        ),
        ["send", "temp", g, q, rest @ ..] => (
            Destination::GroupTemp(openqq_bot::GroupTemp {
                group: Address::Number(number(g)?),
                member: Address::Number(number(q)?),
            }),
            rest.join(" "),
        ),
        _ => return Err("usage: send group|friend N TEXT".into()),
    };
    host::send(to, &content).map(|_| "sent".to_string())
}

/// `mute G Q SECS`, `unmute G Q`, `kick G Q`, through the raw 0.2.0
/// `moderation` import.
fn moderate(text: &str) -> Result<String, String> {
    use openqq_bot::bindings::openqq::bot::moderation;
    let words: Vec<&str> = text.split(' ').collect();
    match words.as_slice() {
        ["mute", g, q, secs] => {
            let secs = u32::try_from(number(secs)?).map_err(|e| e.to_string())?;
            moderation::mute(number(g)?, number(q)?, secs)
        }
        ["unmute", g, q] => moderation::unmute(number(g)?, number(q)?),
        ["kick", g, q] => moderation::kick(number(g)?, number(q)?),
        _ => Err("usage: mute G Q SECS | unmute G Q | kick G Q".into()),
    }
    .map(|()| "ok".to_string())
}

impl Bot for Keeper {
    fn init(config: &Config) -> Result<Self, String> {
        if let Some(ms) = config.get("every_ms") {
            let ms: u64 = ms
                .parse()
                .map_err(|_| format!("every_ms: not a number: {ms}"))?;
            timer::every("every", std::time::Duration::from_millis(ms))?;
        }
        if let Some(expr) = config.get("cron") {
            timer::cron("cron", expr)?;
        }
        let group = match config.get("group") {
            Some(g) => Some(g.parse().map_err(|_| format!("group: not a number: {g}"))?),
            None => None,
        };
        Ok(Keeper { group })
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        let text = msg.text();
        let words: Vec<&str> = text.splitn(4, ' ').collect();
        match words.as_slice() {
            ["kv", "set", k, v] => answer(
                kv::set_str(k, v)
                    .map(|()| "ok".into())
                    .map_err(|e| e.to_string()),
            ),
            ["kv", "get", k] => answer(
                kv::get_str(k)
                    .map(|v| v.unwrap_or_else(|| "none".into()))
                    .map_err(|e| e.to_string()),
            ),
            ["kv", "del", k] => answer(
                kv::delete(k)
                    .map(|d| d.to_string())
                    .map_err(|e| e.to_string()),
            ),
            ["kv", "incr", k, n] => {
                let n: i64 = n.parse().ok()?;
                answer(
                    kv::increment(k, n)
                        .map(|v| v.to_string())
                        .map_err(|e| e.to_string()),
                )
            }
            ["kv", "keys"] => answer(kv::keys("").map(|k| k.join(",")).map_err(|e| e.to_string())),
            ["kv", "keys", p] => {
                answer(kv::keys(p).map(|k| k.join(",")).map_err(|e| e.to_string()))
            }
            ["kv", "fill", k, n] => {
                let n: usize = n.parse().ok()?;
                answer(
                    kv::set(k, &vec![b'x'; n])
                        .map(|()| "ok".into())
                        .map_err(|e| e.to_string()),
                )
            }
            ["kv", "many", n] => {
                let n: usize = n.parse().ok()?;
                for i in 0..n {
                    if let Err(e) = kv::set(&format!("m{i}"), b"1") {
                        return Some(Decision::reply(format!("error at {i}: {e}")));
                    }
                }
                Some(Decision::reply("ok"))
            }
            ["remind", ms, rest @ ..] => {
                let ms: u64 = ms.parse().ok()?;
                let payload = format!("{}|{}", origin(msg)?, rest.join(" "));
                answer(
                    timer::after(
                        &format!("remind:{}", msg.id),
                        std::time::Duration::from_millis(ms),
                        &payload,
                    )
                    .map(|()| "set".into()),
                )
            }
            ["trap"] => panic!("asked to trap"),
            ["seen", rest @ ..] => Some(Decision::reply(format!("seen: {}", rest.join(" ")))),
            ["send", ..] => answer(send(text)),
            ["mute" | "unmute" | "kick", ..] => answer(moderate(text)),
            ["member", g, q] => {
                let (g, q) = (number(g).ok()?, number(q).ok()?);
                Some(Decision::reply(match host::group_member(g, q) {
                    Some(m) if !m.card.is_empty() => m.card,
                    Some(m) => m.nick,
                    None => "none".to_string(),
                }))
            }
            _ => None,
        }
    }

    fn on_timer(&mut self, name: &str, payload: &str) {
        if let Some((to, text)) = payload.split_once('|') {
            let dest = match to.split_once(':') {
                Some(("g", n)) => n
                    .parse()
                    .ok()
                    .map(|n| Destination::Group(Address::Number(n))),
                Some(("f", n)) => n
                    .parse()
                    .ok()
                    .map(|n| Destination::Friend(Address::Number(n))),
                _ => None,
            };
            if let Some(d) = dest {
                let _ = host::send(d, text);
            }
            return;
        }
        if let Some(g) = self.group {
            let _ = host::send(
                Destination::Group(Address::Number(g)),
                &format!("tick:{name}"),
            );
        }
    }
}

openqq_bot::export_bot!(Keeper);
