//! fake-dockerd: dockerd's authz middleware per daemon version, captures, record and replay.

pub mod capture;
pub mod fidelity;
pub mod profile;
pub mod profile_go;
pub mod record_plugin;

pub use profile::{ClientRequest, ClientResponse, Profile, ProfileName, Refusal, ResponseKind};
