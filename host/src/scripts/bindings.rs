//! The host side of the `openqq:bot` world (`wit/bot.wit`), generated once.
//!
//! Only `host.send` is async: it waits on the outbox. Everything else answers
//! from memory. Exports are called with `*_async` because an async import
//! exists, which also lets epoch deadlines yield to the runtime.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "bot",
    imports: {
        "openqq:bot/host.send": async,
    },
    exports: { default: async },
});
