//! The Docker authorization plugin protocol as dockerd really speaks it.
//!
//! Shared by the plugin (`authobot`), the daemon emulator (`fake-dockerd`) and the
//! conformance suite, so that all three read requests exactly as the daemon does.

pub mod body;
pub mod client;
pub mod plugin;
pub mod route;
pub mod server;
pub mod wire;

pub use plugin::AuthzPlugin;
pub use wire::{ActivateManifest, AuthzReply, AuthzRequest, Phase};
