//! Test helpers shared by the onebot unit tests: an in-memory WebSocket
//! between a `Link` and an implementation driven by hand.
//!
//! The connection loop is written against `Sink + Stream`, so two channels
//! stand in for the socket: what the link writes arrives in
//! `Peer::from_link`, and what the test says goes in through
//! `Peer::to_link`. No socket, no clock but tokio's (tests pause it).

use futures_util::{Sink, Stream};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::link::{ConnEnd, EventQueue, Link, LinkEvent, LinkState, Timing};

/// The implementation's end of a link.
pub struct Peer {
    /// What the link wrote (requests, pings).
    pub from_link: mpsc::Receiver<Message>,
    /// What the link reads next.
    pub to_link: mpsc::Sender<Result<Message, String>>,
}

impl Peer {
    /// The next action the link asked for (pings skipped).
    pub async fn request(&mut self) -> Value {
        loop {
            match self.from_link.recv().await.expect("link open") {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                _ => continue,
            }
        }
    }

    /// Sends the link one frame.
    pub async fn say(&self, v: Value) {
        self.to_link
            .send(Ok(Message::text(v.to_string())))
            .await
            .unwrap();
    }

    /// Answers `req`: `ok` with `data`, or, with `None`, a failure as NapCat
    /// gives for someone it cannot find.
    pub async fn answer(&self, req: &Value, data: Option<Value>) {
        let frame = match data {
            Some(d) => json!({"status": "ok", "retcode": 0, "data": d, "echo": req["echo"]}),
            None => json!({"status": "failed", "retcode": 1200, "data": null,
                "message": "成员不存在", "echo": req["echo"]}),
        };
        self.say(frame).await;
    }
}

/// An in-memory socket: the link's sink and stream, and the peer's end.
pub fn socket() -> (
    impl Sink<Message, Error = &'static str> + Unpin,
    impl Stream<Item = Result<Message, String>> + Unpin,
    Peer,
) {
    let (out_tx, from_link) = mpsc::channel(64);
    let (to_link, in_rx) = mpsc::channel(64);
    let sink = Box::pin(futures_util::sink::unfold(
        out_tx,
        |tx, m: Message| async move { tx.send(m).await.map(|()| tx).map_err(|_| "closed") },
    ));
    let stream = Box::pin(futures_util::stream::unfold(in_rx, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    }));
    (sink, stream, Peer { from_link, to_link })
}

/// The task serving one connection.
pub type Serving = JoinHandle<ConnEnd>;

/// `link` serving an in-memory connection: the peer, the link's events (as
/// the converter would take them), and the connection's task.
pub fn serving(link: &Link, timing: Timing) -> (Peer, mpsc::Receiver<LinkEvent>, Serving) {
    let (sink, stream, peer) = socket();
    let (queue, events) = EventQueue::new();
    let l = link.clone();
    let task = tokio::spawn(async move { l.serve(sink, stream, &queue, &timing).await });
    (peer, events, task)
}

/// A link that is up, with the implementation's end. The link's own events
/// are taken and dropped: the tests that use it feed the converter
/// themselves.
pub async fn live_link() -> (Link, Peer) {
    let link = Link::new();
    let (peer, mut events, _task) = serving(&link, Timing::default());
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    up(&link).await;
    (link, peer)
}

/// The `lifecycle` event every known implementation sends first.
pub fn lifecycle() -> Value {
    json!({"post_type": "meta_event", "meta_event_type": "lifecycle", "sub_type": "connect", "self_id": 1})
}

/// Waits until `link` is up.
pub async fn up(link: &Link) {
    let mut st = link.state();
    st.wait_for(|s| matches!(s, LinkState::Up { .. }))
        .await
        .unwrap();
}
