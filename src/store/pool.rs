//! How the stores' connection pools check a connection before handing it out.

use sqlx::pool::PoolOptions;
use sqlx::{Connection, Database};
use std::time::Duration;

/// A connection used this recently is handed out without a check: it answered moments ago,
/// and the check is a round trip of its own (to the server, or on SQLite to the connection's
/// thread) that every read and every commit would otherwise pay first.
pub(crate) const RECENTLY_USED: Duration = Duration::from_millis(500);

/// `options`, checking a connection before it is handed out only when it has been idle for
/// [`RECENTLY_USED`] or longer: it is pinged, and one that does not answer (as after a
/// database restart) is dropped and another taken.
pub(crate) fn checked_when_idle<DB: Database>(options: PoolOptions<DB>) -> PoolOptions<DB> {
    options.test_before_acquire(false).before_acquire(|conn, meta| {
        Box::pin(async move {
            if meta.idle_for >= RECENTLY_USED {
                conn.ping().await?;
            }
            Ok(true)
        })
    })
}
