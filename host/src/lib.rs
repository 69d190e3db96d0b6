//! openqq: a QQ bot gateway that serves the Mojo-Webqq "Openqq" HTTP API,
//! owns the QQ session, and runs bots as WebAssembly components.
//!
//! The map (see `ARCHITECTURE.md` for the picture):
//!
//! | module | owns |
//! |---|---|
//! | [`model`] | Openqq objects, messages, targets and decisions as Rust types |
//! | [`backend`] | the way to QQ: `trait Backend`, the `sim` world |
//! | [`session`] | contacts (ids ⇄ numbers), relogin, the outbox, inbound normalisation, carrying out decisions |
//! | [`pipeline`] | each inbound message through the handlers, in its chat's lane |
//! | [`scripts`] | WebAssembly bots: engine, compile cache, registry, host imports |
//! | [`bus`] | the fleet bus: reports to NATS JetStream, workers' answers and API calls back |
//! | [`webhook`] | the pipeline's fallback: `post_api` reports and their answers, the `check_event` buffer |
//! | [`render`] | Openqq object shapes, v1 and v2 |
//! | [`api`] | the axum routers: `/openqq/*`, `/sim/*` |
//! | [`config`] | the TOML file, its defaults and the `[http]` rules |
//! | [`journal`] | the opt-in record of inbound messages (`[journal]`), for `openqq replay` and swap gates |
//! | [`replay`] | `openqq replay`: a bot's decisions on journaled messages, or two versions' differences |
//! | [`histogram`] | latency histograms for `/metrics`: atomic bucket counters |
//! | [`logring`] | the recent log lines: a `tracing` layer into a bounded ring, for `/admin/logs` |
//! | [`throttle`] | per-message warnings logged once per interval, with a count |
//! | [`auth`] | shared secrets in requests (API, admin, OneBot reverse), constant-time |
//! | [`clock`] | Unix time in seconds and milliseconds |
//! | [`storage`] | the database under `data_dir`: bots' KV stores, pending one-shot timers |
//! | [`timers`] | bots' declared and one-shot timers, the clock bots see, the scheduler |
//! | [`toml_error`] | TOML errors with their line and key |
//! | [`trace`] | the per-message trace: each message's, event's and timer call's steps, in a bounded ring |
//!
//! Data flows one way on each path: inbound backend → session → pipeline →
//! decision → session → backend; outbound API → session → outbox → backend.

pub mod api;
pub mod auth;
pub mod backend;
pub mod bus;
pub mod clock;
pub mod config;
pub mod grants;
pub mod histogram;
pub mod journal;
pub mod logring;
pub mod model;
pub mod pipeline;
pub mod render;
pub mod replay;
pub mod scaffold;
pub mod scripts;
pub mod session;
pub mod storage;
pub mod throttle;
pub mod timers;
pub mod toml_error;
pub mod trace;
pub mod webhook;

#[cfg(test)]
mod props;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use backend::sim::{Sim, World};
use config::{BackendKind, Config};
use session::{Session, SessionHandle};

/// How many backend events may wait for the session before the backend waits.
const EVENT_QUEUE: usize = 4096;
/// How long a stopping gateway keeps handling the messages it already holds.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long a stopping server waits for its open requests. A client that
/// stops reading a stream (`/admin/logs/stream`) blocks its writes, so the
/// stream is never polled to see the stop: past this the server is
/// abandoned, and such a connection ends when its client goes.
const SERVER_GRACE: Duration = Duration::from_secs(5);

/// A running gateway: the HTTP server, the session and the pipeline.
pub struct Gateway {
    /// Where the HTTP API actually listens (useful with port 0).
    pub addr: SocketAddr,
    pub session: SessionHandle,
    /// The simulator, on the `sim` backend.
    pub sim: Option<Arc<Sim>>,
    /// The `post_api` webhook, when configured.
    pub webhook: Option<webhook::Webhook>,
    /// The fleet bus (`[bus]`), when configured.
    pub bus: Option<bus::Bus>,
    /// The loaded scripts (empty when none are configured).
    pub scripts: scripts::Registry,
    /// Reloads scripts (hot swap); `None` when no scripts are configured.
    pub reloader: Option<scripts::ReloadHandle>,
    _watcher: Option<scripts::Watcher>,
    /// The v2 `check_event` buffer.
    pub reports: webhook::ReportBuffer,
    /// Set to true to stop (by `stop` or by the API's `stop_client`).
    stopping: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    /// Ends once the session's queue and the pipeline's lanes are empty.
    pipeline: JoinHandle<()>,
    /// Turns v2 sends and events into reports; ends after the `stop` one.
    reporter: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Builds everything from `config`, binds the listener and starts serving.
    ///
    /// # Errors
    /// A bad world file, a failed login, or an address that cannot be bound.
    pub async fn start(config: Config) -> anyhow::Result<Gateway> {
        Self::start_with_handlers(config, Vec::new()).await
    }

    /// As `start`, with native handlers that run before the scripts (used by
    /// benchmarks and tests to compare against an in-process Rust handler).
    ///
    /// # Errors
    /// As `start`.
    pub async fn start_with_handlers(
        config: Config,
        native: Vec<Arc<dyn pipeline::Handler>>,
    ) -> anyhow::Result<Gateway> {
        config.check()?;
        let guard = api::guard::Policy::new(&config.http, config.listen.ip(), config.api_version)
            .context("invalid [http] settings")?;
        let zone = config.zone()?;
        let data_dir = config.data_dir();
        let storage = tokio::task::spawn_blocking(move || storage::Storage::open(&data_dir))
            .await
            .context("opening the database")??;
        let timers = timers::Timers::new(
            storage,
            // Only the simulated world's clock may be moved (`/admin/clock`).
            timers::Clock::new(config.backend.kind == BackendKind::Sim),
            zone,
        )?;
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let (sim, backend): (Option<Arc<Sim>>, Arc<dyn backend::Backend>) =
            match config.backend.kind {
                BackendKind::Sim => {
                    let world = match &config.backend.world {
                        Some(path) => World::load(path)?,
                        None => World::default_world(),
                    };
                    let latency = Duration::from_millis(config.backend.send_latency_ms);
                    let sim = Arc::new(Sim::new(world, events_tx).with_send_latency(latency));
                    (Some(sim.clone()), sim)
                }
                BackendKind::Onebot => {
                    let cfg = config.backend.to_onebot_config()?;
                    let onebot = backend::onebot::OneBot::start(cfg, events_tx).await?;
                    (None, Arc::new(onebot))
                }
            };
        let (session, session_task) =
            Session::start(backend, config.outbox.to_outbox_config(), events_rx)
                .await
                .context("first login failed")?;
        // Set to true to stop (by `stop` or by the API's `stop_client`).
        let (stopping, _) = watch::channel(false);
        let mut tasks = Vec::new();

        let webhook = match &config.post_api {
            Some(url) => Some(webhook::Webhook::start(
                url,
                &config.webhook,
                config.api_version,
                session.clone(),
            )?),
            None => None,
        };
        let bus = match &config.bus {
            Some(cfg) => Some(bus::Bus::start(cfg, config.api_version, &session).await?),
            None => None,
        };
        let reports = webhook::Reports {
            webhook: webhook.clone(),
            buffer: webhook::ReportBuffer::new(config.check_event_size),
            dialect: config.api_version,
            post_events: Arc::new(config.post_event_list.clone().unwrap_or_else(|| {
                model::DEFAULT_EVENTS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            })),
            bus: bus.clone(),
        };
        // v2 reports the account's own sends and events; v1 neither, and
        // with nobody subscribed a send builds no report. Subscribe before
        // anything can send, so no report is missed.
        let reporter = (config.api_version == render::Dialect::V2).then(|| {
            tokio::spawn(
                reports
                    .clone()
                    .run(session.clone(), session.subscribe_reports()),
            )
        });
        session.emit(model::Event::Login { is_scan: true });
        // One ring for every trace: the pipeline begins messages' traces,
        // the registry events' and timer calls'.
        let traces = trace::Traces::new(config.console.trace_size);
        let registry =
            scripts::Registry::new(session.clone(), timers.clone()).traced(traces.clone());
        tasks.push(tokio::spawn(
            registry.clone().deliver_events(session.subscribe_events()),
        ));
        let (reloader, watcher) = if !config.scripts.is_empty() || config.scripts_dir.is_some() {
            let engine = scripts::ScriptEngine::new(config.cache_dir.clone())?;
            let (mut reloader, handle) =
                scripts::Reloader::new(engine, registry.clone(), config.clone());
            let first = reloader.initial_load().await;
            tracing::info!(
                loaded = first.loaded.len(),
                rejected = first.rejected.len(),
                "scripts loaded"
            );
            tasks.push(tokio::spawn(reloader.run()));
            let watcher = match scripts::watch(watched_dirs(&config), handle.clone()) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "scripts will not reload on file changes");
                    None
                }
            };
            (Some(handle), watcher)
        } else {
            (None, None)
        };
        tasks.push(tokio::spawn(timers::run(
            timers.clone(),
            Arc::new(registry.clone()),
            stopping.subscribe(),
        )));
        let journal_cfg = config.journal.clone();
        let journal = tokio::task::spawn_blocking(move || journal::Journal::open(&journal_cfg))
            .await
            .context("opening the journal")??;
        let mut handlers = native;
        if let Some(b) = bus
            .as_ref()
            .filter(|b| b.mode() == config::BusMessages::All)
        {
            // First: every message is published before any bot decides.
            handlers.insert(0, Arc::new(bus::PublishAll(b.clone())));
        }
        handlers.push(Arc::new(registry.clone()));
        let pipeline =
            pipeline::Pipeline::new(session.clone(), handlers, Arc::new(reports.clone()))
                .traced(traces)
                .journaled(journal);
        let dry_run = pipeline.dry_run();
        let (lanes, pipeline) = pipeline.start();
        // Backend events wait in their queue until the bots are loaded; from
        // here on the session hands each message straight to its lane.
        tasks.push(tokio::spawn(session_task.run(lanes, stopping.subscribe())));

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        guard.warn_at_start(addr, config.access_token.is_some());
        // One ring per process (a subscriber is per process): the gateway
        // started last sets its size.
        let logs = logring::global().clone();
        logs.set_capacity(config.console.log_lines);
        let state = api::AppState {
            session: session.clone(),
            sim: sim.clone(),
            scripts: registry.clone(),
            reloader: reloader.clone(),
            admin_token: config.admin_token.as_deref().map(Arc::from),
            dialect: config.api_version,
            access_token: config.access_token.as_deref().map(Arc::from),
            reports: reports.buffer.clone(),
            webhook: webhook.clone(),
            stopping: stopping.clone(),
            started: std::time::SystemTime::now(),
            async_sends: Arc::new(tokio::sync::Semaphore::new(api::state::ASYNC_SENDS)),
            logs,
            dry_run,
            bus: bus.as_ref().map(bus::Bus::stats),
        };
        if let Some(b) = &bus {
            b.serve_api(state.clone()).await?;
        }
        let app = api::router(state, Arc::new(guard));
        let mut stopped = stopping.subscribe();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
        });
        tracing::info!(
            backend = session.backend_name(),
            "openqq serving the Openqq API at http://{addr}/openqq/"
        );
        Ok(Gateway {
            addr,
            session,
            sim,
            webhook,
            bus,
            scripts: registry,
            reloader,
            _watcher: watcher,
            reports: reports.buffer,
            stopping,
            reporter,
            server,
            pipeline,
            tasks,
        })
    }

    /// Resolves when the gateway was asked to stop (`stop_client`).
    pub async fn stopping(&self) {
        let mut rx = self.stopping.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Stops: no new messages are taken from the backend, the server
    /// finishes in-flight requests (a synchronous send still waiting in the
    /// outbox gets its answer) for up to `SERVER_GRACE`, and messages
    /// already received are still handled — by the bots or the webhook —
    /// for up to `STOP_GRACE`.
    pub async fn stop(self) {
        self.stopping.send_replace(true);
        let mut server = self.server;
        if tokio::time::timeout(SERVER_GRACE, &mut server)
            .await
            .is_err()
        {
            tracing::warn!(
                grace_secs = SERVER_GRACE.as_secs(),
                "stopping with requests still open (a client not reading its stream?); they are abandoned"
            );
            server.abort();
        }
        let grace_ends = tokio::time::Instant::now() + STOP_GRACE;
        let pipeline = self.pipeline.abort_handle();
        let handled = tokio::time::timeout_at(grace_ends, self.pipeline)
            .await
            .is_ok();
        // Messages handed to the webhook are posted and their answers carried
        // out first: a reply there is a send, and v2 reports it before `stop`.
        let webhook = self.webhook.clone();
        let answered = match &webhook {
            Some(w) => tokio::time::timeout_at(grace_ends, w.drained())
                .await
                .is_ok(),
            None => true,
        };
        // Bots and v2 reports hear of the stop once no message is left.
        self.session.emit(model::Event::Stop);
        let reporter = self.reporter.map(|r| (r.abort_handle(), r));
        let mut reporter_abort = None;
        let posted = tokio::time::timeout_at(grace_ends, async {
            // The v2 report task turns sends and events into posts: it ends
            // once it has queued the `stop` report, the last there is.
            if let Some((abort, r)) = reporter {
                reporter_abort = Some(abort);
                let _ = r.await;
            }
            if let Some(w) = webhook {
                w.drained().await;
            }
        })
        .await
        .is_ok()
            && answered;
        if let Some(abort) = reporter_abort {
            abort.abort();
        }
        // The bus publishes what it holds (the `stop` event last).
        let published = match &self.bus {
            Some(b) => b.stop(grace_ends).await,
            None => true,
        };
        let posted = posted && published;
        if !(handled && posted) {
            tracing::warn!(
                grace_secs = STOP_GRACE.as_secs(),
                "stopping with messages still being handled; they are abandoned"
            );
        }
        pipeline.abort();
        for t in self.tasks {
            t.abort();
        }
    }
}

/// The directories whose `.wasm` files are watched: the scripts directory
/// and the directory of every `[[scripts]]` file.
fn watched_dirs(config: &Config) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<std::path::PathBuf> = config.scripts_dir.iter().cloned().collect();
    for e in &config.scripts {
        let dir = match e.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// Runs the gateway until `shutdown` completes.
///
/// # Errors
/// As `Gateway::start`.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let gateway = Gateway::start(config).await?;
    // SIGHUP re-reads the config and the scripts, as daemons do. The handler
    // is installed even with nothing to reload: without one, SIGHUP's
    // default action would terminate the gateway.
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hup) => {
            let reloader = gateway.reloader.clone();
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    match &reloader {
                        Some(r) => {
                            tracing::info!("SIGHUP: reloading scripts");
                            r.poke();
                        }
                        None => tracing::info!(
                            "SIGHUP: no scripts are configured, nothing re-read (bots added to the config load at the next start)"
                        ),
                    }
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot handle SIGHUP; it will stop the gateway"),
    }
    tokio::select! {
        _ = shutdown => {}
        _ = gateway.stopping() => tracing::info!("stop_client asked the gateway to stop"),
    }
    tracing::info!("shutting down");
    gateway.stop().await;
    Ok(())
}
