//! The `moby-20.10` profile against the real daemon: each crafted exchange in
//! `captures/fidelity/` must give exactly the plugin messages the real dockerd 20.10 sent.

use std::path::{Path, PathBuf};

use fake_dockerd::capture::{handler_result, read_capture, CaptureLine};
use fake_dockerd::fidelity::{
    allow_all_plugin_calls, compare_client_results, compare_plugin_calls,
};
use fake_dockerd::record_plugin::read_plugin_calls;
use fake_dockerd::{Profile, ProfileName};

fn fidelity_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/fidelity")
}

#[test]
fn moby_20_10_profile_sends_what_the_real_daemon_sent_for_every_crafted_request() {
    let profile = Profile::get(ProfileName::Moby2010);
    let mut exchanges: Vec<PathBuf> = std::fs::read_dir(fidelity_dir())
        .expect("captures/fidelity exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".exchange.jsonl"))
        .collect();
    exchanges.sort();
    assert!(exchanges.len() >= 20, "expected the crafted captures");
    let mut failures = Vec::new();
    for path in &exchanges {
        let name = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".exchange.jsonl", "");
        let recorded_path = path.with_file_name(format!("{name}.jsonl"));
        let recorded =
            read_plugin_calls(&std::fs::read_to_string(&recorded_path).unwrap()).unwrap();
        let lines = read_capture(path).unwrap();
        let [CaptureLine::Exchange(exchange)] = lines.as_slice() else {
            panic!("{name}: one exchange per crafted capture");
        };
        let (produced, client) = allow_all_plugin_calls(&profile, exchange);
        let mut mismatches = compare_plugin_calls(&recorded, &produced);
        mismatches.extend(compare_client_results(
            0,
            &handler_result(&exchange.response),
            &client,
        ));
        for mismatch in mismatches {
            failures.push(format!("{name}: {mismatch:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
