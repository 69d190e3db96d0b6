//! Write openqq bots in Rust.
//!
//! An openqq bot is a WebAssembly component for the world
//! `openqq:bot/bot@0.2.0` (`wit/0.2.0/bot.wit`). The gateway calls
//! [`Bot::init`] once per instance with the bot's config, then
//! [`Bot::on_message`] for every message the QQ account receives. Answer with
//! a [`Decision`] (reply and/or mute the sender) or with `None` to pass the
//! message on to the next bot and the `post_api` webhook. [`Bot::on_event`]
//! hears about joins, leaves and logins, [`Bot::on_timer`] about timers.
//!
//! This crate holds the bindings, so a bot needs nothing else:
//!
//! ```
//! use openqq_bot::{Bot, Config, Decision, Message};
//!
//! struct Echo {
//!     answer: String,
//! }
//!
//! impl Bot for Echo {
//!     fn init(config: &Config) -> Result<Self, String> {
//!         let answer = config.get_or("answer", "pong").to_owned();
//!         Ok(Echo { answer })
//!     }
//!
//!     fn on_message(&mut self, msg: &Message) -> Option<Decision> {
//!         (msg.text() == "ping").then(|| Decision::reply(&self.answer))
//!     }
//! }
//!
//! openqq_bot::export_bot!(Echo);
//! ```
//!
//! with this `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"] # cdylib: the component; rlib: native tests
//!
//! [dependencies]
//! openqq-bot = { path = "../../guest-sdk" }
//! ```
//!
//! `cargo build --release --target wasm32-wasip2` then writes the component to
//! `target/wasm32-wasip2/release/<crate>.wasm`.
//!
//! # State, panics and failures
//!
//! One instance of the bot lives as long as the gateway keeps the component
//! instance, so fields of the bot type are the place for caches.
//! The gateway rebuilds the instance (and calls `init` again) after a trap, a
//! deadline or a hot swap, so that state is a cache, not a store. What must
//! last goes in the [`kv`] store, which survives swaps, rebuilds and restarts.
//!
//! A panic traps the instance: the message passes on as if the bot had
//! answered `None`. Before the trap, the panic message and its location go to
//! the gateway's log at level `error`.
//!
//! # Talking to the gateway
//!
//! The [`host`] module logs ([`info!`] and friends), sends messages and looks
//! contacts up. [`kv`] keeps the bot's durable data (bytes, text, or any serde
//! type as JSON); [`timer`] declares repeating timers in `init` and sets
//! one-shot ones with a payload; [`moderation`] mutes, unmutes and kicks
//! group members; [`http`] calls web APIs (a blocking client over
//! `wasi:http/outgoing-handler`).
//!
//! [`Message::addressing`] says who a message addresses (the sender's role,
//! mentions, `at_me`, the quoted message); [`command`] builds chat commands
//! on it — prefixes or an @-mention, typed arguments, aliases, generated
//! help, permissions, per-user cooldowns.
//!
//! What a bot may do beyond answering the message it handles is granted per
//! bot in the gateway's config: `send_to` (where else `host::send` may go),
//! `moderate` (groups it may moderate), `http` (origins it may call). A call
//! the grants refuse returns an error starting `denied:`; it never traps.
//!
//! # Testing
//!
//! On native targets (`cargo test`) the [`host`], [`kv`], [`timer`],
//! [`moderation`] and [`http`] functions talk to a thread-local
//! [`testing::MockHost`] instead of the gateway (an in-memory store, a clock
//! the test moves, canned HTTP responses, grants enforced when a test asks),
//! so bot logic is tested without wasm:
//!
//! ```
//! # use openqq_bot::{Bot, Config, Decision, Message};
//! # struct Echo;
//! # impl Bot for Echo {
//! #     fn init(_: &Config) -> Result<Self, String> { Ok(Echo) }
//! #     fn on_message(&mut self, msg: &Message) -> Option<Decision> {
//! #         (msg.text() == "ping").then(|| Decision::reply("pong"))
//! #     }
//! # }
//! use openqq_bot::testing::{self, MockHost};
//!
//! let host = MockHost::new();
//! let mut bot = Echo::init(&Config::default()).unwrap();
//! let msg = testing::friend_message(10001, "Alice", "ping\n");
//! assert_eq!(bot.on_message(&msg), Some(Decision::reply("pong")));
//! assert!(host.sends().is_empty());
//! ```
//!
//! The `testing` module does not exist on wasm32, so put tests in
//! `#[cfg(all(test, not(target_arch = "wasm32")))]` modules.

mod addressing;
#[doc(hidden)]
pub mod bindings;
pub mod command;
mod config;
pub mod host;
pub mod http;
pub mod kv;
mod message;
pub mod moderation;
#[doc(hidden)]
pub mod runtime;
pub mod timer;
// Documented everywhere; usable natively only (the host functions use it there).
#[cfg(any(not(target_arch = "wasm32"), doc))]
pub mod testing;
mod throttle;

pub use bindings::openqq::bot::addressing::{Addressed, Quoted};
pub use bindings::openqq::bot::host::Level;
pub use bindings::openqq::bot::types::{
    Address, Chat, ChatKind, Decision, Destination, DiscussTemp, Event, Friend, Group, GroupRole,
    GroupTemp, Member, MemberChange, MemberRole, Message, Person,
};
pub use config::Config;
pub use throttle::Throttle;

/// A bot: its state, how it starts and how it answers messages.
///
/// Export it with [`export_bot!`].
pub trait Bot: Sized + 'static {
    /// Builds the bot from its config.
    ///
    /// Called once per instance, before any message: after loading, after a
    /// hot swap and after every rebuild.
    ///
    /// # Errors
    ///
    /// The text of an `Err` goes to the gateway's log and rejects this version
    /// of the bot; an older working version keeps serving. Say which key is
    /// wrong and why.
    fn init(config: &Config) -> Result<Self, String>;

    /// Answers one message: `Some` to reply and/or mute the sender, `None` to
    /// pass it on to the next bot and then the webhook.
    fn on_message(&mut self, msg: &Message) -> Option<Decision>;

    /// Hears about a change in the account's world: a member joined or left
    /// a group, a friend was added or removed, a fresh login. There is no
    /// message to reply to; act with [`host::send`]. Ignored by default.
    fn on_event(&mut self, event: &Event) {
        let _ = event;
    }

    /// A timer is due: `name` as declared ([`timer::every`],
    /// [`timer::cron`]: `payload` is empty) or set ([`timer::after`]:
    /// `payload` as set). There is no message to reply to; act with
    /// [`host::send`]. Ignored by default.
    fn on_timer(&mut self, name: &str, payload: &str) {
        let _ = (name, payload);
    }
}

/// Exports a [`Bot`] type as the component's `init`, `on-message`,
/// `on-event` and `on-timer`.
///
/// Use it once, at the root of the bot's crate: `openqq_bot::export_bot!(MyBot);`.
/// It keeps one instance of the bot for the life of the component instance and
/// installs the panic hook that logs panics to the gateway.
#[macro_export]
macro_rules! export_bot {
    ($bot:ty) => {
        const _: () = {
            ::std::thread_local! {
                // wasm32-wasip2 has one thread, so this is the instance's only copy.
                static OPENQQ_BOT_INSTANCE: ::core::cell::RefCell<::core::option::Option<$bot>> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            struct OpenqqBotExport;

            impl $crate::runtime::Guest for OpenqqBotExport {
                fn init(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::runtime::init::<$bot>(&OPENQQ_BOT_INSTANCE, config)
                }

                fn on_message(msg: $crate::Message) -> ::core::option::Option<$crate::Decision> {
                    $crate::runtime::on_message::<$bot>(&OPENQQ_BOT_INSTANCE, &msg)
                }

                fn on_event(event: $crate::Event) {
                    $crate::runtime::on_event::<$bot>(&OPENQQ_BOT_INSTANCE, &event)
                }

                fn on_timer(name: ::std::string::String, payload: ::std::string::String) {
                    $crate::runtime::on_timer::<$bot>(&OPENQQ_BOT_INSTANCE, &name, &payload)
                }
            }

            // Native builds (tests) have no component to export into.
            #[cfg(target_arch = "wasm32")]
    $crate::bindings::export!(OpenqqBotExport with_types_in $crate::bindings);
        };
    };
}

/// Logs a `format!`-style line at level `trace` (see [`host::log`]).
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::host::log($crate::Level::Trace, &::std::format!($($arg)*)) };
}

/// Logs a `format!`-style line at level `debug` (see [`host::log`]).
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::host::log($crate::Level::Debug, &::std::format!($($arg)*)) };
}

/// Logs a `format!`-style line at level `info` (see [`host::log`]).
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::host::log($crate::Level::Info, &::std::format!($($arg)*)) };
}

/// Logs a `format!`-style line at level `warn` (see [`host::log`]).
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::host::log($crate::Level::Warn, &::std::format!($($arg)*)) };
}

/// Logs a `format!`-style line at level `error` (see [`host::log`]).
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::host::log($crate::Level::Error, &::std::format!($($arg)*)) };
}
