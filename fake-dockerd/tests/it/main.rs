//! fake-dockerd's integration tests, one binary with a module per subject.

mod fidelity_captures;
mod profiles;
