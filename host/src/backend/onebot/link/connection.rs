//! One connection: the loop that drives one WebSocket from the upgrade to
//! its end.
//!
//! It reads frames (answers go to their callers through the handle, events
//! onto the queue), writes the requests calls hand it, pings, and ends the
//! connection on silence. It never waits for anyone but the socket: events
//! are pushed without waiting, and a write that takes too long means the
//! peer stopped reading. Dialing and accepting (`dial.rs`, `accept.rs`)
//! call `Link::serve` once per connection.

use std::borrow::Cow;
use std::fmt::Display;
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::handle::Outgoing;
use super::{ConnEnd, EventQueue, Link, LinkEvent, Timing};
use crate::backend::onebot::codec::{self, Event, Frame, Meta, Notice};

/// How many frames may wait for the socket; a full queue makes callers wait
/// (bounded by their own timeout).
const OUT_QUEUE: usize = 256;
/// A write (or close) that takes longer means the peer stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a frame meant for the connection.
enum Heard {
    Ok,
    Auth(String),
    Stopped,
}

impl Link {
    /// Drives one connection until it ends: announces it up once the peer
    /// has spoken, answers calls, pushes events, pings, and watches for
    /// silence. Then fails the calls still waiting and announces it down.
    ///
    /// # Cancel safety
    /// Not cancel safe: a caller that drops this future must call
    /// `teardown` itself (the reverse listener does, when a newer
    /// connection replaces this one).
    pub async fn serve<Si, St, E>(
        &self,
        mut sink: Si,
        mut stream: St,
        events: &EventQueue,
        timing: &Timing,
    ) -> ConnEnd
    where
        Si: Sink<Message> + Unpin,
        Si::Error: Display,
        St: Stream<Item = Result<Message, E>> + Unpin,
        E: Display,
    {
        let (out_tx, mut out_rx) = mpsc::channel::<Outgoing>(OUT_QUEUE);
        let mut out_tx = Some(out_tx);
        let grace = tokio::time::sleep(timing.confirm_grace);
        tokio::pin!(grace);
        let mut ping =
            tokio::time::interval_at(Instant::now() + timing.ping_every, timing.ping_every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        let mut stale_after = timing.stale_after;

        let end = loop {
            tokio::select! {
                frame = stream.next() => {
                    let msg = match frame {
                        None => break ConnEnd::Closed("the connection ended".into()),
                        Some(Err(e)) => break ConnEnd::Failed(e.to_string()),
                        Some(Ok(msg)) => msg,
                    };
                    last_heard = Instant::now();
                    // Borrowed: the frame is decoded straight from the
                    // socket's buffer, not from a copy of it.
                    let text = match &msg {
                        Message::Text(t) => Cow::Borrowed(t.as_str()),
                        Message::Binary(b) => String::from_utf8_lossy(b),
                        Message::Close(frame) => {
                            break ConnEnd::Closed(frame.as_ref().map_or_else(
                                || "closed without a reason".into(),
                                |f| format!("closed with code {} {}", u16::from(f.code), f.reason),
                            ));
                        }
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                    };
                    match self.on_frame(&text, &mut stale_after, events) {
                        Heard::Auth(reason) => break ConnEnd::AuthRefused(reason),
                        Heard::Stopped => break ConnEnd::Stopped,
                        Heard::Ok => {
                            if let Some(tx) = out_tx.take()
                                && !self.confirm(tx, events)
                            {
                                break ConnEnd::Stopped;
                            }
                        }
                    }
                }
                () = &mut grace, if out_tx.is_some() => {
                    if let Some(tx) = out_tx.take()
                        && !self.confirm(tx, events)
                    {
                        break ConnEnd::Stopped;
                    }
                }
                Some(o) = out_rx.recv() => {
                    // Marked before writing: once we start, the peer may act on it.
                    self.mark_written(&o.echo);
                    if let Err(e) = write(&mut sink, Message::text(o.frame)).await {
                        break ConnEnd::Failed(e);
                    }
                }
                _ = ping.tick() => {
                    let quiet = last_heard.elapsed();
                    if quiet > stale_after {
                        break ConnEnd::Stale(quiet);
                    }
                    if let Err(e) = write(&mut sink, Message::Ping(Default::default())).await {
                        break ConnEnd::Failed(e);
                    }
                }
            }
        };
        let was_up = self.teardown(matches!(end, ConnEnd::AuthRefused(_)));
        if was_up && end != ConnEnd::Stopped {
            // Queued after what this connection read, so it comes last.
            events.push(LinkEvent::Down);
        }
        // A peer that stopped reading must not hold us here.
        let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.close()).await;
        end
    }

    /// Makes the connection usable for calls and announces it; `false` when
    /// nobody consumes events any more.
    fn confirm(&self, out: mpsc::Sender<Outgoing>, events: &EventQueue) -> bool {
        let generation = self.connected(out);
        events.push(LinkEvent::Up { generation })
    }

    fn on_frame(&self, text: &str, stale_after: &mut Duration, events: &EventQueue) -> Heard {
        let frame = match codec::decode(text) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(
                    backend = "onebot",
                    error = %e,
                    frame = %codec::excerpt(text),
                    "ignoring a frame that is not a JSON object"
                );
                return Heard::Ok;
            }
        };
        match frame {
            Frame::Response(r) => {
                let auth = r.is_auth_failure().then(|| r.message.clone());
                self.deliver(r);
                match auth {
                    Some(reason) => Heard::Auth(reason),
                    None => Heard::Ok,
                }
            }
            Frame::Event(inc) => {
                match &inc.event {
                    Event::Meta(Meta::Heartbeat { interval, online }) => {
                        if let Some(i) = *interval {
                            *stale_after = (*stale_after).max(3 * heartbeat_interval(i));
                        }
                        if *online == Some(false) {
                            tracing::warn!(
                                backend = "onebot",
                                "the implementation reports its QQ session offline"
                            );
                        }
                        return Heard::Ok;
                    }
                    Event::Meta(_) => return Heard::Ok,
                    Event::Notice(Notice::BotOffline { message }) => {
                        tracing::warn!(backend = "onebot", %message, "the QQ session went offline");
                    }
                    _ => {}
                }
                if !events.push(LinkEvent::Event(Box::new(inc))) {
                    return Heard::Stopped;
                }
                Heard::Ok
            }
        }
    }
}

/// Writes one frame, giving up on a peer that stopped reading (a full TCP
/// buffer would otherwise stall the loop, and with it the watchdog).
async fn write<Si>(sink: &mut Si, msg: Message) -> Result<(), String>
where
    Si: Sink<Message> + Unpin,
    Si::Error: Display,
{
    match tokio::time::timeout(WRITE_TIMEOUT, sink.send(msg)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("writing to the socket timed out".into()),
    }
}

/// A heartbeat's `interval` as a duration. It should be milliseconds, but
/// one Lagrange version sent seconds: a value under 1000 is read as seconds.
/// Clamped to 1 s ..= 5 min.
fn heartbeat_interval(raw: i64) -> Duration {
    let ms = if raw > 0 && raw < 1000 {
        raw * 1000
    } else {
        raw
    };
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        .clamp(Duration::from_secs(1), Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::onebot::link::LinkState;
    use crate::backend::onebot::testing::{lifecycle, serving, up};
    use serde_json::json;

    /// Regression: with the event queue full the reader waited for room,
    /// so the answer to a call was never read and the call timed out —
    /// while the session, busy with that call, could not make room. A
    /// connection's end must not wait for that room either. (Nobody takes
    /// the events here until the end.)
    #[tokio::test(start_paused = true)]
    async fn answers_are_read_while_events_wait_for_room() {
        let link = Link::new();
        let (mut peer, mut events, task) = serving(&link, Timing::default());
        peer.say(lifecycle()).await;
        for user in 1..=5 {
            peer.say(json!({"post_type": "notice", "notice_type": "friend_add", "user_id": user}))
                .await;
        }
        up(&link).await;
        let call = tokio::spawn({
            let l = link.clone();
            async move {
                l.call("get_status", json!({}), Duration::from_secs(5))
                    .await
            }
        });
        let req = peer.request().await;
        peer.say(json!({"status": "ok", "retcode": 0, "data": "fine", "echo": req["echo"]}))
            .await;
        let started = Instant::now();
        assert_eq!(call.await.unwrap(), Ok(json!("fine")));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "answered, not timed out"
        );
        // The connection ends without waiting for the events either, so the
        // next one can be dialled at once.
        drop(peer);
        assert!(matches!(
            task.await.unwrap(),
            ConnEnd::Closed(_) | ConnEnd::Failed(_)
        ));
        // Nothing was lost or reordered while the events waited.
        assert!(matches!(events.recv().await, Some(LinkEvent::Up { .. })));
        for user in 1..=5 {
            match events.recv().await {
                Some(LinkEvent::Event(inc)) => assert!(
                    matches!(inc.event, Event::Notice(Notice::FriendAdd { user_id }) if user_id.0 == user),
                    "{:?}",
                    inc.event
                ),
                other => panic!("{other:?}"),
            }
        }
        assert!(
            matches!(events.recv().await, Some(LinkEvent::Down)),
            "Down last"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_1403_frame_is_an_auth_refusal_and_never_up() {
        let link = Link::new();
        let (peer, mut events, task) = serving(&link, Timing::default());
        peer.say(
            json!({"status": "failed", "retcode": 1403, "data": null, "message": "token验证失败"}),
        )
        .await;
        assert_eq!(
            task.await.unwrap(),
            ConnEnd::AuthRefused("token验证失败".into())
        );
        assert_eq!(
            *link.state().borrow(),
            LinkState::Down { auth_refused: true }
        );
        assert!(
            events.try_recv().is_err(),
            "neither Up nor Down was announced"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn silence_ends_the_connection_and_pings_keep_it() {
        let link = Link::new();
        let (mut peer, mut events, task) = serving(&link, Timing::default());
        // Said nothing: up after the grace period anyway.
        up(&link).await;
        assert!(matches!(events.recv().await, Some(LinkEvent::Up { .. })));
        // Answer two pings with pongs, then go quiet.
        for _ in 0..2 {
            match peer.from_link.recv().await {
                Some(Message::Ping(_)) => peer
                    .to_link
                    .send(Ok(Message::Pong(Default::default())))
                    .await
                    .unwrap(),
                other => panic!("expected a ping, got {other:?}"),
            }
        }
        let started = Instant::now();
        let end = task.await.unwrap();
        assert!(
            matches!(end, ConnEnd::Stale(d) if d > Duration::from_secs(45)),
            "{end:?}"
        );
        assert!(started.elapsed() <= Duration::from_secs(61));
        assert!(matches!(events.recv().await, Some(LinkEvent::Down)));
    }

    #[tokio::test(start_paused = true)]
    async fn events_are_forwarded_and_heartbeats_stretch_the_watchdog() {
        let link = Link::new();
        let (peer, mut events, task) = serving(&link, Timing::default());
        peer.say(json!({"post_type": "meta_event", "meta_event_type": "heartbeat", "interval": 30000, "status": {"online": true}})).await;
        assert!(matches!(events.recv().await, Some(LinkEvent::Up { .. })));
        peer.say(json!({"post_type": "notice", "notice_type": "friend_add", "user_id": 5}))
            .await;
        match events.recv().await {
            Some(LinkEvent::Event(inc)) => {
                assert!(matches!(inc.event, Event::Notice(Notice::FriendAdd { .. })))
            }
            other => panic!("{other:?}"),
        }
        // Silent after that: the watchdog now waits 3 × 30 s, not 45 s.
        let started = Instant::now();
        let _ = task.await;
        assert!(
            started.elapsed() >= Duration::from_secs(90),
            "{:?}",
            started.elapsed()
        );
        drop(peer);
    }

    #[test]
    fn heartbeat_units_are_distrusted() {
        assert_eq!(heartbeat_interval(30000), Duration::from_secs(30));
        assert_eq!(heartbeat_interval(5), Duration::from_secs(5));
        assert_eq!(heartbeat_interval(0), Duration::from_secs(1));
        assert_eq!(heartbeat_interval(i64::MAX), Duration::from_secs(300));
    }
}
