//! openqq: a QQ bot gateway that serves the Mojo-Webqq "Openqq" HTTP API,
//! owns the QQ session, and runs bots as WebAssembly components.
//!
//! The map (see `ARCHITECTURE.md` for the picture):
//!
//! | module | owns |
//! |---|---|
//! | [`model`] | Openqq objects, messages and targets as Rust types |
//! | [`backend`] | the way to QQ: `trait Backend`, the `sim` world |
//! | [`session`] | contacts (ids ⇄ numbers), relogin, the outbox, inbound normalisation |
//! | [`pipeline`] | each inbound message through the handlers; applying decisions |
//! | [`scripts`] | WebAssembly bots: engine, compile cache, registry, host imports |
//! | [`webhook`] | the `post_api` reports and their answers |
//! | [`api`] | the axum routers: `/openqq/*`, `/sim/*` |
//! | [`config`] | the TOML file and defaults |
//!
//! Data flows one way on each path: inbound backend → session → pipeline →
//! decision → session → backend; outbound API → session → outbox → backend.

pub mod api;
pub mod backend;
pub mod config;
pub mod model;
pub mod pipeline;
pub mod scripts;
pub mod session;
pub mod webhook;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use backend::sim::{Sim, World};
use config::{BackendKind, Config};
use session::{Session, SessionHandle};

/// How many backend events may wait for the session before the backend waits.
const EVENT_QUEUE: usize = 4096;
/// How many normalised messages may wait for the pipeline.
const INBOUND_QUEUE: usize = 4096;

/// A running gateway: the HTTP server, the session and the pipeline.
pub struct Gateway {
    /// Where the HTTP API actually listens (useful with port 0).
    pub addr: SocketAddr,
    pub session: SessionHandle,
    /// The simulator, on the `sim` backend.
    pub sim: Option<Arc<Sim>>,
    /// The `post_api` webhook, when configured.
    pub webhook: Option<webhook::Webhook>,
    /// The loaded scripts (empty when none are configured).
    pub scripts: scripts::Registry,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
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
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let (sim, backend): (Option<Arc<Sim>>, Arc<dyn backend::Backend>) =
            match config.backend.kind {
                BackendKind::Sim => {
                    let world = match &config.backend.world {
                        Some(path) => World::load(path)?,
                        None => World::default_world(),
                    };
                    let sim = Arc::new(Sim::new(world, events_tx));
                    (Some(sim.clone()), sim)
                }
            };
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
        let (session, session_task) = Session::start(
            backend,
            config.outbox.to_outbox_config(),
            events_rx,
            inbound_tx,
        )
        .await
        .context("first login failed")?;
        let mut tasks = vec![tokio::spawn(session_task.run())];

        let webhook = match &config.post_api {
            Some(url) => Some(webhook::Webhook::start(
                url,
                &config.webhook,
                session.clone(),
            )?),
            None => None,
        };
        let registry = scripts::Registry::new(session.clone());
        if !config.scripts.is_empty() || config.scripts_dir.is_some() {
            let engine = scripts::ScriptEngine::new(config.cache_dir.clone())?;
            load_scripts(&config, &engine, &registry).await?;
        }
        let mut handlers = native;
        handlers.push(Arc::new(registry.clone()));
        let pipeline = pipeline::Pipeline::new(session.clone(), handlers, webhook.clone());
        tasks.push(tokio::spawn(pipeline.run(inbound_rx)));

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let app = api::router(api::AppState {
            session: session.clone(),
            sim: sim.clone(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
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
            scripts: registry,
            stop,
            server,
            tasks,
        })
    }

    /// Stops serving and waits for the server to finish in-flight requests.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Loads every configured script into `registry`. A script that fails to
/// load is logged and left out; the gateway still starts.
async fn load_scripts(
    config: &Config,
    engine: &Arc<scripts::ScriptEngine>,
    registry: &scripts::Registry,
) -> anyhow::Result<()> {
    let specs = scripts::specs(config).context("cannot list the scripts directory")?;
    let mut loaded = Vec::new();
    for spec in &specs {
        match scripts::load(engine, spec, registry.session().clone()).await {
            Ok(instance) => loaded.push(Arc::new(scripts::Script::new(instance))),
            Err(e) => tracing::error!(script = %spec.name, "{e}"),
        }
    }
    tracing::info!(
        loaded = loaded.len(),
        configured = specs.len(),
        "scripts loaded"
    );
    registry.set(loaded);
    Ok(())
}

/// Runs the gateway until `shutdown` completes.
///
/// # Errors
/// As `Gateway::start`.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let gateway = Gateway::start(config).await?;
    shutdown.await;
    tracing::info!("shutting down");
    gateway.stop().await;
    Ok(())
}
