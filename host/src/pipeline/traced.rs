//! What a message's trace says about it when it begins: who said what,
//! where.

use crate::grants::Chat;
use crate::model::{ChatKind, InboundMessage};
use crate::trace::{Field, Header, Kind};

/// The trace header of a message coming in.
pub(super) fn header(msg: &InboundMessage) -> Header {
    let mut h = Header::new(Kind::Message);
    h.set(Field::Id, &msg.id)
        .set(Field::Chat, Chat::of_message(msg))
        .set(Field::Sender, &msg.sender.name)
        .content(&msg.content);
    let chat_name = match msg.kind {
        ChatKind::Group => msg.group.as_ref().map(|g| &g.name),
        ChatKind::Discuss => msg.discuss.as_ref().map(|d| &d.name),
        ChatKind::Friend | ChatKind::Sess => Some(&msg.sender.name),
    };
    if let Some(name) = chat_name {
        h.set(Field::ChatName, name);
    }
    if let Some(qq) = msg.sender.qq {
        h.set(Field::SenderQq, qq);
    }
    h
}
