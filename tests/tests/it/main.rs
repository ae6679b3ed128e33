//! Cross-crate tests: the conformance suite run against deliberately broken plugins (each
//! must fail the case named in its test) and against authobot (which must pass).

mod authobot;
mod broken;
mod harness;
mod slow;
