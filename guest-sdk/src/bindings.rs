//! The wit-bindgen output for `openqq:bot/bot@0.2.0`, generated once for every bot.
//!
//! Bots never name this module; [`crate::export_bot!`] reaches the export
//! macro through it and the rest of the crate re-exports its types.

// Generated code: the event variant's export glue takes many flat arguments.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({
    // The one 0.2.0 world: every bot may import `host`, `kv`, `timers`,
    // `moderation` and `wasi:http/outgoing-handler` (a component imports
    // only what it calls) and exports `on-event` and `on-timer` too (ignored
    // unless it overrides `Bot::on_event` / `Bot::on_timer`).
    world: "bot",
    path: "../wit/0.2.0",
    // Tests compare decisions and look contacts up by address.
    additional_derives: [PartialEq, Eq, Hash],
    // The export macro runs in the bot's crate, which has no bindings of its own.
    pub_export_macro: true,
    default_bindings_module: "openqq_bot::bindings",
    // The WASI interfaces the world imports (`wasi:http/outgoing-handler` and
    // what it uses) are generated here too; `stream-error` holds a resource,
    // which cannot be compared or hashed.
    generate_all,
    additional_derives_ignore: ["stream-error"],
});
