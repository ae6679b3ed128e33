//! fake-dockerd: see README.md.

pub mod backend;
