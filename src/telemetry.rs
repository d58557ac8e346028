//! telemetry (todo)
