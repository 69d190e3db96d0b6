//! `[bus] messages = "all"`: a handler first in the chain that publishes
//! every received message and passes it on to the bots.

use async_trait::async_trait;

use super::Bus;
use crate::model::{Decided, InboundMessage};
use crate::pipeline::{Effects, Handler};

pub struct PublishAll(pub Bus);

#[async_trait]
impl Handler for PublishAll {
    async fn handle(&self, msg: &InboundMessage, _effects: &mut Effects) -> Option<Decided> {
        // A dry run reaches nobody: not QQ, not the webhook, not the bus.
        if !msg.trace.is_dry_run() {
            self.0.message(msg);
        }
        None
    }
}
