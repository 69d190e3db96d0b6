//! The answer book: which published messages an answer may still act on,
//! and which were answered already. Pure and sync; the bus holds it under
//! a std mutex, never across `.await`.
//!
//! JetStream delivers a report at least once (a worker that dies before
//! acking gets it again, or another worker does), so one report may be
//! answered twice. The first answer takes the message out of the book and
//! is carried out; its id is remembered, and a later answer finds it there
//! and is ignored. Both sides are bounded (`[bus] answers_kept`): the
//! oldest message waiting is forgotten first (an answer to it is then
//! "unknown"), and so is the oldest answered id.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::model::InboundMessage;

/// What an answer finds.
#[derive(Debug)]
pub enum Taken {
    /// The message, to act on; the report is now answered.
    Message(Box<InboundMessage>),
    /// Answered before: this answer is not carried out.
    Already,
    /// Not a message of this gateway's (an event or send report, one
    /// forgotten, or one from before a restart).
    Unknown,
}

pub struct Ledger {
    waiting: HashMap<String, InboundMessage>,
    /// Ids in publishing order, to forget the oldest; may name ids already
    /// answered (skipped when met).
    order: VecDeque<String>,
    answered: HashSet<String>,
    answered_order: VecDeque<String>,
    cap: usize,
    /// Messages forgotten unanswered because the book was full.
    pub forgotten: u64,
}

impl Ledger {
    pub fn new(cap: usize) -> Ledger {
        Ledger {
            waiting: HashMap::new(),
            order: VecDeque::new(),
            answered: HashSet::new(),
            answered_order: VecDeque::new(),
            cap: cap.max(1),
            forgotten: 0,
        }
    }

    /// Remembers a published message under its report id.
    pub fn insert(&mut self, id: String, msg: InboundMessage) {
        if self.answered.contains(&id) || self.waiting.contains_key(&id) {
            return;
        }
        while self.waiting.len() >= self.cap {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if self.waiting.remove(&old).is_some() {
                self.forgotten += 1;
            }
        }
        self.order.push_back(id.clone());
        self.waiting.insert(id, msg);
        // `order` keeps answered ids until they reach the front: bound it.
        if self.order.len() > self.cap * 2 {
            self.order.retain(|i| self.waiting.contains_key(i));
        }
    }

    /// Takes the message an answer to `id` acts on, at most once.
    pub fn take(&mut self, id: &str) -> Taken {
        if self.answered.contains(id) {
            return Taken::Already;
        }
        let Some(msg) = self.waiting.remove(id) else {
            return Taken::Unknown;
        };
        if self.answered_order.len() >= self.cap
            && let Some(old) = self.answered_order.pop_front()
        {
            self.answered.remove(&old);
        }
        self.answered.insert(id.to_string());
        self.answered_order.push_back(id.to_string());
        Taken::Message(Box::new(msg))
    }

    /// Messages waiting for an answer.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChatKind, Person};

    fn msg(id: &str) -> InboundMessage {
        let p = || Person {
            id: "1".into(),
            qq: None,
            name: "n".into(),
        };
        InboundMessage {
            id: id.into(),
            kind: ChatKind::Friend,
            time: 0,
            content: String::new(),
            sender: p(),
            receiver: p(),
            group: None,
            discuss: None,
            addressing: Default::default(),
            trace: Default::default(),
        }
    }

    #[test]
    fn an_answer_acts_once_and_the_book_is_bounded() {
        let mut l = Ledger::new(2);
        l.insert("a".into(), msg("1"));
        l.insert("b".into(), msg("2"));
        assert!(matches!(l.take("a"), Taken::Message(m) if m.id == "1"));
        assert!(matches!(l.take("a"), Taken::Already));
        assert!(matches!(l.take("zz"), Taken::Unknown));
        l.insert("a".into(), msg("1"));
        assert!(
            matches!(l.take("a"), Taken::Already),
            "a re-publish of an answered report"
        );
        l.insert("c".into(), msg("3"));
        l.insert("d".into(), msg("4"));
        assert_eq!((l.waiting(), l.forgotten), (2, 1), "b was forgotten");
        assert!(matches!(l.take("b"), Taken::Unknown));
        assert!(matches!(l.take("c"), Taken::Message(_)));
        assert!(matches!(l.take("d"), Taken::Message(_)));
        assert!(
            matches!(l.take("a"), Taken::Unknown),
            "a's id aged out of the answered set"
        );
    }
}
