//! Deliberately broken authz plugins, each modelled on a real flaw, that the conformance
//! suite must catch; the cross-crate tests in `tests/it` run the suite against them and
//! against authobot.

pub mod broken;
pub mod raw;
