//! SQLite store (stub).
use super::*;

pub struct SqliteStore {}

impl SqliteStore {
    pub async fn open(_url: &str) -> Result<Self> {
        unimplemented!()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> { unimplemented!() }
    async fn ping(&self) -> Result<()> { unimplemented!() }
    async fn load_conversation(&self, _key: &str) -> Result<Option<StoredConversation>> { unimplemented!() }
    async fn commit(&self, _commit: Commit) -> Result<CommitOutcome> { unimplemented!() }
    async fn ticket(&self, _number: TicketNumber) -> Result<Option<Ticket>> { unimplemented!() }
    async fn tickets(&self, _filter: &TicketFilter) -> Result<Vec<Ticket>> { unimplemented!() }
    async fn ticket_events(&self, _number: TicketNumber) -> Result<Vec<TicketEvent>> { unimplemented!() }
    async fn ticket_messages(&self, _number: TicketNumber) -> Result<Vec<StoredMessage>> { unimplemented!() }
    async fn claim_outbox(&self, _p: &[Platform], _w: &str, _now: Millis, _l: i64, _n: i64) -> Result<Vec<OutboxItem>> { unimplemented!() }
    async fn outbox_done(&self, _id: i64, _now: Millis) -> Result<()> { unimplemented!() }
    async fn outbox_failed(&self, _id: i64, _e: &str, _n: Option<Millis>) -> Result<()> { unimplemented!() }
    async fn outbox_depth(&self) -> Result<i64> { unimplemented!() }
}
