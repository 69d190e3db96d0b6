//! The `openqq:bot/moderation` imports (0.2.0): mute, unmute and kick,
//! within the bot's `moderate` grant (muting the sender of the message
//! being handled needs none). Checked at once — the grant, the quota, then
//! the rules the HTTP API applies — and carried out after the call.

use super::actions::Queued;
use super::bindings::v2::openqq::bot::moderation;
use super::state::BotState;
use crate::grants::Moderation;
use crate::model::{GroupNumber, Qq, mute_secs};

impl BotState {
    /// Checks a moderation call and queues it (`seconds` for a mute);
    /// `Err` is what the bot sees.
    fn moderate(
        &mut self,
        what: Moderation,
        group: u64,
        member: u64,
        seconds: u32,
    ) -> Result<(), String> {
        let granted = self.host.granted.clone();
        if let Err(reason) = granted.may_moderate(self.handling, what, group, member) {
            return Err(self.deny(&reason));
        }
        // The API's rules before the rate: a refused call spends no quota.
        let target = self
            .host
            .session
            .manageable_member(GroupNumber(group), Qq(member))
            .map_err(|e| e.to_string())?;
        if let Err(reason) = granted.rate.admit(crate::grants::Chat::group(group)) {
            return Err(self.deny(&reason));
        }
        self.queued.push(match what {
            Moderation::Mute => Queued::Mute(target, seconds),
            Moderation::Unmute => Queued::Mute(target, 0),
            Moderation::Kick => Queued::Kick(target),
        });
        Ok(())
    }
}

impl moderation::Host for BotState {
    fn mute(&mut self, group: u64, member: u64, seconds: u32) -> Result<(), String> {
        let seconds = mute_secs(u64::from(seconds)).map_err(|r| r.to_string())?;
        self.moderate(Moderation::Mute, group, member, seconds)
    }

    fn unmute(&mut self, group: u64, member: u64) -> Result<(), String> {
        self.moderate(Moderation::Unmute, group, member, 0)
    }

    fn kick(&mut self, group: u64, member: u64) -> Result<(), String> {
        self.moderate(Moderation::Kick, group, member, 0)
    }
}
