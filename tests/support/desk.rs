//! The desk the erasure and privacy tests drive (`erase_speakers.rs`, `erase_outbox.rs`,
//! `privacy_canary.rs`, `privacy_files.rs`): the app on SQLite or on a fresh PostgreSQL database
//! (see `pgdb.rs` for when PostgreSQL is missing), a clock the test moves, starting at [`T0`], the
//! test channel the outbox delivers to, and numbered inbound events. Each test supplies its
//! config and keeps its own ways of speaking to the desk (in an `impl Desk` of its own).
//! Included by `#[path]`, beside `mod support;` and the `#[path]` modules `pgdb` and `canary`.
#![allow(dead_code)]

use crate::canary;
use crate::pgdb::PgDb;
use crate::support::test_channel::TestChannel;
use crate::support::{TestApp, TestClock};
use deskbot::config::Config;
use deskbot::domain::{Address, Channel, Inbound, InboundKind, Platform, TicketNumber, UserRef};
use deskbot::outbox::Outbox;
use deskbot::store::TicketFilter;
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// When every desk starts: a Friday afternoon.
pub const T0: i64 = 1_795_797_000_000;

pub struct Desk {
    pub t: TestApp,
    pub clock: TestClock,
    pub chan: Arc<TestChannel>,
    /// The number of the next inbound event.
    pub n: AtomicU64,
    pub pg: Option<PgDb>,
}

impl Desk {
    /// A desk on SQLite from the config text `config`.
    pub async fn sqlite(config: &str) -> Desk {
        Self::new(None, |_| config.to_string(), |_, _| {}).await.expect("SQLite is never skipped")
    }

    /// A desk on a fresh PostgreSQL database named after `tag`, from the config text `config`
    /// (`None` when PostgreSQL is skipped explicitly).
    pub async fn postgres(tag: &str, config: &str) -> Option<Desk> {
        Self::new(Some(tag), |_| config.to_string(), |_, _| {}).await
    }

    /// A desk on SQLite, or on a fresh PostgreSQL database named after `pg` (`None` when
    /// PostgreSQL is skipped explicitly), from the config text `config` writes for the data
    /// directory, `adjust`ed as [`TestApp::with_config_in`] does. The `database_url` goes first.
    pub async fn new(
        pg: Option<&str>,
        config: impl FnOnce(&Path) -> String,
        adjust: impl FnOnce(&mut Config, &Path),
    ) -> Option<Desk> {
        let pg = match pg {
            Some(tag) => Some(PgDb::create(tag).await?),
            None => None,
        };
        let url = pg.as_ref().map(|db| db.url.clone());
        let toml = |dir: &Path| match url {
            Some(url) => format!("database_url = \"{url}\"\n{}", config(dir)),
            None => config(dir),
        };
        let clock = TestClock::at(T0);
        let t = TestApp::with_config_in(toml, adjust, clock.clock()).await;
        Some(Desk { t, clock, chan: Arc::default(), n: AtomicU64::new(0), pg })
    }

    /// `user` (on the test platform, shown as `name`) sends `kind` in `conversation`, answered
    /// at `to`: the next numbered event and message, handled (nothing is delivered).
    pub async fn send(&self, user: &str, name: &str, to: Address, conversation: &str, kind: InboundKind) {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        let inbound = Inbound {
            event_id: format!("ev-{n}"),
            user: UserRef::new(Platform::Test, user),
            display_name: Some(name.to_string()),
            conversation: conversation.to_string(),
            reply_to: to,
            kind,
            at: 0,
            message_id: Some(format!("msg-{n}")),
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        };
        self.t.app.service.handle(inbound).await.unwrap();
    }

    /// Deliver what is due to the test channel.
    pub async fn deliver(&self) {
        let chan: Arc<dyn Channel> = self.chan.clone();
        Outbox::new(self.t.app.store.clone(), vec![chan], 8, self.clock.clock()).deliver_due().await.unwrap();
    }

    /// Now, by the desk's clock.
    pub fn now(&self) -> i64 {
        self.clock.0.load(Ordering::SeqCst)
    }

    /// The tickets, in order.
    pub async fn tickets(&self) -> Vec<TicketNumber> {
        let mut v: Vec<_> = self
            .t
            .app
            .store
            .tickets(&TicketFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.number)
            .collect();
        v.sort();
        v
    }

    /// The id of ticket `n`'s card in the test channel, whose thread is the ticket's.
    pub fn card(&self, n: TicketNumber) -> String {
        let all = self.chan.all();
        let i = all
            .iter()
            .position(|s| s.kind == "card" && s.text.contains(&n.to_string()))
            .unwrap_or_else(|| panic!("no card for {n}: {all:?}"));
        format!("m{}", i + 1)
    }

    /// Every one of `marks` found in the database, with where: the SQLite file (and its
    /// companions, after a checkpoint), or every text and JSON column on PostgreSQL.
    pub async fn found(&self, marks: &[&str]) -> Vec<String> {
        match &self.pg {
            None => canary::in_sqlite_files(self.t.dir.path(), marks).await,
            Some(pg) => canary::in_postgres_columns(pg.connect().await, marks).await,
        }
    }

    /// The SQLite database file (of a desk on SQLite).
    pub fn sqlite_file(&self) -> PathBuf {
        self.t.dir.path().join("deskbot.db")
    }

    /// Run `statement` on the database, behind the app's back.
    pub async fn sql(&self, statement: &str) {
        match &self.pg {
            Some(pg) => {
                let mut c = pg.connect().await;
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string())).execute(&mut c).await.unwrap();
            }
            None => {
                let db = self.sqlite_file();
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite:{}", db.display())).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string())).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
    }

    /// Close the app and drop the PostgreSQL database (a failed test leaves it for inspection).
    pub async fn finish(self) {
        if let Some(pg) = self.pg {
            drop(self.t);
            pg.drop_now().await;
        }
    }
}
