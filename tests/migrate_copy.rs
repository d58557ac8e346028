//! `deskbot migrate --from … --to …`: a SQLite database filled through the real service is
//! copied into PostgreSQL (and back), every ticket, audit event and transcript line arrives
//! intact, ticket numbering continues after the copied tickets, and a non-empty target is
//! refused unless forced.

#[path = "support/pgdb.rs"]
mod pgdb;
mod support;

use deskbot::app::App;
use deskbot::config::{Config, Sources};
use deskbot::domain::{Address, Platform, TicketNumber, TicketStatus, UserRef};
use deskbot::domain::{Inbound, InboundKind};
use deskbot::service::Handled;
use deskbot::store::copy::{CopyError, copy_database};
use deskbot::store::{DynStore, TicketFilter};

async fn app_on(url: &str, dir: &std::path::Path) -> App {
    let mut config = Config::load_from(&Sources { file: None, data_dir: Some(dir.into()) }, &[]).unwrap();
    config.intents_dir = support::starter_pack();
    config.hot_reload = false;
    config.database_url = Some(url.to_string());
    App::build(config).await.unwrap()
}

fn message(user: &str, n: u32, text: &str) -> Inbound {
    Inbound {
        event_id: format!("{user}-{n}"),
        user: UserRef::new(Platform::Test, user),
        display_name: Some(user.to_string()),
        conversation: format!("test:{user}"),
        reply_to: Address::new(Platform::Test, user),
        kind: InboundKind::Message { text: text.to_string() },
        at: 0,
        message_id: None,
        message_channel: None,
        attachments: Vec::new(),
        via: Default::default(),
    }
}

/// File a ticket for `user` ("talk to a person", the description, then answers to any form
/// questions the matched intent asks); returns its number.
async fn file_ticket(app: &App, user: &str, text: &str) -> TicketNumber {
    app.service.handle(message(user, 1, "talk to a person")).await.unwrap();
    let mut said = text;
    for n in 2..6 {
        if let Handled::Applied { created, .. } = app.service.handle(message(user, n, said)).await.unwrap()
            && let Some(first) = created.first()
        {
            return *first;
        }
        said = "LT-01234 at the office";
    }
    panic!("no ticket filed for {user}");
}

/// Three tickets, a KB answer, one resolved and rated ticket, an agent reply.
async fn populate(app: &App) -> Vec<TicketNumber> {
    let mut numbers = Vec::new();
    for (user, text) in [
        ("ana", "the coffee machine on floor 3 is leaking"),
        ("ben", "the projector in room 12 shows only blue"),
        ("cy", "the door badge reader at the back entrance beeps red"),
    ] {
        numbers.push(file_ticket(app, user, text).await);
    }
    app.service.handle(message("dee", 1, "I forgot my password")).await.unwrap();
    let agent_reply = Inbound {
        kind: InboundKind::AgentReply { number: numbers[1], agent: "sam".into(), text: "on my way".into() },
        ..message("ben", 3, "")
    };
    app.service.handle(agent_reply).await.unwrap();
    app.service.resolve_ticket(numbers[0], "sam", Some("fixed the valve".into())).await.unwrap();
    app.service.handle(message("ana", 3, "5")).await.unwrap();
    numbers
}

/// Everything the Store trait can tell about tickets, for comparing two databases.
async fn snapshot(store: &DynStore) -> String {
    let filter = TicketFilter { limit: 1000, ..TicketFilter::default() };
    let mut out = String::new();
    for t in store.tickets(&filter).await.unwrap() {
        out += &format!(
            "{t:?}\n{:?}\n{:?}\n",
            store.ticket_events(t.number).await.unwrap(),
            store.ticket_messages(t.number).await.unwrap()
        );
        out += &format!("{:?}\n", store.load_conversation(&t.conversation).await.unwrap());
    }
    out += &format!("outbox depth {}\n", store.outbox_depth().await.unwrap());
    out
}

async fn copy_and_check(source: &App, source_url: &str, target_url: &str, dir: &std::path::Path) {
    let expected = snapshot(&source.store).await;
    let report = copy_database(source_url, target_url, false).await.unwrap();
    assert!(report.tables.iter().any(|(t, n)| t == "tickets" && *n == 3), "{report:?}");
    assert!(report.tables.iter().all(|(_, n)| *n >= 0));
    assert_eq!(report.next_ticket, 1004);

    let target = app_on(target_url, dir).await;
    assert_eq!(snapshot(&target.store).await, expected, "the copy reads back the same");
    let resolved = target.store.ticket(TicketNumber(1001)).await.unwrap().unwrap();
    assert_eq!(resolved.status, TicketStatus::Resolved);
    assert!(target.store.ticket_events(TicketNumber(1001)).await.unwrap().iter().any(|e| e.kind == "csat"));

    // A non-empty target is refused, and left untouched.
    let refused = copy_database(source_url, target_url, false).await;
    assert!(matches!(refused, Err(CopyError::TargetNotEmpty(_))), "{refused:?}");
    assert_eq!(snapshot(&target.store).await, expected);

    // Numbering continues after the copied tickets; a forced copy replaces the extra ticket.
    assert_eq!(
        file_ticket(&target, "eve", "the printer on floor 2 prints blank pages").await,
        TicketNumber(1004)
    );
    let forced = copy_database(source_url, target_url, true).await.unwrap();
    assert!(forced.replaced > 0);
    assert_eq!(snapshot(&target.store).await, expected);
    assert_eq!(forced.next_ticket, 1005, "numbers handed out in the target are never reused");
    assert_eq!(
        file_ticket(&target, "fay", "the kitchen tap will not stop running").await,
        TicketNumber(1005)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_copies_into_sqlite_with_numbering_continued() {
    let dir = tempfile::tempdir().unwrap();
    let source_url = format!("sqlite:{}", dir.path().join("source.db").display());
    let target_url = format!("sqlite:{}", dir.path().join("target.db").display());
    let source = app_on(&source_url, dir.path()).await;
    assert_eq!(populate(&source).await, vec![TicketNumber(1001), TicketNumber(1002), TicketNumber(1003)]);
    copy_and_check(&source, &source_url, &target_url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_copies_into_postgres_and_back() {
    let Some(pg) = pgdb::PgDb::create("copy").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let source_url = format!("sqlite:{}", dir.path().join("source.db").display());
    let source = app_on(&source_url, dir.path()).await;
    populate(&source).await;
    copy_and_check(&source, &source_url, &pg.url, dir.path()).await;

    // And back: PostgreSQL into a fresh SQLite file reads back the same.
    let back_url = format!("sqlite:{}", dir.path().join("back.db").display());
    let report = copy_database(&pg.url, &back_url, false).await.unwrap();
    assert_eq!(report.next_ticket, 1006);
    let pg_app = app_on(&pg.url, dir.path()).await;
    let back = app_on(&back_url, dir.path()).await;
    assert_eq!(snapshot(&back.store).await, snapshot(&pg_app.store).await);
    drop((pg_app, back));
    pg.drop_now().await;
}

#[tokio::test]
async fn missing_source_file_is_an_error_not_an_empty_copy() {
    let dir = tempfile::tempdir().unwrap();
    let from = format!("sqlite:{}", dir.path().join("nope.db").display());
    let to = format!("sqlite:{}", dir.path().join("to.db").display());
    assert!(copy_database(&from, &to, false).await.is_err());
    assert!(!dir.path().join("nope.db").exists());
}
