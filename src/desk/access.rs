//! Who may do what on the desk: the one place that decides, from the ACTIVE grants of the
//! grants ledger (`role_grants`), never from deskbot.toml (the file only seeds the ledger, see
//! `compliance::roles`). [`Access`] pairs the desk's queues with a snapshot of the active
//! grants; `service::access` loads the snapshot and keeps it at most two seconds old, so a
//! revocation reaches every running process within seconds. Pure: no I/O here.
//!
//! Roles: an agent acts on a queue's tickets; a lead may do all an agent may (and is told of
//! SLA breaches); an admin and an approver are their own roles. A grant's scope is a queue or
//! `*` (every queue). `agents = "channel-members"` is the grant to `PLATFORM:#channel-members`:
//! whoever posts in that queue's own channel on that platform is an agent there.

use super::runtime::Desk;
use crate::domain::{Address, Platform, QueueName, UserRef};
use crate::store::compliance::{ALL_QUEUES, Role, RoleGrant};
use std::collections::HashSet;
use std::sync::Arc;

/// The user id of the grant that makes a queue's channel members its agents.
pub const CHANNEL_MEMBERS: &str = "#channel-members";

/// The active grants at one moment, in ledger order.
#[derive(Debug, Default)]
pub struct Grants {
    active: Vec<(UserRef, Role, String)>,
    index: HashSet<(UserRef, Role, String)>,
}

impl Grants {
    /// The active rows of `rows` (revoked ones are skipped).
    pub fn from_ledger(rows: &[RoleGrant]) -> Grants {
        let mut g = Grants::default();
        for r in rows.iter().filter(|r| r.revoked_at.is_none()) {
            let key = (r.user.clone(), r.role, r.scope.clone());
            if g.index.insert(key.clone()) {
                g.active.push(key);
            }
        }
        g
    }

    pub fn len(&self) -> usize {
        self.active.len()
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// Does `user` hold `role` on `queue` itself or on every queue?
    fn holds(&self, user: &UserRef, role: Role, queue: &str) -> bool {
        [queue, ALL_QUEUES].iter().any(|scope| self.index.contains(&(user.clone(), role, scope.to_string())))
    }

    /// Holders of `role` on `queue` (or every queue), people only, in ledger order.
    fn holders(&self, role: Role, queue: &str) -> Vec<UserRef> {
        let mut seen = HashSet::new();
        self.active
            .iter()
            .filter(|(u, r, s)| *r == role && (s == queue || s == ALL_QUEUES) && u.id != CHANNEL_MEMBERS)
            .filter(|(u, _, _)| seen.insert(u.clone()))
            .map(|(u, _, _)| u.clone())
            .collect()
    }
}

/// The desk and the active grants: every permission check goes through here.
#[derive(Clone)]
pub struct Access {
    desk: Arc<Desk>,
    grants: Arc<Grants>,
}

impl Access {
    pub fn new(desk: Arc<Desk>, grants: Arc<Grants>) -> Access {
        Access { desk, grants }
    }

    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    /// The queue's name as the desk knows it (an unknown queue falls back to the default).
    fn queue_name<'q>(&'q self, queue: &'q QueueName) -> &'q str {
        self.desk.queue(queue).map(|q| q.cfg.name.as_str()).unwrap_or(queue.as_str())
    }

    /// May `user` act as `role` on `queue`? deskbot itself (timers, the CLI on the server)
    /// may; a lead may do what an agent may.
    pub fn can(&self, user: &UserRef, role: Role, queue: &QueueName) -> bool {
        if user.platform == Platform::System {
            return true;
        }
        if user.id == CHANNEL_MEMBERS {
            return false;
        }
        let q = self.queue_name(queue);
        let implied: &[Role] = match role {
            Role::Agent => &[Role::Agent, Role::Lead],
            other => &[other][..],
        };
        implied.iter().any(|r| self.grants.holds(user, *r, q))
    }

    /// May `actor`, writing in `origin`, act on tickets of `queue`? Agents and leads may; with
    /// an active `#channel-members` grant, anyone posting in the queue's own channel.
    pub fn may_act(&self, queue: &QueueName, actor: &UserRef, origin: &Address) -> bool {
        self.can(actor, Role::Agent, queue) || self.channel_member(queue, origin)
    }

    fn channel_member(&self, queue: &QueueName, origin: &Address) -> bool {
        let Some(q) = self.desk.queue(queue) else { return false };
        let in_channel = q.cfg.channel.get(&origin.platform).is_some_and(|c| *c == origin.channel);
        let members = UserRef::new(origin.platform, CHANNEL_MEMBERS);
        in_channel && self.grants.holds(&members, Role::Agent, q.cfg.name.as_str())
    }

    /// May tickets of `queue` be assigned to `user`?
    pub fn assignable(&self, queue: &QueueName, user: &UserRef) -> bool {
        let members = UserRef::new(user.platform, CHANNEL_MEMBERS);
        self.can(user, Role::Agent, queue) || self.grants.holds(&members, Role::Agent, self.queue_name(queue))
    }

    /// The queue's agents (for automatic assignment), in ledger order.
    pub fn agents(&self, queue: &QueueName) -> Vec<UserRef> {
        self.grants.holders(Role::Agent, self.queue_name(queue))
    }

    /// The approvers of a request-catalog group (`group:NAME`): active `approver` grants for
    /// that group (or for every group, `*`), in ledger order.
    pub fn approvers(&self, group: &str) -> Vec<UserRef> {
        self.grants.holders(Role::Approver, group)
    }

    /// The queue's leads (told of SLA breaches), in ledger order.
    pub fn leads(&self, queue: &QueueName) -> Vec<UserRef> {
        self.grants.holders(Role::Lead, self.queue_name(queue))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::{DeskSettings, QueueConfig};

    fn grant(user: &str, role: Role, scope: &str, revoked: bool) -> RoleGrant {
        RoleGrant {
            id: 0,
            user: user.parse().unwrap(),
            role,
            scope: scope.into(),
            granted_by: "ann".into(),
            justification: "j".into(),
            granted_at: 0,
            reviewed_at: 0,
            revoked_at: revoked.then_some(1),
            revoked_by: revoked.then(|| "ann".into()),
            revoke_reason: None,
            in_config: false,
        }
    }

    fn access(rows: &[RoleGrant]) -> Access {
        let queue = |toml: &str| toml::from_str::<QueueConfig>(toml).unwrap();
        let queues = vec![
            queue("name = \"access\"\nchannel = { test = \"agents\" }"),
            queue("name = \"network\"\nchannel = { test = \"net\" }"),
        ];
        let default = QueueName::parse("access").unwrap();
        let desk = Desk::new(queues, DeskSettings::default(), 0, default, Vec::new()).unwrap();
        Access::new(Arc::new(desk), Arc::new(Grants::from_ledger(rows)))
    }

    #[test]
    fn only_active_grants_on_the_queue_or_every_queue_count() {
        let a = access(&[
            grant("test:kim", Role::Agent, "access", false),
            grant("test:rev", Role::Agent, "access", true),
            grant("test:lee", Role::Lead, "access", false),
            grant("test:all", Role::Agent, "*", false),
            grant("test:root", Role::Admin, "*", false),
            grant("test:ok", Role::Approver, "network", false),
        ]);
        let q = |n: &str| QueueName::parse(n).unwrap();
        let u = |s: &str| s.parse::<UserRef>().unwrap();
        let chan = Address::new(Platform::Test, "agents");
        let cases = [
            ("test:kim", Role::Agent, "access", true),
            ("test:kim", Role::Agent, "network", false),
            ("test:kim", Role::Lead, "access", false),
            ("test:rev", Role::Agent, "access", false),
            ("test:lee", Role::Agent, "access", true),
            ("test:lee", Role::Lead, "access", true),
            ("test:all", Role::Agent, "network", true),
            ("test:root", Role::Admin, "access", true),
            ("test:root", Role::Agent, "access", false),
            ("test:ok", Role::Approver, "network", true),
            ("test:ok", Role::Approver, "access", false),
            ("test:nobody", Role::Agent, "access", false),
            ("system:cli", Role::Agent, "access", true),
        ];
        for (who, role, queue, expected) in cases {
            assert_eq!(a.can(&u(who), role, &q(queue)), expected, "{who} {role} {queue}");
        }
        assert!(!a.may_act(&q("access"), &u("test:rev"), &chan), "a revoked agent may not act");
        assert_eq!(a.agents(&q("access")), vec![u("test:kim"), u("test:all")]);
        assert_eq!(a.leads(&q("access")), vec![u("test:lee")]);
    }

    #[test]
    fn channel_members_act_only_in_their_queues_channel_while_the_grant_is_active() {
        let q = |n: &str| QueueName::parse(n).unwrap();
        let eve = "test:eve".parse::<UserRef>().unwrap();
        let here = Address::new(Platform::Test, "agents");
        let elsewhere = Address::new(Platform::Test, "net");
        let a = access(&[grant("test:#channel-members", Role::Agent, "access", false)]);
        assert!(a.may_act(&q("access"), &eve, &here));
        assert!(!a.may_act(&q("access"), &eve, &elsewhere));
        assert!(!a.may_act(&q("network"), &eve, &elsewhere));
        assert!(a.assignable(&q("access"), &eve));
        assert!(a.agents(&q("access")).is_empty(), "the marker is nobody to assign to");
        let marker = "test:#channel-members".parse::<UserRef>().unwrap();
        assert!(!a.can(&marker, Role::Agent, &q("access")), "the marker is not a person");
        let revoked = access(&[grant("test:#channel-members", Role::Agent, "access", true)]);
        assert!(!revoked.may_act(&q("access"), &eve, &here));
    }
}
