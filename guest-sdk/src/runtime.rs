//! The glue behind [`export_bot!`](crate::export_bot): one bot instance per
//! component instance, and panics routed to the gateway's log.
//!
//! Public only so the macro can reach it from the bot's crate.

use std::cell::RefCell;
use std::panic::{self, PanicHookInfo};
use std::sync::Once;
use std::thread::LocalKey;

pub use crate::bindings::Guest;
use crate::{Bot, Config, Decision, Event, Level, Message, host};

/// Where [`export_bot!`](crate::export_bot) keeps the bot: `None` until `init`
/// succeeds.
pub type Slot<B> = LocalKey<RefCell<Option<B>>>;

/// Runs the export `init`: builds the bot and keeps it in `slot`.
///
/// # Errors
///
/// Whatever [`Bot::init`] returns; the slot is then empty.
pub fn init<B: Bot>(slot: &'static Slot<B>, config: Vec<(String, String)>) -> Result<(), String> {
    install_panic_hook();
    let config = Config::from(config);
    // Drop an older instance first so a failed re-init leaves nothing half-built.
    slot.with(|cell| *cell.borrow_mut() = None);
    let bot = B::init(&config)?;
    slot.with(|cell| *cell.borrow_mut() = Some(bot));
    Ok(())
}

/// Runs the export `on-message` on the bot in `slot`.
pub fn on_message<B: Bot>(slot: &'static Slot<B>, msg: &Message) -> Option<Decision> {
    install_panic_hook();
    slot.with(|cell| {
        // The component model forbids re-entering an instance, so this borrow
        // is the only one.
        match cell.borrow_mut().as_mut() {
            Some(bot) => bot.on_message(msg),
            None => {
                host::log(
                    Level::Error,
                    "on-message before a successful init; passing the message on",
                );
                None
            }
        }
    })
}

/// Runs the export `on-event` on the bot in `slot`.
pub fn on_event<B: Bot>(slot: &'static Slot<B>, event: &Event) {
    install_panic_hook();
    slot.with(|cell| {
        if let Some(bot) = cell.borrow_mut().as_mut() {
            bot.on_event(event);
        }
    })
}

/// Runs the export `on-timer` on the bot in `slot`.
pub fn on_timer<B: Bot>(slot: &'static Slot<B>, name: &str, payload: &str) {
    install_panic_hook();
    slot.with(|cell| match cell.borrow_mut().as_mut() {
        Some(bot) => bot.on_timer(name, payload),
        None => host::log(
            Level::Error,
            &format!("on-timer `{name}` before a successful init; ignored"),
        ),
    })
}

/// Sends every panic's message and location to the gateway's log before the
/// trap; stderr of a component is not the gateway's log.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            host::log(Level::Error, &panic_line(info));
            // Natively (tests) keep the usual report on stderr as well.
            if cfg!(not(target_arch = "wasm32")) {
                previous(info);
            }
        }));
    });
}

/// One log line: `panicked at src/lib.rs:12:9: the message`.
fn panic_line(info: &PanicHookInfo<'_>) -> String {
    let message = info
        .payload_as_str()
        .unwrap_or("(a panic payload that is not a string)");
    match info.location() {
        Some(at) => format!("panicked at {at}: {message}"),
        None => format!("panicked: {message}"),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::testing::{self, MockHost};

    struct Counter {
        seen: u32,
    }

    impl Bot for Counter {
        fn init(config: &Config) -> Result<Self, String> {
            if config.get("refuse").is_some() {
                return Err("refused".into());
            }
            Ok(Counter { seen: 0 })
        }

        fn on_message(&mut self, msg: &Message) -> Option<Decision> {
            if msg.text() == "panic" {
                panic!("counter: asked to panic");
            }
            self.seen += 1;
            Some(Decision::reply(self.seen.to_string()))
        }

        fn on_timer(&mut self, name: &str, payload: &str) {
            self.seen += 10;
            crate::info!("timer {name} {payload}");
        }
    }

    thread_local! {
        static SLOT: RefCell<Option<Counter>> = const { RefCell::new(None) };
    }

    #[test]
    fn keeps_one_instance_across_messages() {
        let _host = MockHost::new();
        init::<Counter>(&SLOT, vec![]).unwrap();
        let msg = testing::friend_message(1, "a", "hi");
        assert_eq!(on_message(&SLOT, &msg), Some(Decision::reply("1")));
        assert_eq!(on_message(&SLOT, &msg), Some(Decision::reply("2")));
        // A new init starts over, as a rebuilt instance would.
        init::<Counter>(&SLOT, vec![]).unwrap();
        assert_eq!(on_message(&SLOT, &msg), Some(Decision::reply("1")));
    }

    #[test]
    fn timers_reach_the_instance() {
        let host = MockHost::new();
        on_timer(&SLOT, "early", "");
        assert!(host.logged(Level::Error, "on-timer `early` before a successful init"));
        init::<Counter>(&SLOT, vec![]).unwrap();
        on_timer(&SLOT, "t", "p");
        assert!(host.logged(Level::Info, "timer t p"));
        let msg = testing::friend_message(1, "a", "hi");
        assert_eq!(on_message(&SLOT, &msg), Some(Decision::reply("11")));
    }

    #[test]
    fn failed_init_passes_messages_and_logs() {
        let host = MockHost::new();
        let config = vec![("refuse".to_owned(), "yes".to_owned())];
        assert_eq!(init::<Counter>(&SLOT, config), Err("refused".to_owned()));
        let msg = testing::friend_message(1, "a", "hi");
        assert_eq!(on_message(&SLOT, &msg), None);
        assert!(host.logged(Level::Error, "before a successful init"));
    }

    #[test]
    fn panics_reach_the_log_with_their_location() {
        let host = MockHost::new();
        init::<Counter>(&SLOT, vec![]).unwrap();
        let msg = testing::friend_message(1, "a", "panic");
        let outcome = panic::catch_unwind(|| on_message(&SLOT, &msg));
        assert!(outcome.is_err());
        let logs = host.logs();
        let line = logs
            .iter()
            .find(|l| l.level == Level::Error)
            .expect("an error line");
        assert!(line.text.starts_with("panicked at "), "{}", line.text);
        assert!(line.text.contains("runtime.rs:"), "{}", line.text);
        assert!(
            line.text.ends_with(": counter: asked to panic"),
            "{}",
            line.text
        );
    }
}
