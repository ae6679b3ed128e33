//! Properties of the decision core over generated requests.

use authobot::{decide, Policy};
use proptest::prelude::*;
use protocol::body::{decode, ContainerCreate};

use crate::support::request;

/// A spelling of `word` that Go's case-insensitive key matching maps back to it: each
/// letter in either case, `s` sometimes as U+017F and `k` sometimes as U+212A.
fn go_spelling(word: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..4, word.len()).prop_map(move |choices| {
        word.chars()
            .zip(choices)
            .map(|(c, choice)| match (c.to_ascii_lowercase(), choice) {
                ('s', 3) => '\u{17f}'.to_string(),
                ('k', 3) => '\u{212a}'.to_string(),
                (_, 0 | 2) => c.to_ascii_uppercase().to_string(),
                _ => c.to_ascii_lowercase().to_string(),
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn privileged_create_is_denied_whatever_the_key_spelling(
        host_config in go_spelling("HostConfig"),
        privileged in go_spelling("Privileged"),
    ) {
        let body = format!(r#"{{"Image":"busybox","{host_config}":{{"{privileged}":true}}}}"#);
        let decision = decide(
            &Policy::embedded_default(),
            &request("POST", "/v1.41/containers/create", Some(&body)),
        );
        prop_assert_eq!(decision.rule, "no-privileged");
    }

    #[test]
    fn an_allowed_create_never_carries_privileged_or_a_host_bind(
        body in proptest::collection::vec(
            prop_oneof![
                Just(r#"{"Image":"busybox","HostConfig":{"#.to_owned()),
                Just(r#""Privileged":true,"#.to_owned()),
                Just(r#""privileged":false,"#.to_owned()),
                Just(r#""Binds":["/:/h"],"#.to_owned()),
                Just(r#""Binds":["v:/h"],"#.to_owned()),
                Just(r#""Privileged":null,"#.to_owned()),
                Just(r#""Memory":1"#.to_owned()),
                Just("},".to_owned()),
                Just("}".to_owned()),
                Just(r#""hostconfig":{"#.to_owned()),
            ],
            1..12,
        ).prop_map(|parts| parts.concat()),
    ) {
        let policy = Policy::embedded_default();
        let decision = decide(&policy, &request("POST", "/v1.41/containers/create", Some(&body)));
        if decision.allow {
            let create = decode::<ContainerCreate>(body.as_bytes()).expect("allowed means readable");
            prop_assert!(!create.host_config.privileged, "{}", body);
            let binds = create.host_config.parsed_binds().expect("allowed means readable binds");
            prop_assert!(binds.iter().all(|b| !b.host_path), "{}", body);
        }
    }
}
