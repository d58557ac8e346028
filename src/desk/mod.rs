//! desk/mod (todo)
