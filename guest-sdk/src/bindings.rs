//! The wit-bindgen output for `openqq:bot/bot`, generated once for every bot.
//!
//! Bots never name this module; [`crate::export_bot!`] reaches the export
//! macro through it and the rest of the crate re-exports its types.

wit_bindgen::generate!({
    world: "bot",
    path: "../wit",
    // Tests compare decisions and look contacts up by address.
    additional_derives: [PartialEq, Eq, Hash],
    // The export macro runs in the bot's crate, which has no bindings of its own.
    pub_export_macro: true,
    default_bindings_module: "openqq_bot::bindings",
});
