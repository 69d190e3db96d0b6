//! The NATS client from `[bus]`: credentials, reconnect backoff, and a
//! first connection that may wait (the gateway starts without NATS).

use std::time::Duration;

use anyhow::Context;

use crate::config::BusSection;

/// The longest pause between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Connects in the background: returns at once, and the client connects
/// (and reconnects, for ever, backing off 10 ms, 20 ms, … up to
/// `MAX_BACKOFF`) on its own; what is sent meanwhile waits in the client.
///
/// # Errors
/// An unreadable creds file or an address the client cannot parse.
pub async fn connect(cfg: &BusSection, name: &str) -> anyhow::Result<async_nats::Client> {
    let mut opts = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            let exp = u32::try_from(attempts.min(8)).unwrap_or(8);
            (Duration::from_millis(10) * 2u32.pow(exp)).min(MAX_BACKOFF)
        })
        .event_callback(|e| async move {
            match e {
                async_nats::Event::Connected => tracing::info!("bus: connected to NATS"),
                async_nats::Event::Disconnected => {
                    tracing::warn!("bus: NATS unreachable; reports wait in the buffer")
                }
                other => tracing::debug!(event = %other, "bus: NATS event"),
            }
        });
    if let (Some(u), Some(p)) = (&cfg.user, &cfg.password) {
        opts = opts.user_and_password(u.clone(), p.clone());
    }
    if let Some(t) = &cfg.token {
        opts = opts.token(t.clone());
    }
    if let Some(path) = &cfg.creds {
        opts = opts
            .credentials_file(path)
            .await
            .with_context(|| format!("[bus] creds {}", path.display()))?;
    }
    let addrs: Vec<async_nats::ServerAddr> = cfg
        .url
        .split(',')
        .map(|u| u.trim().parse())
        .collect::<Result<_, _>>()
        .with_context(|| format!("[bus] url {:?}", cfg.url))?;
    opts.connect(addrs)
        .await
        .with_context(|| format!("cannot set up the NATS client for {}", cfg.url))
}
