//! The end-to-end tests, as one test binary: each module below starts real
//! gateways on 127.0.0.1 and speaks HTTP / WebSocket to them.
//!
//! One binary, not one per file: each linked test binary carries all of
//! wasmtime and Cranelift (hundreds of MB with debug info), and linking
//! nine of them filled a CI machine's disk. Run one area with a filter:
//! `cargo test --test e2e hot_swap::`.

mod support;

mod api_v1;
mod api_v2;
mod bus;
mod commands;
mod console;
mod cross_site;
mod dry_run;
mod flow;
mod grants;
mod hot_swap;
mod http;
mod languages;
mod logs;
mod malformed;
mod metrics;
mod new_bot;
mod onebot;
mod replay;
mod sandbox;
mod scripts;
mod smart_reply;
mod state;
mod trace;
mod webhook;
mod webhook_backlog;
