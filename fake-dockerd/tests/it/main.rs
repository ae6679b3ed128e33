//! fake-dockerd's integration tests, one binary with a module per subject.

mod authobot_captures;
mod chain;
mod cli;
mod fidelity_captures;
mod moby_authz;
mod profiles;
mod serve;
mod serve_fidelity;
mod serve_harness;
mod serve_plugins;
mod serve_record;
mod serve_upstream;
mod serve_workflow;
mod support;
