//! http/mod (todo)
