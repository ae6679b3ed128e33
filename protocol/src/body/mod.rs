//! The canonicaliser: reads a Docker API request body exactly as dockerd's Go code will.
//!
//! Go's encoding/json matches keys case-insensitively (with Unicode simple folding), lets the
//! last duplicate win, merges repeated nested objects, and treats `null` differently per type.
//! A policy that reads JSON any other way can be walked around, so policies only ever see the
//! typed values this module returns.

mod canonical;
mod daemon;
mod document;
mod go;
mod json;
pub mod model;
mod schema;

pub use daemon::{go_path_clean, go_to_upper, local_bind_device, parse_security_opt};
pub use document::{document, DocumentKind};
pub use json::MAX_NESTING_DEPTH;
pub use model::*;

/// Why a body could not be read as dockerd would read it. Every variant means "deny".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body is not JSON Go would accept.
    #[error("invalid JSON at byte {offset}: {reason}")]
    Syntax {
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong there.
        reason: String,
    },
    /// A value has a type Go would refuse for that field (dockerd answers 400).
    #[error("{field}: expected {expected}")]
    WrongType {
        /// Dotted field path, Docker spelling (`HostConfig.Privileged`).
        field: String,
        /// The Go type the daemon wanted.
        expected: &'static str,
    },
    /// Something other than whitespace follows the JSON value. dockerd 20.10 never looks
    /// (it acts on the first value); 23.0+ refuse all but a stray `}` or `]`. We refuse all.
    #[error("unexpected content after the JSON value at byte {offset}")]
    TrailingContent {
        /// Byte offset of the extra content.
        offset: usize,
    },
    /// Arrays and objects nest deeper than Go's limit of 10000 (`MAX_NESTING_DEPTH`).
    #[error("JSON nested too deeply at byte {offset}")]
    TooDeep {
        /// Byte offset of the bracket that went too deep.
        offset: usize,
    },
    /// A `Binds` entry the daemon's bind parser refuses.
    #[error("invalid bind {spec:?}: {reason}")]
    InvalidBind {
        /// The entry as sent.
        spec: String,
        /// Why the daemon refuses it.
        reason: &'static str,
    },
}

/// A request body type the canonicaliser knows how to read the way dockerd does.
pub trait Canonical: Sized {
    /// Reads `body` as dockerd's decoder would and returns what the daemon will act on.
    fn from_body(body: &[u8]) -> Result<Self, BodyError>;
}

/// Reads `body` as dockerd would for the API object `T`.
pub fn decode<T: Canonical>(body: &[u8]) -> Result<T, BodyError> {
    T::from_body(body)
}
