//! `deskbot requests …` and `deskbot licences …`: the access and licence requests and the seats
//! they hold, for the operator and the auditor — lists, the whole trail of one request, the
//! access-review CSV export, and revocation (through the item's fulfilment, offering the freed
//! seat to the next in line).

use crate::app::{self, App, AppError};
use crate::config::Config;
use crate::domain::UserRef;
use crate::store::requests::{Decision, Holding, Request, RequestNumber, RequestStatus};
use serde::Serialize;
use std::collections::BTreeMap;

const LIST_LIMIT: i64 = 500;

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn day(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn json<T: Serialize>(v: &T) -> Result<String, AppError> {
    serde_json::to_string_pretty(v).map_err(|e| AppError::Runtime(e.to_string()))
}

/// What a request waits on, in a few words.
fn waiting_on(r: &Request) -> String {
    match r.status {
        RequestStatus::Pending => {
            let step = usize::try_from(r.step).ok().and_then(|i| r.steps.get(i));
            step.map(|s| format!("step {} {}", r.step + 1, s.rule)).unwrap_or_default()
        }
        RequestStatus::Denied => r.outcome.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// `deskbot requests list [--status S] [--json]`, newest first.
pub async fn requests_list(config: Config, status: Option<String>, as_json: bool) -> Result<u8, AppError> {
    let status = status.map(|s| s.parse::<RequestStatus>()).transpose().map_err(AppError::Usage)?;
    let store = app::open_store(&config).await?;
    let list = store.requests(status, LIST_LIMIT).await?;
    if as_json {
        println!("{}", json(&list)?);
        return Ok(0);
    }
    if list.is_empty() {
        println!("no requests");
    }
    for r in &list {
        println!(
            "{:<8} {:<10} {:<24} {:<24} {:<16} {}",
            r.number.to_string(),
            r.status.as_str(),
            r.item,
            r.requester.to_string(),
            when(r.created_at),
            waiting_on(r)
        );
    }
    Ok(0)
}

/// One request with its decisions and the seat it holds.
#[derive(Debug, Serialize)]
struct Trail {
    request: Request,
    decisions: Vec<Decision>,
    holding: Option<Holding>,
}

/// `deskbot requests show R-1001 [--json]`: the whole trail.
pub async fn requests_show(config: Config, number: &str, as_json: bool) -> Result<u8, AppError> {
    let number: RequestNumber = number.parse().map_err(AppError::Usage)?;
    let store = app::open_store(&config).await?;
    let Some(request) = store.request(number).await? else {
        return Err(AppError::Usage(format!("there is no request {number}")));
    };
    let decisions = store.request_decisions(number).await?;
    let holding = store
        .holdings(Some(&request.item), true)
        .await?
        .into_iter()
        .rev()
        .find(|h| h.request == Some(number));
    let trail = Trail { request, decisions, holding };
    if as_json {
        println!("{}", json(&trail)?);
        return Ok(0);
    }
    let r = &trail.request;
    println!("{} {} — {} ({})", r.number, r.status, r.item_title, r.item);
    println!(
        "requester:     {}{}",
        r.requester,
        r.requester_name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
    );
    println!("asked:         {}", when(r.created_at));
    println!("justification: {}", r.justification);
    for (k, v) in r.fields.iter().filter(|(k, _)| k.as_str() != "justification") {
        println!("{k:<14} {v}");
    }
    println!("fulfilment:    {}", r.fulfil);
    for (i, s) in r.steps.iter().enumerate() {
        let who: Vec<String> = s.approvers.iter().map(ToString::to_string).collect();
        let skipped = s.skipped.as_ref().map(|w| format!(" — skipped: {w}")).unwrap_or_default();
        println!("step {}:        {} (needs {}) {}{skipped}", i + 1, s.rule, s.needed, who.join(", "));
    }
    for d in &trail.decisions {
        let verb = if d.approve { "approved" } else { "denied" };
        let reason = d.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default();
        println!("{}  step {} {verb} by {}{reason}", when(d.at), d.step + 1, d.approver);
    }
    if let Some(h) = &trail.holding {
        println!(
            "seat:          granted {}, expires {}",
            when(h.granted_at),
            day(h.expires_at).if_empty("never")
        );
        if let Some(at) = h.revoked_at {
            println!(
                "revoked:       {} by {}: {}",
                when(at),
                h.revoked_by.clone().unwrap_or_default(),
                h.revoke_reason.clone().unwrap_or_default()
            );
        }
    }
    if let Some(o) = &r.outcome {
        println!("outcome:       {o}");
    }
    Ok(0)
}

trait IfEmpty {
    fn if_empty(self, other: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, other: &str) -> String {
        if self.is_empty() { other.to_string() } else { self }
    }
}

#[derive(Debug, Serialize)]
struct PoolLine {
    item: String,
    title: String,
    kind: &'static str,
    used: i64,
    total: Option<u32>,
    waiting: usize,
}

/// `deskbot licences list [--json]`: each catalog item's seats used/total and waiting line.
pub async fn licences_list(config: Config, as_json: bool) -> Result<u8, AppError> {
    let catalog = app::load_catalog(&config).await?;
    let store = app::open_store(&config).await?;
    let mut lines = Vec::new();
    for i in &catalog.items {
        lines.push(PoolLine {
            item: i.id.clone(),
            title: i.title.clone(),
            kind: i.kind.as_str(),
            used: store.seats_used(&i.id).await?,
            total: i.seats,
            waiting: store.waiting_line(&i.id).await?.len(),
        });
    }
    if as_json {
        println!("{}", json(&lines)?);
        return Ok(0);
    }
    for l in &lines {
        let total = l.total.map_or_else(|| "∞".to_string(), |t| t.to_string());
        println!(
            "{:<26} {:<10} {:>5}/{:<5} waiting {:<3} {}",
            l.item, l.kind, l.used, total, l.waiting, l.title
        );
    }
    Ok(0)
}

/// One seat as the auditor reads it.
#[derive(Debug, Serialize)]
struct HolderLine {
    holder: String,
    holder_name: Option<String>,
    item: String,
    request: Option<String>,
    granted_at: i64,
    /// Per step: who approved it.
    approved_by: Vec<String>,
    justification: String,
    expires_at: Option<i64>,
    last_reviewed: i64,
    revoked_at: Option<i64>,
}

async fn holder_lines(config: &Config, item: Option<&str>) -> Result<Vec<HolderLine>, AppError> {
    let store = app::open_store(config).await?;
    let mut out = Vec::new();
    let mut requests: BTreeMap<RequestNumber, (Option<Request>, Vec<Decision>)> = BTreeMap::new();
    for h in store.holdings(item, false).await? {
        let (request, decisions) = match h.request {
            Some(n) => {
                if let std::collections::btree_map::Entry::Vacant(e) = requests.entry(n) {
                    e.insert((store.request(n).await?, store.request_decisions(n).await?));
                }
                requests.get(&n).cloned().unwrap_or_default()
            }
            None => (None, Vec::new()),
        };
        let approved_by = decisions
            .iter()
            .filter(|d| d.approve)
            .map(|d| format!("step {} {}", d.step + 1, d.approver))
            .collect();
        out.push(HolderLine {
            holder: h.holder.to_string(),
            holder_name: h.holder_name.clone(),
            item: h.item.clone(),
            request: h.request.map(|n| n.to_string()),
            granted_at: h.granted_at,
            approved_by,
            justification: request.map(|r| r.justification).unwrap_or_default(),
            expires_at: h.expires_at,
            last_reviewed: h.reviewed_at,
            revoked_at: h.revoked_at,
        });
    }
    Ok(out)
}

/// `deskbot licences show ITEM [--json]`: the item's holders.
pub async fn licences_show(config: Config, item: &str, as_json: bool) -> Result<u8, AppError> {
    let catalog = app::load_catalog(&config).await?;
    let Some(def) = catalog.item(item) else {
        let known: Vec<&str> = catalog.items.iter().map(|i| i.id.as_str()).collect();
        return Err(AppError::Usage(format!("unknown item `{item}` (known: {})", known.join(", "))));
    };
    let lines = holder_lines(&config, Some(item)).await?;
    if as_json {
        println!("{}", json(&lines)?);
        return Ok(0);
    }
    let total = def.seats.map_or_else(|| "unlimited".to_string(), |t| t.to_string());
    println!("{} — {} ({} of {total} seats)", def.id, def.title, lines.len());
    for l in &lines {
        println!(
            "{:<24} since {}  expires {:<10}  reviewed {}  approved by {}  — {}",
            l.holder,
            when(l.granted_at),
            day(l.expires_at).if_empty("never"),
            when(l.last_reviewed),
            l.approved_by.join("; "),
            l.justification
        );
    }
    Ok(0)
}

/// `deskbot licences report --csv`: the access-review export, one row per seat held.
pub async fn licences_report(config: Config) -> Result<u8, AppError> {
    let lines = holder_lines(&config, None).await?;
    let mut w = csv::Writer::from_writer(std::io::stdout());
    let header = [
        "holder",
        "item",
        "granted at",
        "approved by",
        "justification",
        "expires",
        "last reviewed",
        "request",
    ];
    let fail = |e: csv::Error| AppError::Runtime(format!("cannot write the report: {e}"));
    w.write_record(header).map_err(fail)?;
    for l in &lines {
        w.write_record([
            l.holder.as_str(),
            l.item.as_str(),
            &when(l.granted_at),
            &l.approved_by.join("; "),
            &l.justification,
            &day(l.expires_at),
            &when(l.last_reviewed),
            l.request.as_deref().unwrap_or(""),
        ])
        .map_err(fail)?;
    }
    w.flush().map_err(|e| AppError::Runtime(format!("cannot write the report: {e}")))?;
    Ok(0)
}

/// `deskbot licences revoke ITEM PLATFORM:ID --justification TEXT [--by NAME]`.
pub async fn licences_revoke(
    config: Config,
    item: &str,
    holder: &str,
    justification: &str,
    by: Option<String>,
) -> Result<u8, AppError> {
    let holder: UserRef = holder.parse().map_err(AppError::Usage)?;
    if justification.trim().len() < 5 {
        return Err(AppError::Usage("a justification of at least a few words is required".into()));
    }
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "admin".into());
    let app = App::build(config).await?;
    match app.service.revoke_seat(item, &holder, &by, justification.trim()).await {
        Ok(offered) => {
            println!("{holder} no longer holds {item}");
            for n in offered {
                println!("the freed seat went to {n}, next in line");
            }
            Ok(0)
        }
        Err(crate::service::requests::RevokeError::NotHeld { .. }) => {
            Err(AppError::Usage(format!("{holder} holds no seat of `{item}`")))
        }
        Err(crate::service::requests::RevokeError::Service(e)) => Err(e.into()),
    }
}

/// `deskbot licences review --item ID|--all [--by NAME]`: start an access-review campaign.
pub async fn licences_review(config: Config, item: Option<&str>, by: Option<String>) -> Result<u8, AppError> {
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "admin".into());
    let app = App::build(config).await?;
    if let Some(i) = item
        && app.catalog.load().item(i).is_none()
    {
        return Err(AppError::Usage(format!("`{i}` is not an item of the request catalog")));
    }
    let days = app.config.requests.review_days;
    match app.service.start_review(item, &by).await {
        Ok(s) => {
            println!(
                "access review started: {} grants, {} managers asked, {} sent to the leads (no manager in the directory); \
                 unanswered items go to the leads after {days} days",
                s.grants, s.managers, s.to_leads
            );
            Ok(0)
        }
        Err(crate::service::reviews::ReviewError::Nothing(what)) => {
            Err(AppError::Usage(format!("no active grants to review{what}")))
        }
        Err(crate::service::reviews::ReviewError::Service(e)) => Err(e.into()),
    }
}
