//! The v1 `post_api` report of a received message (spec §5).
//!
//! Strings everywhere except `sender_qq`, `receiver_qq` and `gnumber`, which
//! are JSON numbers (null when unknown), as the original emitted them.

use serde_json::{Value, json};

use crate::model::{ChatKind, InboundMessage};

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
        };
        let v = v1(&msg);
        assert_eq!(v["via"], "group");
        assert_eq!(v["group_id"], "9");
        assert!(v.get("gnumber").is_none());
    }
}
