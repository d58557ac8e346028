//! Scheduler (todo)
