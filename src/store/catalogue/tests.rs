//! The catalogue against the migrations: every text or JSON column any migration creates is
//! classified, every classified column exists, and the rules are consistent.

use super::*;
use std::collections::BTreeMap;

/// `(table, column) -> declared type` for the columns the migrations of one dialect leave.
fn schema(dialect: &str) -> BTreeMap<(String, String), String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut cols = BTreeMap::new();
    for f in files {
        let sql = std::fs::read_to_string(&f).unwrap();
        let mut table: Option<String> = None;
        for raw in sql.lines() {
            let line = raw.split("--").next().unwrap_or("").trim();
            let words: Vec<String> = line
                .split_whitespace()
                .map(|w| w.trim_matches(|c| c == ',' || c == ';' || c == '"').to_string())
                .collect();
            let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
            let up: Vec<&str> = upper.iter().map(String::as_str).collect();
            if let Some(t) = &table {
                if line.starts_with(')') {
                    table = None;
                } else if let (Some(name), Some(ty)) = (words.first(), words.get(1))
                    && !matches!(up[0], "PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN" | "CONSTRAINT")
                {
                    cols.insert((t.clone(), name.clone()), ty.to_ascii_uppercase());
                }
                continue;
            }
            match up.as_slice() {
                ["CREATE", "TABLE", ..] => {
                    let name = if up.get(2) == Some(&"IF") { &words[5] } else { &words[2] };
                    table = Some(name.trim_end_matches('(').to_string());
                }
                ["ALTER", "TABLE", _, "ADD", "COLUMN", ..] => {
                    let (name, ty) = if up.get(5) == Some(&"IF") {
                        (&words[8], &words[9])
                    } else {
                        (&words[5], &words[6])
                    };
                    cols.insert((words[2].clone(), name.clone()), ty.to_ascii_uppercase());
                }
                ["ALTER", "TABLE", _, "DROP", "COLUMN", ..] => {
                    cols.remove(&(words[2].clone(), words[5].clone()));
                }
                ["ALTER", "TABLE", _, "RENAME", "COLUMN", _, "TO", _] => {
                    if let Some(ty) = cols.remove(&(words[2].clone(), words[5].clone())) {
                        cols.insert((words[2].clone(), words[7].clone()), ty);
                    }
                }
                ["DROP", "TABLE", ..] => {
                    let name = words.last().unwrap().clone();
                    cols.retain(|(t, _), _| *t != name);
                }
                _ => {}
            }
        }
    }
    cols
}

fn is_text(ty: &str) -> bool {
    ty.contains("TEXT") || ty.contains("CHAR") || ty.contains("JSON")
}

#[test]
fn every_text_and_json_column_of_the_migrations_is_classified() {
    for dialect in ["sqlite", "postgres"] {
        let cols = schema(dialect);
        assert!(cols.len() > 50, "{dialect}: the migrations parsed to {} columns", cols.len());
        let missing: Vec<String> =
            cols.iter().filter(|(_, ty)| is_text(ty)).filter_map(|((t, c), _)| unclassified(t, c)).collect();
        assert!(missing.is_empty(), "{dialect}:\n{}", missing.join("\n"));
        for t in CATALOGUE {
            for c in t.columns {
                let ty = cols.get(&(t.name.to_string(), c.name.to_string()));
                let ty = ty.unwrap_or_else(|| {
                    panic!("{dialect}: {}.{} is catalogued but not in the schema", t.name, c.name)
                });
                assert!(is_text(ty), "{dialect}: {}.{} is {ty}, not text", t.name, c.name);
                if dialect == "postgres" {
                    assert_eq!(c.json, ty == "JSONB", "{}.{}: json flag against {ty}", t.name, c.name);
                }
            }
        }
    }
}

#[test]
fn a_new_text_column_fails_the_check() {
    assert!(unclassified("tickets", "diagnosis").unwrap().contains("tickets.diagnosis"));
    assert!(unclassified("sessions", "cookie").unwrap().contains("sessions"));
    assert_eq!(unclassified("tickets", "title"), None);
    assert_eq!(unclassified("_sqlx_migrations", "description"), None);
}

#[test]
fn rules_are_consistent() {
    for t in CATALOGUE {
        for c in t.columns {
            let at = format!("{}.{}", t.name, c.name);
            assert!(!c.why.trim().is_empty(), "{at}: say why");
            if c.holds == Holds::Nothing {
                assert_eq!((c.erase, c.purge), (Erase::Keep, Purge::Keep), "{at}: not personal");
                continue;
            }
            assert_ne!(c.erase, Erase::Keep, "{at}: personal data an erasure would leave");
            if matches!(c.erase, Erase::Replace(_)) {
                assert!(!matches!(t.owner, Owner::Nobody | Owner::Deliveries), "{at}: whose rows?");
            }
            if c.erase == Erase::Deliveries || c.purge == Purge::Deliveries {
                assert_eq!(t.owner, Owner::Deliveries, "{at}");
                assert_eq!((c.erase, c.purge), (Erase::Deliveries, Purge::Deliveries), "{at}");
            }
            match t.expiry {
                Expiry::Kept => assert_eq!(c.purge, Purge::Keep, "{at}: the table never expires"),
                Expiry::Deleted => {
                    assert!(matches!(c.purge, Purge::WithRow | Purge::Keep | Purge::Deliveries), "{at}")
                }
                Expiry::Ticket(_) | Expiry::Age { .. } => assert_ne!(c.purge, Purge::WithRow, "{at}"),
            }
            if c.purge == Purge::RequesterAsRole {
                assert!(matches!(t.expiry, Expiry::Ticket(_)), "{at}: needs the ticket");
            }
            if c.holds == Holds::Words && t.expiry != Expiry::Kept {
                assert_ne!(c.purge, Purge::Keep, "{at}: words must expire");
            }
        }
    }
}

#[test]
fn only_draft_files_of_the_entrys_own_ticket_are_named_for_deletion() {
    let n = crate::domain::TicketNumber(1001);
    assert_eq!(draft_file_name(n, 2), "draft-1001-2.md");
    let ok = std::env::temp_dir().join("drafts").join(draft_file_name(n, 2));
    assert_eq!(draft_path(1001, &ok.display().to_string()), Some(ok.clone()));
    assert_eq!(draft_path(1002, &ok.display().to_string()), None, "another ticket's");
    assert_eq!(draft_path(1001, "drafts/draft-1001-2.md"), None, "relative");
    let other = std::env::temp_dir().join("deskbot.db");
    assert_eq!(draft_path(1001, &other.display().to_string()), None, "not a draft");
    let words = std::env::temp_dir().join("draft-1001-vpn-down.md");
    assert_eq!(draft_path(1001, &words.display().to_string()), None, "not a draft name");
}

#[test]
fn deliveries_name_their_ticket_or_request_wherever_the_payload_keeps_it() {
    use serde_json::json;
    let card = json!({"to": {}, "text": "x", "kind": {"type": "card", "card": {"number": 7}}});
    let reply = json!({"to": {}, "text": "x", "kind": {"type": "thread_reply", "ticket": 8}});
    let hook = json!({"to": {}, "text": "x", "kind": {"type": "webhook", "body": {"ticket": {"number": 9}}}});
    let dm = json!({"to": {}, "text": "🚨 IT-10 (short) breached", "about": {"ticket": 10}});
    let plain = json!({"to": {}, "text": "IT-11 mentioned in passing"});
    let found: Vec<_> = [&card, &reply, &hook, &dm, &plain].iter().map(|p| delivery_ticket(p)).collect();
    assert_eq!(found, [Some(7), Some(8), Some(9), Some(10), None]);
    let ask = json!({"to": {}, "text": "Justification: short", "about": {"request": 1001}});
    let grant = json!({"to": {}, "text": "x", "kind": {"type": "webhook", "body": {"request": "R-1002"}}});
    let found: Vec<_> = [&ask, &grant, &plain].iter().map(|p| delivery_request(p)).collect();
    assert_eq!(found, [Some(1001), Some(1002), None]);
}
