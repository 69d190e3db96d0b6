//! One lane: the chats that hash to it, decided concurrently, each chat's
//! messages one at a time and in order.
//!
//! A chat whose decision waits (a bot waiting on an HTTP call, say) holds up
//! only its own later messages: the lane keeps receiving and deciding the
//! other chats' meanwhile. A chat's next message is decided only once the
//! previous one's decision is made and its effects are started, so a chat's
//! replies reach QQ in the order its messages came.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, CatchUnwind};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use super::{CHAT_LINE, Chain, Effects, IN_FLIGHT, LANE_QUEUE, panic_text};
use crate::model::{ChatKind, InboundMessage};
use crate::throttle::Throttle;

/// `InboundMessage::chat_key`: messages with equal keys keep their order.
type ChatKey = (ChatKind, u64, u64);

/// A message being decided; it ends with its chat and the work it left.
type Deciding<'c> = BoxFuture<'c, (ChatKey, Effects)>;

/// An effect that logs its panic (a bug) instead of ending the lane.
type Guarded = CatchUnwind<AssertUnwindSafe<BoxFuture<'static, ()>>>;

/// Runs one lane until its channel closes and everything it holds is done:
/// the messages waiting, those being decided, and their effects.
pub(super) async fn lane(mut rx: mpsc::Receiver<InboundMessage>, chain: Arc<Chain>) {
    let mut lane = Lane {
        chain: &chain,
        held: Held::default(),
        deciding: FuturesUnordered::new(),
        decided: VecDeque::new(),
        in_flight: FuturesUnordered::new(),
        overflow: Throttle::new(std::time::Duration::from_secs(10)),
    };
    let mut open = true;
    loop {
        // Decisions made while QQ was too far behind start their effects
        // once it has caught up, in the order they were made.
        while lane.has_room()
            && let Some((chat, effects)) = lane.decided.pop_front()
        {
            if let Some(next) = lane.carry_out(chat, effects).await {
                lane.decide(next).await;
            }
        }
        let room = lane.has_room();
        tokio::select! {
            biased;
            Some(done) = lane.in_flight.next(), if !lane.in_flight.is_empty() => log_panic(done),
            // Always polled: a bot's call under way must not stall (and
            // run into its wall-clock limit) because QQ is slow.
            Some((chat, effects)) = lane.deciding.next(), if !lane.deciding.is_empty() => {
                if room && lane.decided.is_empty() {
                    if let Some(next) = lane.carry_out(chat, effects).await {
                        lane.decide(next).await;
                    }
                } else {
                    lane.decided.push_back((chat, effects));
                }
            }
            // Back-pressure: a full lane leaves new messages in the channel,
            // and a full channel makes the session wait.
            msg = rx.recv(), if open && room && lane.held.count < LANE_QUEUE => match msg {
                Some(msg) => lane.admit(msg).await,
                None => open = false,
            },
            // Closed, nothing held, nothing in flight.
            else => break,
        }
    }
}

/// What one lane holds. Its decisions borrow the chain (no reference
/// count shared by every lane to touch per message).
struct Lane<'c> {
    chain: &'c Chain,
    held: Held,
    /// Decisions that wait (on a bot, on its instance): at most one per
    /// chat, and the chat's line in `held` waits behind it.
    deciding: FuturesUnordered<Deciding<'c>>,
    /// Decisions made while QQ was too far behind: their effects wait for
    /// room (at most one per chat, like `deciding`).
    decided: VecDeque<(ChatKey, Effects)>,
    /// Says at most once per interval that a chat's line overflowed.
    overflow: Throttle,
    /// Effects started that QQ has not confirmed yet.
    in_flight: FuturesUnordered<Guarded>,
}

impl<'c> Lane<'c> {
    /// With QQ this far behind, new effects wait: neither decisions that
    /// would add some nor new messages go on until some are confirmed.
    fn has_room(&self) -> bool {
        self.in_flight.len() < IN_FLIGHT
    }

    /// Takes a message from the channel: decides it now, queues it behind
    /// its chat's decision, or — past `CHAT_LINE` — passes it on to the
    /// fallback, so one flooding chat cannot fill the lane.
    async fn admit(&mut self, msg: InboundMessage) {
        match self.held.admit(msg) {
            Admitted::Decide(msg) => self.decide(msg).await,
            Admitted::Queued => {}
            Admitted::LineFull(msg) => {
                if let Some(held_back) = self.overflow.allow() {
                    tracing::warn!(msg_id = %msg.id, held_back,
                        "a chat has {CHAT_LINE} messages waiting for its bots: its new messages go straight to the webhook until they catch up");
                }
                msg.trace.step(|| {
                    crate::trace::Step::note(format!(
                        "its chat had {CHAT_LINE} messages waiting for the bots: sent straight to the webhook"
                    ))
                });
                self.chain.fallback.pass(msg);
            }
        }
    }

    /// Decides `msg`, then its chat's next messages for as long as each
    /// decision is made at once (a native handler, a bot with nothing to
    /// wait for): those cost no trip through `deciding`. The first one that
    /// waits goes to `deciding`, and its chat's line waits behind it.
    async fn decide(&mut self, msg: InboundMessage) {
        let mut next = Some(msg);
        while let Some(msg) = next.take() {
            let chat = msg.chat_key();
            let mut decision = deciding(self.chain, msg);
            match poll_once(&mut decision).await {
                Poll::Ready((_, effects)) if self.has_room() => {
                    next = self.carry_out(chat, effects).await;
                }
                // Made, but QQ is too far behind: its effects wait, and its
                // chat's next messages behind them.
                Poll::Ready(made) => {
                    self.held.waits_on(chat);
                    self.decided.push_back(made);
                }
                Poll::Pending => {
                    self.held.waits_on(chat);
                    self.deciding.push(decision);
                }
            }
        }
    }

    /// Starts the effects of `chat`'s decision, in order; the chat's next
    /// message to decide, if one is waiting.
    async fn carry_out(&mut self, chat: ChatKey, effects: Effects) -> Option<InboundMessage> {
        for work in effects.work {
            start(work, &mut self.in_flight).await;
        }
        self.held.decided(&chat)
    }
}

/// The messages a lane holds, by chat. A chat has a line while one of its
/// messages is in `deciding`: the ones that come after it wait there. A
/// line goes as soon as it is empty, so the map never holds more than the
/// lane's messages. (A decision made at once needs no line: nothing comes
/// in meanwhile.)
#[derive(Default)]
struct Held {
    lines: HashMap<ChatKey, VecDeque<InboundMessage>>,
    /// Messages being decided or waiting in a line (≤ `LANE_QUEUE`).
    count: usize,
}

impl Held {
    /// Takes `msg` in: to be decided now when its chat has nothing being
    /// decided, else to wait in its line — unless the line is full.
    fn admit(&mut self, msg: InboundMessage) -> Admitted {
        // Most of the time no decision waits: no hashing then.
        if self.lines.is_empty() {
            self.count += 1;
            return Admitted::Decide(msg);
        }
        match self.lines.get_mut(&msg.chat_key()) {
            Some(line) if line.len() >= CHAT_LINE => Admitted::LineFull(msg),
            Some(line) => {
                self.count += 1;
                line.push_back(msg);
                Admitted::Queued
            }
            None => {
                self.count += 1;
                Admitted::Decide(msg)
            }
        }
    }

    /// `chat`'s decision waits: its next messages are to wait behind it.
    fn waits_on(&mut self, chat: ChatKey) {
        self.lines.entry(chat).or_default();
    }

    /// `chat`'s message was decided (and its effects started): the chat's
    /// next message to decide, if one is waiting.
    fn decided(&mut self, chat: &ChatKey) -> Option<InboundMessage> {
        self.count -= 1;
        if self.lines.is_empty() {
            return None;
        }
        let Entry::Occupied(mut line) = self.lines.entry(*chat) else {
            return None;
        };
        let next = line.get_mut().pop_front();
        if next.is_none() {
            line.remove();
        }
        next
    }
}

/// What becomes of a message a lane takes in.
enum Admitted {
    /// Its chat has nothing being decided: decide it now.
    Decide(InboundMessage),
    /// It waits behind its chat's decision.
    Queued,
    /// Its chat's line is full: it is not held.
    LineFull(InboundMessage),
}

/// Deciding `msg`: ends with its chat and the work it leaves.
fn deciding(chain: &Chain, msg: InboundMessage) -> Deciding<'_> {
    let chat = msg.chat_key();
    Box::pin(async move {
        // `handle_one` guards the deciding; this guards the rest (the
        // fallback, building the effects): a bug there must not end the
        // lane, or every later message would wait for ever.
        let effects = match AssertUnwindSafe(chain.handle_one(msg)).catch_unwind().await {
            Ok(effects) => effects,
            Err(panic) => {
                tracing::error!(panic = %panic_text(&*panic), "handling a message panicked");
                Effects::default()
            }
        };
        (chat, effects)
    })
}

/// Polls `fut` once, here and now.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

/// Polls `work` once, here and now, so effects reach QQ in the order they
/// were made; only what QQ has not confirmed yet is kept in `in_flight`
/// (on the simulator, and with a fast link, most work ends at once and
/// costs no allocation there).
async fn start(work: BoxFuture<'static, ()>, in_flight: &mut FuturesUnordered<Guarded>) {
    let mut guarded = AssertUnwindSafe(work).catch_unwind();
    match poll_once(&mut guarded).await {
        Poll::Ready(done) => log_panic(done),
        Poll::Pending => in_flight.push(guarded),
    }
}

fn log_panic(done: Result<(), Box<dyn std::any::Any + Send>>) {
    if let Err(panic) = done {
        tracing::error!(panic = %panic_text(&*panic), "carrying out a decision panicked");
    }
}
