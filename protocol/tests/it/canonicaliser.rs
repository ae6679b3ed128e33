//! Integration tests: canonicaliser.
