//! Building and running deskbot from config: open and migrate the store, load the catalog,
//! start hot reload, and run the console chat or the daemon. `main.rs` calls these; tests
//! call the very same functions.

use crate::adapters::console::{ConsoleChannel, read_line};
use crate::config::{Config, ConfigError};
use crate::domain::status::ChannelStatuses;
use crate::domain::{Address, Platform, UserRef};
use crate::domain::{Channel, Inbound, InboundKind};
use crate::intents::{self, Catalog, Diagnostics, LoadOptions, MatcherOptions};
use crate::outbox::Outbox;
use crate::redact::Redactor;
use crate::service::{Clock, LiveCatalog, Service, ServiceError, safe_reply, system_clock};
use crate::store::{self, DynStore, StoreError};
use arc_swap::ArcSwap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Anything that stops a command, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("the intents directory has problems:\n{0}")]
    Catalog(Diagnostics),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(String),
}

impl AppError {
    /// 2 for bad usage or bad input, 1 for failures at run time.
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Config(_) | AppError::Catalog(_) | AppError::Usage(_) => 2,
            AppError::Service(ServiceError::NoSuchTicket(_)) => 2,
            _ => 1,
        }
    }
}

/// Everything a running deskbot shares.
pub struct App {
    pub config: Config,
    pub store: DynStore,
    pub catalog: LiveCatalog,
    pub service: Arc<Service>,
    pub clock: Clock,
    /// Whether each chat channel is connected (for `/readyz`).
    pub channels: Arc<ChannelStatuses>,
}

/// Open the configured database and bring its schema up to date.
pub async fn open_store(config: &Config) -> Result<DynStore, AppError> {
    if let Some(dir) =
        config.database_url().strip_prefix("sqlite:").and_then(|p| std::path::Path::new(p).parent())
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        return Err(AppError::Runtime(format!("data directory {} does not exist", dir.display())));
    }
    let store = store::open(&config.database_url()).await?;
    store.migrate().await?;
    Ok(store)
}

pub fn load_options(config: &Config) -> LoadOptions {
    let mut matcher = MatcherOptions::default();
    if let Some(t) = config.matcher.threshold {
        matcher.threshold = t;
    }
    if let Some(m) = config.matcher.ambiguity_margin {
        matcher.ambiguity_margin = m;
    }
    LoadOptions { matcher, kb_min_score: config.kb.min_score }
}

/// Load and validate the intents directory (off the async runtime's threads).
pub async fn load_catalog(config: &Config) -> Result<Catalog, AppError> {
    let dir = config.intents_dir.clone();
    let queues = config.queue_names();
    let opts = load_options(config);
    tokio::task::spawn_blocking(move || intents::load_catalog(&dir, &queues, &opts))
        .await
        .map_err(|e| AppError::Runtime(format!("catalog loader crashed: {e}")))?
        .map_err(AppError::Catalog)
}

impl App {
    pub async fn build(config: Config) -> Result<App, AppError> {
        Self::build_with_clock(config, system_clock()).await
    }

    pub async fn build_with_clock(config: Config, clock: Clock) -> Result<App, AppError> {
        let catalog = load_catalog(&config).await?;
        let store = open_store(&config).await?;
        let catalog: LiveCatalog = Arc::new(ArcSwap::from_pointee(catalog));
        let desk = Arc::new(config.desk().map_err(|e| AppError::Config(ConfigError::Invalid(e)))?);
        let service = Arc::new(
            Service::new(
                store.clone(),
                catalog.clone(),
                config.engine_settings(),
                desk,
                Redactor::new(&config.redact),
                clock.clone(),
            )
            .with_intake(config.intake.clone())
            .with_drafts_dir(
                config
                    .desk
                    .kb_drafts_dir
                    .clone()
                    .unwrap_or_else(|| config.intents_dir.join("kb").join("drafts")),
            )
            .with_limits(config.limits.clone()),
        );
        // Roles from the config file are recorded as grants by "config".
        let wanted = crate::compliance::roles::config_grants(&config.queues(), &config.roles.admins);
        crate::compliance::roles::sync_config_grants(&store, wanted, clock()).await?;
        Ok(App { config, store, catalog, service, clock, channels: ChannelStatuses::new() })
    }

    /// Watch the intents directory and swap the catalog on change, until `cancel`.
    /// `report` is told about each reload (e.g. printed by `deskbot chat`).
    pub fn spawn_hot_reload(
        &self,
        tracker: &TaskTracker,
        cancel: CancellationToken,
        report: impl Fn(intents::reload::ReloadEvent) + Send + 'static,
    ) {
        if !self.config.hot_reload {
            return;
        }
        let dir = self.config.intents_dir.clone();
        let queues = self.config.queue_names();
        let opts = load_options(&self.config);
        let live = self.catalog.clone();
        match intents::reload::watch(dir, queues, opts, live, cancel, report) {
            Ok(task) => {
                tracker.spawn(task);
            }
            Err(e) => tracing::error!(error = %e, "hot reload is off"),
        }
    }
}

/// Options for `deskbot chat`.
#[derive(Debug, Clone)]
pub struct ChatOptions {
    pub user: String,
    /// Print a banner and reload notices (a person at a terminal).
    pub interactive: bool,
}

/// The console REPL: each input line is one message from `user`; the replies are printed
/// before the next line is read. Returns at end of input.
pub async fn chat<R: AsyncBufRead + Unpin>(
    app: &App,
    opts: &ChatOptions,
    mut input: R,
    output: Box<dyn Write + Send>,
) -> Result<(), AppError> {
    let console: Arc<dyn Channel> = Arc::new(ConsoleChannel::new(opts.user.clone(), output));
    let outbox =
        Outbox::new(app.store.clone(), vec![console], app.config.outbox.max_attempts, app.clock.clone());
    let tracker = TaskTracker::new();
    let cancel = CancellationToken::new();
    if opts.interactive {
        eprintln!(
            "deskbot: you are `{}`. Describe an IT problem; \"help\" for options, Ctrl-D to quit.",
            opts.user
        );
    }
    let interactive = opts.interactive;
    app.spawn_hot_reload(&tracker, cancel.clone(), move |ev| {
        if interactive {
            eprintln!("{ev}");
        }
    });
    // Messages queued while this user was away (e.g. a resolved ticket).
    outbox.deliver_due().await?;
    let session = format!("{}-{}", std::process::id(), (app.clock)());
    let user = UserRef::new(Platform::Console, opts.user.clone());
    let mut n = 0u64;
    let result = loop {
        let line = match read_line(&mut input).await {
            Ok(Some((line, _))) => line,
            Ok(None) => break Ok(()),
            Err(e) => break Err(AppError::Runtime(format!("cannot read input: {e}"))),
        };
        n += 1;
        let inbound = Inbound {
            event_id: format!("{session}-{n}"),
            user: user.clone(),
            display_name: Some(opts.user.clone()),
            conversation: format!("console:{}", opts.user),
            reply_to: Address::new(Platform::Console, opts.user.clone()),
            kind: InboundKind::Message { text: line },
            at: (app.clock)(),
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        };
        if let Err(e) = app.service.handle(inbound).await {
            tracing::error!(error = %e, "message not handled");
            eprintln!("deskbot: {}", safe_reply(&e));
            break Err(e.into());
        }
        if let Err(e) = outbox.deliver_due().await {
            break Err(e.into());
        }
        if interactive {
            eprintln!();
        }
    };
    cancel.cancel();
    tracker.close();
    tracker.wait().await;
    result
}

/// The daemon: HTTP server, outbox worker and hot reload, until `shutdown` fires.
pub async fn run(
    app: App,
    channels: Vec<Arc<dyn Channel>>,
    shutdown: CancellationToken,
) -> Result<(), AppError> {
    let tracker = TaskTracker::new();
    crate::observe::install();
    app.spawn_hot_reload(&tracker, shutdown.clone(), |ev| tracing::info!("{ev}"));
    let mut channels = channels;
    if !app.config.webhook.is_empty() {
        let hooks =
            crate::adapters::webhook::WebhookChannel::new(&app.config.webhook).map_err(AppError::Runtime)?;
        channels.push(Arc::new(hooks));
    }
    let mut routes = Vec::new();
    if let Some(settings) =
        app.config.slack.settings().map_err(|e| AppError::Config(ConfigError::Invalid(e)))?
    {
        let status = crate::adapters::slack::StatusHandle::new(app.channels.clone());
        status.down("connecting");
        let slack = crate::adapters::slack::start(
            &app.service,
            &app.config.intake,
            &settings,
            status,
            &tracker,
            shutdown.clone(),
        )
        .await
        .map_err(AppError::Runtime)?;
        if slack.routes.is_some() && !app.config.http.enabled {
            return Err(AppError::Config(ConfigError::Invalid(
                "slack.mode = events needs deskbot's HTTP server: set http.enabled = true".into(),
            )));
        }
        channels.push(slack.channel);
        routes.extend(slack.routes);
    }
    if let Some(discord) = &app.config.discord {
        let d = crate::adapters::discord::connect::start(
            app.service.clone(),
            discord,
            &app.config.intake,
            app.channels.clone(),
            &tracker,
            shutdown.clone(),
        )
        .await
        .map_err(AppError::Runtime)?;
        channels.push(d.channel);
        routes.push(d.router);
    }
    // Timers run only on the leader; see leader.rs.
    let leadership =
        crate::leader::Leadership::start_tracked(&app.config.database_url(), shutdown.clone(), &tracker);
    tracker.spawn(crate::compliance::retention::run_daily(
        app.store.clone(),
        app.config.retention.clone(),
        app.config.queue_names(),
        app.clock.clone(),
        Duration::from_secs(60),
        shutdown.clone(),
        {
            let leadership = leadership.clone();
            move || leadership.is_leader()
        },
    ));
    let outbox = Outbox::new(app.store.clone(), channels, app.config.outbox.max_attempts, app.clock.clone());
    tracker.spawn(outbox.run(Duration::from_millis(app.config.outbox.poll_ms.max(10)), shutdown.clone()));
    tracker.spawn(crate::service::scheduler::run(
        app.service.clone(),
        Duration::from_secs(1),
        shutdown.clone(),
        move || leadership.is_leader(),
    ));
    if app.config.http.enabled {
        let listener = tokio::net::TcpListener::bind(&app.config.http.listen)
            .await
            .map_err(|e| AppError::Runtime(format!("cannot listen on {}: {e}", app.config.http.listen)))?;
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(%addr, "http server listening");
        let router = crate::http::router(crate::http::HttpState {
            store: app.store.clone(),
            catalog: app.catalog.clone(),
            channels: app.channels.clone(),
        })
        .merge(crate::http::reports::router(crate::http::reports::ReportsState::new(
            &app.config,
            app.store.clone(),
            app.catalog.clone(),
            app.clock.clone(),
        )))
        .merge(crate::http::metrics::router(app.store.clone(), app.catalog.clone()));
        let router = routes.into_iter().fold(router, |r, extra| r.merge(extra));
        let cancel = shutdown.clone();
        tracker.spawn(async move {
            if let Err(e) = crate::http::serve(listener, router, cancel).await {
                tracing::error!(error = %e, "http server failed");
            }
        });
    }
    tracing::info!(intents = app.catalog.load().intents.len(), "deskbot running");
    shutdown.cancelled().await;
    tracing::info!("shutting down");
    tracker.close();
    tracker.wait().await;
    Ok(())
}
