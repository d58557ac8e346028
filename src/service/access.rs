//! The service's view of the grants ledger: [`Service::access`] hands out an
//! [`Access`](crate::desk::access::Access) built from the active grants, read by ONE query
//! (`role_grants`) and cached for at most [`GRANTS_MAX_AGE`]. That bound is how a revocation
//! made anywhere (`deskbot roles revoke` on the server, another deskbot process sharing the
//! PostgreSQL database) takes effect in every running process within seconds, on SQLite and
//! PostgreSQL alike, without a listener connection. Nothing is read while no event arrives
//! (idle is idle), and concurrent events share one reload. When the reload fails, the event
//! fails (and is retried by its platform): a stale snapshot is never used past its age.

use super::{Service, ServiceError};
use crate::desk::access::{Access, Grants};
use crate::store::DynStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How old a grants snapshot may be before the next permission check reloads it.
pub const GRANTS_MAX_AGE: Duration = Duration::from_secs(2);

/// The newest snapshot and when it was read.
#[derive(Default)]
pub(super) struct GrantsCache {
    slot: tokio::sync::Mutex<Option<(Instant, Arc<Grants>)>>,
}

impl GrantsCache {
    /// The active grants, read again when the snapshot is older than [`GRANTS_MAX_AGE`].
    async fn get(&self, store: &DynStore) -> Result<Arc<Grants>, ServiceError> {
        // Held across the reload: callers arriving meanwhile wait for it instead of querying.
        let mut slot = self.slot.lock().await;
        if let Some((read_at, grants)) = slot.as_ref()
            && read_at.elapsed() < GRANTS_MAX_AGE
        {
            return Ok(grants.clone());
        }
        let read_at = Instant::now();
        let grants = Arc::new(Grants::from_ledger(&store.role_grants(false).await?));
        *slot = Some((read_at, grants.clone()));
        Ok(grants)
    }

    /// Drop the snapshot: the next check reads the ledger.
    async fn forget(&self) {
        *self.slot.lock().await = None;
    }
}

impl Service {
    /// Who may do what, from the ledger's active grants (at most [`GRANTS_MAX_AGE`] old).
    pub async fn access(&self) -> Result<Access, ServiceError> {
        let grants = self.grants.get(&self.store).await?;
        Ok(Access::new(self.desk.clone(), grants))
    }

    /// Read the ledger again at the next check (after this process changed a grant).
    pub async fn forget_grants(&self) {
        self.grants.forget().await;
    }
}
