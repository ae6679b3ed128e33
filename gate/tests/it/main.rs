//! The gate's integration tests, one binary with a module per subject.

mod ca;
mod check;
mod relay;
mod support;
