//! fake-dockerd's integration tests, one binary with a module per subject.

mod authobot_captures;
mod chain;
mod cli;
mod fidelity_captures;
mod moby_authz;
mod profiles;
mod support;
