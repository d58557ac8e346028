//! The grants ledger decides who acts, played by an attacker whose grant was revoked: every way
//! an agent acts (a `!` command, a note, a card button, a reaction, the reply form) is refused
//! with a private note and changes nothing; the revocation survives a restart while
//! deskbot.toml still lists the person, and reaches two running processes sharing one database
//! within seconds; a new grant restores it. Every test runs on SQLite and, when
//! `DESKBOT_TEST_POSTGRES_URL` is set, on PostgreSQL.

#[path = "support/pgdb.rs"]
mod pgdb;
mod support;

use deskbot::app::App;
use deskbot::commands::compliance::{roles_grant, roles_revoke};
use deskbot::config::{Config, Sources};
use deskbot::desk::cards;
use deskbot::domain::{Address, Platform, TicketNumber, TicketStatus, UserRef};
use deskbot::domain::{Channel, Inbound, InboundKind};
use deskbot::outbox::Outbox;
use deskbot::service::{GRANTS_MAX_AGE, Handled};
use deskbot::store::compliance::Role;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::test_channel::TestChannel;
use support::{TestClock, starter_pack};

const MONDAY_1000: i64 = 1796032800000;
const IT1: TicketNumber = TicketNumber(1001);
const REFUSAL: &str = "Only agents of the service-desk queue can do that. Nothing was changed.";

fn config_text(db: &str, agents: &str, extra: &str) -> String {
    let mut c = format!(
        "database_url = \"{db}\"\n{extra}\n[[queue]]\nname = \"service-desk\"\nchannel = {{ test = \"agents\" }}\nagents = {agents}\nleads = [\"test:lee\"]\n"
    );
    for q in ["identity", "network", "hardware", "software", "access", "security", "facilities"] {
        c.push_str(&format!("\n[[queue]]\nname = \"{q}\"\n"));
    }
    c
}

/// One database (a SQLite file, or a fresh PostgreSQL database) and the deskbot.toml naming it.
struct Db {
    url: String,
    dir: tempfile::TempDir,
    pg: Option<pgdb::PgDb>,
}

impl Db {
    async fn all() -> Vec<Db> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("deskbot.db").display());
        let mut dbs = vec![Db { url, dir, pg: None }];
        if let Some(pg) = pgdb::PgDb::create("ledger").await {
            dbs.push(Db { url: pg.url.clone(), dir: tempfile::tempdir().unwrap(), pg: Some(pg) });
        }
        dbs
    }

    fn name(&self) -> &'static str {
        if self.pg.is_some() { "postgres" } else { "sqlite" }
    }

    /// deskbot.toml with `agents` for the service desk, as written now.
    fn config(&self, agents: &str, extra: &str) -> Config {
        let file = self.dir.path().join("deskbot.toml");
        std::fs::write(&file, config_text(&self.url, agents, extra)).unwrap();
        let mut c =
            Config::load_from(&Sources { file: Some(file), data_dir: Some(self.dir.path().into()) }, &[])
                .unwrap();
        c.intents_dir = starter_pack();
        c.hot_reload = false;
        c
    }

    async fn finish(self) {
        if let Some(pg) = self.pg {
            pg.drop_now().await;
        }
    }
}

/// What the people see, shared by every process (any process may deliver the outbox).
struct Desk {
    chan: Arc<TestChannel>,
    clock: TestClock,
    n: AtomicU64,
    /// (who, note) for every event the desk turned away.
    refused: std::sync::Mutex<Vec<(String, String)>>,
}

/// How an agent acts on the ticket.
#[derive(Clone, Copy, Debug)]
enum Act {
    Text(&'static str),
    Button(&'static str),
    Reaction(&'static str),
    ReplyForm(&'static str),
}

impl Desk {
    fn new() -> Desk {
        Desk {
            chan: Arc::new(TestChannel::default()),
            clock: TestClock::at(MONDAY_1000),
            n: AtomicU64::new(0),
            refused: Default::default(),
        }
    }

    async fn start(&self, config: Config) -> App {
        App::build_with_clock(config, self.clock.clock()).await.unwrap()
    }

    fn inbound(&self, user: &str, to: Address, conversation: String, kind: InboundKind) -> Inbound {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        Inbound {
            event_id: format!("ev-{n}"),
            user: UserRef::new(Platform::Test, user),
            display_name: Some(user.to_string()),
            conversation,
            reply_to: to,
            kind,
            at: 0,
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        }
    }

    /// Handle one event on `app` (committed once handle returns), then deliver what it queued.
    async fn handle(&self, app: &App, inbound: Inbound) {
        let who = inbound.user.id.clone();
        let handled = app.service.handle(inbound.clone()).await.unwrap();
        match handled {
            Handled::Applied { .. } => {}
            // Turned away by the desk: the adapter shows the note privately.
            Handled::Refused { note } => self.refused.lock().unwrap().push((who, note)),
            other => panic!("{other:?}"),
        }
        // The positive signal: the event's dedupe row is there, so it is never applied again.
        assert_eq!(app.service.handle(inbound).await.unwrap(), Handled::Duplicate);
        let chan: Arc<dyn Channel> = self.chan.clone();
        Outbox::new(app.store.clone(), vec![chan], 8, self.clock.clock()).deliver_due().await.unwrap();
        assert_eq!(app.store.outbox_depth().await.unwrap(), 0, "everything queued was delivered");
    }

    async fn file_ticket(&self, app: &App) {
        for text in ["the coffee machine on floor 3 is leaking", "1"] {
            let kind = InboundKind::Message { text: text.into() };
            let to = Address::new(Platform::Test, "erin-dm");
            self.handle(app, self.inbound("erin", to, "test:erin".into(), kind)).await;
        }
        assert!(self.card().is_some(), "the card was posted");
    }

    fn card(&self) -> Option<String> {
        self.chan.card_id("agents")
    }

    fn thread(&self) -> String {
        format!("agents/{}", self.card().unwrap())
    }

    async fn act(&self, app: &App, who: &str, act: Act) {
        let card = self.card().unwrap();
        let thread = Address::new(Platform::Test, "agents").in_thread(card.clone());
        let conv = format!("test:agents:{card}");
        let inbound = match act {
            Act::Text(text) => self.inbound(who, thread, conv, InboundKind::Message { text: text.into() }),
            Act::Button(id) => self.inbound(who, thread, conv, InboundKind::Choice { id: id.into() }),
            Act::Reaction(emoji) => {
                let kind = InboundKind::Reaction { emoji: emoji.into(), message: card.clone(), text: None };
                self.inbound(who, Address::new(Platform::Test, "agents"), conv, kind)
            }
            Act::ReplyForm(text) => {
                let kind = InboundKind::AgentReply { number: IT1, agent: who.into(), text: text.into() };
                self.inbound(who, thread, conv, kind)
            }
        };
        self.handle(app, inbound).await;
    }

    fn refusals(&self, who: &str) -> usize {
        self.refused.lock().unwrap().iter().filter(|(w, t)| w == who && t == REFUSAL).count()
    }

    /// Did `!claim` by `who` on `app` work (true) or was it refused (false)?
    async fn claim_works(&self, app: &App, who: &str) -> bool {
        let before = self.refusals(who);
        self.act(app, who, Act::Text("!claim")).await;
        self.refusals(who) == before
    }

    /// How long until `!claim` by `who` gives `works` on every app (polled every 100 ms).
    async fn until_claim(&self, apps: &[&App], who: &str, works: bool) -> Vec<Duration> {
        let start = Instant::now();
        let mut took = vec![None; apps.len()];
        while took.iter().any(Option::is_none) {
            assert!(start.elapsed() < Duration::from_secs(10), "no change after 10 s: {took:?}");
            for (i, app) in apps.iter().enumerate() {
                if took[i].is_none() && self.claim_works(app, who).await == works {
                    took[i] = Some(start.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        took.into_iter().flatten().collect()
    }
}

/// Everything about the ticket an action could change.
async fn snapshot(app: &App, desk: &Desk) -> String {
    let t = app.store.ticket(IT1).await.unwrap().unwrap();
    let events = app.store.ticket_events(IT1).await.unwrap().len();
    let messages = app.store.ticket_messages(IT1).await.unwrap().len();
    format!(
        "status {:?} assignee {:?} priority {:?} events {events} messages {messages} thread {} erin {}",
        t.status,
        t.assignee,
        t.priority,
        desk.chan.texts(&desk.thread()).len(),
        desk.chan.texts("erin-dm").len(),
    )
}

async fn revoke(config: &Config, who: &str) {
    roles_revoke(config.clone(), who, "agent", Some("service-desk"), "left the team", Some("ann".into()))
        .await
        .unwrap();
}

async fn grant(config: &Config, who: &str) {
    roles_grant(
        config.clone(),
        who,
        "agent",
        Some("service-desk"),
        "back on the desk rota",
        Some("ann".into()),
    )
    .await
    .unwrap();
}

async fn active(app: &App, who: &str) -> Vec<(Role, String, String)> {
    let who: UserRef = who.parse().unwrap();
    app.store
        .role_grants(false)
        .await
        .unwrap()
        .into_iter()
        .filter(|g| g.user == who)
        .map(|g| (g.role, g.scope, g.granted_by))
        .collect()
}

async fn audit_kinds(app: &App, after: i64) -> Vec<(String, Option<String>)> {
    let entries = app.store.audit_entries(after, None, 1000).await.unwrap();
    entries.into_iter().filter(|e| e.kind.starts_with("role_")).map(|e| (e.kind, e.subject)).collect()
}

async fn audit_seq(app: &App) -> i64 {
    app.store.audit_head().await.unwrap().0
}

#[tokio::test]
async fn a_revoked_agent_is_refused_everywhere_even_after_a_restart_with_the_file_unchanged() {
    for db in Db::all().await {
        let desk = Desk::new();
        let config = db.config(r#"["test:kim", "test:joe"]"#, "");
        let before = desk.start(config.clone()).await;
        desk.file_ticket(&before).await;
        assert!(desk.claim_works(&before, "kim").await, "{}: kim is an agent", db.name());
        drop(before);

        revoke(&config, "test:kim").await;
        // A restart with deskbot.toml still listing kim: the revocation wins.
        let app = desk.start(config.clone()).await;
        assert_eq!(active(&app, "test:kim").await, vec![], "{}: not granted again", db.name());
        let t0 = snapshot(&app, &desk).await;
        let attacks = [
            Act::Text("!claim"),
            Act::Text("!resolve"),
            Act::Text("!reply you are all set"),
            Act::Text("!priority urgent"),
            Act::Text("a note for the record"),
            Act::Button(cards::CLAIM),
            Act::Button(cards::RESOLVE),
            Act::Reaction("white_check_mark"),
            Act::Reaction("eyes"),
            Act::Reaction("book"),
            Act::ReplyForm("please run this script"),
        ];
        for (i, attack) in attacks.into_iter().enumerate() {
            desk.act(&app, "kim", attack).await;
            assert_eq!(desk.refusals("kim"), i + 1, "{}: {attack:?} gets one private note", db.name());
            assert_eq!(snapshot(&app, &desk).await, t0, "{}: {attack:?} changed nothing", db.name());
        }
        let t = app.store.ticket(IT1).await.unwrap().unwrap();
        assert_eq!(
            (t.status, t.assignee.as_deref()),
            (TicketStatus::Open, Some("test:kim")),
            "{}",
            db.name()
        );

        // Another agent still works, and any other emoji is just a reaction.
        let notes = desk.refusals("kim");
        desk.act(&app, "kim", Act::Reaction("thumbsup")).await;
        assert_eq!(desk.refusals("kim"), notes);
        desk.act(&app, "joe", Act::Text("!resolve")).await;
        assert_eq!(app.store.ticket(IT1).await.unwrap().unwrap().status, TicketStatus::Resolved);
        db.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_two_running_processes_within_five_seconds_and_a_grant_restores() {
    for db in Db::all().await {
        let desk = Desk::new();
        let config = db.config(r#"["test:kim"]"#, "");
        let a = desk.start(config.clone()).await;
        let b = desk.start(config.clone()).await;
        desk.file_ticket(&a).await;
        // Both processes have read the ledger: kim acts on each.
        assert!(desk.claim_works(&a, "kim").await && desk.claim_works(&b, "kim").await);

        revoke(&config, "test:kim").await;
        let took = desk.until_claim(&[&a, &b], "kim", false).await;
        eprintln!("{}: revocation seen by the two processes after {took:?}", db.name());
        for t in &took {
            assert!(*t < Duration::from_secs(5), "{}: {took:?}", db.name());
            assert!(*t <= GRANTS_MAX_AGE + Duration::from_secs(1), "{}: {took:?}", db.name());
        }
        let refused = desk.refusals("kim");
        desk.act(&a, "kim", Act::Text("!resolve")).await;
        desk.act(&b, "kim", Act::Button(cards::RESOLVE)).await;
        assert_eq!(desk.refusals("kim"), refused + 2);
        assert_eq!(a.store.ticket(IT1).await.unwrap().unwrap().status, TicketStatus::Open);

        grant(&config, "test:kim").await;
        let took = desk.until_claim(&[&a, &b], "kim", true).await;
        eprintln!("{}: new grant seen by the two processes after {took:?}", db.name());
        assert!(took.iter().all(|t| *t < Duration::from_secs(5)), "{}: {took:?}", db.name());
        desk.act(&b, "kim", Act::Text("!resolve")).await;
        assert_eq!(a.store.ticket(IT1).await.unwrap().unwrap().status, TicketStatus::Resolved);
        db.finish().await;
    }
}

#[tokio::test]
async fn the_file_seeds_the_ledger_but_never_grants_over_a_revocation_and_its_changes_are_recorded() {
    for db in Db::all().await {
        let name = db.name();
        let desk = Desk::new();
        let both = r#"["test:kim", "test:joe"]"#;
        let app = desk.start(db.config(both, "")).await;
        let by_config = vec![(Role::Agent, "service-desk".to_string(), "config".to_string())];
        assert_eq!(active(&app, "test:kim").await, by_config, "{name}");
        assert_eq!(
            active(&app, "test:lee").await,
            vec![(Role::Lead, "service-desk".into(), "config".into())]
        );

        revoke(&db.config(both, ""), "test:kim").await;
        let seq = audit_seq(&app).await;
        drop(app);
        // Restarts with the file unchanged: nothing granted, nothing recorded.
        for _ in 0..2 {
            let app = desk.start(db.config(both, "")).await;
            assert_eq!(active(&app, "test:kim").await, vec![], "{name}");
            assert_eq!(audit_kinds(&app, seq).await, vec![], "{name}");
        }
        // The file drops kim, then lists kim again: each change is recorded, nothing granted.
        let app = desk.start(db.config(r#"["test:joe"]"#, "")).await;
        let kim = Some("test:kim".to_string());
        assert_eq!(
            audit_kinds(&app, seq).await,
            vec![("role_config_unlisted".into(), kim.clone())],
            "{name}"
        );
        let seq = audit_seq(&app).await;
        drop(app);
        let app = desk.start(db.config(both, "")).await;
        assert_eq!(
            audit_kinds(&app, seq).await,
            vec![("role_config_overridden".into(), kim.clone())],
            "{name}"
        );
        assert_eq!(active(&app, "test:kim").await, vec![], "{name}");
        let entry = app.store.audit_entries(seq, None, 10).await.unwrap().pop().unwrap();
        assert!(entry.detail.unwrap().contains("revoked by ann"), "{name}");
        drop(app);

        // Someone grants again: that wins, and the file still seeds new people and drops its own.
        grant(&db.config(both, ""), "test:kim").await;
        let seq = {
            let app = desk.start(db.config(both, "")).await;
            assert_eq!(
                active(&app, "test:kim").await,
                vec![(Role::Agent, "service-desk".into(), "ann".into())]
            );
            audit_seq(&app).await
        };
        let app = desk.start(db.config(r#"["test:kim", "test:joe", "test:zed"]"#, "")).await;
        let zed = Some("test:zed".to_string());
        assert_eq!(audit_kinds(&app, seq).await, vec![("role_granted".into(), zed)], "{name}");
        drop(app);
        let seq = audit_seq(&desk.start(db.config(r#"["test:kim", "test:zed"]"#, "")).await).await;
        let app = desk.start(db.config(r#"["test:zed"]"#, "")).await;
        assert_eq!(
            audit_kinds(&app, seq).await,
            vec![("role_config_unlisted".into(), kim.clone())],
            "{name}: the grant by ann stays"
        );
        assert_eq!(active(&app, "test:kim").await.len(), 1, "{name}");
        assert_eq!(active(&app, "test:joe").await, vec![], "{name}: joe left the file");
        let joe_revoked = app
            .store
            .role_grants(true)
            .await
            .unwrap()
            .into_iter()
            .any(|g| g.user.id == "joe" && g.revoked_by.as_deref() == Some("config"));
        assert!(joe_revoked, "{name}");
        db.finish().await;
    }
}

#[tokio::test]
async fn channel_members_are_a_grant_in_the_ledger_and_can_be_revoked() {
    for db in Db::all().await {
        let name = db.name();
        let desk = Desk::new();
        let config = db.config("\"channel-members\"", "");
        let app = desk.start(config.clone()).await;
        assert_eq!(
            active(&app, "test:#channel-members").await,
            vec![(Role::Agent, "service-desk".into(), "config".into())],
            "{name}"
        );
        desk.file_ticket(&app).await;
        assert!(desk.claim_works(&app, "eve").await, "{name}: anyone posting in the channel acts");
        drop(app);

        revoke(&config, "test:#channel-members").await;
        let app = desk.start(config.clone()).await;
        assert!(!desk.claim_works(&app, "eve").await, "{name}: the mode is revoked and stays so");
        assert_eq!(active(&app, "test:#channel-members").await, vec![], "{name}");
        db.finish().await;
    }
}
