//! Integration tests: routes.
