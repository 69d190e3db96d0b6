//! The host side of the `openqq:bot` worlds, generated once per version.
//!
//! `v1` is `openqq:bot@0.1.0` (`wit/0.1.0`), `v2` is `openqq:bot@0.2.0`
//! (`wit/0.2.0`). 0.2.0 repeats 0.1.0's `types` word for word, so `v2` takes
//! them from `v1` (`with`): a message, a decision or a destination is one
//! Rust type whichever version a bot targets, and `host` is implemented once
//! (`v2`'s `host` delegates to `v1`'s). The WASI interfaces 0.2.0 imports
//! (`wasi:http/outgoing-handler` and what it uses) are wasmtime's.
//!
//! The async imports wait off the guest's clock (sends queue at once; the
//! KV's writes wait for the disk). Exports are called with `*_async` because
//! async imports exist, which also lets epoch deadlines yield to the runtime.

pub mod v1 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "bot",
        imports: {
            "openqq:bot/host.send": async,
        },
        exports: { default: async },
    });
}

pub mod v2 {
    wasmtime::component::bindgen!({
        path: "../wit/0.2.0",
        world: "bot",
        imports: {
            "openqq:bot/host.send": async,
            "openqq:bot/kv.set": async,
            "openqq:bot/kv.delete": async,
            "openqq:bot/kv.increment": async,
            "openqq:bot/timers.after": async,
            "openqq:bot/timers.cancel": async,
        },
        exports: { default: async },
        with: {
            "openqq:bot/types": super::v1::openqq::bot::types,
            // `wasi:http/outgoing-handler` and what it uses: wasmtime's own
            // implementations, linked beside the world (`engine.rs`).
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
    });
}

pub use v1::openqq;
