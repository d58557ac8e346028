//! File shapes (stub).
