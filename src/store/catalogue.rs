//! The personal-data catalogue: every text or JSON column of the schema, classified as holding
//! a person's id, name or words — or as holding none, with the reason. `deskbot person export`,
//! `deskbot person erase` and the retention purge read it (see `person_sql.rs` and
//! `compliance_sql.rs`), so a column is handled the moment it is listed here; a unit test
//! below fails when a migration adds a text or JSON column this file does not classify.
//! Re-exported as `compliance::catalogue`.

/// What a column can hold about a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// Nothing personal; the column's `why` says what it holds instead.
    Nothing,
    /// Platform user ids (`slack:U0123`, `U0123`), or keys and ids built from them.
    Id,
    /// Display names.
    Name,
    /// What a person wrote (or what was written to or about them), free text or form answers.
    Words,
    /// A platform address (a DM channel, a thread) that leads to the person.
    Address,
}

/// A value written over a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// SQL NULL.
    Null,
    /// A fixed text.
    Text(&'static str),
    /// A fixed JSON document.
    Json(&'static str),
    /// The person's pseudonym (`erased-…`), or `purged` in a purge.
    Pseudonym,
    /// A blank conversation state (the engine's default).
    BlankState,
}

/// How `person erase` treats a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erase {
    /// Not personal: left alone.
    Keep,
    /// In the person's rows the value is replaced by the fill; in every other row the person's
    /// ids and names are replaced (as [`Erase::Scrub`]).
    Replace(Fill),
    /// Every row: the person's ids become the pseudonym, their names `[erased]`.
    Scrub,
    /// Deliveries (`outbox.payload`): an undelivered row that is addressed to the person, about
    /// one of their tickets or requests ([`delivery_ticket`], [`delivery_request`]), or quotes
    /// their id, names or words is dropped; a delivered one is replaced by an empty message to
    /// nowhere.
    Deliveries,
}

/// How the retention purge treats a column in the rows its table's [`Expiry`] selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Left as it is (not personal, or kept on purpose: the column's `why` says).
    Keep,
    /// The expired row is deleted, and the value with it.
    WithRow,
    /// Overwritten by the fill.
    Set(Fill),
    /// An actor column: where it names the ticket's requester it becomes `requester`.
    RequesterAsRole,
    /// A conversation key (a DM's is `{platform}:dm:{user id}`): becomes `purged`, or
    /// [`PURGED_TEST_CONVERSATION`] where the key is flagged as test traffic, which is flagged
    /// in turn, so the reports keep leaving those rows out.
    ConversationKey,
    /// Deliveries (`outbox.payload`, whose rows are otherwise deleted with the transcripts):
    /// those about a ticket the purge anonymises ([`delivery_ticket`]) go at once, an
    /// undelivered one (queued, or dead after its last attempt) dropped, a delivered one
    /// replaced by an empty message to nowhere ([`PURGED_ADDRESS`], [`PURGED_WORDS`]).
    Deliveries,
}

/// What a purged conversation key flagged as test traffic becomes (itself flagged).
pub const PURGED_TEST_CONVERSATION: &str = "purged-test";

/// Which rows of a table belong to a person (for export and erase).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Nobody's: nothing in it identifies a person.
    Nobody,
    /// Rows whose platform and user id columns name the person.
    Person { platform: &'static str, id: &'static str },
    /// Rows of the person's tickets or conversations (either column may be absent).
    Linked { ticket: Option<&'static str>, conversation: Option<&'static str> },
    /// Transcript lines: those of the person's tickets or conversations (as [`Owner::Linked`]),
    /// and those whose speaker columns name them: what they said in someone else's ticket (the
    /// note they added filing it from that person's message, an agent's reply or internal
    /// note). The lines they spoke are their own words whatever the table's `own_words` says.
    Spoken { ticket: &'static str, conversation: &'static str, platform: &'static str, id: &'static str },
    /// History rows: those the person acted in or is the subject of, and every row of their
    /// tickets (reopen notes, rating comments, and agents' notes about them).
    Acts { ticket: &'static str, actor: &'static str, subject: Option<&'static str> },
    /// The outbox: see [`Erase::Deliveries`].
    Deliveries,
}

/// Which rows of a table the retention purge expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Whole rows are deleted by the purge's own rules (see `compliance_sql.rs`: transcript
    /// lines, idle conversations, delivered messages, dedupe keys); deliveries about an expired
    /// ticket go earlier, with the ticket's expiry ([`Purge::Deliveries`]).
    Deleted,
    /// Rows of tickets the purge anonymises (resolved or closed before the queue's cutoff),
    /// found by this ticket-number column.
    Ticket(&'static str),
    /// Rows whose time column is before the transcripts cutoff (the queue's, when the table
    /// has a queue column, else the global one).
    Age { at: &'static str, queue: Option<&'static str> },
    /// Never expired; every column must say why in its `why`.
    Kept,
}

/// One text or JSON column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub holds: Holds,
    /// JSON (JSONB on PostgreSQL, TEXT on SQLite).
    pub json: bool,
    pub erase: Erase,
    pub purge: Purge,
    /// What the column holds, and why it is treated so.
    pub why: &'static str,
}

/// One table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub owner: Owner,
    /// Erasing a person deletes their rows instead of rewriting them.
    pub erase_deletes_rows: bool,
    /// Among the person's rows, those whose `Words` columns hold what they themselves wrote
    /// (an SQL condition; `None`: none to look for), besides the rows they spoke
    /// ([`Owner::Spoken`]). An erasure looks for these words quoted in queued deliveries.
    pub own_words: Option<&'static str>,
    pub expiry: Expiry,
    pub columns: &'static [Column],
}

impl Table {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    /// The columns that can hold something about a person.
    pub fn personal(&self) -> impl Iterator<Item = &'static Column> {
        self.columns.iter().filter(|c| c.holds != Holds::Nothing)
    }
}

const fn col(name: &'static str, holds: Holds, erase: Erase, purge: Purge, why: &'static str) -> Column {
    Column { name, holds, json: false, erase, purge, why }
}

const fn json(name: &'static str, holds: Holds, erase: Erase, purge: Purge, why: &'static str) -> Column {
    Column { name, holds, json: true, erase, purge, why }
}

const fn not(name: &'static str, why: &'static str) -> Column {
    Column { name, holds: Holds::Nothing, json: false, erase: Erase::Keep, purge: Purge::Keep, why }
}

const fn not_json(name: &'static str, why: &'static str) -> Column {
    Column { name, holds: Holds::Nothing, json: true, erase: Erase::Keep, purge: Purge::Keep, why }
}

use Erase::{Replace, Scrub};
use Fill::{Null, Pseudonym, Text};
use Holds::{Address, Id, Name, Words};

/// An address that leads nowhere, written over a person's reply address.
pub const NOWHERE: &str = r#"{"platform":"system","channel":"erased"}"#;
/// The same after a purge.
pub const PURGED_ADDRESS: &str = r#"{"platform":"system","channel":"purged"}"#;
/// What stands in for erased words.
pub const ERASED: &str = "[erased]";
/// What stands in for purged words.
pub const PURGED_WORDS: &str = "[purged]";

/// The ticket a delivery (an `outbox.payload`) is about: a card's or a card update's, a thread
/// reply's, a ticket webhook's, or the one it names as its `about` (`domain::About`: a DM that
/// quotes the ticket's title, a message to its requester).
pub fn delivery_ticket(payload: &serde_json::Value) -> Option<i64> {
    let kind = payload.get("kind");
    [
        kind.and_then(|k| k.pointer("/card/number")),
        kind.and_then(|k| k.get("ticket")),
        kind.and_then(|k| k.pointer("/body/ticket/number")),
        payload.pointer("/about/ticket"),
    ]
    .into_iter()
    .flatten()
    .find_map(serde_json::Value::as_i64)
}

/// The request a delivery is about: the one it names as its `about` (approval DMs, which quote
/// the justification and answers; messages to the requester; fulfilment webhooks), or a
/// fulfilment webhook's `request`.
pub fn delivery_request(payload: &serde_json::Value) -> Option<i64> {
    payload.pointer("/about/request").and_then(serde_json::Value::as_i64).or_else(|| {
        let named = payload.pointer("/kind/body/request")?.as_str()?;
        named.parse::<crate::domain::RequestNumber>().ok().map(|n| n.0)
    })
}

/// Every table of the schema and its text and JSON columns.
pub const CATALOGUE: &[Table] = &[
    Table {
        name: "conversations",
        owner: Owner::Person { platform: "platform", id: "user_id" },
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Deleted,
        columns: &[
            col(
                "key",
                Id,
                Scrub,
                Purge::WithRow,
                "conversation key: platform channel/thread ids, the user id on the console",
            ),
            not("platform", "the platform's name"),
            col("user_id", Id, Replace(Pseudonym), Purge::WithRow, "the owner's platform user id"),
            json(
                "reply_to",
                Address,
                Replace(Fill::Json(NOWHERE)),
                Purge::WithRow,
                "where replies go: the person's DM or thread",
            ),
            json(
                "state",
                Words,
                Replace(Fill::BlankState),
                Purge::WithRow,
                "the engine's state: the question, form answers, offered articles",
            ),
        ],
    },
    Table {
        name: "tickets",
        owner: Owner::Person { platform: "requester_platform", id: "requester_id" },
        erase_deletes_rows: false,
        own_words: Some("1 = 1"),
        expiry: Expiry::Ticket("number"),
        columns: &[
            col(
                "title",
                Words,
                Replace(Text(ERASED)),
                Purge::Set(Text("[purged]")),
                "the first line of the request",
            ),
            col("description", Words, Replace(Text(ERASED)), Purge::Set(Text("")), "the request"),
            not("requester_platform", "the platform's name"),
            col(
                "requester_id",
                Id,
                Replace(Pseudonym),
                Purge::Set(Pseudonym),
                "the requester's platform user id",
            ),
            col("requester_name", Name, Replace(Null), Purge::Set(Null), "the requester's display name"),
            not("filed_by_platform", "the platform's name"),
            col(
                "filed_by_id",
                Id,
                Scrub,
                Purge::Set(Pseudonym),
                "who filed it: the requester, or whoever filed it from their message",
            ),
            col(
                "conversation",
                Id,
                Scrub,
                Purge::ConversationKey,
                "the conversation key it was filed from (a DM's names the requester)",
            ),
            json(
                "reply_to",
                Address,
                Replace(Fill::Json(NOWHERE)),
                Purge::Set(Fill::Json(PURGED_ADDRESS)),
                "the requester's DM or thread",
            ),
            not("intent", "an intent id from the catalog"),
            not("queue", "a queue name from the config"),
            not("priority", "low | normal | high | urgent"),
            not("status", "open | pending | resolved | closed"),
            col(
                "assignee",
                Id,
                Scrub,
                Purge::Keep,
                "the assigned agent's id: kept after a purge as the record of who worked it",
            ),
            json("fields", Words, Replace(Fill::Json("{}")), Purge::Set(Fill::Json("{}")), "form answers"),
            not_json("sla", "SLA clock state: targets and times"),
        ],
    },
    Table {
        name: "messages",
        owner: Owner::Spoken {
            ticket: "ticket_number",
            conversation: "conversation",
            platform: "speaker_platform",
            id: "speaker_id",
        },
        erase_deletes_rows: false,
        own_words: Some("speaker_kind = 'employee'"),
        expiry: Expiry::Deleted,
        columns: &[
            col("conversation", Id, Scrub, Purge::WithRow, "the conversation key"),
            not("speaker_kind", "employee | bot | agent | filer | system"),
            col(
                "speaker_name",
                Name,
                Scrub,
                Purge::WithRow,
                "the display name of the agent, or of whoever filed the ticket from the requester's message",
            ),
            not("speaker_platform", "the platform's name"),
            col(
                "speaker_id",
                Id,
                Scrub,
                Purge::WithRow,
                "who said the line, where not the conversation's owner: the agent, or whoever filed the \
                 ticket from the requester's message; scrubbed, not replaced, in the requester's rows, \
                 so an agent's line stays theirs when the requester is erased",
            ),
            col(
                "text",
                Words,
                Replace(Text(ERASED)),
                Purge::WithRow,
                "a transcript line: the person's words, the bot's and agents' replies to them (which quote them)",
            ),
        ],
    },
    Table {
        name: "ticket_events",
        owner: Owner::Acts { ticket: "ticket_number", actor: "actor", subject: None },
        erase_deletes_rows: false,
        own_words: Some("actor = 'requester' OR kind LIKE 'csat%'"),
        expiry: Expiry::Ticket("ticket_number"),
        columns: &[
            not("kind", "what happened: created, status:…, assignee, csat, …"),
            col(
                "actor",
                Id,
                Scrub,
                Purge::RequesterAsRole,
                "who acted: an agent's or the requester's id; agents' ids stay as evidence",
            ),
            col(
                "detail",
                Words,
                Replace(Null),
                Purge::Set(Null),
                "notes: reopen messages, rating comments, resolution notes",
            ),
        ],
    },
    Table {
        name: "inbound_events",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Deleted,
        columns: &[
            not("platform", "the platform's name"),
            col(
                "event_id",
                Id,
                Scrub,
                Purge::WithRow,
                "the platform's event id; reactions and button presses embed the user id",
            ),
        ],
    },
    Table {
        name: "outbox",
        owner: Owner::Deliveries,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Deleted,
        columns: &[
            col("key", Id, Scrub, Purge::WithRow, "the delivery key, made from the inbound event id"),
            not("platform", "the platform's name"),
            json(
                "payload",
                Words,
                Erase::Deliveries,
                Purge::Deliveries,
                "the message: text, cards, transcripts, webhook bodies; those about an expired ticket \
                 go with its expiry, the rest with the transcripts",
            ),
            not("status", "pending | sending | done | dead"),
            not("claimed_by", "the delivering process (host and pid)"),
            col(
                "last_error",
                Words,
                Scrub,
                Purge::WithRow,
                "the platform's error, which may echo the message",
            ),
        ],
    },
    Table {
        name: "agents",
        owner: Owner::Person { platform: "platform", id: "user_id" },
        erase_deletes_rows: true,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("platform", "the platform's name"),
            col(
                "user_id",
                Id,
                Replace(Pseudonym),
                Purge::Keep,
                "an agent's id: the desk's staff list, kept while they work there",
            ),
            col(
                "display_name",
                Name,
                Replace(Null),
                Purge::Keep,
                "an agent's display name: the desk's staff list",
            ),
            not("role", "agent | lead | admin"),
        ],
    },
    Table {
        name: "kb_feedback",
        owner: Owner::Linked { ticket: None, conversation: Some("conversation") },
        erase_deletes_rows: false,
        own_words: Some("1 = 1"),
        expiry: Expiry::Age { at: "created_at", queue: None },
        columns: &[
            not("intent", "an intent id from the catalog"),
            not("article", "a KB article id"),
            col(
                "query",
                Words,
                Replace(Text("")),
                Purge::Set(Text("")),
                "the question the answer was rated for",
            ),
            col(
                "conversation",
                Id,
                Scrub,
                Purge::Set(Null),
                "the conversation key (links the rating to its asker)",
            ),
        ],
    },
    Table {
        name: "csat",
        owner: Owner::Linked { ticket: Some("ticket_number"), conversation: None },
        erase_deletes_rows: false,
        own_words: Some("1 = 1"),
        expiry: Expiry::Ticket("ticket_number"),
        columns: &[col("comment", Words, Replace(Null), Purge::Set(Null), "the rating's comment")],
    },
    Table {
        name: "ticket_cards",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Deleted,
        columns: &[
            not("platform", "the platform's name"),
            not("channel", "the queue's agents' channel"),
            not("message_id", "the card's message id in that channel"),
        ],
    },
    Table {
        name: "timers",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Deleted,
        columns: &[not("kind", "which SLA or reminder timer")],
    },
    Table {
        name: "audit_log",
        owner: Owner::Acts { ticket: "ticket_number", actor: "actor", subject: Some("subject") },
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Ticket("ticket_number"),
        columns: &[
            col(
                "actor",
                Id,
                Scrub,
                Purge::RequesterAsRole,
                "who acted: agents' ids stay as evidence; a requester becomes `requester` after a purge",
            ),
            not("kind", "what happened"),
            col(
                "subject",
                Id,
                Scrub,
                Purge::Keep,
                "who an entry is about (grants: evidence of access, kept); an erasure names a keyed hash",
            ),
            col(
                "detail",
                Words,
                Replace(Null),
                Purge::Set(Null),
                "notes and comments copied from the ticket history, grant justifications",
            ),
            not("prev_hash", "the chain: the previous entry's MAC"),
            not("hash", "the chain: this entry's MAC"),
        ],
    },
    Table {
        name: "audit_head",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[not("last_hash", "the chain head's MAC")],
    },
    Table {
        name: "report_sessions",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not(
                "id_hash",
                "the SHA-256 of a random session id; names nobody (sessions expire and are purged)",
            ),
            not("csrf_token", "a random per-session token"),
        ],
    },
    Table {
        name: "portal_links",
        owner: Owner::Person { platform: "platform", id: "user_id" },
        erase_deletes_rows: true,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("token_hash", "the SHA-256 of a random one-time link token"),
            not("platform", "the platform's name"),
            col(
                "user_id",
                Id,
                Replace(Pseudonym),
                Purge::Keep,
                "who the link signs in as; links live ten minutes and the portal deletes them at expiry",
            ),
        ],
    },
    Table {
        name: "portal_sessions",
        owner: Owner::Person { platform: "platform", id: "user_id" },
        erase_deletes_rows: true,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("id_hash", "the SHA-256 of a random session id"),
            not("csrf_token", "a random per-session token"),
            not("platform", "the platform's name"),
            col(
                "user_id",
                Id,
                Replace(Pseudonym),
                Purge::Keep,
                "who the session acts as; the portal deletes sessions once idle or expired",
            ),
        ],
    },
    Table {
        name: "portal_oidc_logins",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("state_hash", "the SHA-256 of a random OIDC state"),
            not("browser_hash", "the SHA-256 of a random browser-binding cookie"),
            not("nonce", "a random nonce the ID token must carry"),
            not("pkce_verifier", "a random PKCE code verifier"),
        ],
    },
    Table {
        name: "portal_identities",
        owner: Owner::Person { platform: "platform", id: "user_id" },
        erase_deletes_rows: true,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("issuer", "the identity provider's URL"),
            col(
                "subject",
                Id,
                Replace(Pseudonym),
                Purge::Keep,
                "the provider's id for the person: the sign-in link, kept while they use the portal",
            ),
            col(
                "email",
                Id,
                Replace(Pseudonym),
                Purge::Keep,
                "the verified email the provider gave: the sign-in link, kept while they use the portal",
            ),
            not("platform", "the platform's name"),
            col(
                "user_id",
                Id,
                Replace(Pseudonym),
                Purge::Keep,
                "who a provider sign-in acts as; erasing the person deletes the link",
            ),
        ],
    },
    Table {
        name: "portal_identity_claims",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("token_hash", "the SHA-256 of a random claim cookie"),
            not("issuer", "the identity provider's URL"),
            col(
                "subject",
                Id,
                Scrub,
                Purge::Keep,
                "the provider's id for someone no chat identity matched yet; claims live ten \
                 minutes and the portal deletes them at expiry; they name no chat identity yet",
            ),
            col(
                "email",
                Id,
                Scrub,
                Purge::Keep,
                "the verified email of someone no chat identity matched yet; claims live ten \
                 minutes and the portal deletes them at expiry; they name no chat identity yet",
            ),
        ],
    },
    Table {
        name: "audit_keying",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("state", "whether the pre-key chain was re-chained: pending, keyed or refused"),
            not("legacy_hash", "the plain chain's head hash when the key arrived"),
        ],
    },
    Table {
        name: "role_grants",
        owner: Owner::Person { platform: "platform", id: "user_id" },
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("platform", "the platform's name"),
            col(
                "user_id",
                Id,
                Replace(Pseudonym),
                Purge::Keep,
                "the grantee: access records are kept as evidence (SOX)",
            ),
            not("role", "agent | lead | admin"),
            not("scope", "a queue name or *"),
            col("granted_by", Id, Scrub, Purge::Keep, "who granted it: evidence of access"),
            col(
                "justification",
                Words,
                Scrub,
                Purge::Keep,
                "why: evidence of access, written by the granter",
            ),
            col("revoked_by", Id, Scrub, Purge::Keep, "who revoked it: evidence of access"),
            col("revoke_reason", Words, Scrub, Purge::Keep, "why it was revoked: evidence of access"),
        ],
    },
    Table {
        name: "requests",
        owner: Owner::Person { platform: "requester_platform", id: "requester_id" },
        erase_deletes_rows: false,
        own_words: Some("1 = 1"),
        expiry: Expiry::Kept,
        columns: &[
            not("item", "a request-catalog item id"),
            not("item_title", "the item's title from the catalog"),
            not("requester_platform", "the platform's name"),
            col(
                "requester_id",
                Id,
                Replace(Pseudonym),
                Purge::Keep,
                "who asked: access and licence records are kept as evidence (SOX)",
            ),
            col("requester_name", Name, Replace(Null), Purge::Keep, "the requester's display name"),
            col("conversation", Id, Scrub, Purge::Keep, "where the employee asked (channel/DM ids)"),
            json(
                "reply_to",
                Address,
                Replace(Fill::Json(NOWHERE)),
                Purge::Keep,
                "where the requester is told: their DM or thread",
            ),
            json(
                "fields",
                Words,
                Replace(Fill::Json("{}")),
                Purge::Keep,
                "the answers to the item's questions",
            ),
            col(
                "justification",
                Words,
                Replace(Text(ERASED)),
                Purge::Keep,
                "why the requester needs it: evidence of access",
            ),
            not("status", "pending | waiting | approved | denied | fulfilled | revoked"),
            json("steps", Id, Scrub, Purge::Keep, "the approval steps and their approvers' ids"),
            not("fulfil", "webhook:NAME or queue:NAME"),
            col("outcome", Words, Scrub, Purge::Keep, "a denial reason or a revocation's justification"),
        ],
    },
    Table {
        name: "request_decisions",
        owner: Owner::Person { platform: "approver_platform", id: "approver_id" },
        erase_deletes_rows: false,
        own_words: Some("1 = 1"),
        expiry: Expiry::Kept,
        columns: &[
            not("approver_platform", "the platform's name"),
            col("approver_id", Id, Replace(Pseudonym), Purge::Keep, "who decided: evidence of approval"),
            col("approver_name", Name, Replace(Null), Purge::Keep, "the approver's display name"),
            not("decision", "approve | deny"),
            col("reason", Words, Scrub, Purge::Keep, "the approver's reason for a denial: evidence"),
        ],
    },
    Table {
        name: "seat_holdings",
        owner: Owner::Person { platform: "holder_platform", id: "holder_id" },
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("item", "a request-catalog item id"),
            not("holder_platform", "the platform's name"),
            col("holder_id", Id, Replace(Pseudonym), Purge::Keep, "who holds the seat: evidence of access"),
            col("holder_name", Name, Replace(Null), Purge::Keep, "the holder's display name"),
            col("revoked_by", Id, Scrub, Purge::Keep, "who revoked it: evidence of access"),
            col("revoke_reason", Words, Scrub, Purge::Keep, "why it was revoked: evidence of access"),
        ],
    },
    Table {
        name: "request_timers",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[not("kind", "which expiry, approval or review timer")],
    },
    Table {
        name: "access_reviews",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("scope", "a request-catalog item id, or *"),
            col("started_by", Id, Scrub, Purge::Keep, "who started the access review: evidence"),
        ],
    },
    Table {
        name: "access_review_items",
        owner: Owner::Person { platform: "reviewer_platform", id: "reviewer_id" },
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("item", "a request-catalog item id"),
            not("reviewer_platform", "the platform's name"),
            col(
                "reviewer_id",
                Id,
                Replace(Pseudonym),
                Purge::Keep,
                "who reviews the grant: evidence of review",
            ),
            not("decision", "keep | remove"),
            col("decided_by", Id, Scrub, Purge::Keep, "who answered: evidence of review"),
            col("reason", Words, Scrub, Purge::Keep, "the reviewer's justification: evidence of review"),
        ],
    },
    Table {
        name: "seat_pools",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[not("item", "a request-catalog item id")],
    },
    Table {
        name: "jobs",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[not("name", "a recurring job's name")],
    },
    Table {
        name: "case_events",
        owner: Owner::Person { platform: "platform", id: "user_id" },
        erase_deletes_rows: false,
        own_words: Some("1 = 1"),
        expiry: Expiry::Age { at: "created_at", queue: Some("queue") },
        columns: &[
            col(
                "conversation",
                Id,
                Scrub,
                Purge::ConversationKey,
                "the conversation key (a DM's names the person); the reports read it only to leave test \
                 traffic out, which the purge's fill keeps",
            ),
            not("platform", "the platform's name"),
            col("user_id", Id, Replace(Pseudonym), Purge::Set(Pseudonym), "who asked"),
            not("kind", "what happened to the question"),
            not("intent", "an intent id from the catalog"),
            not("article", "a KB article id"),
            not("queue", "a queue name"),
            col(
                "query",
                Words,
                Replace(Text(ERASED)),
                Purge::Set(Text("[purged]")),
                "the question as the engine saw it",
            ),
        ],
    },
    Table {
        name: "test_conversations",
        owner: Owner::Linked { ticket: None, conversation: Some("key") },
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[col(
            "key",
            Id,
            Scrub,
            Purge::Keep,
            "a conversation flagged as test traffic (kept so reports keep leaving it out)",
        )],
    },
    Table {
        name: "report_days",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[not("testers", "a hash of the configured testers list the day was rolled up with")],
    },
    Table {
        name: "report_case_days",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("queue", "a queue name"),
            not("kind", "what happened to the questions"),
            not("intent", "an intent id from the catalog"),
            not("article", "a KB article id"),
        ],
    },
    Table {
        name: "report_unanswered_days",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("queue", "a queue name"),
            not("kind", "what happened to the questions"),
            not("intent", "an intent id from the catalog"),
            not("article", "a KB article id"),
        ],
    },
    Table {
        name: "report_ticket_days",
        owner: Owner::Nobody,
        erase_deletes_rows: false,
        own_words: None,
        expiry: Expiry::Kept,
        columns: &[
            not("queue", "a queue name"),
            not("testers", "a hash of the configured testers list the day was rolled up with"),
            not("first_response", "a day's first-response times, without their tickets"),
            not("resolution", "a day's resolution times, without their tickets"),
        ],
    },
];

/// Bookkeeping tables: no data of anyone.
pub const BOOKKEEPING: &[(&str, &str)] = &[
    ("_sqlx_migrations", "applied migrations: descriptions and checksums"),
    ("ticket_seq", "the next ticket number"),
    ("request_seq", "the next request number"),
    ("sqlite_sequence", "SQLite's AUTOINCREMENT counters: table names"),
];

/// The table named `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    CATALOGUE.iter().find(|t| t.name == name)
}

/// Why `table.column`, a text or JSON column found in the schema, is not classified; `None`
/// when the catalogue covers it.
pub fn unclassified(table_name: &str, column: &str) -> Option<String> {
    if BOOKKEEPING.iter().any(|(t, _)| *t == table_name) {
        return None;
    }
    match table(table_name) {
        None => Some(format!(
            "table `{table_name}` is not in the personal-data catalogue (src/store/catalogue.rs)"
        )),
        Some(t) if t.column(column).is_none() => Some(format!(
            "column `{table_name}.{column}` is not in the personal-data catalogue (src/store/catalogue.rs): \
             say whether it holds a person's id, name or words and how export, erase and purge treat it"
        )),
        Some(_) => None,
    }
}

/// Outside the database: 📖 drafts KB articles into files (`desk.kb_drafts_dir`) holding the
/// ticket's title and the words reacted to (often a requester's, quoted with their name). Each
/// is recorded in the audit log as an entry of this kind under its ticket, its absolute path as
/// the detail; `person export` reads the drafts of the person's tickets, `person erase` deletes
/// them and the retention purge deletes those of the tickets it anonymises.
pub const KB_DRAFT_WRITTEN: &str = "kb_draft_written";

/// A draft's file name: the ticket number and a counter, never words of the title.
pub fn draft_file_name(ticket: crate::domain::TicketNumber, n: u32) -> String {
    format!("draft-{}-{n}.md", ticket.0)
}

/// The draft file a [`KB_DRAFT_WRITTEN`] entry of ticket `ticket` names, if its detail is an
/// absolute path to a file named as [`draft_file_name`] names that ticket's drafts (nothing
/// else is ever deleted on an entry's say-so).
pub fn draft_path(ticket: i64, detail: &str) -> Option<std::path::PathBuf> {
    let path = std::path::Path::new(detail);
    let name = path.file_name()?.to_str()?;
    let n = name.strip_prefix(&format!("draft-{ticket}-"))?.strip_suffix(".md")?;
    let ok = path.is_absolute() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| path.to_path_buf())
}

/// Delete a draft file; true if it was there (one already gone is not an error).
pub fn remove_draft(path: &std::path::Path) -> std::io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;
