//! Per-person SQL, shared by both backends like `sql.rs`: [`person_sql!`] stamps out
//! `impl PersonStore` (export and erasure) on top of the audit helpers `compliance_sql!`
//! stamped out in the same backend module. Which tables and columns are read and rewritten,
//! and how, comes from the personal-data catalogue (`catalogue.rs`): this file only knows how
//! to find a person's rows (`Owner`) and how to apply a column's rule. After an erasure
//! commits, the backend's `wipe_freed` clears freed pages from disk.

macro_rules! person_sql {
    (db: $db:ty, store: $store:ty, map_err: $map_err:path, contains: $contains:expr $(,)?) => {
        mod person_shared {
            use super::*;
            use super::compliance_shared::{audit, exec, head, push_fill, push_numbers, relink, Tx};
            use $crate::domain::{TicketNumber, UserRef};
            use $crate::store::catalogue::{
                delivery_request, delivery_ticket, Column, Erase, Fill, Owner, Table, CATALOGUE, ERASED, NOWHERE,
            };
            use $crate::store::compliance::{AuditEntry, ComplianceStore};
            use $crate::store::compliance_sql::AuditTx;
            use $crate::store::json::JsonText;
            use $crate::store::person::{
                ConversationRecord, Erasure, ErasureReport, PersonData, PersonStore, RatingRecord, Scrubber,
                erase_words_by, json_strings, said_by, Contains, WORDS_IN_OTHERS_CONVERSATIONS,
            };
            use $crate::store::rows::{MessageRow, TicketRow};
            use $crate::store::{Result, StoreError};
            use sqlx::{AssertSqlSafe, QueryBuilder, Row};
            use std::collections::{BTreeMap, BTreeSet};

            /// The audit chain's table: rewriting it means re-linking the chain.
            const CHAIN: &str = "audit_log";
            /// Shortest text of a person's taken as a quote of them when found in a delivery
            /// not otherwise tied to them (shorter ones are too common to be theirs).
            const MIN_QUOTE: usize = 16;

            /// The person as the store knows them: their tickets, requests, conversations and
            /// the addresses replies to them go to.
            struct Subject {
                platform: String,
                id: String,
                uref: String,
                numbers: Vec<i64>,
                /// The numbers of the requests they made.
                requests: Vec<i64>,
                keys: Vec<String>,
                addresses: Vec<serde_json::Value>,
            }

            async fn subject(tx: &mut Tx, user: &UserRef) -> Result<Subject> {
                let p = user.platform.as_str();
                let tickets: Vec<(i64, String, JsonText)> = sqlx::query_as(
                    "SELECT number, conversation, reply_to FROM tickets WHERE requester_platform = $1 AND requester_id = $2",
                )
                .bind(p)
                .bind(&user.id)
                .fetch_all(&mut **tx)
                .await
                .map_err($map_err)?;
                let convs: Vec<(String, JsonText)> =
                    sqlx::query_as("SELECT key, reply_to FROM conversations WHERE platform = $1 AND user_id = $2")
                        .bind(p)
                        .bind(&user.id)
                        .fetch_all(&mut **tx)
                        .await
                        .map_err($map_err)?;
                let requests: Vec<(i64, JsonText)> = sqlx::query_as(
                    "SELECT number, reply_to FROM requests WHERE requester_platform = $1 AND requester_id = $2",
                )
                .bind(p)
                .bind(&user.id)
                .fetch_all(&mut **tx)
                .await
                .map_err($map_err)?;
                let mut keys: BTreeSet<String> = convs.iter().map(|c| c.0.clone()).collect();
                keys.extend(tickets.iter().map(|t| t.1.clone()));
                let mut addresses = Vec::new();
                let replies = tickets.iter().map(|t| &t.2).chain(convs.iter().map(|c| &c.1));
                for reply_to in replies.chain(requests.iter().map(|r| &r.1)) {
                    let a = address_of(&reply_to.parse::<serde_json::Value>("reply address")?);
                    if !addresses.contains(&a) {
                        addresses.push(a);
                    }
                }
                Ok(Subject {
                    platform: p.to_string(),
                    id: user.id.clone(),
                    uref: user.to_string(),
                    numbers: tickets.iter().map(|t| t.0).collect(),
                    requests: requests.iter().map(|r| r.0).collect(),
                    keys: keys.into_iter().collect(),
                    addresses,
                })
            }

            /// An address reduced to what identifies it: platform, channel, thread.
            fn address_of(v: &serde_json::Value) -> serde_json::Value {
                serde_json::json!([v.get("platform"), v.get("channel"), v.get("thread")])
            }

            fn numbers_with_zero(s: &Subject) -> Vec<i64> {
                std::iter::once(0).chain(s.numbers.iter().copied()).collect()
            }

            /// `(…)` selecting the person's rows of a table; false when the table has none.
            fn push_owned(qb: &mut QueryBuilder<$db>, owner: Owner, s: &Subject) -> bool {
                match owner {
                    Owner::Nobody | Owner::Deliveries => return false,
                    Owner::Person { platform, id } => {
                        qb.push(format!("({platform} = ")).push_bind(s.platform.clone());
                        qb.push(format!(" AND {id} = ")).push_bind(s.id.clone()).push(")");
                    }
                    Owner::Linked { ticket, conversation } => {
                        qb.push("(1 = 0");
                        if let Some(t) = ticket {
                            qb.push(format!(" OR {t} IN"));
                            push_numbers(qb, &numbers_with_zero(s));
                        }
                        if let Some(c) = conversation {
                            qb.push(format!(" OR {c} IN ("));
                            let mut list = qb.separated(", ");
                            list.push_bind(String::new());
                            for k in &s.keys {
                                list.push_bind(k.clone());
                            }
                            qb.push(")");
                        }
                        qb.push(")");
                    }
                    Owner::Spoken { ticket, conversation, platform, id } => {
                        qb.push("(");
                        let linked = Owner::Linked { ticket: Some(ticket), conversation: Some(conversation) };
                        push_owned(qb, linked, s);
                        qb.push(" OR ");
                        push_owned(qb, Owner::Person { platform, id }, s);
                        qb.push(")");
                    }
                    Owner::Acts { ticket, actor, subject } => {
                        qb.push(format!("({actor} = ")).push_bind(s.uref.clone());
                        if let Some(sub) = subject {
                            qb.push(format!(" OR {sub} = ")).push_bind(s.uref.clone());
                        }
                        qb.push(format!(" OR {ticket} IN"));
                        push_numbers(qb, &numbers_with_zero(s));
                        qb.push(")");
                    }
                }
                true
            }

            /// The catalogued columns of the person's rows of `t`, as JSON objects; with
            /// `own_words`, only the rows holding what they themselves wrote (the table's
            /// `own_words`, and the rows they spoke).
            async fn owned_rows(
                tx: &mut Tx,
                t: &Table,
                s: &Subject,
                own_words: bool,
                only: Option<&Column>,
            ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
                let cols: Vec<&Column> = match only {
                    Some(c) => vec![c],
                    None => t.columns.iter().collect(),
                };
                let list: Vec<String> = cols.iter().map(|c| format!("CAST({} AS TEXT)", c.name)).collect();
                let mut qb = QueryBuilder::<$db>::new(format!("SELECT {} FROM {} WHERE ", list.join(", "), t.name));
                if !push_owned(&mut qb, t.owner, s) {
                    return Ok(Vec::new());
                }
                if own_words {
                    qb.push(format!(" AND (({})", t.own_words.unwrap_or("1 = 0")));
                    if let Owner::Spoken { platform, id, .. } = t.owner {
                        qb.push(" OR ");
                        push_owned(&mut qb, Owner::Person { platform, id }, s);
                    }
                    qb.push(")");
                }
                let rows = qb.build().fetch_all(&mut **tx).await.map_err($map_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let mut obj = serde_json::Map::new();
                    for (i, c) in cols.iter().enumerate() {
                        let v: Option<String> = row.try_get(i).map_err($map_err)?;
                        let v = match v {
                            None => serde_json::Value::Null,
                            Some(text) if c.json => serde_json::from_str(&text).map_err(|x| {
                                StoreError::Corrupt(format!("{}.{} is not valid JSON: {x}", t.name, c.name))
                            })?,
                            Some(text) => serde_json::Value::String(text),
                        };
                        obj.insert(c.name.to_string(), v);
                    }
                    out.push(obj);
                }
                Ok(out)
            }

            /// What the person wrote, as the catalogue's `own_words` rows hold it: looked for in
            /// queued deliveries.
            async fn own_words(tx: &mut Tx, s: &Subject) -> Result<Vec<String>> {
                let mut words = BTreeSet::new();
                for t in CATALOGUE {
                    if t.own_words.is_none() && !matches!(t.owner, Owner::Spoken { .. }) {
                        continue;
                    }
                    for c in t.columns.iter().filter(|c| c.holds == $crate::store::catalogue::Holds::Words) {
                        for row in owned_rows(tx, t, s, true, Some(c)).await? {
                            let mut found = Vec::new();
                            row.values().for_each(|v| json_strings(v, &mut found));
                            words.extend(found.into_iter().filter(|w| w.chars().count() >= MIN_QUOTE));
                        }
                    }
                }
                Ok(words.into_iter().collect())
            }

            /// Is this delivery the person's: addressed to them, about one of their tickets or
            /// requests (whatever the length of the words it quotes), or quoting their id, names
            /// or words?
            fn concerns(payload: &serde_json::Value, s: &Subject, scrub: &Scrubber, words: &[String]) -> bool {
                if let Some(to) = payload.get("to")
                    && s.addresses.contains(&address_of(to))
                {
                    return true;
                }
                if delivery_ticket(payload).is_some_and(|n| s.numbers.contains(&n))
                    || delivery_request(payload).is_some_and(|n| s.requests.contains(&n))
                {
                    return true;
                }
                let mut strings = Vec::new();
                json_strings(payload, &mut strings);
                strings.iter().any(|x| scrub.mentions(x) || words.iter().any(|w| x.contains(w.as_str())))
            }

            /// The person's deliveries: `(id, status, payload)`.
            async fn deliveries(
                tx: &mut Tx,
                s: &Subject,
                scrub: &Scrubber,
                words: &[String],
            ) -> Result<Vec<(i64, String, serde_json::Value)>> {
                let rows: Vec<(i64, String, JsonText)> = sqlx::query_as("SELECT id, status, payload FROM outbox ORDER BY id")
                    .fetch_all(&mut **tx)
                    .await
                    .map_err($map_err)?;
                let mut out = Vec::new();
                for (id, status, payload) in rows {
                    let v: serde_json::Value = payload.parse("outbox message")?;
                    if concerns(&v, s, scrub, words) {
                        out.push((id, status, v));
                    }
                }
                Ok(out)
            }

            /// Replace the person's id and names in one column, in every row.
            /// A conversation rewritten by an erasure moves on a version, so an event that read
            /// it before (and holds the old words in its new state) conflicts instead of writing
            /// them back.
            fn bump_version(table: &str) -> &'static str {
                if table == "conversations" { ", version = version + 1" } else { "" }
            }

            async fn scrub_column(tx: &mut Tx, s: &Scrubber, t: &Table, c: &Column) -> Result<u64> {
                let (table, col) = (t.name, c.name);
                let mut seen = BTreeSet::new();
                let mut changed = 0;
                const CONTAINS: Contains = $contains;
                let (before, after) = CONTAINS.sql(&format!("CAST({col} AS TEXT)"));
                for needle in &s.needles {
                    let sql = format!("SELECT DISTINCT CAST({col} AS TEXT) FROM {table} WHERE {before}$1{after}");
                    let olds: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
                        .bind(CONTAINS.pattern(needle))
                        .fetch_all(&mut **tx)
                        .await
                        .map_err($map_err)?;
                    for old in olds {
                        if !seen.insert(old.clone()) {
                            continue;
                        }
                        let sql = format!("UPDATE {table} SET {col} = $1{} WHERE {col} = $2", bump_version(table));
                        let q = if c.json {
                            let v: serde_json::Value = JsonText(old.clone()).parse(&format!("{table}.{col}"))?;
                            let new = JsonText::of(&s.json(&v), col)?;
                            if new.0 == old || s.json(&v) == v {
                                continue;
                            }
                            sqlx::query(AssertSqlSafe(sql)).bind(new).bind(JsonText(old))
                        } else {
                            let new = s.text(&old);
                            if new == old {
                                continue;
                            }
                            sqlx::query(AssertSqlSafe(sql)).bind(new).bind(old)
                        };
                        changed += exec(q, tx).await?;
                    }
                }
                Ok(changed)
            }

            /// Others' conversations whose state holds the person's id (the words they added
            /// as someone other than the owner are found in them): `(key, state)`.
            async fn others_states(tx: &mut Tx, s: &Subject) -> Result<Vec<(String, serde_json::Value)>> {
                const CONTAINS: Contains = $contains;
                let (before, after) = CONTAINS.sql("CAST(state AS TEXT)");
                let sql = format!(
                    "SELECT key, state FROM conversations WHERE {before}$1{after} \
                     AND NOT (platform = $2 AND user_id = $3)"
                );
                let rows: Vec<(String, JsonText)> = sqlx::query_as(AssertSqlSafe(sql))
                    .bind(CONTAINS.pattern(&s.id))
                    .bind(&s.platform)
                    .bind(&s.id)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err($map_err)?;
                rows.into_iter().map(|(key, state)| Ok((key, state.parse("conversation state")?))).collect()
            }

            /// The person as a transcript line's or a filing's `by` names them.
            fn by_value(user: &UserRef) -> Result<serde_json::Value> {
                serde_json::to_value(user).map_err(|x| StoreError::Database(x.to_string()))
            }

            /// Others' conversation states holding words the person added as someone other
            /// than their owner (see `erase_words_by`): those words erased. Returns the states
            /// rewritten.
            async fn erase_spoken_in_states(tx: &mut Tx, s: &Subject, user: &UserRef) -> Result<u64> {
                let who = by_value(user)?;
                let mut changed = 0;
                for (key, mut v) in others_states(tx, s).await? {
                    if erase_words_by(&mut v, &who) {
                        let q = sqlx::query(AssertSqlSafe(format!(
                            "UPDATE conversations SET state = $1{} WHERE key = $2",
                            bump_version("conversations")
                        )))
                        .bind(JsonText::of(&v, "conversation state")?)
                        .bind(key);
                        changed += exec(q, tx).await?;
                    }
                }
                Ok(changed)
            }

            /// The first audit entry an erasure can rewrite (the chain is re-linked from there).
            async fn first_touched_entry(tx: &mut Tx, s: &Subject, scrub: &Scrubber) -> Result<Option<i64>> {
                let Some(t) = $crate::store::catalogue::table(CHAIN) else { return Ok(None) };
                let mut qb = QueryBuilder::<$db>::new("SELECT MIN(seq) FROM audit_log WHERE ");
                push_owned(&mut qb, t.owner, s);
                const CONTAINS: Contains = $contains;
                for c in t.personal() {
                    let (before, after) = CONTAINS.sql(&format!("CAST({} AS TEXT)", c.name));
                    for needle in &scrub.needles {
                        qb.push(format!(" OR {before}"));
                        qb.push_bind(CONTAINS.pattern(needle)).push(after);
                    }
                }
                qb.build_query_scalar().fetch_one(&mut **tx).await.map_err($map_err)
            }

            const TICKET_COLUMNS: &str = "SELECT number, title, description, requester_platform, requester_id, \
                requester_name, filed_by_platform, filed_by_id, conversation, reply_to, intent, queue, priority, \
                status, assignee, fields, created_at, updated_at, resolved_at, sla FROM tickets";

            #[async_trait::async_trait]
            impl PersonStore for $store {
                async fn person_data(&self, user: &UserRef, names: &[String]) -> Result<PersonData> {
                    let uref = user.to_string();
                    let p = user.platform.as_str();
                    let mut tx: Tx = self.pool.begin().await.map_err($map_err)?;
                    let subj = subject(&mut tx, user).await?;
                    let convs = sqlx::query(
                        "SELECT key, reply_to, state, created_at, updated_at FROM conversations \
                         WHERE platform = $1 AND user_id = $2 ORDER BY created_at, key",
                    )
                    .bind(p)
                    .bind(&user.id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    let mut conversations = Vec::new();
                    for c in convs {
                        let reply_to: JsonText = c.try_get("reply_to").map_err($map_err)?;
                        let state: JsonText = c.try_get("state").map_err($map_err)?;
                        conversations.push(ConversationRecord {
                            key: c.try_get("key").map_err($map_err)?,
                            reply_to: reply_to.parse("reply address")?,
                            state: state.parse("conversation state")?,
                            created_at: c.try_get("created_at").map_err($map_err)?,
                            updated_at: c.try_get("updated_at").map_err($map_err)?,
                        });
                    }
                    let rows: Vec<TicketRow> = sqlx::query_as(AssertSqlSafe(format!(
                        "{TICKET_COLUMNS} WHERE requester_platform = $1 AND requester_id = $2 ORDER BY number"
                    )))
                    .bind(p)
                    .bind(&user.id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    let tickets = rows.into_iter().map(TicketRow::into_ticket).collect::<Result<Vec<_>>>()?;

                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT conversation, ticket_number, speaker_kind, speaker_name, speaker_platform, speaker_id, \
                         text, internal, created_at FROM messages WHERE ",
                    );
                    if let Some(t) = $crate::store::catalogue::table("messages") {
                        push_owned(&mut qb, t.owner, &subj);
                    } else {
                        qb.push("1 = 0");
                    }
                    qb.push(" ORDER BY created_at, id");
                    let rows: Vec<MessageRow> = qb.build_query_as().fetch_all(&mut *tx).await.map_err($map_err)?;
                    let messages = rows.into_iter().map(MessageRow::into_message).collect::<Result<Vec<_>>>()?;

                    let assigned: Vec<i64> = sqlx::query_scalar("SELECT number FROM tickets WHERE assignee = $1 ORDER BY number")
                        .bind(&uref)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err($map_err)?;
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT ticket_number, score, comment, created_at FROM csat WHERE ticket_number IN",
                    );
                    push_numbers(&mut qb, &numbers_with_zero(&subj));
                    let ratings = qb
                        .build()
                        .fetch_all(&mut *tx)
                        .await
                        .map_err($map_err)?
                        .iter()
                        .map(|r| {
                            let score = i64::from(r.try_get::<i32, _>("score").map_err($map_err)?);
                            Ok(RatingRecord {
                                ticket: TicketNumber(r.try_get("ticket_number").map_err($map_err)?),
                                score,
                                comment: r.try_get("comment").map_err($map_err)?,
                                at: r.try_get("created_at").map_err($map_err)?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;

                    let mut all_names: BTreeSet<String> = names.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
                    all_names.extend(tickets.iter().filter_map(|t| t.requester_name.clone()));
                    let agent: Option<Option<String>> =
                        sqlx::query_scalar("SELECT display_name FROM agents WHERE platform = $1 AND user_id = $2")
                            .bind(p)
                            .bind(&user.id)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err($map_err)?;
                    all_names.extend(agent.flatten());
                    // The names they were recorded under as a requester, an approver, a seat's
                    // holder or the speaker of a line in someone else's ticket (a filer's note, an
                    // agent's reply): others' words (a decision's notice, a reminder, a card's
                    // transcript) quote those too.
                    let recorded: Vec<String> = sqlx::query_scalar(
                        "SELECT requester_name FROM requests WHERE requester_platform = $1 AND requester_id = $2 \
                           AND requester_name IS NOT NULL \
                         UNION SELECT approver_name FROM request_decisions WHERE approver_platform = $1 \
                           AND approver_id = $2 AND approver_name IS NOT NULL \
                         UNION SELECT holder_name FROM seat_holdings WHERE holder_platform = $1 AND holder_id = $2 \
                           AND holder_name IS NOT NULL \
                         UNION SELECT speaker_name FROM messages WHERE speaker_platform = $1 AND speaker_id = $2 \
                           AND speaker_name IS NOT NULL",
                    )
                    .bind(p)
                    .bind(&user.id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    all_names.extend(recorded.into_iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()));

                    let mut qb = QueryBuilder::<$db>::new("SELECT * FROM audit_log WHERE ");
                    if let Some(t) = $crate::store::catalogue::table(CHAIN) {
                        push_owned(&mut qb, t.owner, &subj);
                    } else {
                        qb.push("1 = 0");
                    }
                    const CONTAINS: Contains = $contains;
                    let (before, after) = CONTAINS.sql("COALESCE(detail, '')");
                    for needle in std::iter::once(&user.id).chain(all_names.iter()) {
                        qb.push(format!(" OR {before}")).push_bind(CONTAINS.pattern(needle)).push(after);
                    }
                    qb.push(" OR ticket_number IN");
                    push_numbers(&mut qb, &numbers_with_zero(&subj));
                    qb.push(" ORDER BY seq");
                    let audit: Vec<AuditEntry> = qb.build_query_as().fetch_all(&mut *tx).await.map_err($map_err)?;
                    let roles = self.role_grants(true).await?.into_iter().filter(|g| &g.user == user).collect();

                    // The complete record, table by table, as the catalogue attributes rows.
                    let names_list: Vec<String> = all_names.iter().cloned().collect();
                    let scrub = Scrubber::of(user, &names_list, "-");
                    let words = own_words(&mut tx, &subj).await?;
                    let mut records = BTreeMap::new();
                    for t in CATALOGUE {
                        let rows = if t.owner == Owner::Deliveries {
                            deliveries(&mut tx, &subj, &scrub, &words)
                                .await?
                                .into_iter()
                                .map(|(_, status, payload)| {
                                    let mut o = serde_json::Map::new();
                                    o.insert("status".into(), status.into());
                                    o.insert("payload".into(), payload);
                                    o
                                })
                                .collect()
                        } else {
                            owned_rows(&mut tx, t, &subj, false, None).await?
                        };
                        if !rows.is_empty() {
                            records.insert(t.name.to_string(), rows);
                        }
                    }
                    let who = by_value(user)?;
                    let mut said = Vec::new();
                    for (_, state) in others_states(&mut tx, &subj).await? {
                        said_by(&state, &who, &mut said);
                    }
                    let said: Vec<serde_json::Map<String, serde_json::Value>> =
                        said.into_iter().filter_map(|v| v.as_object().cloned()).collect();
                    if !said.is_empty() {
                        records.insert(WORDS_IN_OTHERS_CONVERSATIONS.to_string(), said);
                    }
                    tx.rollback().await.map_err($map_err)?;
                    Ok(PersonData {
                        user: user.clone(),
                        names: names_list,
                        conversations,
                        messages,
                        tickets,
                        assigned_tickets: assigned.into_iter().map(TicketNumber).collect(),
                        ratings,
                        roles,
                        audit,
                        records,
                    })
                }

                async fn erase_person(&self, e: &Erasure) -> Result<ErasureReport> {
                    let scrub = Scrubber::new(e);
                    let blank = JsonText::of(&e.blank_state, "conversation state")?;
                    let mut r = ErasureReport::default();
                    let key = self.audit_key()?;
                    let mut tx = self.begin_write().await?;
                    // Hold the chain head from the start: the audit rows are rewritten below.
                    head(&mut tx, key).await?;
                    let subj = subject(&mut tx, &e.user).await?;
                    let words = own_words(&mut tx, &subj).await?;
                    let first_entry = first_touched_entry(&mut tx, &subj, &scrub).await?;

                    // Deliveries first, while their words can still be recognised: an
                    // undelivered one goes, a delivered one keeps only that it was sent.
                    let tombstone = JsonText(serde_json::json!({
                        "to": serde_json::from_str::<serde_json::Value>(NOWHERE).unwrap_or_default(),
                        "text": ERASED,
                    }).to_string());
                    for (id, status, _) in deliveries(&mut tx, &subj, &scrub, &words).await? {
                        if status == "done" {
                            let q = sqlx::query("UPDATE outbox SET payload = $1, last_error = NULL WHERE id = $2")
                                .bind(tombstone.clone())
                                .bind(id);
                            r.deliveries_blanked += exec(q, &mut tx).await?;
                        } else {
                            r.deliveries_dropped += exec(sqlx::query("DELETE FROM outbox WHERE id = $1").bind(id), &mut tx).await?;
                        }
                    }
                    // Their grants end with them (recorded as revoked, the record stays).
                    let q = sqlx::query(
                        "UPDATE role_grants SET revoked_at = $1, revoked_by = $2, revoke_reason = 'person erased' \
                         WHERE platform = $3 AND user_id = $4 AND revoked_at IS NULL",
                    )
                    .bind(e.now)
                    .bind(&e.by)
                    .bind(&subj.platform)
                    .bind(&subj.id);
                    r.add("role_grants", exec(q, &mut tx).await?);

                    // Their rows: deleted, or each column replaced as the catalogue says. The
                    // columns that identify the rows (their id) go last.
                    for t in CATALOGUE {
                        if t.erase_deletes_rows {
                            let mut qb = QueryBuilder::<$db>::new(format!("DELETE FROM {} WHERE ", t.name));
                            if push_owned(&mut qb, t.owner, &subj) {
                                r.add(t.name, qb.build().execute(&mut *tx).await.map_err($map_err)?.rows_affected());
                            }
                            continue;
                        }
                        let mut cols: Vec<(&Column, Fill)> = t
                            .columns
                            .iter()
                            .filter_map(|c| match c.erase {
                                Erase::Replace(fill) => Some((c, fill)),
                                _ => None,
                            })
                            .collect();
                        cols.sort_by_key(|(_, fill)| *fill == Fill::Pseudonym);
                        for (c, fill) in cols {
                            let mut qb = QueryBuilder::<$db>::new(format!("UPDATE {} SET {} = ", t.name, c.name));
                            push_fill(&mut qb, c, fill, &e.pseudonym, &blank);
                            qb.push(bump_version(t.name));
                            qb.push(" WHERE ");
                            if !push_owned(&mut qb, t.owner, &subj) {
                                continue;
                            }
                            qb.push(format!(" AND {} IS DISTINCT FROM ", c.name));
                            push_fill(&mut qb, c, fill, &e.pseudonym, &blank);
                            r.add(t.name, qb.build().execute(&mut *tx).await.map_err($map_err)?.rows_affected());
                        }
                    }
                    // Their words in others' conversations, found by their id before it is scrubbed.
                    r.add("conversations", erase_spoken_in_states(&mut tx, &subj, &e.user).await?);
                    // Everyone else's rows: their id and names replaced wherever they appear.
                    for t in CATALOGUE {
                        for c in t.columns.iter().filter(|c| matches!(c.erase, Erase::Replace(_) | Erase::Scrub)) {
                            r.add(t.name, scrub_column(&mut tx, &scrub, t, c).await?);
                        }
                    }
                    if let Some(from) = first_entry {
                        relink(&mut tx, key, from).await?;
                        r.relinked_from = Some(from);
                    }

                    // Words of any case event may have changed: the report rollups are rebuilt.
                    sqlx::query($crate::store::reports::FORGET_ALL_DAYS).execute(&mut *tx).await.map_err($map_err)?;
                    sqlx::query($crate::store::reports::FORGET_ALL_TICKET_DAYS)
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;

                    // The erasure's own record names the person only by a keyed hash.
                    let detail = format!(
                        "anonymised as {}:{}; {}",
                        e.user.platform,
                        e.pseudonym,
                        serde_json::to_string(&r).map_err(|x| StoreError::Database(x.to_string()))?
                    );
                    tx.append_audit_tx(key, &[audit(e.now, &e.by, "person_erased", Some(e.subject_hash.clone()), detail)]).await?;
                    tx.commit().await.map_err($map_err)?;
                    r.compacted = match self.wipe_freed().await {
                        Ok(()) => true,
                        Err(x) => {
                            tracing::warn!(error = %$crate::store::sql::error_detail(&x), "erased, but freed pages could not be wiped yet");
                            false
                        }
                    };
                    Ok(r)
                }
            }
        }
    };
}

pub(crate) use person_sql;
