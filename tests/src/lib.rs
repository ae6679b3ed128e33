//! Cross-crate tests and deliberately broken plugins live here.
