//! The `post_api` reports (spec §5, §7).
//!
//! v1: a received message only; strings everywhere except `sender_qq`,
//! `receiver_qq` and `gnumber`, which are JSON numbers (null when unknown).
//! v2: `post_type` on every report — `receive_message`, `send_message` (the
//! account's own sends, with `from`) and `event` — with v2 names and numbers.

use serde_json::{Value, json};

use crate::model::{ChatKind, Event, InboundMessage, SendTarget, SentMessage};
use crate::render::v2::{self, num};
use crate::session::Contacts;

pub fn v1(msg: &InboundMessage) -> Value {
    let mut v = json!({
        "msg_id": msg.id,
        "msg_time": msg.time.to_string(),
        "msg_class": "recv",
        "type": msg.kind.v1_type(),
        "content": msg.content,
        "sender": msg.sender.name,
        "sender_id": msg.sender.id,
        "sender_qq": msg.sender.qq.map(|q| q.0),
        "receiver": msg.receiver.name,
        "receiver_id": msg.receiver.id,
        "receiver_qq": msg.receiver.qq.map(|q| q.0),
    });
    if let Some(g) = &msg.group {
        v["group"] = json!(g.name);
        v["group_id"] = json!(g.id);
        if msg.kind == ChatKind::Group {
            v["gnumber"] = json!(g.number.map(|n| n.0));
        }
    }
    if let Some(d) = &msg.discuss {
        v["discuss"] = json!(d.name);
        v["discuss_id"] = json!(d.id);
    }
    if msg.kind == ChatKind::Sess {
        v["via"] = json!(if msg.group.is_some() {
            "group"
        } else {
            "discuss"
        });
    }
    v
}

fn v2_type(kind: ChatKind) -> &'static str {
    match kind {
        ChatKind::Friend => "friend_message",
        ChatKind::Group => "group_message",
        ChatKind::Discuss => "discuss_message",
        ChatKind::Sess => "sess_message",
    }
}

/// The v2 `receive_message` report.
pub fn v2_received(msg: &InboundMessage) -> Value {
    let mut v = json!({
        "post_type": "receive_message",
        "id": num(&msg.id),
        "time": msg.time,
        "class": "recv",
        "type": v2_type(msg.kind),
        "content": msg.content,
        "sender": msg.sender.name,
        "sender_id": num(&msg.sender.id),
        "sender_uid": msg.sender.qq.map(|q| q.0),
        "receiver": msg.receiver.name,
        "receiver_id": num(&msg.receiver.id),
        "receiver_uid": msg.receiver.qq.map(|q| q.0),
    });
    if let Some(g) = &msg.group {
        v["group"] = json!(g.name);
        v["group_id"] = num(&g.id);
        v["group_uid"] = json!(g.number.map(|n| n.0));
    }
    if let Some(d) = &msg.discuss {
        v["discuss"] = json!(d.name);
        v["discuss_id"] = num(&d.id);
    }
    if msg.kind == ChatKind::Sess {
        v["via"] = json!(if msg.group.is_some() {
            "group"
        } else {
            "discuss"
        });
    }
    v
}

/// `source` of a send report: the original said `local` for a message this
/// client sent (`outer` was a message sent from another device, which is
/// never reported here).
const SOURCE_LOCAL: &str = "local";

/// `ttl` of a send report. The original gave each message `msg_ttl` (3 in
/// v2) attempts and took one off at each: 2 after a send that went through
/// at its first attempt, 0 after one that failed for good. The session does
/// not tell how many attempts a send took, so a send that went through on a
/// retry reports 2 as well.
fn sent_ttl(outcome: &Result<(), (i64, String)>) -> u8 {
    if outcome.is_ok() { 2 } else { 0 }
}

/// The v2 `send_message` report of one of the account's own sends.
pub fn v2_sent(s: &SentMessage, c: &Contacts) -> Value {
    let me = &c.user;
    let (code, msg, info) = match &s.outcome {
        Ok(()) => (0, "发送成功", "发送正常".to_string()),
        Err((code, info)) => (*code, "发送失败", info.clone()),
    };
    let mut v = json!({
        "post_type": "send_message",
        "id": s.msg_id.0,
        "time": s.time,
        "class": "send",
        "content": s.content,
        "sender": me.nick,
        "sender_id": num(&me.id),
        "sender_uid": me.qq.0,
        "code": code,
        "msg": msg,
        "info": info,
        "from": s.origin.v2_from(),
        "ttl": sent_ttl(&s.outcome),
        "source": SOURCE_LOCAL,
    });
    let person = |id: &str, qq: crate::model::Qq| {
        let name = c
            .friend(qq)
            .map(|f| f.display_name().to_string())
            .unwrap_or_else(|| qq.to_string());
        (name, num(id), qq.0)
    };
    let set_receiver = |v: &mut Value, (name, id, uid): (String, Value, u64)| {
        v["receiver"] = json!(name);
        v["receiver_id"] = id;
        v["receiver_uid"] = json!(uid);
    };
    match &s.target {
        SendTarget::Friend { id, qq } => {
            v["type"] = json!("friend_message");
            set_receiver(&mut v, person(id, *qq));
        }
        SendTarget::Group { gid, gnumber } => {
            v["type"] = json!("group_message");
            v["group"] = json!(c.group(*gnumber).map(|g| g.gname.clone()));
            v["group_id"] = num(gid);
            v["group_uid"] = json!(gnumber.0);
        }
        SendTarget::Discuss { did, key } => {
            v["type"] = json!("discuss_message");
            v["discuss"] = json!(c.discuss_by_key(*key).map(|d| d.dname.clone()));
            v["discuss_id"] = num(did);
        }
        SendTarget::GroupSess {
            gid,
            gnumber,
            id,
            qq,
        } => {
            v["type"] = json!("sess_message");
            v["via"] = json!("group");
            v["group"] = json!(c.group(*gnumber).map(|g| g.gname.clone()));
            v["group_id"] = num(gid);
            v["group_uid"] = json!(gnumber.0);
            set_receiver(&mut v, person(id, *qq));
        }
        SendTarget::DiscussSess { did, key, id, qq } => {
            v["type"] = json!("sess_message");
            v["via"] = json!("discuss");
            v["discuss"] = json!(c.discuss_by_key(*key).map(|d| d.dname.clone()));
            v["discuss_id"] = num(did);
            set_receiver(&mut v, person(id, *qq));
        }
    }
    v
}

/// The v2 `event` report: `{"post_type":"event","event":NAME,"params":[…]}`.
pub fn v2_event(e: &Event) -> Value {
    let params = match e {
        Event::Login { is_scan } => json!([u8::from(*is_scan)]),
        Event::Stop => json!([]),
        Event::StateChange { old, new } => json!([old, new]),
        Event::NewFriend(f) | Event::LoseFriend(f) => json!([v2::friend(f)]),
        Event::NewGroupMember { member, group } | Event::LoseGroupMember { member, group } => {
            json!([v2::member(member, group), v2::group(group, true)])
        }
    };
    json!({"post_type": "event", "event": e.name(), "params": params})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChatRef, GroupNumber, Person, Qq};

    fn person(id: &str, qq: u64, name: &str) -> Person {
        Person {
            id: id.into(),
            qq: Some(Qq(qq)),
            name: name.into(),
        }
    }

    #[test]
    fn group_report_has_numbers_where_the_original_did() {
        let msg = InboundMessage {
            id: "10856".into(),
            kind: ChatKind::Group,
            time: 1442542632,
            content: "测试一下".into(),
            sender: person("2372835507", 45678, "灰灰"),
            receiver: person("4072574066", 1234567, "小灰"),
            group: Some(ChatRef {
                id: "2617047292".into(),
                number: Some(GroupNumber(552603)),
                key: 0,
                name: "PERL学习交流".into(),
            }),
            discuss: None,
            addressing: Default::default(),
            trace: Default::default(),
        };
        assert_eq!(
            v1(&msg),
            json!({
                "content": "测试一下", "group": "PERL学习交流", "group_id": "2617047292", "gnumber": 552603,
                "msg_class": "recv", "msg_id": "10856", "msg_time": "1442542632", "receiver": "小灰",
                "receiver_id": "4072574066", "receiver_qq": 1234567, "sender": "灰灰",
                "sender_id": "2372835507", "sender_qq": 45678, "type": "group_message"
            })
        );
    }

    #[test]
    fn sess_via_group_has_no_gnumber() {
        let msg = InboundMessage {
            id: "1".into(),
            kind: ChatKind::Sess,
            time: 1,
            content: "x".into(),
            sender: person("1", 2, "a"),
            receiver: person("3", 4, "b"),
            group: Some(ChatRef {
                id: "9".into(),
                number: Some(GroupNumber(5)),
                key: 0,
                name: "g".into(),
            }),
            discuss: None,
            addressing: Default::default(),
            trace: Default::default(),
        };
        let v = v1(&msg);
        assert_eq!(v["via"], "group");
        assert_eq!(v["group_id"], "9");
        assert!(v.get("gnumber").is_none());
    }

    fn world_contacts() -> Contacts {
        let w = crate::backend::sim::World::default_world();
        let snap = crate::backend::LoginSnapshot {
            user: w.user,
            friends: w.friends,
            groups: w.groups,
            discusses: w.discusses,
        };
        Contacts::from_login(snap, crate::backend::IdScheme::Numbers, 1)
    }

    fn sent(outcome: Result<(), (i64, String)>) -> SentMessage {
        SentMessage {
            msg_id: crate::model::MsgId(23910001),
            target: SendTarget::Friend {
                id: "123456".into(),
                qq: Qq(123456),
            },
            content: "你好".into(),
            origin: crate::model::SendOrigin::Api,
            time: 1442542632,
            outcome,
        }
    }

    #[test]
    fn a_send_report_has_the_originals_ttl_and_source() {
        let c = world_contacts();
        let ok = v2_sent(&sent(Ok(())), &c);
        assert_eq!(
            (&ok["post_type"], &ok["class"], &ok["from"], &ok["code"]),
            (
                &json!("send_message"),
                &json!("send"),
                &json!("api"),
                &json!(0)
            )
        );
        assert_eq!((&ok["ttl"], &ok["source"]), (&json!(2), &json!("local")));
        assert_eq!(
            (&ok["id"], &ok["receiver_uid"], &ok["type"]),
            (&json!(23910001), &json!(123456), &json!("friend_message"))
        );
        let failed = v2_sent(&sent(Err((-3, "发送失败".into()))), &c);
        assert_eq!(
            (
                &failed["code"],
                &failed["msg"],
                &failed["ttl"],
                &failed["source"]
            ),
            (&json!(-3), &json!("发送失败"), &json!(0), &json!("local"))
        );
    }
}
