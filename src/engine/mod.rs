//! engine/mod (todo)
