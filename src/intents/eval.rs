//! Running test cases (stub).
