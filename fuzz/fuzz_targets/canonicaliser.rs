//! Fuzz target: the body canonicaliser never panics or hangs on any body, reads the same
//! body the same way twice, and the daemon-side helpers policies call on its output (cap
//! normalisation, bind parsing, host paths of mounts and volumes) never panic either.
//!
//! Input: the first byte picks the API object (`KINDS`, modulo their count), the rest is the
//! body. `check-oracle.sh` replays the kept corpus against Go.

#![no_main]

use authz_protocol_fuzz::{canonical_json, KINDS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let kind = KINDS[usize::from(selector) % KINDS.len()];
    assert!(canonical_json(kind, body).is_some());
});
