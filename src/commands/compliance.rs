//! The compliance commands (`deskbot purge|person|audit|roles`): what they do and print.
//! `main.rs` parses the arguments and calls these.

use crate::app::{self, AppError};
use crate::compliance::key::{AuditKey, write_private};
use crate::compliance::{anchor, audit, person, retention, roles};
use crate::config::Config;
use crate::domain::{Millis, UserRef};
use crate::store::compliance::{ALL_QUEUES, GrantOutcome, NewAuditEntry, NewGrant, Role};
use std::path::Path;

fn now() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, AppError> {
    serde_json::to_string_pretty(v).map_err(|e| AppError::Runtime(e.to_string()))
}

fn user(s: &str) -> Result<UserRef, AppError> {
    s.parse().map_err(AppError::Usage)
}

/// Who runs the command: `--by`, else `$USER`.
fn operator(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "admin".into())
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// `deskbot purge --dry-run|--apply`.
pub async fn purge(config: Config, apply: bool, by: Option<String>) -> Result<u8, AppError> {
    if !retention::is_configured(&config.retention) {
        return Err(AppError::Usage(
            "no retention periods are configured (set [retention] transcripts_days or closed_tickets_days)"
                .into(),
        ));
    }
    let store = app::open_store(&config).await?;
    if apply && let Some(b) = audit::verify(&store).await?.broken {
        return Err(AppError::Usage(format!(
            "the audit chain is broken at entry #{}; a purge would re-link it and hide that. Run `deskbot audit verify`",
            b.seq
        )));
    }
    let now = now();
    let plan = retention::plan(&config.retention, &config.queue_names(), now, &operator(by));
    let report = store.purge(&plan, now, apply).await?;
    let verb = if apply { "purged" } else { "would purge (dry run, nothing changed)" };
    println!("{verb}: {}", report.summary());
    if apply {
        println!("recorded in the audit log");
    }
    Ok(0)
}

/// `deskbot person export USER [--out FILE] [--name NAME]… [--by NAME]`. The file is written
/// readable by its owner only, and the export is recorded in the audit log.
pub async fn person_export(
    config: Config,
    who: &str,
    out: Option<&Path>,
    names: &[String],
    by: Option<String>,
) -> Result<u8, AppError> {
    let who = user(who)?;
    let store = app::open_store(&config).await?;
    let data = person::export(&store, &who, names).await.map_err(person_error)?;
    let text = json(&data)?;
    let counts = format!(
        "{} conversations, {} messages, {} tickets, {} ratings, {} roles, {} audit entries",
        data.conversations.len(),
        data.messages.len(),
        data.tickets.len(),
        data.ratings.len(),
        data.roles.len(),
        data.audit.len()
    );
    if let Some(path) = out {
        write_private(path, (text.clone() + "\n").as_bytes())
            .map_err(|e| AppError::Runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    let to = match out {
        Some(p) => format!("to {}", p.display()),
        None => "to standard output".to_string(),
    };
    let entry = NewAuditEntry {
        at: now(),
        actor: operator(by),
        kind: "person_exported".into(),
        ticket: None,
        subject: Some(who.to_string()),
        detail: Some(format!("{counts}, {to}")),
    };
    store.append_audit(&[entry]).await?;
    match out {
        Some(path) => eprintln!("{}: {counts}; recorded in the audit log", path.display()),
        None => println!("{text}"),
    }
    Ok(0)
}

/// `deskbot person erase USER [--name NAME]… [--by NAME]`.
pub async fn person_erase(
    config: Config,
    who: &str,
    names: &[String],
    by: Option<String>,
) -> Result<u8, AppError> {
    let who = user(who)?;
    // deskbot.toml seeds grants at every start: a person it still lists would come back into
    // the ledger, by their id, right after being erased.
    let listed: Vec<String> = crate::compliance::roles::config_grants(&config.queues(), &config.roles.admins)
        .into_iter()
        .filter(|g| g.user == who)
        .map(|g| format!("{} of {}", g.role.as_str(), g.scope))
        .collect();
    if !listed.is_empty() {
        return Err(AppError::Usage(format!(
            "{who} is still listed in the config file ({}); remove them there first, or they would be \
             granted again (by their id) at the next start. Nothing was erased.",
            listed.join(", ")
        )));
    }
    let store = app::open_store(&config).await?;
    let (key, _) = AuditKey::load(&config.data_dir).map_err(|e| AppError::Runtime(e.to_string()))?;
    let r = person::erase(&store, &key, &who, names, &operator(by), now()).await.map_err(person_error)?;
    println!("{who} erased: {}", r.summary());
    if let Some(seq) = r.relinked_from {
        println!("audit chain re-linked from entry #{seq}; the erasure is recorded in the audit log");
    }
    if !r.compacted {
        println!(
            "note: the freed space could not be wiped yet (another process holds the database open); \
             it is wiped by the next erasure or purge, or run `VACUUM` now"
        );
    } else if config.database_url().starts_with("postgres") {
        println!(
            "note: the old row versions were vacuumed; `VACUUM FULL` (which locks the tables) also rewrites the files"
        );
    }
    Ok(0)
}

fn person_error(e: person::PersonError) -> AppError {
    match e {
        person::PersonError::Store(s) => AppError::Store(s),
        other => AppError::Usage(other.to_string()),
    }
}

/// `deskbot audit verify [--anchor FILE]`: exit 0 when the chain is intact (and holds every
/// anchor in FILE), 1 naming the first broken entry or missing anchor.
pub async fn audit_verify(config: Config, anchors: Option<&Path>) -> Result<u8, AppError> {
    let anchors = match anchors {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| AppError::Usage(format!("cannot read {}: {e}", path.display())))?;
            anchor::parse(&text).map_err(|e| AppError::Usage(format!("{}: {e}", path.display())))?
        }
        None => Vec::new(),
    };
    let store = app::open_store(&config).await?;
    let v = audit::verify(&store).await?;
    if let Some(b) = v.broken {
        println!("audit log BROKEN at entry #{}: {}", b.seq, b.reason);
        println!("({} entries before it verified)", v.entries);
        return Ok(1);
    }
    if let Some(m) = anchor::check(&store, &anchors).await? {
        println!("audit log BROKEN: anchor #{} does not hold: {}", m.seq, m.reason);
        return Ok(1);
    }
    println!("audit log intact: {} entries, last #{}", v.entries, v.last_seq);
    if !anchors.is_empty() {
        println!("all {} anchors hold", anchors.len());
    }
    Ok(0)
}

/// `deskbot audit anchor`: the chain's head as one JSON line.
pub async fn audit_anchor(config: Config) -> Result<u8, AppError> {
    let store = app::open_store(&config).await?;
    println!("{}", anchor::current(&store).await?.to_line());
    Ok(0)
}

/// A `--since` value: `2026-01-31`, an RFC 3339 time, or an age such as `30d`.
pub fn parse_since(s: &str, now: Millis) -> Result<Millis, AppError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or(0));
    }
    match humantime::parse_duration(s) {
        Ok(d) => Ok(now - d.as_millis() as i64),
        Err(_) => Err(AppError::Usage(format!(
            "--since `{s}`: expected a date (2026-01-31), an RFC 3339 time or an age (30d, 12h)"
        ))),
    }
}

/// `deskbot audit export [--since WHEN]`: one JSON object per line, oldest first.
pub async fn audit_export(config: Config, since: Option<&str>) -> Result<u8, AppError> {
    let since = since.map(|s| parse_since(s, now())).transpose()?;
    let store = app::open_store(&config).await?;
    for e in audit::export(&store, since).await? {
        println!("{}", serde_json::to_string(&e).map_err(|e| AppError::Runtime(e.to_string()))?);
    }
    Ok(0)
}

/// What a grant applies to: a queue, or (for approvers) a request-catalog group.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    pub queue: Option<&'a str>,
    pub group: Option<&'a str>,
}

fn scope(s: Scope<'_>, role: Role, config: &Config) -> Result<String, AppError> {
    match (s.queue, s.group) {
        (_, Some(g)) if role != Role::Approver => {
            Err(AppError::Usage(format!("--group is for the approver role, not {role} (group `{g}`)")))
        }
        (_, Some(g)) if crate::kb::article::valid_id(g.trim()) => Ok(g.trim().to_string()),
        (_, Some(g)) => {
            Err(AppError::Usage(format!("group `{g}` may only hold lowercase letters, digits, `-` and `_`")))
        }
        (None, None) => Ok(ALL_QUEUES.to_string()),
        (Some(q), None) if config.queue_names().iter().any(|n| n.as_str() == q) => Ok(q.to_string()),
        (Some(q), None) => Err(AppError::Usage(format!("unknown queue `{q}`"))),
    }
}

/// `deskbot roles grant USER ROLE --justification TEXT [--queue Q] [--by NAME]`.
pub async fn roles_grant(
    config: Config,
    who: &str,
    role: &str,
    queue: Option<&str>,
    justification: &str,
    by: Option<String>,
) -> Result<u8, AppError> {
    roles_grant_in(config, who, role, Scope { queue, group: None }, justification, by).await
}

/// `deskbot roles grant USER ROLE --justification TEXT [--queue Q | --group G] [--by NAME]`.
pub async fn roles_grant_in(
    config: Config,
    who: &str,
    role: &str,
    at: Scope<'_>,
    justification: &str,
    by: Option<String>,
) -> Result<u8, AppError> {
    let who = user(who)?;
    let role: Role = role.parse().map_err(AppError::Usage)?;
    if justification.trim().len() < 5 {
        return Err(AppError::Usage("a justification of at least a few words is required".into()));
    }
    let grant = NewGrant {
        user: who.clone(),
        role,
        scope: scope(at, role, &config)?,
        by: operator(by),
        justification: justification.trim().to_string(),
    };
    let store = app::open_store(&config).await?;
    match store.grant_role(&grant, now()).await? {
        GrantOutcome::Granted => println!("{who} is now {role} on {}", grant.scope),
        GrantOutcome::Rejustified => {
            println!("{who} was already {role} on {}; justification renewed", grant.scope)
        }
    }
    Ok(0)
}

/// `deskbot roles revoke USER ROLE --reason TEXT [--queue Q] [--by NAME]`.
pub async fn roles_revoke(
    config: Config,
    who: &str,
    role: &str,
    queue: Option<&str>,
    reason: &str,
    by: Option<String>,
) -> Result<u8, AppError> {
    roles_revoke_in(config, who, role, Scope { queue, group: None }, reason, by).await
}

/// `deskbot roles revoke USER ROLE --reason TEXT [--queue Q | --group G] [--by NAME]`.
pub async fn roles_revoke_in(
    config: Config,
    who: &str,
    role: &str,
    at: Scope<'_>,
    reason: &str,
    by: Option<String>,
) -> Result<u8, AppError> {
    let who = user(who)?;
    let role: Role = role.parse().map_err(AppError::Usage)?;
    let scope = scope(at, role, &config)?;
    let store = app::open_store(&config).await?;
    if store.revoke_role(&who, role, &scope, &operator(by), reason.trim(), now()).await? {
        println!("{who} is no longer {role} on {scope}");
        Ok(0)
    } else {
        Err(AppError::Usage(format!("{who} holds no active {role} grant on {scope}")))
    }
}

/// `deskbot roles list [--all] [--json]`.
pub async fn roles_list(config: Config, all: bool, as_json: bool) -> Result<u8, AppError> {
    let store = app::open_store(&config).await?;
    let grants = store.role_grants(all).await?;
    if as_json {
        println!("{}", json(&grants)?);
        return Ok(0);
    }
    if grants.is_empty() {
        println!("no role grants");
    }
    for g in &grants {
        let revoked = match (&g.revoked_at, &g.revoked_by) {
            (Some(at), by) => format!("  REVOKED {} by {}", when(*at), by.as_deref().unwrap_or("?")),
            _ => String::new(),
        };
        println!(
            "{:<24} {:<6} {:<14} by {:<12} {}  reviewed {}  \"{}\"{revoked}",
            g.user.to_string(),
            g.role.as_str(),
            g.scope,
            g.granted_by,
            when(g.granted_at),
            when(g.reviewed_at),
            g.justification
        );
    }
    Ok(0)
}

/// `deskbot roles review [--days N]`: grants not re-justified in the review period. Exits 1
/// when there are any, so a scheduled job can alert.
pub async fn roles_review(config: Config, days: Option<u32>) -> Result<u8, AppError> {
    let Some(days) = days.or(config.roles.review_days) else {
        return Err(AppError::Usage("no review period: set roles.review_days or pass --days".into()));
    };
    let store = app::open_store(&config).await?;
    let grants = store.role_grants(false).await?;
    let stale = roles::stale(&grants, days, now());
    if stale.is_empty() {
        println!("all {} active grants were justified within {days} days", grants.len());
        return Ok(0);
    }
    println!("{} grant(s) not re-justified within {days} days:", stale.len());
    for g in stale {
        println!(
            "  {:<24} {:<6} {:<14} last justified {} by {}: \"{}\"",
            g.user.to_string(),
            g.role.as_str(),
            g.scope,
            when(g.reviewed_at),
            g.granted_by,
            g.justification
        );
    }
    println!("re-justify with `deskbot roles grant USER ROLE --justification …`, or revoke");
    Ok(1)
}
