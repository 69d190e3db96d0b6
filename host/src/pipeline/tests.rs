//! The lane model, driven through `Pipeline` and `Lanes` with a native
//! handler the tests control. Every message passes (the handler returns
//! `None`), so it reaches the fallback, and the handler leaves one effect
//! per message: the log shows when each was decided and when its effect
//! started.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::*;
use crate::backend::sim::{Sim, World};
use crate::model::{ChatKind, Person, Qq};
use crate::session::{OutboxConfig, Session};

/// Long enough to mean "never" when waiting for something that must come.
const HANG: Duration = Duration::from_secs(10);

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, line: String) {
    log.lock().unwrap().push(line);
}

/// Decides nothing (every message passes); logs `decide <content>` on entry
/// and leaves an effect that logs `effect <content>` when started and
/// `confirmed <content>` a moment later (as QQ would).
#[derive(Default)]
struct Scripted {
    log: Log,
    /// Deciding these waits until the sender fires (or is dropped).
    gates: Mutex<HashMap<String, oneshot::Receiver<()>>>,
    /// How long deciding these takes.
    delays: HashMap<String, Duration>,
}

impl Scripted {
    fn gate(&self, content: &str) -> oneshot::Sender<()> {
        let (tx, rx) = oneshot::channel();
        self.gates.lock().unwrap().insert(content.into(), rx);
        tx
    }
}

#[async_trait]
impl Handler for Scripted {
    async fn handle(&self, msg: &InboundMessage, effects: &mut Effects) -> Option<Decided> {
        let c = msg.content.clone();
        push(&self.log, format!("decide {c}"));
        let gate = self.gates.lock().unwrap().remove(&c);
        if let Some(gate) = gate {
            let _ = gate.await;
        }
        if let Some(d) = self.delays.get(&c) {
            tokio::time::sleep(*d).await;
        }
        if c.starts_with("panic") {
            panic!("deciding {c}");
        }
        let log = self.log.clone();
        effects.push(async move {
            push(&log, format!("effect {c}"));
            if c.starts_with("effect-panic") {
                panic!("carrying out {c}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            push(&log, format!("confirmed {c}"));
        });
        None
    }
}

/// Hands what passed to the test.
struct Passed(mpsc::UnboundedSender<String>);

impl Fallback for Passed {
    fn pass(&self, msg: InboundMessage) {
        let _ = self.0.send(msg.content);
    }
}

struct Running {
    lanes: Lanes,
    done: JoinHandle<()>,
    passed: mpsc::UnboundedReceiver<String>,
    log: Log,
    _session: crate::session::SessionTask,
}

async fn start(handler: Scripted) -> Running {
    let (tx, rx) = mpsc::channel(16);
    let sim = Arc::new(Sim::new(World::default_world(), tx));
    let (session, task) = Session::start(sim, OutboxConfig::default(), rx)
        .await
        .expect("login");
    let (pass_tx, passed) = mpsc::unbounded_channel();
    let log = handler.log.clone();
    let (lanes, done) =
        Pipeline::new(session, vec![Arc::new(handler)], Arc::new(Passed(pass_tx))).start();
    Running {
        lanes,
        done,
        passed,
        log,
        _session: task,
    }
}

/// A friend's message: its chat is the friend.
fn msg(friend: u64, content: &str) -> InboundMessage {
    InboundMessage {
        id: content.into(),
        kind: ChatKind::Friend,
        time: 0,
        content: content.into(),
        sender: Person {
            qq: Some(Qq(friend)),
            ..Person::default()
        },
        receiver: Person::default(),
        group: None,
        discuss: None,
        addressing: Default::default(),
        trace: Default::default(),
    }
}

fn lane_of(friend: u64) -> usize {
    spread(&msg(friend, "").chat_key(), LANES)
}

/// A friend other than `of` whose chat shares its lane.
fn same_lane_as(of: u64) -> u64 {
    (of + 1..)
        .find(|f| lane_of(*f) == lane_of(of))
        .expect("some friend shares the lane")
}

impl Running {
    async fn send(&self, friend: u64, content: &str) {
        tokio::time::timeout(HANG, self.lanes.deliver(msg(friend, content)))
            .await
            .expect("the lane took the message")
            .expect("lanes running");
    }

    /// The next `n` messages to reach the fallback.
    async fn passed(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        while out.len() < n {
            let next = tokio::time::timeout(HANG, self.passed.recv()).await;
            out.push(next.expect("a message passed").expect("pipeline running"));
        }
        out
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn position(log: &[String], line: &str) -> usize {
    log.iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("{line:?} not in {log:?}"))
}

#[tokio::test]
async fn a_chat_sharing_the_lane_of_a_stuck_chat_is_decided_meanwhile() {
    let (a, b) = (1000, same_lane_as(1000));
    let handler = Scripted::default();
    let release = handler.gate("a1");
    let mut p = start(handler).await;
    p.send(a, "a1").await;
    p.send(a, "a2").await;
    p.send(b, "b1").await;
    p.send(b, "b2").await;
    assert_eq!(p.passed(2).await, ["b1", "b2"]);
    // a1 is still being decided, and a2 waits behind it.
    let log = p.log();
    assert!(!log.contains(&"decide a2".to_string()), "{log:?}");
    release.send(()).expect("a1 is waiting");
    assert_eq!(p.passed(2).await, ["a1", "a2"]);
}

#[tokio::test]
async fn a_chats_messages_are_decided_and_carried_out_in_order() {
    let (a, b) = (2000, same_lane_as(2000));
    let ms = Duration::from_millis;
    let mut handler = Scripted::default();
    // Uneven deciding times, so a chat's later message would overtake an
    // earlier one if it were not held back.
    for i in 0..10u64 {
        handler.delays.insert(format!("a{i}"), ms((i * 7) % 5));
        handler.delays.insert(format!("b{i}"), ms((i * 3) % 4));
    }
    let mut p = start(handler).await;
    for i in 0..10 {
        p.send(a, &format!("a{i}")).await;
        p.send(b, &format!("b{i}")).await;
    }
    let passed = p.passed(20).await;
    for chat in ["a", "b"] {
        let own: Vec<&String> = passed.iter().filter(|c| c.starts_with(chat)).collect();
        let want: Vec<String> = (0..10).map(|i| format!("{chat}{i}")).collect();
        assert_eq!(own, want.iter().collect::<Vec<_>>());
    }
    drop(p.lanes);
    tokio::time::timeout(HANG, p.done)
        .await
        .expect("pipeline ended")
        .expect("no panic");
    let log = p.log.lock().unwrap().clone();
    for chat in ["a", "b"] {
        for i in 0..9 {
            // The next is decided only once this one's effect is started.
            let started = position(&log, &format!("effect {chat}{i}"));
            assert!(
                started < position(&log, &format!("decide {chat}{}", i + 1)),
                "{log:?}"
            );
            assert!(
                started < position(&log, &format!("effect {chat}{}", i + 1)),
                "{log:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_panic_in_one_chat_leaves_the_others_and_its_own_next_messages() {
    let (a, b) = (3000, same_lane_as(3000));
    let mut p = start(Scripted::default()).await;
    p.send(a, "panic-a1").await;
    p.send(a, "a2").await;
    p.send(b, "effect-panic-b1").await;
    p.send(b, "b2").await;
    let mut passed = p.passed(4).await;
    // The message whose deciding panicked went to the fallback.
    passed.sort();
    assert_eq!(passed, ["a2", "b2", "effect-panic-b1", "panic-a1"]);
    let log = p.log();
    assert!(log.contains(&"effect a2".to_string()), "{log:?}");
    // Still running: the next message of each chat is decided.
    p.send(a, "a3").await;
    p.send(b, "b3").await;
    let mut more = p.passed(2).await;
    more.sort();
    assert_eq!(more, ["a3", "b3"]);
}

#[tokio::test]
async fn dropping_the_lanes_ends_the_pipeline_once_what_it_holds_is_done() {
    let (a, b, c) = (4000, same_lane_as(4000), 4001);
    let mut handler = Scripted::default();
    for i in 0..5 {
        handler
            .delays
            .insert(format!("a{i}"), Duration::from_millis(10));
    }
    let p = start(handler).await;
    for i in 0..5 {
        for (f, chat) in [(a, "a"), (b, "b"), (c, "c")] {
            p.send(f, &format!("{chat}{i}")).await;
        }
    }
    let Running {
        lanes,
        done,
        mut passed,
        log,
        _session,
    } = p;
    drop(lanes);
    tokio::time::timeout(HANG, done)
        .await
        .expect("pipeline ended")
        .expect("no panic");
    let mut got = Vec::new();
    while let Ok(c) = passed.try_recv() {
        got.push(c);
    }
    assert_eq!(got.len(), 15, "{got:?}");
    let log = log.lock().unwrap().clone();
    for c in got {
        // Effects that were under way ended too.
        position(&log, &format!("confirmed {c}"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_full_lane_stops_taking_messages_until_it_has_room() {
    // Chats of one lane, each stuck on its first message with a line
    // behind it (at most `CHAT_LINE`): together they fill the lane
    // (`LANE_QUEUE`).
    let per_chat = CHAT_LINE + 1;
    let mut counts = vec![per_chat; LANE_QUEUE / per_chat];
    counts.push(LANE_QUEUE % per_chat);
    let mut friends = vec![5000];
    while friends.len() <= counts.len() {
        let last = *friends.last().unwrap();
        friends.push(same_lane_as(last));
    }
    // The last friend's messages are decided at once, once they get in.
    let other = friends.pop().unwrap();
    let handler = Scripted::default();
    let releases: Vec<_> = friends
        .iter()
        .map(|f| handler.gate(&format!("{f}-0")))
        .collect();
    let mut p = start(handler).await;
    for (f, n) in friends.iter().zip(&counts) {
        for i in 0..*n {
            p.send(*f, &format!("{f}-{i}")).await;
        }
    }
    // The lane is full: its channel fills up...
    let extra = LANE_QUEUE;
    for i in 0..extra {
        p.send(other, &format!("x{i}")).await;
    }
    // ...and one more is not taken.
    let one_more = p.lanes.deliver(msg(other, "last"));
    // Paused time: this only runs out once every task is idle, so the lane
    // had every chance to take the message.
    assert!(
        tokio::time::timeout(Duration::from_secs(1), one_more)
            .await
            .is_err(),
        "a full lane took one more message"
    );
    for r in releases {
        r.send(()).expect("waiting");
    }
    p.send(other, "last").await;
    let got = p.passed(LANE_QUEUE + extra + 1).await;
    // Nothing lost, and each chat in order.
    for (f, n) in friends.iter().zip(&counts) {
        let own: Vec<&String> = got
            .iter()
            .filter(|c| c.starts_with(&format!("{f}-")))
            .collect();
        let want: Vec<String> = (0..*n).map(|i| format!("{f}-{i}")).collect();
        assert_eq!(own, want.iter().collect::<Vec<_>>(), "chat {f}");
    }
    let others: Vec<&String> = got
        .iter()
        .filter(|c| c.starts_with('x') || *c == "last")
        .collect();
    assert_eq!(others.len(), extra + 1);
    assert_eq!(others.last().map(|s| s.as_str()), Some("last"));
}

#[tokio::test(start_paused = true)]
async fn a_chat_past_its_line_goes_to_the_fallback_and_holds_up_no_one() {
    let (a, b) = (6000, same_lane_as(6000));
    let handler = Scripted::default();
    let release = handler.gate("a0");
    let mut p = start(handler).await;
    // a0 is being decided; CHAT_LINE wait behind it; the rest pass on at
    // once, and another chat of the lane is still decided.
    for i in 0..=CHAT_LINE + 3 {
        p.send(a, &format!("a{i}")).await;
    }
    let over: Vec<String> = (CHAT_LINE + 1..=CHAT_LINE + 3)
        .map(|i| format!("a{i}"))
        .collect();
    assert_eq!(p.passed(3).await, over);
    p.send(b, "b0").await;
    assert_eq!(p.passed(1).await, ["b0"]);
    release.send(()).expect("a0 is waiting");
    let rest: Vec<String> = (0..=CHAT_LINE).map(|i| format!("a{i}")).collect();
    assert_eq!(p.passed(CHAT_LINE + 1).await, rest);
}
