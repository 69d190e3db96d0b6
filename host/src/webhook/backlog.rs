//! The webhook's backlog: reports waiting to be posted, one line per chat.
//!
//! A report joins the line of its chat; a chat with a report waiting and
//! none being posted is *ready*, and ready chats take turns in the order
//! they became ready. At most one report per chat is out at a time (the
//! dispatcher takes one with [`Backlog::take`] and gives the chat back with
//! [`Backlog::release`] once the answer was acted on), so a receiver sees a
//! chat's reports in the order they happened and their replies go out in
//! that order, while different chats are posted side by side.
//!
//! Bounded by count and by bytes (the reports' approximate size in memory);
//! past either bound a new report is refused — the caller drops and counts
//! it. Nothing already waiting is ever dropped, so what is delivered of a
//! chat is a prefix of it, in order.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// What a refused report ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Count,
    Bytes,
}

/// The bounds of a backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub count: usize,
    pub bytes: usize,
}

struct Line<T> {
    items: VecDeque<(T, usize)>,
    /// A report of this chat is being posted.
    busy: bool,
}

/// Reports waiting, per chat key `K`.
pub struct Backlog<K, T> {
    bounds: Bounds,
    /// Chats with a report waiting or being posted.
    lines: HashMap<K, Line<T>>,
    /// Chats with a report waiting and none being posted, in turn order.
    /// A key is here exactly when its line is not busy and not empty.
    ready: VecDeque<K>,
    count: usize,
    bytes: usize,
    /// The most reports that waited at once.
    peak: usize,
}

impl<K: Hash + Eq + Clone, T> Backlog<K, T> {
    pub fn new(bounds: Bounds) -> Backlog<K, T> {
        Backlog {
            bounds: Bounds {
                count: bounds.count.max(1),
                bytes: bounds.bytes.max(1),
            },
            lines: HashMap::new(),
            ready: VecDeque::new(),
            count: 0,
            bytes: 0,
            peak: 0,
        }
    }

    /// Queues `item` (of about `size` bytes) behind the chat's earlier
    /// reports; gives it back when a bound would be passed.
    pub fn push(&mut self, key: K, item: T, size: usize) -> Result<(), (T, Full)> {
        if self.count >= self.bounds.count {
            return Err((item, Full::Count));
        }
        if self.bytes.saturating_add(size) > self.bounds.bytes {
            return Err((item, Full::Bytes));
        }
        let line = self.lines.entry(key.clone()).or_insert_with(|| Line {
            items: VecDeque::new(),
            busy: false,
        });
        if !line.busy && line.items.is_empty() {
            self.ready.push_back(key);
        }
        line.items.push_back((item, size));
        self.count += 1;
        self.bytes += size;
        self.peak = self.peak.max(self.count);
        Ok(())
    }

    /// The next report of the next ready chat; that chat is then busy until
    /// [`release`](Self::release).
    pub fn take(&mut self) -> Option<(K, T)> {
        let key = self.ready.pop_front()?;
        let line = self.lines.get_mut(&key)?;
        let (item, size) = line.items.pop_front()?;
        line.busy = true;
        self.count -= 1;
        self.bytes -= size;
        Some((key, item))
    }

    /// The chat's report was posted (or given up): its next one may go.
    pub fn release(&mut self, key: &K) {
        let Some(line) = self.lines.get_mut(key) else {
            return;
        };
        line.busy = false;
        if line.items.is_empty() {
            self.lines.remove(key);
        } else {
            self.ready.push_back(key.clone());
        }
    }

    /// Reports waiting (not counting those being posted).
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Their approximate size in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn peak(&self) -> usize {
        self.peak
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backlog(count: usize, bytes: usize) -> Backlog<u8, u32> {
        Backlog::new(Bounds { count, bytes })
    }

    #[test]
    fn one_report_per_chat_at_a_time_in_order() {
        let mut b = backlog(100, 1000);
        for i in 0..3 {
            b.push(1, i, 1).expect("room");
            b.push(2, 10 + i, 1).expect("room");
        }
        // Chat 1, then chat 2; neither again until released.
        assert_eq!(b.take(), Some((1, 0)));
        assert_eq!(b.take(), Some((2, 10)));
        assert_eq!(b.take(), None, "both chats are busy");
        b.release(&2);
        assert_eq!(b.take(), Some((2, 11)));
        b.release(&1);
        b.release(&2);
        assert_eq!(b.take(), Some((1, 1)));
        assert_eq!(b.take(), Some((2, 12)));
        assert_eq!(b.take(), None);
        b.release(&1);
        assert_eq!(b.take(), Some((1, 2)));
        b.release(&1);
        b.release(&2);
        assert!(b.is_empty());
        assert!(
            b.lines.is_empty() && b.ready.is_empty(),
            "nothing left over"
        );
        assert_eq!(b.peak(), 6);
    }

    #[test]
    fn a_report_for_a_busy_chat_waits_for_its_release() {
        let mut b = backlog(100, 1000);
        b.push(1, 0, 1).expect("room");
        assert_eq!(b.take(), Some((1, 0)));
        b.push(1, 1, 1).expect("room");
        assert_eq!(b.take(), None);
        b.release(&1);
        assert_eq!(b.take(), Some((1, 1)));
    }

    #[test]
    fn bounded_by_count_and_by_bytes_and_freed_by_take() {
        let mut b = backlog(3, 100);
        b.push(1, 0, 40).expect("room");
        b.push(2, 1, 40).expect("room");
        assert_eq!(b.push(3, 2, 21), Err((2, Full::Bytes)));
        b.push(3, 2, 20).expect("exactly the bound");
        assert_eq!((b.len(), b.bytes()), (3, 100));
        assert_eq!(b.push(4, 3, 0), Err((3, Full::Count)));
        // A report being posted no longer counts.
        assert_eq!(b.take(), Some((1, 0)));
        assert_eq!((b.len(), b.bytes()), (2, 60));
        b.push(4, 3, 40).expect("room again");
        assert_eq!(b.push(5, 4, 1), Err((4, Full::Count)));
    }
}
