//! Role grants: who is an agent, lead or admin, granted by whom, when and why. Grants listed
//! in deskbot.toml are recorded on start as grants by "config" (and revoked by "config" once
//! they leave the file); `deskbot roles review` lists grants not re-justified within
//! `roles.review_days`.

use crate::desk::queues::{Agents, QueueConfig};
use crate::domain::{Millis, UserRef};
use crate::store::compliance::{ALL_QUEUES, NewGrant, Role, RoleGrant};
use crate::store::{DynStore, StoreError};

/// Who grants what the config file lists.
pub const CONFIG_GRANTOR: &str = "config";
const CONFIG_JUSTIFICATION: &str = "listed in deskbot.toml";

/// The grants the config file implies: each queue's agents and leads, and the admins.
pub fn config_grants(queues: &[QueueConfig], admins: &[String]) -> Vec<NewGrant> {
    let mut out = Vec::new();
    let mut push = |who: &str, role: Role, scope: &str| match who.parse::<UserRef>() {
        Ok(user) => out.push(NewGrant {
            user,
            role,
            scope: scope.to_string(),
            by: CONFIG_GRANTOR.to_string(),
            justification: CONFIG_JUSTIFICATION.to_string(),
        }),
        Err(e) => tracing::warn!(error = %e, "not recording a grant for `{who}`"),
    };
    for q in queues {
        if let Agents::List(agents) = &q.agents {
            for a in agents {
                push(a, Role::Agent, q.name.as_str());
            }
        }
        for l in &q.leads {
            push(l, Role::Lead, q.name.as_str());
        }
    }
    for a in admins {
        push(a, Role::Admin, ALL_QUEUES);
    }
    out
}

/// Record config grants the store lacks, and revoke config grants the file no longer lists.
/// Returns (recorded, revoked).
pub async fn sync_config_grants(
    store: &DynStore,
    wanted: Vec<NewGrant>,
    now: Millis,
) -> Result<(usize, usize), StoreError> {
    let active = store.role_grants(false).await?;
    let same = |g: &RoleGrant, w: &NewGrant| g.user == w.user && g.role == w.role && g.scope == w.scope;
    let mut recorded = 0;
    for w in &wanted {
        if !active.iter().any(|g| same(g, w)) {
            store.grant_role(w, now).await?;
            recorded += 1;
        }
    }
    let mut revoked = 0;
    for g in active.iter().filter(|g| g.granted_by == CONFIG_GRANTOR) {
        if !wanted.iter().any(|w| same(g, w))
            && store
                .revoke_role(&g.user, g.role, &g.scope, CONFIG_GRANTOR, "no longer in deskbot.toml", now)
                .await?
        {
            revoked += 1;
        }
    }
    Ok((recorded, revoked))
}

/// Active grants last justified more than `review_days` before `now`.
pub fn stale(grants: &[RoleGrant], review_days: u32, now: Millis) -> Vec<&RoleGrant> {
    let cutoff = now - i64::from(review_days) * 86_400_000;
    grants.iter().filter(|g| g.revoked_at.is_none() && g.reviewed_at < cutoff).collect()
}
