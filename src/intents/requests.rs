//! The request catalog: `intents/catalog/*.toml`, one `[[item]]` per thing an employee can ask
//! for (a paid licence, a privileged access, equipment), with who approves it, what must be
//! asked first (a justification at least), how many seats its pool has, how long a grant
//! lasts and how it is fulfilled (a signed webhook or a ticket in a queue). Read and validated
//! with the intents (every problem as `file:line:col: message`); an item's examples join the
//! matcher as an intent whose answer is [`super::Answer::Request`].
use super::spans::{SourceMap, near_names};
use super::{Answer, Diagnostic, FileWhen, Intent};
use crate::domain::{Priority, QueueName};
use crate::kb::article::valid_id;
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

/// The field every item must ask for.
pub const JUSTIFICATION: &str = "justification";
/// A day, in milliseconds.
pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// What kind of thing an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Licence,
    Access,
    Equipment,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Licence => "licence",
            ItemKind::Access => "access",
            ItemKind::Equipment => "equipment",
        }
    }
}

/// One approval step, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApproverRule {
    /// The requester's manager, from the `[directory]`.
    Manager,
    /// Whoever holds an active `approver` grant for this group in the grants ledger.
    Group(String),
}

impl std::fmt::Display for ApproverRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApproverRule::Manager => f.write_str("manager"),
            ApproverRule::Group(g) => write!(f, "group:{g}"),
        }
    }
}

/// How many different people a group step needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Approval {
    /// One approver per step.
    #[default]
    Single,
    /// Two different approvers for each group step.
    TwoPerson,
}

/// A question asked before the request is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub ask: String,
    /// Answers shorter than this (in characters, trimmed) are asked again.
    pub min_chars: usize,
}

/// How a granted request is carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fulfil {
    /// A signed `access.grant` / `access.revoke` webhook to the named `[[webhook]]`.
    Webhook(String),
    /// A ticket in the named queue, for a person to do it.
    Queue(QueueName),
}

impl std::fmt::Display for Fulfil {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fulfil::Webhook(w) => write!(f, "webhook:{w}"),
            Fulfil::Queue(q) => write!(f, "queue:{q}"),
        }
    }
}

/// One requestable item, validated.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub kind: ItemKind,
    pub examples: Vec<String>,
    /// The licence pool; `None` is unlimited.
    pub seats: Option<u32>,
    /// How long a grant lasts; `None` is until revoked.
    pub duration_ms: Option<i64>,
    pub approvers: Vec<ApproverRule>,
    pub approval: Approval,
    pub fields: Vec<Field>,
    pub fulfil: Fulfil,
    /// Business time a step waits before a reminder (then as long again before escalation);
    /// `None` uses `[requests] approval_timeout`.
    pub approval_timeout: Option<String>,
    pub source: PathBuf,
}

impl Item {
    /// The queue a conversation about this item goes to when a person is needed.
    pub fn queue(&self) -> Option<&QueueName> {
        match &self.fulfil {
            Fulfil::Queue(q) => Some(q),
            Fulfil::Webhook(_) => None,
        }
    }
}

/// `intents/catalog/*.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    item: Vec<Spanned<ItemDef>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemDef {
    id: Spanned<String>,
    title: Spanned<String>,
    kind: Spanned<String>,
    examples: Spanned<Vec<Spanned<String>>>,
    seats: Option<Spanned<i64>>,
    duration: Option<Spanned<String>>,
    approvers: Spanned<Vec<Spanned<String>>>,
    approval: Option<Spanned<String>>,
    approval_timeout: Option<Spanned<String>>,
    #[serde(default)]
    fields: Vec<Spanned<FieldDef>>,
    fulfil: Spanned<FulfilDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldDef {
    name: Spanned<String>,
    ask: Spanned<String>,
    #[serde(default)]
    min_chars: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FulfilDef {
    webhook: Option<Spanned<String>>,
    queue: Option<Spanned<String>>,
}

/// `365d`, `12w`, `8h`: a wall-clock duration in milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let bad = || format!("duration `{t}` must be a number and a unit: `365d`, `12w` or `8h`");
    let unit = t.chars().last().ok_or_else(bad)?;
    let n: i64 = t[..t.len() - unit.len_utf8()].trim().parse().map_err(|_| bad())?;
    let ms = match unit {
        'h' => 3600 * 1000,
        'd' => DAY_MS,
        'w' => 7 * DAY_MS,
        _ => return Err(bad()),
    };
    if n <= 0 {
        return Err(format!("duration `{t}` must be more than zero"));
    }
    n.checked_mul(ms).ok_or_else(bad)
}

/// Checks catalog files, collecting items and problems.
pub struct ItemValidator<'a> {
    known_queues: &'a [QueueName],
    known_webhooks: &'a [String],
    pub items: Vec<Item>,
    /// Item id → where it was first defined.
    defined_at: Vec<(String, String)>,
    pub diags: Vec<Diagnostic>,
}

impl<'a> ItemValidator<'a> {
    pub fn new(known_queues: &'a [QueueName], known_webhooks: &'a [String]) -> Self {
        Self { known_queues, known_webhooks, items: Vec::new(), defined_at: Vec::new(), diags: Vec::new() }
    }

    pub fn file(&mut self, map: &SourceMap<'_>, intent_ids: &[(String, String)]) {
        let file: CatalogFile = match toml::from_str(map.text) {
            Ok(f) => f,
            Err(e) => return self.diags.push(map.toml_error(&e, 0)),
        };
        for def in file.item {
            let span = def.span();
            if let Some(item) = self.item(map, span, def.into_inner(), intent_ids) {
                self.items.push(item);
            }
        }
    }

    fn item(
        &mut self,
        map: &SourceMap<'_>,
        span: std::ops::Range<usize>,
        def: ItemDef,
        intent_ids: &[(String, String)],
    ) -> Option<Item> {
        let before = self.diags.len();
        let id = def.id.get_ref().trim().to_string();
        let first = |list: &[(String, String)]| list.iter().find(|(i, _)| *i == id).map(|(_, at)| at.clone());
        if !valid_id(&id) {
            let msg = format!("item id `{id}` may only hold lowercase letters, digits, `-` and `_`");
            self.diags.push(map.at(&def.id.span(), msg));
        } else if let Some(at) = first(&self.defined_at) {
            self.diags
                .push(map.at(&def.id.span(), format!("duplicate item id `{id}` (first defined at {at})")));
        } else if let Some(at) = first(intent_ids) {
            let msg = format!("item id `{id}` is also an intent id (defined at {at}): pick another");
            self.diags.push(map.at(&def.id.span(), msg));
        } else {
            let (line, _) = map.line_col(span.start);
            self.defined_at.push((id.clone(), format!("{}:{line}", map.path.display())));
        }
        let title = def.title.get_ref().trim().to_string();
        if title.is_empty() {
            self.diags.push(map.at(&def.title.span(), format!("item `{id}` has an empty title")));
        }
        let kind = match def.kind.get_ref().trim() {
            "licence" | "license" => Some(ItemKind::Licence),
            "access" => Some(ItemKind::Access),
            "equipment" => Some(ItemKind::Equipment),
            other => {
                let msg = format!("kind must be \"licence\", \"access\" or \"equipment\", not `{other}`");
                self.diags.push(map.at(&def.kind.span(), msg));
                None
            }
        };
        if def.examples.get_ref().is_empty() {
            let msg = format!("item `{id}` has no examples: add a few messages people would write");
            self.diags.push(map.at(&def.examples.span(), msg));
        }
        for ex in def.examples.get_ref() {
            if ex.get_ref().trim().is_empty() {
                self.diags.push(map.at(&ex.span(), "empty example"));
            }
        }
        let seats = match &def.seats {
            Some(s) if *s.get_ref() < 1 || *s.get_ref() > i64::from(u32::MAX) => {
                let msg = format!(
                    "seats must be a positive number, not {} (leave it out for unlimited)",
                    s.get_ref()
                );
                self.diags.push(map.at(&s.span(), msg));
                None
            }
            Some(s) => u32::try_from(*s.get_ref()).ok(),
            None => None,
        };
        let duration_ms = def.duration.as_ref().and_then(|d| {
            parse_duration(d.get_ref()).map_err(|e| self.diags.push(map.at(&d.span(), e))).ok()
        });
        let approvers = self.approvers(map, &def.approvers);
        let approval = match &def.approval {
            None => Approval::Single,
            Some(a) => match a.get_ref().trim() {
                "single" => Approval::Single,
                "two-person" => Approval::TwoPerson,
                other => {
                    let msg = format!("approval must be \"single\" or \"two-person\", not `{other}`");
                    self.diags.push(map.at(&a.span(), msg));
                    Approval::Single
                }
            },
        };
        if approval == Approval::TwoPerson && !approvers.iter().any(|r| matches!(r, ApproverRule::Group(_))) {
            let msg = "approval = \"two-person\" needs a `group:NAME` approver (a manager is one person)";
            self.diags.push(map.at(&def.approvers.span(), msg));
        }
        if let Some(t) = &def.approval_timeout
            && let Err(e) = crate::domain::duration::parse_business_duration(t.get_ref(), DAY_MS)
        {
            let msg =
                format!("approval_timeout `{}` {e} (like \"4h\" or \"1d\": business time)", t.get_ref());
            self.diags.push(map.at(&t.span(), msg));
        }
        let fields = self.fields(map, &id, span.clone(), &def.fields);
        let fulfil = self.fulfil(map, &def.fulfil);
        if self.diags.len() > before {
            return None;
        }
        Some(Item {
            id,
            title,
            kind: kind?,
            examples: def.examples.into_inner().into_iter().map(Spanned::into_inner).collect(),
            seats,
            duration_ms,
            approvers,
            approval,
            fields,
            fulfil: fulfil?,
            approval_timeout: def.approval_timeout.map(|t| t.into_inner().trim().to_string()),
            source: map.path.to_path_buf(),
        })
    }

    fn approvers(&mut self, map: &SourceMap<'_>, list: &Spanned<Vec<Spanned<String>>>) -> Vec<ApproverRule> {
        if list.get_ref().is_empty() {
            let msg = "approvers is empty: every request needs at least one approval step \
                       (\"manager\" or \"group:NAME\")";
            self.diags.push(map.at(&list.span(), msg));
        }
        let mut rules = Vec::new();
        for a in list.get_ref() {
            let text = a.get_ref().trim();
            match text.strip_prefix("group:").map(str::trim) {
                _ if text == "manager" => rules.push(ApproverRule::Manager),
                Some(g) if valid_id(g) => rules.push(ApproverRule::Group(g.to_string())),
                _ => {
                    let msg = format!(
                        "approver `{text}` must be \"manager\" or \"group:NAME\" (NAME: lowercase letters, digits, `-`, `_`)"
                    );
                    self.diags.push(map.at(&a.span(), msg));
                }
            }
        }
        rules
    }

    fn fields(
        &mut self,
        map: &SourceMap<'_>,
        id: &str,
        item_span: std::ops::Range<usize>,
        defs: &[Spanned<FieldDef>],
    ) -> Vec<Field> {
        let mut fields: Vec<Field> = Vec::new();
        for f in defs {
            let def = f.get_ref();
            let name = def.name.get_ref().trim().to_string();
            if !valid_id(&name) {
                let msg = format!("field name `{name}` may only hold lowercase letters, digits, `-` and `_`");
                self.diags.push(map.at(&def.name.span(), msg));
            } else if fields.iter().any(|e| e.name == name) {
                self.diags.push(map.at(&def.name.span(), format!("duplicate field `{name}` in this item")));
            }
            let ask = def.ask.get_ref().trim().to_string();
            if ask.is_empty() {
                self.diags.push(map.at(&def.ask.span(), format!("field `{name}` has an empty `ask`")));
            }
            let min_chars = match &def.min_chars {
                Some(m) if *m.get_ref() < 0 || *m.get_ref() > 2000 => {
                    let msg = format!("min_chars must be between 0 and 2000, not {}", m.get_ref());
                    self.diags.push(map.at(&m.span(), msg));
                    0
                }
                Some(m) => usize::try_from(*m.get_ref()).unwrap_or(0),
                None => 0,
            };
            if name == JUSTIFICATION && min_chars == 0 {
                let msg =
                    "the justification needs `min_chars` (at least 1): a blank reason justifies nothing";
                self.diags.push(map.at(&f.span(), msg));
            }
            fields.push(Field { name, ask, min_chars });
        }
        if !fields.iter().any(|f| f.name == JUSTIFICATION) {
            let msg = format!(
                "item `{id}` asks for no justification: add fields = [ {{ name = \"justification\", ask = \"What will you use it for?\", min_chars = 20 }} ]"
            );
            self.diags.push(map.at(&item_span, msg));
        }
        fields
    }

    fn fulfil(&mut self, map: &SourceMap<'_>, def: &Spanned<FulfilDef>) -> Option<Fulfil> {
        match (&def.get_ref().webhook, &def.get_ref().queue) {
            (Some(w), None) => {
                let name = w.get_ref().trim();
                if self.known_webhooks.is_empty() || self.known_webhooks.iter().any(|k| k == name) {
                    return Some(Fulfil::Webhook(name.to_string()));
                }
                let near = near_names(name, self.known_webhooks.iter().map(String::as_str));
                let known = if near.is_empty() { self.known_webhooks.join(", ") } else { near.join(", ") };
                self.diags.push(map.at(&w.span(), format!("unknown webhook `{name}` (known: {known})")));
                None
            }
            (None, Some(q)) => {
                let name = q.get_ref().trim();
                let parsed =
                    QueueName::parse(name).map_err(|e| self.diags.push(map.at(&q.span(), e))).ok()?;
                if self.known_queues.is_empty() || self.known_queues.contains(&parsed) {
                    return Some(Fulfil::Queue(parsed));
                }
                let mut known: Vec<&str> = self.known_queues.iter().map(QueueName::as_str).collect();
                known.sort_unstable();
                self.diags
                    .push(map.at(&q.span(), format!("unknown queue `{name}` (known: {})", known.join(", "))));
                None
            }
            _ => {
                let msg = "fulfil must name exactly one of `webhook` or `queue`: fulfil = { webhook = \"idp\" } or { queue = \"software\" }";
                self.diags.push(map.at(&def.span(), msg));
                None
            }
        }
    }
}

/// The intent an item is matched as: its examples and title train the matcher, and a match
/// starts the request. `fallback` is the queue a conversation about it goes to when a person is
/// needed and the item is fulfilled by webhook.
pub fn as_intent(item: &Item, fallback: &QueueName) -> Intent {
    Intent {
        id: item.id.clone(),
        description: item.title.clone(),
        examples: item.examples.clone(),
        patterns: Vec::new(),
        answer: Answer::Request(item.id.clone()),
        queue: item.queue().cloned().unwrap_or_else(|| fallback.clone()),
        priority: Priority::default(),
        slots: Vec::new(),
        threshold: None,
        file: FileWhen::OnRequest,
        source: item.source.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn check(text: &str) -> (Vec<Item>, Vec<String>) {
        let queues = vec![QueueName::parse("software").unwrap(), QueueName::parse("access").unwrap()];
        let hooks = vec!["idp".to_string()];
        let mut v = ItemValidator::new(&queues, &hooks);
        let path = Path::new("catalog/x.toml");
        v.file(&SourceMap::new(path, text), &[("vpn".into(), "intents/network.toml:3".into())]);
        (v.items, v.diags.iter().map(ToString::to_string).collect())
    }

    const GOOD: &str = r#"
[[item]]
id = "adobe-acrobat-pro"
title = "Adobe Acrobat Pro licence"
kind = "licence"
examples = ["I need acrobat", "can I get adobe pro to sign pdfs"]
seats = 40
duration = "365d"
approvers = ["manager", "group:software-approvers"]
fields = [ { name = "justification", ask = "What will you use it for?", min_chars = 20 } ]
fulfil = { webhook = "idp" }
"#;

    #[test]
    fn the_issue_example_loads() {
        let (items, diags) = check(GOOD);
        assert!(diags.is_empty(), "{diags:?}");
        let i = &items[0];
        assert_eq!(i.seats, Some(40));
        assert_eq!(i.duration_ms, Some(365 * DAY_MS));
        assert_eq!(
            i.approvers,
            vec![ApproverRule::Manager, ApproverRule::Group("software-approvers".into())]
        );
        assert_eq!(i.fulfil, Fulfil::Webhook("idp".into()));
        assert_eq!(i.fields[0].min_chars, 20);
    }

    #[test]
    fn problems_are_placed_at_the_value_at_fault() {
        let bad = GOOD
            .replace("seats = 40", "seats = 0")
            .replace("\"365d\"", "\"a year\"")
            .replace("group:software-approvers", "boss")
            .replace("webhook = \"idp\"", "webhook = \"idq\"");
        let (items, diags) = check(&bad);
        assert!(items.is_empty());
        let joined = diags.join("\n");
        assert!(joined.contains("catalog/x.toml:7:9: seats must be a positive number"), "{joined}");
        assert!(joined.contains("catalog/x.toml:8:12: duration `a year`"), "{joined}");
        assert!(joined.contains("catalog/x.toml:9:25: approver `boss`"), "{joined}");
        assert!(joined.contains("catalog/x.toml:11:22: unknown webhook `idq` (known: idp)"), "{joined}");
    }

    #[test]
    fn a_justification_is_required_and_ids_do_not_clash_with_intents() {
        let no_reason = GOOD.replace("name = \"justification\"", "name = \"reason\"");
        let (_, diags) = check(&no_reason);
        assert!(diags.iter().any(|d| d.contains("asks for no justification")), "{diags:?}");
        let clash = GOOD.replace("adobe-acrobat-pro", "vpn");
        let (_, diags) = check(&clash);
        assert!(diags.iter().any(|d| d.contains("also an intent id (defined at intents/network.toml:3)")));
        let two = GOOD
            .replace("seats = 40", "approval = \"two-person\"")
            .replace(", \"group:software-approvers\"", "");
        let (_, diags) = check(&two);
        assert!(diags.iter().any(|d| d.contains("two-person")), "{diags:?}");
    }
}
