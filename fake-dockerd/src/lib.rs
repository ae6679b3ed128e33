//! fake-dockerd: dockerd's authz middleware per daemon version, captures, record and replay.

pub mod backend;
pub mod capture;
pub mod chain;
pub mod chain_client;
pub mod fidelity;
pub mod profile;
pub mod profile_go;
pub mod record;
pub mod record_plugin;
pub mod replay;
pub mod serve;
pub mod upstream;

pub use chain::{AuthzChain, Denial};
pub use profile::{ClientRequest, ClientResponse, Profile, ProfileName, Refusal, ResponseKind};
