//! Integration tests: differential.
