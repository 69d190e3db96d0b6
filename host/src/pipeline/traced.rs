//! What a message's trace says about it when it begins: who said what,
//! where.

use crate::grants::Chat;
use crate::model::{ChatKind, InboundMessage};
use crate::trace::{Header, Kind, truncated};

/// The trace header of a message coming in.
pub(super) fn header(msg: &InboundMessage) -> Header {
    let chat_name = match msg.kind {
        ChatKind::Group => msg.group.as_ref().map(|g| g.name.clone()),
        ChatKind::Discuss => msg.discuss.as_ref().map(|d| d.name.clone()),
        ChatKind::Friend | ChatKind::Sess => Some(msg.sender.name.clone()),
    };
    Header {
        id: msg.id.clone(),
        numbered: false,
        kind: Kind::Message,
        at_ms: crate::clock::unix_now_ms(),
        chat: Some(Chat::of_message(msg).to_string()),
        chat_name,
        sender: Some(msg.sender.name.clone()),
        sender_qq: msg.sender.qq.map(|q| q.0.to_string()),
        content: truncated(&msg.content),
    }
}
