//! Hot reload (stub).
