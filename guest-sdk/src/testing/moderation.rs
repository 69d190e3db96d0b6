//! The mock behind [`crate::moderation`]: calls recorded and checked with
//! the gateway's rules (the mute's length, enforced grants, the group and
//! the member known, the account an admin, the member an ordinary one).

use super::grants::may_moderate;
use super::{MockHost, State, with_state};
use crate::{GroupRole, MemberRole};

/// What a moderation call asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moderation {
    /// Mute for this many seconds.
    Mute(u32),
    Unmute,
    Kick,
}

impl Moderation {
    fn verb(self) -> &'static str {
        match self {
            Moderation::Mute(_) => "mute",
            Moderation::Unmute => "unmute",
            Moderation::Kick => "kick",
        }
    }
}

/// A moderation call the bot made, and what the mock answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moderated {
    pub action: Moderation,
    /// The group number.
    pub group: u64,
    /// The member's QQ number.
    pub member: u64,
    pub result: Result<(), String>,
}

/// QQ's range for a mute, as the gateway checks it.
const MIN_MUTE_SECS: u32 = 60;
const MAX_MUTE_SECS: u32 = 30 * 24 * 3600;

impl MockHost {
    /// Every moderation call so far, refused ones included, oldest first.
    pub fn moderations(&self) -> Vec<Moderated> {
        with_state(|s| s.moderations.clone())
    }
}

fn call(action: Moderation, group: u64, member: u64) -> Result<(), String> {
    with_state(|s| {
        let result = check(s, action, group, member);
        s.moderations.push(Moderated {
            action,
            group,
            member,
            result: result.clone(),
        });
        result
    })
}

/// The gateway's checks, in its order.
fn check(s: &mut State, action: Moderation, group: u64, member: u64) -> Result<(), String> {
    if let Moderation::Mute(secs) = action {
        if secs < MIN_MUTE_SECS {
            return Err(format!(
                "mute of {secs} s is under the {MIN_MUTE_SECS} s minimum"
            ));
        }
        if secs > MAX_MUTE_SECS {
            return Err(format!(
                "mute of {secs} s is over QQ's 30-day maximum ({MAX_MUTE_SECS} s)"
            ));
        }
    }
    may_moderate(s, action.verb(), group, member)?;
    let g = s
        .groups
        .iter()
        .find(|g| g.number == group)
        .ok_or("object not found")?;
    let m = s
        .members
        .iter()
        .find(|(n, m)| *n == group && m.qq == member)
        .map(|(_, m)| m)
        .ok_or_else(|| format!("member {member} not found"))?;
    if g.role == GroupRole::Attend {
        return Err("refused: the account is not an admin of this group".to_owned());
    }
    match m.role {
        MemberRole::Member => Ok(()),
        MemberRole::Owner => Err(format!("refused: member {member} is the group's owner")),
        MemberRole::Admin => Err(format!("refused: member {member} is the group's admin")),
    }
}

pub(crate) fn mute(group: u64, member: u64, seconds: u32) -> Result<(), String> {
    call(Moderation::Mute(seconds), group, member)
}

pub(crate) fn unmute(group: u64, member: u64) -> Result<(), String> {
    call(Moderation::Unmute, group, member)
}

pub(crate) fn kick(group: u64, member: u64) -> Result<(), String> {
    call(Moderation::Kick, group, member)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, Grants};
    use crate::{Bot, Config, Decision, Message, moderation};

    fn world() -> MockHost {
        let mock = MockHost::new();
        mock.add_group(testing::group(555, "managed", GroupRole::Manage));
        mock.add_group(testing::group(556, "plain", GroupRole::Attend));
        for (g, qq, role) in [
            (555, 1, MemberRole::Member),
            (555, 2, MemberRole::Admin),
            (555, 3, MemberRole::Member),
            (556, 1, MemberRole::Member),
        ] {
            mock.add_member(g, testing::member(qq, "m", role));
        }
        mock
    }

    #[test]
    fn calls_are_checked_like_the_gateway_and_recorded() {
        let mock = world();
        assert_eq!(moderation::mute(555, 1, 600), Ok(()));
        assert_eq!(moderation::unmute(555, 1), Ok(()));
        assert_eq!(moderation::kick(555, 3), Ok(()));
        let refused = [
            (
                moderation::mute(555, 1, 59),
                "mute of 59 s is under the 60 s minimum",
            ),
            (moderation::kick(557, 1), "object not found"),
            (moderation::kick(555, 9), "member 9 not found"),
            (
                moderation::kick(555, 2),
                "refused: member 2 is the group's admin",
            ),
            (
                moderation::mute(556, 1, 60),
                "refused: the account is not an admin of this group",
            ),
        ];
        for (got, want) in refused {
            assert_eq!(got, Err(want.to_owned()));
        }
        let calls = mock.moderations();
        assert_eq!(calls.len(), 8);
        assert_eq!(
            calls[0],
            Moderated {
                action: Moderation::Mute(600),
                group: 555,
                member: 1,
                result: Ok(())
            }
        );
        assert_eq!(calls[2].action, Moderation::Kick);
    }

    /// Mutes whoever the message names, or its sender for `me`.
    struct Muter;

    impl Bot for Muter {
        fn init(_: &Config) -> Result<Self, String> {
            Ok(Muter)
        }
        fn on_message(&mut self, msg: &Message) -> Option<Decision> {
            let group = msg.group_number()?;
            let qq = match msg.text() {
                "me" => msg.sender_qq()?,
                other => other.parse().ok()?,
            };
            let r = moderation::mute(group, qq, 60);
            Some(Decision::reply(r.err().unwrap_or_default()))
        }
    }

    #[test]
    fn enforced_grants_allow_muting_the_sender_only() {
        let mock = world();
        mock.enforce_grants(Grants::least());
        let mut bot = Muter;
        let say = |bot: &mut Muter, text: &str| {
            mock.on_message(bot, &testing::group_message(555, 1, "m", text))
                .and_then(|d| d.reply)
        };
        assert_eq!(say(&mut bot, "me"), Some(String::new()));
        assert_eq!(
            say(&mut bot, "3"),
            Some("denied: mute in group:555: not in moderate".into())
        );
        assert_eq!(
            moderation::unmute(555, 1),
            Err("denied: unmute in group:555: not in moderate".into())
        );
        mock.enforce_grants(Grants::least().moderate("group:555"));
        assert_eq!(say(&mut bot, "3"), Some(String::new()));
        assert_eq!(mock.denials().len(), 2);
    }
}
