//! authobot's integration tests, one binary with a module per subject.

mod audit;
mod cli;
mod decisions;
mod hostile;
mod integrity;
mod ownership;
mod policies;
mod properties;
mod rego;
mod support;
mod workflow;
