//! channel/console (todo)
