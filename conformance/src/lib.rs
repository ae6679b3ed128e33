//! A conformance suite any Docker authorization plugin can be run against.
//!
//! Point it at a plugin's unix socket; it plays dockerd's side of the protocol and checks
//! stable, levelled cases (MUST/SHOULD/MAY), each naming its source: the protocol itself,
//! robustness against hostile callers, and (for plugins that claim them) host-escape
//! vectors, recorded ordinary workflows and generated bodies. Reports come as text, JSON or
//! JUnit with exit codes CI can act on. Modelled on csi-sanity and h2spec.

pub mod bench;
pub mod case;
pub mod expectations;
pub mod groups;
pub mod registry;
pub mod report;
pub mod runner;
pub mod target;
pub mod transport;

pub use case::{CaseInfo, Claim, Group, Level, Outcome};
pub use registry::{all as all_cases, Case};
pub use report::Report;
pub use runner::{run, Ctx, LevelFilter, Selection};
pub use target::{Target, Verdict};
