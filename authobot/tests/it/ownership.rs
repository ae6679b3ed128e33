//! Ownership (issue 7): who may touch which container, exec session, volume and network.

mod cli;
mod explain;
mod learning;
mod modes;
mod policy;
mod properties;
mod scenarios;
mod serve;
mod support;
