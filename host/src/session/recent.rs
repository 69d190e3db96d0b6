//! Recent private partners for `get_recent_info`: friends and temp-chat
//! members who wrote to the account, most recent first.

use crate::model::{GroupNumber, Qq};

use super::SessionHandle;

/// How many recent private partners `get_recent_info` keeps (the original's
/// `max_recent`).
const MAX_RECENT: usize = 20;

/// A person who wrote to the account privately, for `get_recent_info`.
#[derive(Debug, Clone, PartialEq)]
pub enum Recent {
    Friend(crate::model::Friend),
    Member(crate::model::GroupMember, GroupNumber),
}

impl SessionHandle {
    /// Recent private partners, most recent first (`get_recent_info`).
    pub fn recent(&self) -> Vec<Recent> {
        let c = self.contacts();
        let recent = self
            .inner
            .recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        recent
            .into_iter()
            .filter_map(|(qq, group)| match group {
                None => c.friend(qq).cloned().map(Recent::Friend),
                Some(n) => c
                    .group(n)?
                    .member_by_qq(qq)
                    .cloned()
                    .map(|m| Recent::Member(m, n)),
            })
            .collect()
    }

    pub(super) fn note_recent(&self, qq: Qq, group: Option<GroupNumber>) {
        let mut r = self.inner.recent.lock().unwrap_or_else(|p| p.into_inner());
        r.retain(|e| *e != (qq, group));
        r.push_front((qq, group));
        r.truncate(MAX_RECENT);
    }
}
