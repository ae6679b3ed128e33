//! The protocol crate's integration tests, one binary with a module per subject.

mod canonicaliser;
mod client;
mod differential;
mod routes;
mod server;
