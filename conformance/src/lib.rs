//! conformance: see README.md.
