//! Role grants: who is an agent, lead, admin or approver, granted by whom, when and why. The
//! ledger decides (`desk::access`); grants listed in deskbot.toml are recorded on start as
//! grants by "config" (and revoked by "config" once they leave the file), never over a
//! revocation made with `deskbot roles revoke` (`store::grants`). `agents = "channel-members"`
//! is recorded as a grant to `PLATFORM:#channel-members` per channel of the queue. `deskbot
//! roles review` lists grants not re-justified within `roles.review_days`.

use crate::desk::access::CHANNEL_MEMBERS;
use crate::desk::queues::{Agents, QueueConfig};
use crate::domain::{Millis, UserRef};
use crate::store::compliance::{ALL_QUEUES, NewGrant, Role, RoleGrant};
use crate::store::grants::ConfigSync;
use crate::store::{DynStore, StoreError};

pub use crate::store::grants::CONFIG_GRANTOR;
const CONFIG_JUSTIFICATION: &str = "listed in deskbot.toml";

/// The grants the config file implies: each queue's agents and leads, and the admins.
pub fn config_grants(queues: &[QueueConfig], admins: &[String]) -> Vec<NewGrant> {
    let mut out = Vec::new();
    let mut members = Vec::new();
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
        match &q.agents {
            Agents::List(agents) => {
                for a in agents {
                    push(a, Role::Agent, q.name.as_str());
                }
            }
            Agents::Mode(_) => {
                for platform in q.channel.keys() {
                    members.push(NewGrant {
                        user: UserRef::new(*platform, CHANNEL_MEMBERS),
                        role: Role::Agent,
                        scope: q.name.to_string(),
                        by: CONFIG_GRANTOR.to_string(),
                        justification: "agents = \"channel-members\" in deskbot.toml".to_string(),
                    });
                }
            }
        }
        for l in &q.leads {
            push(l, Role::Lead, q.name.as_str());
        }
    }
    for a in admins {
        push(a, Role::Admin, ALL_QUEUES);
    }
    out.extend(members);
    out
}

/// Bring the ledger in line with the file (see `store::grants` for the rules: a revocation by
/// a person wins over the file until someone grants again; every change of the file's list is
/// recorded in the audit log).
pub async fn sync_config_grants(
    store: &DynStore,
    wanted: Vec<NewGrant>,
    now: Millis,
) -> Result<ConfigSync, StoreError> {
    let report = store.sync_config_grants(&wanted, now).await?;
    if report != ConfigSync::default() {
        tracing::info!(
            granted = report.granted,
            revoked = report.revoked,
            recorded = report.recorded,
            "role grants from deskbot.toml recorded"
        );
    }
    if report.overridden > 0 {
        tracing::warn!(
            overridden = report.overridden,
            "deskbot.toml lists grants that were revoked with `deskbot roles revoke`; they stay revoked \
             until granted again (see `deskbot roles list --all`)"
        );
    }
    Ok(report)
}

/// Active grants last justified more than `review_days` before `now`.
pub fn stale(grants: &[RoleGrant], review_days: u32, now: Millis) -> Vec<&RoleGrant> {
    let cutoff = now - i64::from(review_days) * 86_400_000;
    grants.iter().filter(|g| g.revoked_at.is_none() && g.reviewed_at < cutoff).collect()
}
