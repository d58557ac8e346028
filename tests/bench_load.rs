//! `deskbot bench`'s load does what its figures claim: 2 sessions in 5 file a ticket, also for
//! an employee who filed one before (who must say "new issue" first, or their words go to the
//! old ticket), and every event is handled without error.

mod support;

use sqlx::{Connection, SqliteConnection};
use std::process::Command;

#[tokio::test]
async fn every_ticket_session_files_a_ticket_also_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("load.db").display());
    // One worker, 40 employees in turn: the 16 who file tickets file their first in the first
    // 40 sessions; 900 events run far past that.
    let out = Command::new(env!("CARGO_BIN_EXE_deskbot"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["bench", "--count", "900", "--workers", "1", "--database-url", &url, "--json"])
        .env("DESKBOT_INTENTS_DIR", support::starter_pack())
        .env("DESKBOT_LOG", "error")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["messages"], 900, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    // A round of 5 sessions is 3 × 2 question events and 2 ticket sessions of 7 or 8 events
    // (9 once the employee filed before): about 40 tickets in 900 events.
    let filed = report["tickets_filed"].as_u64().unwrap();
    assert!(filed >= 30, "the employees filed again after their first ticket: {report}");

    // No ticket session ended up added to, or reopening, an earlier ticket.
    let mut db = SqliteConnection::connect(&url).await.unwrap();
    let misplaced: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE speaker_kind = 'bot' \
         AND (text LIKE 'Added to %' OR text LIKE 'I''ve reopened%')",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(misplaced, 0);
}
