//! outbox (todo)
