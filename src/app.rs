//! Building and running deskbot from config: open and migrate the store, load the catalog,
//! start hot reload, and run the console chat or the daemon. `main.rs` calls these; tests
//! call the very same functions.

use crate::adapters::console::{ConsoleChannel, read_line};
use crate::config::{Config, ConfigError};
use crate::domain::Channel;
use crate::domain::status::ChannelStatuses;
use crate::domain::{ChatEvent, Input, Place, Platform};
use crate::embed::Embedder;
use crate::intents::{self, Catalog, Diagnostics, LoadOptions, MatcherOptions};
use crate::outbox::Outbox;
use crate::redact::Redactor;
use crate::service::{Clock, LiveCatalog, Service, ServiceError, safe_reply, system_clock};
use crate::store::compliance::ChainKeying;
use crate::store::key::{AuditKey, KeyError};
use crate::store::{self, DynStore, StoreError};
use arc_swap::ArcSwap;
use std::io::Write;
use std::path::{Path, PathBuf};
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

/// The audit key (`DESKBOT_AUDIT_KEY`, `DESKBOT_AUDIT_KEY_FILE`, or `audit.key` in the data
/// directory, generated there on first use).
pub fn load_audit_key(config: &Config) -> Result<AuditKey, AppError> {
    match AuditKey::load(&config.data_dir) {
        Ok((key, _)) => Ok(key),
        Err(e @ KeyError::Invalid(_)) => Err(AppError::Config(ConfigError::Invalid(e.to_string()))),
        Err(e) => Err(AppError::Runtime(e.to_string())),
    }
}

/// Open the configured database with the audit key, bring its schema up to date, and re-chain
/// an audit chain from before the key under it (once; see `ComplianceStore::key_audit_chain`).
pub async fn open_store(config: &Config) -> Result<DynStore, AppError> {
    if let Some(dir) =
        config.database_url().strip_prefix("sqlite:").and_then(|p| std::path::Path::new(p).parent())
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        // The configured data directory is created, private (0700), when its parent exists; a
        // missing path of several levels is more likely a typo than a wish.
        let missing = || AppError::Runtime(format!("data directory {} does not exist", dir.display()));
        if dir != config.data_dir {
            return Err(missing());
        }
        create_private_dir(dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => missing(),
            _ => AppError::Runtime(format!("cannot create data directory {}: {e}", dir.display())),
        })?;
    }
    let key = load_audit_key(config)?;
    let store = store::open(&config.database_url(), key).await?;
    store.migrate().await?;
    match store.key_audit_chain(chrono::Utc::now().timestamp_millis()).await? {
        ChainKeying::Unchanged => {}
        ChainKeying::Rekeyed { entries, old_seq, .. } => tracing::warn!(
            entries,
            old_seq,
            "the audit chain was re-chained under the audit key (recorded in the audit log); take a new anchor"
        ),
        ChainKeying::Refused { seq, reason } => tracing::error!(
            seq,
            %reason,
            "the audit chain from before the audit key is broken and was not re-chained; `deskbot audit verify` reports it"
        ),
    }
    Ok(store)
}

/// Create `dir` (its parent must exist) readable by its owner only (0700 on Unix).
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Models loaded so far, by directory: a hot reload or a second catalog load reuses the one in
/// memory (loading takes a fraction of a second and ~100 MB).
static MODELS: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<PathBuf, Arc<Embedder>>>> =
    std::sync::OnceLock::new();

/// The sentence-embedding model in `dir`, loaded once per process.
pub fn load_model(dir: &Path) -> Result<Arc<Embedder>, AppError> {
    let models = MODELS.get_or_init(Default::default);
    let mut models = models.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(m) = models.get(dir) {
        return Ok(m.clone());
    }
    let started = std::time::Instant::now();
    let model = Arc::new(Embedder::load(dir).map_err(|e| {
        AppError::Usage(format!("matcher.model: {e} (a directory written by `deskbot model import`)"))
    })?);
    tracing::info!(dir = %dir.display(), ms = started.elapsed().as_millis() as u64, "sentence-embedding model loaded");
    models.insert(dir.to_path_buf(), model.clone());
    Ok(model)
}

/// The configured model (`[matcher] model`), if any; an error when it cannot be loaded.
pub async fn configured_model(config: &Config) -> Result<Option<Arc<Embedder>>, AppError> {
    let Some(dir) = config.matcher.model.clone() else { return Ok(None) };
    tokio::task::spawn_blocking(move || load_model(&dir))
        .await
        .map_err(|e| AppError::Runtime(format!("model loader crashed: {e}")))?
        .map(Some)
}

pub fn load_options(config: &Config) -> LoadOptions {
    let mut matcher = MatcherOptions::default();
    let model = config.matcher.model.as_deref().and_then(|dir| match load_model(dir) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::error!(error = %e, "matching on words only");
            None
        }
    });
    if model.is_some() {
        matcher.threshold = intents::matcher::DEFAULT_MODEL_THRESHOLD;
        matcher.rule = intents::matcher::ThresholdRule::CrossValidated(intents::model::HELD_OUT_RECALL);
    }
    if let Some(t) = config.matcher.threshold {
        matcher.threshold = t;
        matcher.rule = intents::matcher::ThresholdRule::Given;
    }
    if let Some(m) = config.matcher.ambiguity_margin {
        matcher.ambiguity_margin = m;
    }
    LoadOptions {
        matcher,
        kb_min_score: config.kb.min_score,
        webhooks: config.webhook.iter().map(|w| w.name.clone()).collect(),
        default_queue: Some(config.default_queue.clone()),
        model,
    }
}

/// Load and validate the intents directory (off the async runtime's threads).
pub async fn load_catalog(config: &Config) -> Result<Catalog, AppError> {
    // A model that cannot be loaded stops here with its reason, before the catalog.
    configured_model(config).await?;
    let dir = config.intents_dir.clone();
    let queues = config.queue_names();
    let opts = load_options(config);
    tokio::task::spawn_blocking(move || intents::load_catalog(&dir, &queues, &opts))
        .await
        .map_err(|e| AppError::Runtime(format!("catalog loader crashed: {e}")))?
        .map_err(AppError::Catalog)
}

impl App {
    /// The outbox worker delivering to `channels`, with fulfilment webhooks reported back to
    /// the service (a grant is fulfilled once its receiver acknowledges it).
    pub fn outbox(&self, channels: Vec<Arc<dyn Channel>>) -> Outbox {
        Outbox::new(self.store.clone(), channels, self.config.outbox.max_attempts, self.clock.clone())
            .with_observer(self.service.clone())
    }

    pub async fn build(config: Config) -> Result<App, AppError> {
        Self::build_with_clock(config, system_clock()).await
    }

    pub async fn build_with_clock(config: Config, clock: Clock) -> Result<App, AppError> {
        let catalog = load_catalog(&config).await?;
        let store = open_store(&config).await?;
        let catalog: LiveCatalog = Arc::new(ArcSwap::from_pointee(catalog));
        let desk = Arc::new(config.desk().map_err(|e| AppError::Config(ConfigError::Invalid(e)))?);
        let directory =
            match config.directory.csv_path().map_err(|e| AppError::Config(ConfigError::Invalid(e)))? {
                Some(path) => Some(Arc::new(
                    tokio::task::spawn_blocking(move || crate::service::directory::LiveDirectory::load(path))
                        .await
                        .map_err(|e| AppError::Runtime(format!("directory loader crashed: {e}")))?
                        .map_err(|e| AppError::Config(ConfigError::Invalid(e)))?,
                )),
                None => None,
            };
        let mut service = Service::new(
            store.clone(),
            catalog.clone(),
            config.engine_settings(),
            desk,
            Redactor::new(&config.redact),
            clock.clone(),
        )
        .with_intake(config.intake.clone())
        .with_drafts_dir(
            config.desk.kb_drafts_dir.clone().unwrap_or_else(|| config.intents_dir.join("kb").join("drafts")),
        )
        .with_limits(config.limits.clone())
        .with_portal(config.portal.clone(), config.http.public_url.as_deref())
        .with_requests(config.requests.clone());
        if let Some(d) = directory {
            service = service.with_directory(d);
        }
        let service = Arc::new(service);
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
    let outbox = app.outbox(vec![console]);
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
    let mut n = 0u64;
    let result = loop {
        let line = match read_line(&mut input).await {
            Ok(Some((line, _))) => line,
            Ok(None) => break Ok(()),
            Err(e) => break Err(AppError::Runtime(format!("cannot read input: {e}"))),
        };
        n += 1;
        let event = ChatEvent {
            platform: Platform::Console,
            place: Place::Direct { channel: opts.user.clone(), thread: None },
            sender: opts.user.clone(),
            sender_name: Some(opts.user.clone()),
            at: (app.clock)(),
            input: Input::Message {
                id: format!("{session}-{n}"),
                text: line,
                mentions_bot: false,
                attachments: Vec::new(),
            },
        };
        match app.service.take(event, &crate::adapters::console::Terminal).await {
            Ok(taken) => {
                if let Some(note) = taken.private_note() {
                    eprintln!("deskbot: {note}");
                }
            }
            Err(crate::service::router::RouteError::Service(e)) => {
                tracing::error!(error = crate::service::error_kind(&e), "message not handled");
                eprintln!("deskbot: {}", safe_reply(&e));
                break Err(e.into());
            }
            Err(crate::service::router::RouteError::Platform(kind)) => {
                break Err(AppError::Runtime(format!("console: {kind}")));
            }
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
    let mut people: Vec<Arc<dyn crate::service::oidc::PeopleByEmail>> = Vec::new();
    if let Some(settings) =
        app.config.slack.settings().map_err(|e| AppError::Config(ConfigError::Invalid(e)))?
    {
        let status = crate::adapters::slack::StatusHandle::new(app.channels.clone());
        status.down("connecting");
        let slack =
            crate::adapters::slack::start(&app.service, &settings, status, &tracker, shutdown.clone())
                .await
                .map_err(AppError::Runtime)?;
        if slack.routes.is_some() && !app.config.http.enabled {
            return Err(AppError::Config(ConfigError::Invalid(
                "slack.mode = events needs deskbot's HTTP server: set http.enabled = true".into(),
            )));
        }
        channels.push(slack.channel);
        routes.extend(slack.routes);
        people.push(slack.people);
    }
    if let Some(discord) = &app.config.discord {
        let d = crate::adapters::discord::connect::start(
            app.service.clone(),
            discord,
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
    let anchor_hooks = app
        .config
        .webhook
        .iter()
        .filter(|w| w.wants(crate::compliance::anchor::ANCHOR_EVENT))
        .map(|w| w.name.clone())
        .collect();
    tracker.spawn(crate::compliance::anchor::run_daily(
        app.store.clone(),
        anchor_hooks,
        app.clock.clone(),
        Duration::from_secs(60),
        shutdown.clone(),
        {
            let leadership = leadership.clone();
            move || leadership.is_leader()
        },
    ));
    let outbox = app.outbox(channels);
    tracker.spawn(outbox.run(Duration::from_millis(app.config.outbox.poll_ms.max(10)), shutdown.clone()));
    tracker.spawn(crate::service::scheduler::run(
        app.service.clone(),
        Duration::from_secs(1),
        shutdown.clone(),
        move || leadership.is_leader(),
    ));
    if app.config.http.enabled {
        let health = crate::http::router(crate::http::HttpState {
            store: app.store.clone(),
            catalog: app.catalog.clone(),
            channels: app.channels.clone(),
        });
        // `/reports` and `/metrics`: on the public listener, or on `http.admin_listen` only.
        let admin = crate::http::reports::router(crate::http::reports::ReportsState::new(
            &app.config,
            app.store.clone(),
            app.catalog.clone(),
            app.clock.clone(),
        ))
        .merge(crate::http::metrics::router(app.store.clone(), app.catalog.clone()));
        let mut public = routes.into_iter().fold(health.clone(), |r, extra| r.merge(extra));
        if app.config.portal.enabled {
            // `/portal`: employees' pages, on the public listener.
            let portal = crate::http::portal::PortalState::new(&app.config, app.service.clone())
                .with_people(people)
                .with_oidc(&app.config)
                .map_err(|e| AppError::Config(ConfigError::Invalid(e)))?;
            public = public.merge(crate::http::portal::router(portal));
        }
        let public = match &app.config.http.admin_listen {
            Some(addr) => {
                spawn_listener(addr, "admin http server", health.merge(admin), &tracker, &shutdown).await?;
                public
            }
            None => public.merge(admin),
        };
        spawn_listener(&app.config.http.listen, "http server", public, &tracker, &shutdown).await?;
    }
    tracing::info!(intents = app.catalog.load().intents.len(), "deskbot running");
    return_freed_memory();
    shutdown.cancelled().await;
    tracing::info!("shutting down");
    tracker.close();
    tracker.wait().await;
    Ok(())
}

/// Hand the heap pages freed since start back to the system. Loading the catalog trains the
/// matcher on a blocking thread whose allocator arena keeps the training's freed pages
/// mapped; an idle daemon would carry them for its whole life. Called once startup is done
/// and after each catalog reload.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas under their locks; it has no
    // preconditions and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bind `addr` and serve `router` there until shutdown.
async fn spawn_listener(
    addr: &str,
    what: &'static str,
    router: axum::Router,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<(), AppError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| AppError::Runtime(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(addr = %bound, "{what} listening");
    let cancel = shutdown.clone();
    tracker.spawn(async move {
        if let Err(e) = crate::http::serve(listener, router, cancel).await {
            tracing::error!(error = %e, "{what} failed");
        }
    });
    Ok(())
}
