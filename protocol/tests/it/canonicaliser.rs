//! Integration tests: canonicaliser. One test per fact of DESIGN section 4, read as a spec.
//!
//! Each body here is what a bypass would send; each assertion is what dockerd 20.10 acts on
//! (the same bodies are checked against real Go in `differential.rs` and its pinned table).

use proptest::prelude::*;
use protocol::body::{
    decode, BodyError, ContainerCreate, ContainerUpdate, ExecCreate, HostConfig, PluginSettings,
    ServiceSpec, VolumeCreate, MAX_NESTING_DEPTH,
};
use protocol::AuthzReply;

fn create(body: &str) -> ContainerCreate {
    decode::<ContainerCreate>(body.as_bytes()).expect("dockerd accepts this body")
}

fn refused(body: &[u8]) -> BodyError {
    decode::<ContainerCreate>(body).expect_err("dockerd refuses this body")
}

#[test]
fn lower_case_host_config_key_hits_the_field() {
    assert!(
        create(r#"{"hostconfig":{"privileged":true}}"#)
            .host_config
            .privileged
    );
}

#[test]
fn upper_case_privileged_hits_the_field() {
    assert!(
        create(r#"{"HostConfig":{"PRIVILEGED":true}}"#)
            .host_config
            .privileged
    );
}

#[test]
fn kelvin_sign_matches_links() {
    let c = create("{\"HostConfig\":{\"Lin\u{212A}s\":[\"db:db\"]}}");
    assert_eq!(c.host_config.links, ["db:db"]);
}

#[test]
fn long_s_matches_binds() {
    let c = create("{\"HostConfig\":{\"Bind\u{17F}\":[\"/:/host\"]}}");
    assert_eq!(c.host_config.binds, ["/:/host"]);
}

#[test]
fn dotless_i_does_not_fold_to_i() {
    let c = create("{\"HostConfig\":{\"Pr\u{131}vileged\":true}}");
    assert!(!c.host_config.privileged);
}

#[test]
fn exact_key_match_wins_over_an_earlier_folded_one_only_by_order() {
    // Both keys reach the same field; the last one written wins.
    let c = create(r#"{"HostConfig":{"Privileged":true,"privileged":false}}"#);
    assert!(!c.host_config.privileged);
}

#[test]
fn last_duplicate_wins_for_scalars() {
    let c = create(r#"{"HostConfig":{"NetworkMode":"bridge","NetworkMode":"host"}}"#);
    assert_eq!(c.host_config.network_mode, "host");
}

#[test]
fn last_duplicate_wins_for_lists() {
    let c = create(r#"{"HostConfig":{"Binds":["/:/a","/:/b"],"Binds":["v:/c","v:/d"]}}"#);
    assert_eq!(c.host_config.binds, ["v:/c", "v:/d"]);
}

#[test]
fn repeated_host_config_objects_merge() {
    let c = create(r#"{"HostConfig":{"Privileged":true},"hostconfig":{"Memory":1}}"#);
    assert!(c.host_config.privileged);
}

#[test]
fn privileged_survives_a_later_null() {
    let c = create(r#"{"HostConfig":{"Privileged":true,"Privileged":null}}"#);
    assert!(c.host_config.privileged);
}

#[test]
fn null_resets_a_list() {
    let c = create(r#"{"HostConfig":{"CapAdd":["SYS_ADMIN"],"CapAdd":null}}"#);
    assert!(c.host_config.cap_add.is_empty());
}

#[test]
fn null_host_config_falls_back_to_top_level_fields() {
    let c = create(r#"{"Privileged":true,"HostConfig":{"Privileged":false},"HostConfig":null}"#);
    assert!(c.host_config.privileged);
}

#[test]
fn empty_masked_paths_differs_from_missing_ones() {
    assert_eq!(
        create(r#"{"HostConfig":{"MaskedPaths":[]}}"#)
            .host_config
            .masked_paths,
        Some(vec![])
    );
    assert_eq!(
        create(r#"{"HostConfig":{}}"#).host_config.masked_paths,
        None
    );
}

#[test]
fn a_shorter_list_then_a_longer_one_revives_stale_elements() {
    // Go reuses the slice's backing array: the third Binds writes "x" over element 0 and
    // null over element 1, which still holds "/:/b" from the first.
    let c =
        create(r#"{"HostConfig":{"Binds":["/:/a","/:/b"],"Binds":["v:/c"],"Binds":["x",null]}}"#);
    assert_eq!(c.host_config.binds, ["x", "/:/b"]);
}

#[test]
fn a_repeated_mounts_list_merges_into_stale_mounts() {
    let c = create(
        r#"{"HostConfig":{"Mounts":[{"Type":"bind","Source":"/"},{}],"Mounts":[{}],"Mounts":[{"Target":"/a"},{"Target":"/x"}]}}"#,
    );
    let m = &c.host_config.mounts[0];
    assert_eq!(
        (m.kind.as_str(), m.source.as_str(), m.target.as_str()),
        ("bind", "/", "/a")
    );
    assert_eq!(m.host_path().as_deref(), Some("/"));
}

#[test]
fn map_duplicates_replace_values_and_maps_accumulate_keys() {
    let c = create(r#"{"HostConfig":{"Sysctls":{"a":"1","a":"2"},"Sysctls":{"b":"3"}}}"#);
    assert_eq!(
        c.host_config.sysctls.get("a").map(String::as_str),
        Some("2")
    );
    assert_eq!(
        c.host_config.sysctls.get("b").map(String::as_str),
        Some("3")
    );
}

#[test]
fn escaped_keys_are_the_same_keys_once_decoded() {
    let c = create(r#"{"\u0048ostConfig":{"\u0050rivileged":true}}"#);
    assert!(c.host_config.privileged);
}

#[test]
fn escaped_surrogate_pair_in_a_value_is_one_character() {
    let c = create(r#"{"Image":"\ud83d\ude00"}"#);
    assert_eq!(c.image, "😀");
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    let c = decode::<ContainerCreate>(b"{\"Image\":\"a\xffb\"}").unwrap();
    assert_eq!(c.image, "a\u{FFFD}b");
}

#[test]
fn top_level_privileged_without_host_config_is_applied() {
    assert!(
        create(r#"{"Image":"busybox","Privileged":true}"#)
            .host_config
            .privileged
    );
}

#[test]
fn top_level_privileged_is_ignored_when_host_config_is_given() {
    assert!(
        !create(r#"{"Privileged":true,"HostConfig":{}}"#)
            .host_config
            .privileged
    );
}

#[test]
fn top_level_volume_driver_fills_an_unset_inner_one() {
    let c = create(r#"{"VolumeDriver":"evil","HostConfig":{"Binds":["v:/x"]}}"#);
    assert_eq!(c.host_config.volume_driver, "evil");
}

#[test]
fn network_mode_defaults_to_default() {
    assert_eq!(
        create(r#"{"HostConfig":{}}"#).host_config.network_mode,
        "default"
    );
}

#[test]
fn cap_add_accepts_a_single_string() {
    let c = create(r#"{"HostConfig":{"CapAdd":"sys_admin"}}"#);
    assert_eq!(c.host_config.normalized_cap_add(), ["CAP_SYS_ADMIN"]);
}

#[test]
fn cap_add_is_upper_cased_unicode_aware() {
    let c = create(r#"{"HostConfig":{"CapAdd":["ſys_admın"]}}"#);
    assert_eq!(c.host_config.normalized_cap_add(), ["CAP_SYS_ADMIN"]);
}

#[test]
fn bind_sources_are_cleaned() {
    let c = create(r#"{"HostConfig":{"Binds":["//etc/../:/host"]}}"#);
    let binds = c.host_config.parsed_binds().unwrap();
    assert_eq!(binds[0].source, "/");
    assert!(binds[0].host_path);
}

#[test]
fn a_local_volume_mount_with_bind_options_exposes_its_device() {
    let c = create(
        r#"{"HostConfig":{"Mounts":[{"Type":"volume","Target":"/x","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/etc"}}}}]}}"#,
    );
    assert_eq!(c.host_config.mounts[0].host_path().as_deref(), Some("/etc"));
}

#[test]
fn a_string_where_a_bool_is_wanted_is_refused() {
    assert!(matches!(
        refused(br#"{"HostConfig":{"Privileged":"true"}}"#),
        BodyError::WrongType { .. }
    ));
}

#[test]
fn a_number_where_a_bool_is_wanted_is_refused() {
    assert!(matches!(
        refused(br#"{"HostConfig":{"Privileged":1}}"#),
        BodyError::WrongType { .. }
    ));
}

#[test]
fn a_fraction_or_exponent_for_an_integer_is_refused() {
    assert!(matches!(
        refused(br#"{"HostConfig":{"Memory":1.0}}"#),
        BodyError::WrongType { .. }
    ));
    assert!(matches!(
        refused(br#"{"HostConfig":{"Memory":1e3}}"#),
        BodyError::WrongType { .. }
    ));
}

#[test]
fn a_type_error_in_a_field_no_policy_reads_still_refuses_the_body() {
    assert!(matches!(
        refused(br#"{"Tty":"yes","HostConfig":{"Privileged":true}}"#),
        BodyError::WrongType { .. }
    ));
}

#[test]
fn unknown_keys_are_ignored_but_syntax_checked() {
    assert_eq!(create(r#"{"Bogus":{"a":[1,2]},"Image":"x"}"#).image, "x");
    assert!(matches!(
        refused(br#"{"Bogus":[1,],"Image":"x"}"#),
        BodyError::Syntax { .. }
    ));
}

#[test]
fn trailing_content_is_refused() {
    assert!(matches!(
        refused(br#"{"Image":"x"}{"HostConfig":{"Privileged":true}}"#),
        BodyError::TrailingContent { .. }
    ));
    assert!(matches!(
        refused(br#"{"Image":"x"}}"#),
        BodyError::TrailingContent { .. }
    ));
}

#[test]
fn trailing_whitespace_is_accepted() {
    assert_eq!(create("{\"Image\":\"x\"} \r\n\t").image, "x");
}

#[test]
fn nesting_beyond_gos_limit_is_refused() {
    let deep = format!(
        "{{\"Labels\":{}{}}}",
        "[".repeat(MAX_NESTING_DEPTH),
        "]".repeat(MAX_NESTING_DEPTH)
    );
    assert!(matches!(
        refused(deep.as_bytes()),
        BodyError::TooDeep { .. }
    ));
}

#[test]
fn an_empty_body_is_refused() {
    assert!(matches!(refused(b""), BodyError::Syntax { .. }));
}

#[test]
fn old_api_start_body_reads_top_level_host_config_fields() {
    let hc = decode::<HostConfig>(br#"{"Privileged":true,"Binds":["/:/host"]}"#).unwrap();
    assert!(hc.privileged);
    assert_eq!(hc.binds, ["/:/host"]);
}

#[test]
fn exec_privileged_is_read_case_insensitively() {
    assert!(
        decode::<ExecCreate>(br#"{"pRIVILEGED":true}"#)
            .unwrap()
            .privileged
    );
}

#[test]
fn volume_driver_options_merge_across_repeated_keys() {
    let v = decode::<VolumeCreate>(
        br#"{"DriverOpts":{"o":"bind","device":"/"},"driveropts":{"type":"none"}}"#,
    )
    .unwrap();
    assert_eq!(v.host_path().as_deref(), Some("/"));
}

#[test]
fn update_reads_devices_from_the_embedded_resources() {
    let u = decode::<ContainerUpdate>(br#"{"devices":[{"PathOnHost":"/dev/sda"}]}"#).unwrap();
    assert_eq!(u.devices[0].path_on_host, "/dev/sda");
}

#[test]
fn service_privileges_merge_across_repeated_task_templates() {
    let s = decode::<ServiceSpec>(
        br#"{"TaskTemplate":{"ContainerSpec":{"Privileges":{"Seccomp":{"Mode":"unconfined"}}}},"taskTemplate":{"ContainerSpec":{"Image":"x"}}}"#,
    )
    .unwrap();
    assert_eq!(s.container_spec.seccomp_mode, "unconfined");
    assert_eq!(s.container_spec.image, "x");
}

#[test]
fn plugin_settings_are_a_plain_list() {
    assert!(decode::<PluginSettings>(br#""mount.source=/""#).is_err());
    assert_eq!(
        decode::<PluginSettings>(br#"["mount.source=/"]"#)
            .unwrap()
            .0,
        ["mount.source=/"]
    );
}

#[test]
fn reply_without_allow_is_a_deny() {
    assert!(!decode::<AuthzReply>(br#"{"Msg":"hi"}"#).unwrap().allow);
}

#[test]
fn reply_keys_are_case_insensitive_and_trailing_bytes_unread() {
    assert!(
        decode::<AuthzReply>(br#"{"allow":true} and more"#)
            .unwrap()
            .allow
    );
}

#[test]
fn reply_with_a_string_allow_is_an_error() {
    assert!(decode::<AuthzReply>(br#"{"Allow":"true"}"#).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode::<ContainerCreate>(&bytes);
        let _ = decode::<ServiceSpec>(&bytes);
        let _ = decode::<AuthzReply>(&bytes);
    }

    #[test]
    fn never_panics_on_json_like_bytes(text in r#"[\[\]{}",:0-9a-zA-Z\\ nul-]{0,200}"#) {
        let _ = decode::<ContainerCreate>(text.as_bytes());
        let _ = decode::<HostConfig>(text.as_bytes());
    }
}

#[test]
fn deep_and_wide_bodies_decode_without_exhausting_the_stack() {
    let deep = format!(
        "{{\"Labels\":{}1{}}}",
        "[{\"a\":".repeat(4_000),
        "}]".repeat(4_000)
    );
    assert!(matches!(
        refused(deep.as_bytes()),
        BodyError::WrongType { .. }
    ));
    let wide = format!(
        "{{\"HostConfig\":{{{}\"Privileged\":true}}}}",
        "\"Binds\":[\"/:/x\"],".repeat(50_000)
    );
    assert!(create(&wide).host_config.privileged);
}
