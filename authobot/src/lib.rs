//! authobot: a Docker authorization plugin that keeps callers inside their containers.
//!
//! The decision core is pure: [`decide`] takes a [`Policy`] and one `AuthZReq` message and
//! returns a [`Decision`], with no I/O, so it can be tested, fuzzed and benchmarked
//! in-process. [`plugin::Authobot`] wraps it for the protocol server with a reloadable
//! policy and an audit log; the `authobot` binary wraps that in a CLI.

pub mod audit;
pub mod decide;
pub mod decision;
pub mod escapes;
pub mod explain;
pub mod metrics;
pub mod ownership;
pub mod pattern;
pub mod plugin;
pub mod policy;
pub mod rego;
pub mod response;
pub mod rules;

pub use decide::{decide, decide_unexplained, decide_with};
pub use decision::{Decision, Field};
pub use policy::{Policy, PolicyError, PolicyErrors};
