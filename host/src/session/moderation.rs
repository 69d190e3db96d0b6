//! Group moderation: mutes and kicks.
//!
//! The API names members by look-up (`member_id` / `member_qq` strings); a
//! decision names the sender of a message by number. Both end in the same
//! typed check (`manageable`): the account must be an admin of the group
//! and the member an ordinary member, and a mute must be within QQ's range.

use crate::backend::BackendEvent;
use crate::model::{Group, GroupMember, GroupNumber, MemberRef, MemberRole, Qq, mute_secs};

use super::{Contacts, Lookup, SessionError, SessionHandle};

/// Which members a mute or kick names: `member_id` wins over `member_qq`.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberList {
    Ids(Vec<String>),
    Qqs(Vec<String>),
}

/// The member as a mute or kick target, if the account may act on them.
fn manageable(g: &Group, m: &GroupMember) -> Result<MemberRef, SessionError> {
    if !g.gtype.can_manage() {
        return Err(SessionError::Refused(
            "the account is not an admin of this group".into(),
        ));
    }
    if m.role != MemberRole::Member {
        return Err(SessionError::Refused(format!(
            "member {} is the group's {}",
            m.qq,
            m.role.as_str()
        )));
    }
    Ok(MemberRef {
        gid: g.gid.clone(),
        gnumber: g.gnumber,
        id: m.id.clone(),
        qq: m.qq,
    })
}

impl SessionHandle {
    /// Resolves a mute/kick: the group first, then every listed member.
    fn resolve_members(
        &self,
        group: &Lookup,
        members: &MemberList,
    ) -> Result<Vec<MemberRef>, SessionError> {
        let c = self.contacts();
        let g = c
            .find_group(group)
            .ok_or(SessionError::GroupObjectNotFound)?;
        let (key, values) = match members {
            MemberList::Ids(v) => ("id", v),
            MemberList::Qqs(v) => ("qq", v),
        };
        let values: Vec<&String> = values.iter().filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return Err(SessionError::MemberListEmpty);
        }
        values
            .into_iter()
            .map(|v| {
                let m = Contacts::find_member(g, &Lookup::new().with(key, v.clone()))
                    .ok_or_else(|| SessionError::MemberNotFound(v.clone()))?;
                manageable(g, m)
            })
            .collect()
    }

    /// Mutes members for `seconds` (QQ's range: 60 s to 30 days).
    ///
    /// # Errors
    /// Group/member not found, empty list, or refused (by the rules or by QQ).
    pub async fn shutup(
        &self,
        group: &Lookup,
        members: &MemberList,
        seconds: u64,
    ) -> Result<(), SessionError> {
        let targets = self.resolve_members(group, members)?;
        let seconds = mute_secs(seconds).map_err(|r| SessionError::Refused(r.to_string()))?;
        for t in &targets {
            self.mute(t, seconds).await?;
        }
        Ok(())
    }

    /// Mutes one member of a group by number (a decision's `shutup`).
    ///
    /// # Errors
    /// The group or member unknown, refused by the rules or by QQ.
    pub async fn shutup_member(
        &self,
        gnumber: GroupNumber,
        qq: Qq,
        seconds: u64,
    ) -> Result<(), SessionError> {
        let target = self.manageable_member(gnumber, qq)?;
        let seconds = mute_secs(seconds).map_err(|r| SessionError::Refused(r.to_string()))?;
        self.mute(&target, seconds).await
    }

    /// A member by numbers, if the account may mute or kick them (the
    /// checks a bot's moderation call makes before it is queued).
    ///
    /// # Errors
    /// The group or member unknown, or refused by the rules.
    pub fn manageable_member(
        &self,
        gnumber: GroupNumber,
        qq: Qq,
    ) -> Result<MemberRef, SessionError> {
        let c = self.contacts();
        let g = c.group(gnumber).ok_or(SessionError::GroupObjectNotFound)?;
        let m = g
            .member_by_qq(qq)
            .ok_or_else(|| SessionError::MemberNotFound(qq.to_string()))?;
        manageable(g, m)
    }

    /// Mutes a member already checked (`manageable_member`) for
    /// `seconds`; 0 lifts the mute.
    ///
    /// # Errors
    /// Refused by QQ.
    pub async fn mute_member(&self, target: &MemberRef, seconds: u32) -> Result<(), SessionError> {
        self.mute(target, seconds).await
    }

    /// Removes a member already checked (`manageable_member`).
    ///
    /// # Errors
    /// Refused by QQ.
    pub async fn kick_member(&self, target: &MemberRef) -> Result<(), SessionError> {
        self.kick_one(target).await
    }

    async fn mute(&self, target: &MemberRef, seconds: u32) -> Result<(), SessionError> {
        self.inner
            .backend
            .shutup(target, seconds)
            .await
            .map_err(|e| SessionError::Refused(e.to_string()))
    }

    /// Removes members from a group; they leave the contact cache too.
    ///
    /// # Errors
    /// As `shutup`.
    pub async fn kick(&self, group: &Lookup, members: &MemberList) -> Result<(), SessionError> {
        let targets = self.resolve_members(group, members)?;
        for t in &targets {
            self.kick_one(t).await?;
        }
        Ok(())
    }

    async fn kick_one(&self, t: &MemberRef) -> Result<(), SessionError> {
        self.inner
            .backend
            .kick(t)
            .await
            .map_err(|e| SessionError::Refused(e.to_string()))?;
        self.apply_change(BackendEvent::MemberLeft {
            group: t.gnumber,
            member: t.qq,
        });
        Ok(())
    }
}
