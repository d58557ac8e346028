//! `deskbot bench seed` and `deskbot bench queries` on a small history, on SQLite and
//! PostgreSQL: the seeded rows are what the product reads (tickets list, reports, the keyed
//! audit chain verifies), numbering continues after them, a second seed is refused, and the
//! queries report p50/p95 for every query by name. The large runs are made by hand (see the
//! README's Measuring section); they are not part of the test suite.

#[path = "support/pgdb.rs"]
mod pgdb;
mod support;

use deskbot::bench::queries::{self, QueriesArgs};
use deskbot::bench::seed::{self, SeedArgs};
use deskbot::config::{Config, Sources};
use deskbot::store::TicketFilter;
use std::process::Command;

const QUERIES: &[&str] = &[
    "reports_7d",
    "reports_7d_queue",
    "reports_90d",
    "reports_90d_queue",
    "reports_90d_first",
    "tickets_list_queue_open",
    "tickets_list_requester",
    "tickets_show",
    "status_employee",
    "due_timer_scan",
    "purge_dry_run",
    "person_export",
    "audit_verify",
];

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::load_from(&Sources { file: None, data_dir: Some(dir.into()) }, &[]).unwrap();
    c.intents_dir = support::starter_pack();
    c.hot_reload = false;
    c
}

async fn seeds_and_queries(url: &str, dir: &std::path::Path) {
    let config = config(dir);
    let args = SeedArgs { tickets: 450, days: 30, database_url: url.into(), json: true };
    let report = seed::seed(&config, &args).await.unwrap();
    assert_eq!(report.tickets, 450);
    assert_eq!(report.tables["tickets"], 450);
    assert_eq!(report.tables["audit_log"], 450);
    assert!(report.tables["messages"] >= 4 * 450 && report.rows > 10 * 450, "{report:?}");
    for phase in ["load", "indexes", "constraints", "analyze"] {
        assert!(report.phases.contains_key(phase), "{phase} missing: {report:?}");
    }

    // The product reads them: the tickets list, and numbering continues after the last one.
    let mut target = config.clone();
    target.database_url = Some(url.into());
    let store = deskbot::app::open_store(&target).await.unwrap();
    let all = store.tickets(&TicketFilter { limit: 1000, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 450);
    assert_eq!(all.iter().map(|t| t.number.0).max(), Some(1450));
    let verdict = deskbot::compliance::audit::verify(&store).await.unwrap();
    assert!(verdict.broken.is_none(), "the seeded chain verifies: {verdict:?}");
    assert_eq!(verdict.entries, 450);

    // Seeding a database that holds tickets is refused.
    let again = seed::seed(&config, &args).await;
    assert!(again.is_err(), "a second seed was accepted");
    assert_eq!(store.tickets(&TicketFilter { limit: 1000, ..Default::default() }).await.unwrap().len(), 450);

    let timings =
        queries::run(&config, &QueriesArgs { database_url: url.into(), runs: 2, json: true }).await.unwrap();
    for q in QUERIES {
        let t = timings.get(*q).unwrap_or_else(|| panic!("{q} missing"));
        assert!(t.p50_ms >= 0.0 && t.p95_ms >= t.p50_ms, "{q}: {t:?}");
    }
    assert!(timings["reports_90d"].rows > 0, "the 90-day report saw the seeded tickets");
    assert_eq!(timings["audit_verify"].rows, 450);
}

#[tokio::test]
async fn seed_and_queries_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("seeded.db").display());
    seeds_and_queries(&url, dir.path()).await;
}

/// Every foreign key of `url`'s database, as (table, definition).
async fn foreign_keys(pg: &pgdb::PgDb) -> Vec<(String, String)> {
    let mut conn = pg.connect().await;
    sqlx::query_as(
        "SELECT t.relname::text, pg_get_constraintdef(c.oid) FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid WHERE c.contype = 'f' ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn seed_and_queries_on_postgres() {
    let Some(pg) = pgdb::PgDb::create("seed").await else { return };
    let dir = tempfile::tempdir().unwrap();
    seeds_and_queries(&pg.url, dir.path()).await;

    // The load went in without the foreign keys; they are all back, and they hold.
    let Some(fresh) = pgdb::PgDb::create("seedref").await else { return };
    let mut target = config(dir.path());
    target.database_url = Some(fresh.url.clone());
    drop(deskbot::app::open_store(&target).await.unwrap());
    let expected = foreign_keys(&fresh).await;
    fresh.drop_now().await;
    assert!(expected.iter().any(|(t, _)| t == "ticket_events"), "{expected:?}");
    assert_eq!(foreign_keys(&pg).await, expected);
    let mut conn = pg.connect().await;
    let orphan = sqlx::query(
        "UPDATE ticket_events SET ticket_number = -1 WHERE id = (SELECT MIN(id) FROM ticket_events)",
    )
    .execute(&mut conn)
    .await;
    let refused = orphan.expect_err("an event pointing at no ticket was accepted").to_string();
    assert!(refused.contains("foreign key"), "{refused}");
    pg.drop_now().await;
}

/// The command line: `--json` prints one object keyed by query name with `p50_ms`/`p95_ms`.
#[test]
fn the_commands_print_json() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("cli.db").display());
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_deskbot"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env("DESKBOT_INTENTS_DIR", support::starter_pack())
            .env("DESKBOT_LOG", "error")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let seeded =
        run(&["bench", "seed", "--tickets", "120", "--days", "10", "--database-url", &url, "--json"]);
    assert_eq!(seeded["tickets"], 120);
    assert!(seeded["rows_per_second"].as_f64().unwrap() > 0.0);
    let timings = run(&["bench", "queries", "--runs", "1", "--database-url", &url, "--json"]);
    for q in QUERIES {
        assert!(timings[q]["p50_ms"].is_number() && timings[q]["p95_ms"].is_number(), "{q}: {timings}");
    }
}
