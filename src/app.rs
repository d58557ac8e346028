//! app (todo)
