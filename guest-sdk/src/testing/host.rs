//! The mock behind [`crate::host`], with the signatures of the generated
//! imports.

use super::{LogLine, Sent, State, with_state};
use crate::{Address, Destination, Friend, Group, Level, Member, Person};

pub(crate) fn log(level: Level, text: &str) {
    // A panic inside the mock must not turn the panic hook's log call into
    // a double panic (an abort), so skip the line if the state is busy.
    let _ = super::STATE.try_with(|state| {
        if let Ok(mut s) = state.try_borrow_mut() {
            s.logs.push(LogLine {
                level,
                text: text.to_owned(),
            });
        }
    });
}

pub(crate) fn send(to: &Destination, content: &str) -> Result<u64, String> {
    with_state(|s| {
        let result = deliver(s, to, content);
        s.sends.push(Sent {
            to: to.clone(),
            content: content.to_owned(),
            result: result.clone(),
        });
        result
    })
}

fn deliver(s: &mut State, to: &Destination, content: &str) -> Result<u64, String> {
    if let Some(reason) = &s.send_failure {
        return Err(reason.clone());
    }
    if content.is_empty() {
        return Err("content missing".to_owned());
    }
    let found = match to {
        Destination::Friend(a) => s
            .friends
            .iter()
            .any(|f| matches(a, &f.id, f.qq))
            .then_some(())
            .ok_or("friend not found"),
        Destination::Group(a) => find_group(s, a).map(|_| ()),
        Destination::GroupTemp(t) => find_group(s, &t.group).and_then(|number| {
            s.members
                .iter()
                .any(|(g, m)| *g == number && matches(&t.member, &m.id, m.qq))
                .then_some(())
                .ok_or("group member not found")
        }),
        // The mock keeps no discussions: these always go through.
        Destination::Discuss(_) | Destination::DiscussTemp(_) => Ok(()),
    };
    found.map_err(str::to_owned)?;
    super::grants::may_send(s, to)?;
    let id = s.next_msg_id;
    s.next_msg_id += 1;
    Ok(id)
}

fn find_group(s: &State, a: &Address) -> Result<u64, &'static str> {
    s.groups
        .iter()
        .find(|g| matches(a, &g.id, g.number))
        .map(|g| g.number)
        .ok_or("group not found")
}

fn matches(a: &Address, id: &str, number: u64) -> bool {
    match a {
        Address::Id(want) => want == id,
        Address::Number(want) => *want == number,
    }
}

pub(crate) fn whoami() -> Person {
    with_state(|s| s.whoami.clone())
}

pub(crate) fn friend(qq: u64) -> Option<Friend> {
    with_state(|s| s.friends.iter().find(|f| f.qq == qq).cloned())
}

pub(crate) fn group(number: u64) -> Option<Group> {
    with_state(|s| s.groups.iter().find(|g| g.number == number).cloned())
}

pub(crate) fn group_member(group: u64, qq: u64) -> Option<Member> {
    with_state(|s| {
        s.members
            .iter()
            .find(|(g, m)| *g == group && m.qq == qq)
            .map(|(_, m)| m.clone())
    })
}

pub(crate) fn now_ms() -> u64 {
    with_state(|s| s.now_ms)
}
