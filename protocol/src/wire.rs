//! Wire types of the authz plugin protocol, with the exact names and encodings dockerd uses.
//!
//! Names follow moby's `pkg/authorization/api.go`, not the public docs (which spell
//! `RequestUri` and friends differently). Every field is omitted when empty, as Go's
//! `omitempty` does, and unknown fields are ignored so newer daemons do not break us.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Path of the activation call; the daemon sends it once per plugin, with an empty body.
pub const ACTIVATE_PATH: &str = "/Plugin.Activate";
/// Path of the request-phase call.
pub const AUTHZ_REQUEST_PATH: &str = "/AuthZPlugin.AuthZReq";
/// Path of the response-phase call.
pub const AUTHZ_RESPONSE_PATH: &str = "/AuthZPlugin.AuthZRes";
/// The `Accept` header the daemon's plugin client sends on every call.
pub const PLUGIN_ACCEPT: &str = "application/vnd.docker.plugins.v1.2+json";
/// The interface name an authz plugin must list in its Activate manifest (case-sensitive).
pub const AUTHZ_INTERFACE: &str = "authz";

/// The two calls a daemon makes per API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// `AuthZPlugin.AuthZReq`: before the daemon acts.
    Request,
    /// `AuthZPlugin.AuthZRes`: after the handler ran, with what it answered.
    Response,
}

impl Phase {
    /// The plugin call path for this phase.
    pub fn path(self) -> &'static str {
        match self {
            Phase::Request => AUTHZ_REQUEST_PATH,
            Phase::Response => AUTHZ_RESPONSE_PATH,
        }
    }

    /// The method name dockerd puts in its error texts (`AuthZPlugin.AuthZReq`).
    pub fn method_name(self) -> &'static str {
        &self.path()[1..]
    }
}

/// The object dockerd sends in both phases (`authorization.Request`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthzRequest {
    /// The TLS client certificate's CommonName; absent on the unix socket.
    #[serde(rename = "User", default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// `TLS` when `user` came from a client certificate.
    #[serde(
        rename = "UserAuthNMethod",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub user_authn_method: String,
    /// The HTTP method of the API call.
    #[serde(
        rename = "RequestMethod",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub request_method: String,
    /// The raw request target: not decoded, not cleaned, query included.
    #[serde(
        rename = "RequestUri",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub request_uri: String,
    /// The request body when the daemon forwarded it (it often does not).
    #[serde(
        rename = "RequestBody",
        default,
        with = "base64_bytes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub request_body: Vec<u8>,
    /// Request headers, flattened (last value wins), credentials removed by the daemon.
    #[serde(
        rename = "RequestHeaders",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub request_headers: BTreeMap<String, String>,
    /// The client's TLS certificate chain, each entry base64 of its PEM text.
    #[serde(
        rename = "RequestPeerCertificates",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub request_peer_certificates: Vec<String>,
    /// The handler's status (response phase only; absent when nothing was buffered).
    #[serde(
        rename = "ResponseStatusCode",
        default,
        skip_serializing_if = "is_zero"
    )]
    pub response_status_code: i64,
    /// The handler's buffered body (response phase only).
    #[serde(
        rename = "ResponseBody",
        default,
        with = "base64_bytes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub response_body: Vec<u8>,
    /// The handler's response headers (response phase only).
    #[serde(
        rename = "ResponseHeaders",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub response_headers: BTreeMap<String, String>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl AuthzRequest {
    /// Looks a request header up the way Go's `http.Header.Get` would: case-insensitively.
    pub fn request_header(&self, name: &str) -> Option<&str> {
        self.request_headers
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A plugin's answer (`authorization.Response`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthzReply {
    /// Whether the call may go on. dockerd treats a missing field as `false`.
    #[serde(rename = "Allow", default)]
    pub allow: bool,
    /// Shown to the client on a deny: `authorization denied by plugin NAME: MSG`.
    #[serde(rename = "Msg", default, skip_serializing_if = "String::is_empty")]
    pub msg: String,
    /// An error text; dockerd only reads it on a non-200 reply.
    #[serde(rename = "Err", default, skip_serializing_if = "String::is_empty")]
    pub err: String,
}

impl AuthzReply {
    /// An allow with no message.
    pub fn allow() -> Self {
        AuthzReply {
            allow: true,
            ..AuthzReply::default()
        }
    }

    /// A deny carrying the message the client will see.
    pub fn deny(msg: impl Into<String>) -> Self {
        AuthzReply {
            allow: false,
            msg: msg.into(),
            err: String::new(),
        }
    }
}

/// The Activate manifest (`{"Implements":["authz"]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivateManifest {
    /// Interfaces the plugin implements; an authz plugin lists exactly `authz`.
    #[serde(rename = "Implements", default)]
    pub implements: Vec<String>,
}

impl ActivateManifest {
    /// The manifest of an authz plugin.
    pub fn authz() -> Self {
        ActivateManifest {
            implements: vec![AUTHZ_INTERFACE.to_owned()],
        }
    }

    /// Whether the daemon would accept this plugin as an authz plugin (exact, case-sensitive).
    pub fn implements_authz(&self) -> bool {
        self.implements.iter().any(|i| i == AUTHZ_INTERFACE)
    }
}

/// Go's `[]byte` JSON encoding: standard base64 with padding; `null` reads as empty.
mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        match text {
            None => Ok(Vec::new()),
            // Go's decoder ignores \r and \n inside base64 text.
            Some(text) => STANDARD
                .decode(text.replace(['\r', '\n'], ""))
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_fields_use_dockers_exact_names_and_omit_empty_ones() {
        let request = AuthzRequest {
            request_method: "POST".into(),
            request_uri: "/v1.41/containers/create".into(),
            request_body: b"{}".to_vec(),
            ..AuthzRequest::default()
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(
            json,
            r#"{"RequestMethod":"POST","RequestUri":"/v1.41/containers/create","RequestBody":"e30="}"#
        );
    }

    #[test]
    fn request_with_unknown_fields_and_null_body_is_read() {
        let json = r#"{"RequestMethod":"GET","RequestUri":"/_ping","RequestBody":null,"Future":1}"#;
        let request: AuthzRequest = serde_json::from_str(json).unwrap();
        assert_eq!(request.request_uri, "/_ping");
        assert!(request.request_body.is_empty());
    }

    #[test]
    fn activate_manifest_is_exactly_what_dockerd_expects() {
        assert_eq!(
            serde_json::to_string(&ActivateManifest::authz()).unwrap(),
            r#"{"Implements":["authz"]}"#
        );
        let wrong_case = ActivateManifest {
            implements: vec!["AuthZ".into()],
        };
        assert!(!wrong_case.implements_authz());
    }
}
