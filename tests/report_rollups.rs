//! The reports read closed days from the daily rollups and must show exactly the figures the
//! row-by-row computation shows: on a seeded history (SQLite and PostgreSQL) with unanswered
//! questions of repeated and distinct wording (some asked in the same millisecond), two queues,
//! a configured tester and a flagged conversation, for periods that start and end mid-day and
//! with the queue filter; and again after a conversation is flagged once its days were rolled
//! up, after the testers list changes, after an erasure and after a purge. Tickets and ratings
//! of closed days come from their own rollups, which any later change to what they were built
//! from drops (a resolution, a first reply, an SLA breach, a move to another queue, a rating,
//! a flag): each such change, made straight in SQL as any write path would, shows in the
//! figures and the two paths still agree.

#[path = "support/pgdb.rs"]
mod pgdb;
mod support;

use deskbot::bench::seed::{self, SeedArgs};
use deskbot::config::{Config, Sources};
use deskbot::domain::{Platform, QueueName, UserRef};
use deskbot::reports::{self, Period, ReportOptions};
use deskbot::store::DynStore;
use deskbot::store::compliance::PurgePlan;
use sqlx::Connection;

const DAY: i64 = 24 * 3_600_000;

fn config(dir: &std::path::Path, url: &str) -> Config {
    let mut c = Config::load_from(&Sources { file: None, data_dir: Some(dir.into()) }, &[]).unwrap();
    c.intents_dir = support::starter_pack();
    c.hot_reload = false;
    c.database_url = Some(url.into());
    c
}

/// Extra case events: unanswered questions on closed days, a tester's, a flagged conversation's.
fn extra_events(now: i64) -> String {
    let day0 = now - now.rem_euclid(DAY);
    let mut sql = String::from(
        "INSERT INTO case_events (conversation, platform, user_id, kind, intent, article, queue, query, created_at) VALUES ",
    );
    let mut rows = Vec::new();
    let texts = [
        "the coffee machine is broken",
        "coffee machine broken again",
        "projector in room 4 shows nothing",
        "who do I ask about parking permits",
        "the coffee machine is broken",
    ];
    for d in 1..12i64 {
        for (i, t) in texts.iter().enumerate() {
            let at = day0 - d * DAY + 3_600_000 * (i as i64 % 3); // equal times within a day
            let queue = if i % 2 == 0 { "service-desk" } else { "facilities" };
            let (kind, intent) = if i == 2 { ("not_solved", "'printer_jam'") } else { ("no_match", "NULL") };
            rows.push(format!(
                "('slack:dm:UQ{d}{i}', 'slack', 'UQ{d}{i}', '{kind}', {intent}, NULL, '{queue}', '{t}', {at})"
            ));
        }
        rows.push(format!(
            "('slack:dm:UTESTER', 'slack', 'UTESTER', 'no_match', NULL, NULL, 'service-desk', 'tester asking', {})",
            day0 - d * DAY + 7
        ));
        rows.push(format!(
            "('slack:dm:UFLAG', 'slack', 'UFLAG', 'answered', 'printer_jam', NULL, 'service-desk', 'flag me', {})",
            day0 - d * DAY + 11
        ));
    }
    sql.push_str(&rows.join(", "));
    sql
}

async fn run_sql(url: &str, sql: String) {
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await.unwrap();
    }
}

async fn rollup_days(store: &DynStore, now: i64) -> usize {
    let day0 = now - now.rem_euclid(DAY);
    store.case_rollup(day0 - 40 * DAY, day0, &[], now).await.unwrap().days.len()
}

async fn scalar(url: &str, sql: &str) -> i64 {
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut c).await.unwrap()
    }
}

/// The 20-day report through the rollups.
async fn report_20d(store: &DynStore, testers: &[UserRef], now: i64) -> reports::Report {
    let opts = ReportOptions {
        period: Period { from: now - 20 * DAY, to: now, label: "20d".into() },
        queue: None,
        testers: testers.to_vec(),
        kb_base_url: None,
    };
    reports::compute(&reports::gather(store, &opts, now).await.unwrap(), &opts, None)
}

/// Changes to tickets and ratings of rolled-up days, each made in SQL: every one shows in the
/// figures, and the rollups still agree with the rows.
async fn ticket_changes_show(url: &str, store: &DynStore, tester: &UserRef, now: i64) {
    let testers = std::slice::from_ref(tester);
    let old = now - now.rem_euclid(DAY) - 3 * DAY;
    let before = report_20d(store, testers, now).await;
    // Rolled up by now.
    assert!(!store.ticket_rollup(old - 10 * DAY, old, testers, now).await.unwrap().days.is_empty());

    let n = scalar(url, &format!(
        "SELECT MIN(number) FROM tickets WHERE resolved_at IS NULL AND created_at < {old} AND created_at > {}",
        old - 10 * DAY
    )).await;
    run_sql(
        url,
        format!(
            "UPDATE tickets SET status = 'resolved', resolved_at = created_at + 60000 WHERE number = {n}"
        ),
    )
    .await;
    let r = report_20d(store, testers, now).await;
    assert_eq!(r.tickets_resolved, before.tickets_resolved + 1, "a resolution of an old ticket shows");
    same_figures(store, testers, now, "resolved later").await;

    // The reply that was a ticket's first response turns out to be an internal note; then a
    // real reply comes.
    let n = scalar(url, &format!(
        "SELECT MIN(t.number) FROM tickets t WHERE t.created_at < {old} AND t.created_at > {} AND EXISTS \
         (SELECT 1 FROM messages m WHERE m.ticket_number = t.number AND m.speaker_kind = 'agent' AND m.internal = FALSE)",
        old - 10 * DAY
    )).await;
    run_sql(
        url,
        format!("UPDATE messages SET internal = TRUE WHERE ticket_number = {n} AND speaker_kind = 'agent'"),
    )
    .await;
    let r1 = report_20d(store, testers, now).await;
    assert_eq!(r1.first_response.count + 1, r.first_response.count, "a ticket without a first reply shows");
    same_figures(store, testers, now, "reply made internal").await;
    run_sql(url, format!(
        "INSERT INTO messages (conversation, ticket_number, speaker_kind, speaker_name, text, internal, created_at) \
         SELECT conversation, number, 'agent', 'Ann', 'on it', FALSE, created_at + 1000 FROM tickets WHERE number = {n}"
    )).await;
    let r2 = report_20d(store, testers, now).await;
    assert_eq!(r2.first_response.count, r.first_response.count, "a first reply to an old ticket shows");
    same_figures(store, testers, now, "replied later").await;

    let n = scalar(url, &format!(
        "SELECT MIN(t.number) FROM tickets t WHERE t.sla IS NOT NULL AND t.created_at < {old} AND t.created_at > {} \
         AND NOT EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_number = t.number AND e.kind = 'sla_breach')",
        old - 10 * DAY
    )).await;
    run_sql(url, format!(
        "INSERT INTO ticket_events (ticket_number, at, kind, actor, detail) VALUES ({n}, {now}, 'sla_breach', 'sla', NULL)"
    )).await;
    let r3 = report_20d(store, testers, now).await;
    assert!(r3.sla.breached >= r2.sla.breached, "{:?} {:?}", r3.sla, r2.sla);
    same_figures(store, testers, now, "breached later").await;

    let q = ReportOptions {
        period: Period { from: now - 20 * DAY, to: now, label: "20d".into() },
        queue: Some(QueueName::parse("facilities").unwrap()),
        testers: testers.to_vec(),
        kb_base_url: None,
    };
    let in_facilities =
        reports::compute(&reports::gather(store, &q, now).await.unwrap(), &q, None).tickets_filed;
    let n = scalar(url, &format!(
        "SELECT MIN(number) FROM tickets WHERE queue <> 'facilities' AND created_at < {old} AND created_at > {}",
        old - 10 * DAY
    )).await;
    run_sql(url, format!("UPDATE tickets SET queue = 'facilities' WHERE number = {n}")).await;
    let moved = reports::compute(&reports::gather(store, &q, now).await.unwrap(), &q, None).tickets_filed;
    assert_eq!(moved, in_facilities + 1, "a ticket moved to another queue counts there");
    same_figures(store, testers, now, "moved later").await;

    let n = scalar(
        url,
        &format!(
            "SELECT MIN(t.number) FROM tickets t WHERE t.created_at < {} AND NOT EXISTS \
         (SELECT 1 FROM csat c WHERE c.ticket_number = t.number)",
            old - DAY
        ),
    )
    .await;
    run_sql(
        url,
        format!(
            "INSERT INTO csat (ticket_number, score, comment, created_at) VALUES ({n}, 1, NULL, {})",
            old + 5
        ),
    )
    .await;
    let r4 = report_20d(store, testers, now).await;
    assert_eq!(r4.csat.count, r3.csat.count + 1, "a rating given on an old day shows");
    assert_eq!(r4.csat.distribution[0], r3.csat.distribution[0] + 1);
    same_figures(store, testers, now, "rated later").await;

    // Flag the conversation of a ticket of a rolled-up day: its ticket leaves the figures.
    let n = scalar(
        url,
        &format!(
            "SELECT MIN(number) FROM tickets WHERE created_at < {old} AND created_at > {}",
            old - 10 * DAY
        ),
    )
    .await;
    let key = match store.ticket(deskbot::domain::TicketNumber(n)).await.unwrap() {
        Some(t) => t.conversation,
        None => panic!("ticket {n}"),
    };
    store.mark_test_conversation(&key, now).await.unwrap();
    let r5 = report_20d(store, testers, now).await;
    assert!(r5.tickets_filed < r4.tickets_filed, "the flagged conversation's ticket is left out");
    assert!(r5.excluded_test_rows > r4.excluded_test_rows);
    same_figures(store, testers, now, "ticket flagged later").await;
}

/// The rollup path and the row-by-row path give the same report for every period and queue.
async fn same_figures(store: &DynStore, testers: &[UserRef], now: i64, what: &str) {
    let periods =
        [(7 * DAY, "7d"), (7 * DAY + 5 * 3_600_000, "7d5h"), (20 * DAY + 123, "20d"), (90 * DAY, "90d")];
    for (len, label) in periods {
        for queue in [None, Some("service-desk"), Some("facilities")] {
            let opts = ReportOptions {
                period: Period { from: now - len, to: now, label: label.into() },
                queue: queue.map(|q| QueueName::parse(q).unwrap()),
                testers: testers.to_vec(),
                kb_base_url: None,
            };
            let fast = reports::gather(store, &opts, now).await.unwrap();
            assert!(!fast.rollup.days.is_empty(), "{what} {label}: closed days come from the rollups");
            assert!(!fast.ticket_rollup.days.is_empty(), "{what} {label}: closed days' tickets too");
            let rows = reports::gather_rows(store, &opts.period).await.unwrap();
            let a = reports::compute(&fast, &opts, None);
            let b = reports::compute(&rows, &opts, None);
            assert_eq!(a, b, "{what}: {label} {queue:?}");
            assert!(b.conversations > 0 && !b.unanswered.is_empty(), "{what} {label}: {b:?}");
            if queue.is_none() {
                let t = (b.tickets_filed, b.csat.count, b.sla.tickets, b.first_response.count);
                assert!(t.0 > 0 && t.1 > 0 && t.2 > 0 && t.3 > 0, "{what} {label}: {t:?}");
            }
        }
    }
}

async fn rollups_match_rows(url: &str, dir: &std::path::Path) {
    let config = config(dir, url);
    let args = SeedArgs { tickets: 600, days: 20, database_url: url.into(), json: true };
    seed::seed(&config, &args).await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    run_sql(url, extra_events(now)).await;
    let store = deskbot::app::open_store(&config).await.unwrap();
    store.mark_test_conversation("slack:dm:UFLAG", now).await.unwrap();
    let tester = UserRef::new(Platform::Slack, "UTESTER");

    same_figures(&store, std::slice::from_ref(&tester), now, "first build").await;
    same_figures(&store, std::slice::from_ref(&tester), now, "built").await;

    // Flagged after its days were rolled up: those days are rebuilt without it.
    let before = reports::compute(
        &reports::gather_rows(&store, &Period { from: now - 20 * DAY, to: now, label: "x".into() })
            .await
            .unwrap(),
        &ReportOptions {
            period: Period { from: now - 20 * DAY, to: now, label: "x".into() },
            queue: None,
            testers: vec![tester.clone()],
            kb_base_url: None,
        },
        None,
    );
    store.mark_test_conversation("slack:dm:UQ30", now).await.unwrap();
    same_figures(&store, std::slice::from_ref(&tester), now, "flagged later").await;
    let opts = ReportOptions {
        period: Period { from: now - 20 * DAY, to: now, label: "x".into() },
        queue: None,
        testers: vec![tester.clone()],
        kb_base_url: None,
    };
    let after = reports::compute(&reports::gather(&store, &opts, now).await.unwrap(), &opts, None);
    assert_eq!(
        after.excluded_test_rows,
        before.excluded_test_rows + 1,
        "the newly flagged question is left out"
    );

    ticket_changes_show(url, &store, &tester, now).await;

    // Another testers list: the days are rebuilt for it.
    same_figures(&store, &[], now, "no testers").await;
    same_figures(&store, std::slice::from_ref(&tester), now, "tester again").await;

    // A purge rewrites old questions' words: the rollups of those days are rebuilt.
    assert!(rollup_days(&store, now).await > 0);
    let plan = PurgePlan {
        queues: vec![],
        other_before: Some(now - 5 * DAY - 7_200_000),
        actor: "retention".into(),
    };
    let purged = store.purge(&plan, now, true).await.unwrap();
    assert!(purged.records_anonymised > 0, "{purged:?}");
    same_figures(&store, std::slice::from_ref(&tester), now, "purged").await;

    // An erasure may rewrite any question's words: every rollup day is rebuilt.
    let key = deskbot::app::load_audit_key(&config).unwrap();
    let who = UserRef::new(Platform::Slack, "UQ40");
    deskbot::compliance::person::erase(&store, &key, &who, &[], "dpo", now).await.unwrap();
    same_figures(&store, std::slice::from_ref(&tester), now, "erased").await;
}

#[tokio::test]
async fn rollups_match_rows_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("rollups.db").display());
    rollups_match_rows(&url, dir.path()).await;
}

#[tokio::test]
async fn rollups_match_rows_on_postgres() {
    let Some(pg) = pgdb::PgDb::create("rollups").await else { return };
    let dir = tempfile::tempdir().unwrap();
    rollups_match_rows(&pg.url, dir.path()).await;
    pg.drop_now().await;
}
