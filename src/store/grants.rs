//! deskbot.toml against the grants ledger: what a start changes. The file only seeds the
//! ledger (as actor `config`); the ledger decides. [`plan_config_sync`] compares the grants the
//! file lists with the newest ledger row of each (user, role, scope) and its `in_config` flag
//! (did the file list it at the last start?), and returns the steps that `sync_config_grants`
//! in `compliance_sql.rs` applies in one transaction. Rules:
//! - newly listed, never granted (or last revoked by `config` itself) → granted by `config`;
//! - newly listed, but a person revoked it → NOT granted: a revocation wins over the file until
//!   someone grants again (`deskbot roles grant`); the listing is recorded in the audit log;
//! - newly listed, already granted by someone → the listing is recorded;
//! - no longer listed, granted by `config` → revoked by `config`;
//! - no longer listed, otherwise → the unlisting is recorded; the ledger row stays as it is.
//!
//! Nothing is recorded when the file did not change, so a restart adds no audit entries.

use super::compliance::{NewGrant, Role, RoleGrant};
use crate::domain::UserRef;
use std::collections::{HashMap, HashSet};

/// Who grants what the config file lists.
pub const CONFIG_GRANTOR: &str = "config";

/// One change a start makes to the ledger.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncStep {
    /// Record a new grant by `config`, listed in the file.
    Grant(NewGrant),
    /// Revoke grant `id` (granted by `config`): the file no longer lists it.
    Revoke { id: i64, user: UserRef, role: Role, scope: String },
    /// Set `in_config` on row `id` and record why (`kind`, `detail`) in the audit log.
    Mark { id: i64, user: UserRef, listed: bool, kind: &'static str, detail: String },
}

/// What a start did, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSync {
    pub granted: usize,
    pub revoked: usize,
    /// Listed in the file but revoked by a person: not granted.
    pub overridden: usize,
    /// Other changes of the file's list recorded in the audit log.
    pub recorded: usize,
}

type Key = (UserRef, Role, String);

fn key_of(g: &RoleGrant) -> Key {
    (g.user.clone(), g.role, g.scope.clone())
}

/// The steps that bring the ledger in line with the file; `rows` is the whole ledger (revoked
/// rows included), oldest first.
pub fn plan_config_sync(wanted: &[NewGrant], rows: &[RoleGrant]) -> Vec<SyncStep> {
    // The newest row of each key, in ledger order.
    let mut newest: HashMap<Key, &RoleGrant> = HashMap::new();
    let mut order: Vec<Key> = Vec::new();
    for r in rows {
        if newest.insert(key_of(r), r).is_none() {
            order.push(key_of(r));
        }
    }
    let mut wanted_keys: HashSet<Key> = HashSet::new();
    let mut steps = Vec::new();
    for w in wanted {
        let key = (w.user.clone(), w.role, w.scope.clone());
        if !wanted_keys.insert(key.clone()) {
            continue;
        }
        let Some(row) = newest.get(&key) else {
            steps.push(SyncStep::Grant(w.clone()));
            continue;
        };
        if row.in_config && (row.revoked_at.is_none() || row.revoked_by.as_deref() != Some(CONFIG_GRANTOR)) {
            continue;
        }
        match (&row.revoked_at, row.revoked_by.as_deref()) {
            (None, _) => steps.push(SyncStep::Mark {
                id: row.id,
                user: row.user.clone(),
                listed: true,
                kind: "role_config_listed",
                detail: format!(
                    "{} on {}: now listed in deskbot.toml; already granted by {}",
                    row.role, row.scope, row.granted_by
                ),
            }),
            (Some(_), Some(CONFIG_GRANTOR)) => steps.push(SyncStep::Grant(w.clone())),
            (Some(_), by) => steps.push(SyncStep::Mark {
                id: row.id,
                user: row.user.clone(),
                listed: true,
                kind: "role_config_overridden",
                detail: format!(
                    "{} on {}: listed in deskbot.toml but revoked by {}; not granted \
                     (`deskbot roles grant` restores it)",
                    row.role,
                    row.scope,
                    by.unwrap_or("?")
                ),
            }),
        }
    }
    for key in &order {
        let Some(row) = newest.get(key) else { continue };
        if !row.in_config || wanted_keys.contains(key) {
            continue;
        }
        if row.revoked_at.is_none() && row.granted_by == CONFIG_GRANTOR {
            steps.push(SyncStep::Revoke {
                id: row.id,
                user: row.user.clone(),
                role: row.role,
                scope: row.scope.clone(),
            });
            continue;
        }
        let state = match (&row.revoked_at, &row.revoked_by) {
            (None, _) => format!("the grant by {} stays", row.granted_by),
            (Some(_), by) => format!("revoked by {}", by.as_deref().unwrap_or("?")),
        };
        steps.push(SyncStep::Mark {
            id: row.id,
            user: row.user.clone(),
            listed: false,
            kind: "role_config_unlisted",
            detail: format!("{} on {}: no longer listed in deskbot.toml; {state}", row.role, row.scope),
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;

    fn kim() -> UserRef {
        UserRef::new(Platform::Test, "kim")
    }

    fn want() -> NewGrant {
        NewGrant {
            user: kim(),
            role: Role::Agent,
            scope: "access".into(),
            by: CONFIG_GRANTOR.into(),
            justification: "listed in deskbot.toml".into(),
        }
    }

    fn row(id: i64, by: &str, revoked_by: Option<&str>, in_config: bool) -> RoleGrant {
        RoleGrant {
            id,
            user: kim(),
            role: Role::Agent,
            scope: "access".into(),
            granted_by: by.into(),
            justification: "j".into(),
            granted_at: 1,
            reviewed_at: 1,
            revoked_at: revoked_by.map(|_| 2),
            revoked_by: revoked_by.map(str::to_string),
            revoke_reason: revoked_by.map(|_| "r".to_string()),
            in_config,
        }
    }

    fn kinds(steps: &[SyncStep]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                SyncStep::Grant(_) => "grant".to_string(),
                SyncStep::Revoke { id, .. } => format!("revoke {id}"),
                SyncStep::Mark { id, kind, listed, .. } => format!("{kind} {id} {listed}"),
            })
            .collect()
    }

    #[test]
    fn the_file_seeds_but_a_persons_revocation_wins() {
        let w = [want()];
        type Case<'a> = (&'a str, Vec<RoleGrant>, &'a [NewGrant], Vec<&'a str>);
        let cases: Vec<Case> = vec![
            ("first start", vec![], &w, vec!["grant"]),
            ("restart, unchanged", vec![row(1, "config", None, true)], &w, vec![]),
            ("revoked by a person, still listed", vec![row(1, "config", Some("ann"), true)], &w, vec![]),
            (
                "revoked by a person, listed again",
                vec![row(1, "config", Some("ann"), false)],
                &w,
                vec!["role_config_overridden 1 true"],
            ),
            (
                "revoked by config, listed again",
                vec![row(1, "config", Some("config"), false)],
                &w,
                vec!["grant"],
            ),
            (
                "re-granted by a person after a revocation",
                vec![row(1, "config", Some("ann"), false), row(2, "ann", None, true)],
                &w,
                vec![],
            ),
            (
                "granted by a person, now listed",
                vec![row(1, "ann", None, false)],
                &w,
                vec!["role_config_listed 1 true"],
            ),
            ("config grant, unlisted", vec![row(1, "config", None, true)], &[], vec!["revoke 1"]),
            (
                "person's grant, unlisted",
                vec![row(1, "ann", None, true)],
                &[],
                vec!["role_config_unlisted 1 false"],
            ),
            (
                "revoked by a person, unlisted",
                vec![row(1, "config", Some("ann"), true)],
                &[],
                vec!["role_config_unlisted 1 false"],
            ),
            ("never listed", vec![row(1, "ann", None, false)], &[], vec![]),
        ];
        for (name, rows, wanted, expected) in cases {
            assert_eq!(kinds(&plan_config_sync(wanted, &rows)), expected, "{name}");
        }
    }
}
