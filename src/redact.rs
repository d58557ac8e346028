//! redact (todo)
