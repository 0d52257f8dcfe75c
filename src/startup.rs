//! Start-up and shutdown, in order: metrics, database (with retry), migrations, demo seed, the
//! engine's actors, Redis, listener, replay of unprocessed Retell events, HTTP server; on
//! SIGINT/SIGTERM stop accepting, finish in-flight requests, flush the engine's pending writes,
//! then close the database.
//!
//! Like mini-redis's `server::run`, [`Application::build`] takes a configuration whose bind
//! address may use port 0, so tests start real servers on free ports.

use crate::cluster::RedisHolds;
use crate::config::Config;
use crate::events::Events;
use crate::http::{self, AppState, Readiness};
use crate::metrics::Metrics;
use crate::seed;
use crate::sla::{Clock, SlaHandle, SystemClock};
use crate::store::{Database, DatabaseError};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, HttpServer};
use callflow_actors::{Engine, Store, StoreError};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The metrics recorder could not be installed.
    #[error("cannot install metrics recorder: {0}")]
    Metrics(#[from] metrics_exporter_prometheus::BuildError),
    /// Connecting or migrating failed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// Seeding the demo failed.
    #[error("cannot seed the demo company: {0}")]
    Seed(#[source] StoreError),
    /// The engine's actors could not be started.
    #[error("cannot start the engine: {0}")]
    Engine(#[from] callflow_actors::EngineError),
    /// Redis is configured but unreachable.
    #[error("cannot connect to redis.url: {0}")]
    Redis(#[from] redis::RedisError),
    /// Notifications could not start (TLS or SMTP settings).
    #[error("cannot start notifications: {0}")]
    Notifications(#[from] crate::notify::StartError),
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A started (not yet awaited) server.
pub struct Application {
    server: Server,
    address: SocketAddr,
    database: Database,
    store: Arc<dyn Store>,
    engine: Engine,
    events: Events,
    sla: SlaHandle,
    notifications: crate::notify::Notifications,
    signals: ShutdownSignals,
}

impl Application {
    /// Connects, migrates, seeds when empty and binds; the server runs once awaited.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] with the use cases and the SLA monitor reading `clock` (tests
    /// pass a [`crate::sla::ManualClock`] and fire what is due through [`Application::sla`]).
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let metrics = Metrics::install()?;
        tracing::info!(url = %config.database.redacted_url(), "connecting to the database");
        let database = Database::connect(&config.database).await?;
        database.migrate().await?;
        let store = database.store();
        if config.database.seed_demo_when_empty
            && seed::seed_demo_if_empty(&*store)
                .await
                .map_err(StartupError::Seed)?
        {
            tracing::info!("empty database: seeded the demo company \"Zahnarztpraxis Dr. Müller\"");
        }
        let engine =
            Engine::start_with_clock(store.clone(), config.engine_settings(), clock.clone())
                .await?;
        let redis = RedisHolds::connect(&config.redis).await?;
        let events = Events::new();
        let app = crate::app::App::new(
            store.clone(),
            engine.clone(),
            events.clone(),
            clock.clone(),
            crate::app::Settings::from_config(&config),
        );
        // The SLA monitor rebuilds its timers from the database before it takes any news,
        // and hears of every later change through the events (and of merges, which publish
        // none, from the callback use cases directly).
        let sla = SlaHandle::start(app.callbacks.clone(), clock);
        events.subscribe(sla.listener());
        app.callbacks.set_watch(Arc::new(sla.clone()));
        // The outbox listener subscribes here; the worker delivers what earlier runs left due.
        let notifications =
            crate::notify::Notifications::start(&config, database.clone(), store.clone(), &events)?;
        // Before the port is bound: from then on a signal must mean a graceful stop.
        let signals = ShutdownSignals::install();
        let listener =
            TcpListener::bind(config.server.bind).map_err(|source| StartupError::Bind {
                addr: config.server.bind,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.server.bind,
            source,
        })?;

        let readiness = Readiness::default();
        let config = Arc::new(config);
        let state = web::Data::new(AppState {
            app: app.clone(),
            store: store.clone(),
            engine: engine.clone(),
            redis,
            metrics,
            readiness: readiness.clone(),
            rate_limits: http::rate_limit::RateLimits::new(&config.rate_limits),
            config: config.clone(),
            events: events.clone(),
            notify: notifications.handle(),
        });
        // Follow-ups of events accepted before a stop (or whose follow-up failed) run now,
        // before new events arrive; a failure here is logged and does not stop the start.
        match app.calls.replay_unprocessed().await {
            Ok(replayed) => tracing::info!(replayed, "replayed unprocessed Retell events"),
            Err(e) => {
                tracing::error!(error = %e, "could not replay unprocessed Retell events");
            }
        }
        let mut server = HttpServer::new(move || {
            actix_web::App::new().configure(|cfg| http::configure(cfg, state.clone()))
        })
        // We handle SIGINT ourselves: actix treats it as a forced stop, we want it graceful.
        .disable_signals()
        .shutdown_timeout(config.server.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(
            config.server.client_request_timeout_secs,
        ));
        if config.server.workers > 0 {
            server = server.workers(config.server.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                addr: config.server.bind,
                source,
            })?
            .run();
        readiness.set(true);
        tracing::info!(%address, "callflow is listening");
        Ok(Self {
            server,
            address,
            database,
            store,
            engine,
            events,
            sla,
            notifications,
            signals,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The store the server uses.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The database pool the server uses.
    pub fn database(&self) -> Database {
        self.database.clone()
    }

    /// The engine the server drives.
    pub fn engine(&self) -> Engine {
        self.engine.clone()
    }

    /// The domain-event publisher (tests subscribe to it).
    pub fn events(&self) -> Events {
        self.events.clone()
    }

    /// The SLA monitor.
    pub fn sla(&self) -> SlaHandle {
        self.sla.clone()
    }

    /// A handle to stop the server from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (by [`ServerHandle::stop`] or SIGINT/SIGTERM), then closes the
    /// database once in-flight requests are done.
    pub async fn run_until_stopped(mut self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let signals = self.signals;
        let signals = tokio::spawn(async move {
            signals.recv().await;
            tracing::info!("shutdown requested: finishing in-flight requests");
            handle.stop(true).await;
        });
        let served = self.server.await;
        signals.abort();
        // In-flight requests are done: write what the persistence actor still holds, then close.
        if let Err(e) = self.engine.flush().await {
            tracing::error!(error = %e, "could not flush pending writes");
        }
        // Attempts in flight finish (bounded by their timeout); pending ones wait for the next start.
        self.notifications.stop().await;
        self.database.close().await;
        tracing::info!("callflow stopped");
        served
    }
}

/// SIGINT and SIGTERM, listened for from [`Application::build`] on: once the port is bound a
/// supervisor (or a test) may signal at any moment, and a signal that arrives before its handler
/// is installed kills the process with the default action instead of stopping it gracefully.
struct ShutdownSignals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl ShutdownSignals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let streams = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(int), Ok(term)) => Some((int, term)),
                _ => {
                    tracing::warn!("cannot listen for SIGINT/SIGTERM; stop with the server handle");
                    None
                }
            };
            Self { streams }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    async fn recv(self) {
        #[cfg(unix)]
        match self.streams {
            Some((mut int, mut term)) => {
                tokio::select! {
                    _ = int.recv() => {},
                    _ = term.recv() => {},
                }
            }
            None => std::future::pending::<()>().await,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
