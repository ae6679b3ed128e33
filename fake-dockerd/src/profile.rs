//! Daemon profiles: dockerd's authz middleware, one faithful model per family of releases.
//!
//! A profile turns what a client sent (and what the handler answered) into exactly the object
//! the daemon's plugins receive, or into the answer the daemon gives by itself before any
//! plugin is asked. Every rule names its source: moby's `pkg/authorization` at a tag, or what
//! Debian's dockerd 20.10.24 on this machine did (`captures/fidelity/`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use protocol::AuthzRequest;

use crate::profile_go as go;

/// `maxBodySize` of `pkg/authorization/authz.go` before 29.3.1: 1 MiB.
pub const ONE_MIB: usize = 1 << 20;
/// `maxBodySize` from 29.3.1 on: 4 MiB.
pub const FOUR_MIB: usize = 4 << 20;
/// `maxBufferSize` of `pkg/authorization/response.go` (all versions): 64 KiB.
pub const RESPONSE_BUFFER: usize = 64 * 1024;

/// The four daemon families fake-dockerd can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProfileName {
    /// Upstream releases before the CVE-2024-41110 fix (up to 20.10.24, 23.0.14, 25.0.5,
    /// 26.1.4, 27.1.0).
    MobyPre2024,
    /// Debian's docker.io 20.10.24+dfsg1 as it behaves on this machine (2024 fix backported).
    Moby2010,
    /// 27.1.1 up to 29.3.0 (the 2024 fix; bodies of 1 MiB or more skipped silently).
    Moby271,
    /// 29.3.1 and later (any JSON body up to 4 MiB forwarded, larger ones refused).
    Moby293,
}

impl ProfileName {
    /// Every profile, oldest first.
    pub const ALL: [ProfileName; 4] = [
        ProfileName::MobyPre2024,
        ProfileName::Moby2010,
        ProfileName::Moby271,
        ProfileName::Moby293,
    ];

    /// The name used on the command line (`moby-20.10`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileName::MobyPre2024 => "moby-pre-2024",
            ProfileName::Moby2010 => "moby-20.10",
            ProfileName::Moby271 => "moby-27.1",
            ProfileName::Moby293 => "moby-29.3",
        }
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A profile name that is not one of [`ProfileName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown daemon profile {0:?} (known: moby-pre-2024, moby-20.10, moby-27.1, moby-29.3)")]
pub struct UnknownProfile(pub String);

impl FromStr for ProfileName {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProfileName::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProfile(s.to_owned()))
    }
}

/// When the daemon copies a request body into `RequestBody`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBodyRule {
    /// Only with a positive `Content-Length` below `limit`; a chunked body arrives empty
    /// (CVE-2024-41110). Source: v20.10.24 `authz.go` `AuthZRequest`.
    PositiveContentLength {
        /// Bodies of this many bytes or more are not forwarded.
        limit: usize,
    },
    /// With a positive `Content-Length` or chunked; bodies of `limit` bytes or more arrive
    /// empty while the daemon still acts on them. Source: v27.1.1 `authz.go` (`isChunked`,
    /// `drainBody`); the same on Debian's 20.10.24 (`captures/fidelity/create-chunked`,
    /// `create-over-1mib`).
    SkipLarge {
        /// Bodies of this many bytes or more arrive empty.
        limit: usize,
    },
    /// Any body up to `limit` bytes; a larger one makes the daemon fail the call with HTTP
    /// 500 before any plugin is asked. Source: HEAD `authz.go` (`Peek(maxBodySize + 1)`).
    RefuseLarge {
        /// The largest body forwarded.
        limit: usize,
    },
}

/// How the daemon decides that a call is the `/auth` endpoint, whose bodies it withholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthEndpointRule {
    /// `strings.HasSuffix(RequestURI, "/auth")` on the raw target: `/v1.41/auth?x=1` is not
    /// withheld, `/containers/create?x=/auth` is. Source: v20.10.24 `authz.go` `sendBody`.
    RawTargetSuffix,
    /// The decoded path matches `^[^/]*/(v\d[\d.]*/)?auth.*`. Source: v27.1.1 and HEAD
    /// `authz.go` `isAuthEndpoint`.
    DecodedPathPrefix,
    /// Never withheld: Debian's 20.10.24 forwarded the password of `/auth`, `/v1.41/auth` and
    /// `/v1.41/auth?x=1` (`captures/fidelity/auth-*`, `captures/workflow/login`).
    NotWithheld,
}

/// How dockerd's plugin client retries a plugin it cannot reach (`pkg/plugins/client.go`
/// `callWithRetry`, `backoff`, `abort`; the same in every profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryRule {
    /// The first wait; each later one doubles.
    pub first_backoff: Duration,
    /// No retry is started once waiting would pass this much time since the first attempt.
    pub give_up_after: Duration,
}

impl RetryRule {
    /// The wait before retry number `retries` (0-based): 1, 2, 4, 8... seconds, capped.
    pub fn backoff(&self, retries: u32) -> Duration {
        let doubled = self
            .first_backoff
            .saturating_mul(2u32.saturating_pow(retries.min(16)));
        doubled.min(self.give_up_after)
    }
}

/// One daemon family's authz behaviour, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Which family.
    pub name: ProfileName,
    /// When request bodies reach `RequestBody`.
    pub request_body: RequestBodyRule,
    /// How `/auth` is recognised.
    pub auth_endpoint: AuthEndpointRule,
    /// Responses up to this size reach `AuthZRes` whole; larger ones were flushed.
    pub response_buffer: usize,
    /// Plugin connection retries.
    pub retry: RetryRule,
}

/// What a client sent the daemon, as it crossed the wire (the `request` of a capture line).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientRequest {
    /// The HTTP method.
    pub method: String,
    /// The raw request target (origin form, not decoded, query included).
    pub target: String,
    /// The header lines in the order sent (names as spelled, values as sent).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body bytes (after de-chunking); base64 in a capture.
    #[serde(default, with = "crate::capture::base64_bytes")]
    pub body: Vec<u8>,
    /// Whether the body came with `Transfer-Encoding: chunked`.
    #[serde(default)]
    pub chunked: bool,
    /// The CommonName of the verified TLS client certificate, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_user: Option<String>,
    /// The client's certificate chain, each entry base64 of its PEM text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peer_certificates: Vec<String>,
}

impl ClientRequest {
    /// A request with no headers and no body.
    pub fn new(method: &str, target: &str) -> Self {
        ClientRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            ..ClientRequest::default()
        }
    }

    /// Adds a header line.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a JSON body the way the docker CLI sends one (`Content-Type` and
    /// `Content-Length`).
    pub fn json(self, body: impl Into<Vec<u8>>) -> Self {
        let body = body.into();
        let length = body.len().to_string();
        let mut request = self
            .header("Content-Type", "application/json")
            .header("Content-Length", &length);
        request.body = body;
        request
    }

    /// Sends the body chunked: drops `Content-Length`, adds `Transfer-Encoding: chunked`.
    pub fn chunked(mut self) -> Self {
        self.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("Content-Length"));
        self.chunked = true;
        self.header("Transfer-Encoding", "chunked")
    }

    /// Go's `r.ContentLength`: -1 when chunked, the `Content-Length` header, else 0.
    pub fn content_length(&self) -> i64 {
        if self.chunked {
            return -1;
        }
        self.headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("Content-Length"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// How the handler's answer left the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseKind {
    /// Written and returned normally (buffered by the middleware up to 64 KiB).
    #[default]
    Buffered,
    /// Flushed while the handler ran (events, logs, wait, progress, archives).
    Streamed,
    /// The connection was hijacked (attach, exec start).
    Hijacked,
    /// The handler returned an error, which the daemon wrote after `AuthZRes`.
    HandlerError,
}

/// What the client received from the daemon (the `response` of a capture line).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientResponse {
    /// The HTTP status the client saw.
    pub status: u16,
    /// The header lines the client saw.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body the client saw (for streams: as much as was captured); base64 in a capture.
    #[serde(default, with = "crate::capture::base64_bytes")]
    pub body: Vec<u8>,
    /// How the response was produced.
    #[serde(default)]
    pub kind: ResponseKind,
}

/// The daemon answering a call itself, before any plugin is asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {status}: {message}")]
pub struct Refusal {
    /// The HTTP status the client gets.
    pub status: u16,
    /// The `message` of the JSON error body (empty for a redirect).
    pub message: String,
    /// The `Location` of a 301 redirect.
    pub location: Option<String>,
}

/// Handlers that write without calling `WriteHeader`, so the middleware records status 0,
/// and whether Go's server then sniffs a `Content-Type` the plugin never sees. Observed on
/// 20.10 (`captures/workflow/*`), read in HEAD `api/server/router/`.
const IMPLICIT_STATUS_ROUTES: &[(&str, &str, bool)] = &[
    ("GET", "/_ping", true),
    ("HEAD", "/_ping", false),
    ("GET", "/containers/{name}/stats", false),
    ("GET", "/containers/{name}/archive", false),
    ("HEAD", "/containers/{name}/archive", false),
    ("PUT", "/containers/{name}/archive", false),
    ("POST", "/networks/{id}/connect", false),
    ("POST", "/networks/{id}/disconnect", false),
];

impl Profile {
    /// The profile of a family.
    pub fn get(name: ProfileName) -> Profile {
        let retry = RetryRule {
            first_backoff: Duration::from_secs(1),
            give_up_after: Duration::from_secs(30),
        };
        let (request_body, auth_endpoint) = match name {
            ProfileName::MobyPre2024 => (
                RequestBodyRule::PositiveContentLength { limit: ONE_MIB },
                AuthEndpointRule::RawTargetSuffix,
            ),
            ProfileName::Moby2010 => (
                RequestBodyRule::SkipLarge { limit: ONE_MIB },
                AuthEndpointRule::NotWithheld,
            ),
            ProfileName::Moby271 => (
                RequestBodyRule::SkipLarge { limit: ONE_MIB },
                AuthEndpointRule::DecodedPathPrefix,
            ),
            ProfileName::Moby293 => (
                RequestBodyRule::RefuseLarge { limit: FOUR_MIB },
                AuthEndpointRule::DecodedPathPrefix,
            ),
        };
        Profile {
            name,
            request_body,
            auth_endpoint,
            response_buffer: RESPONSE_BUFFER,
            retry,
        }
    }

    /// The daemon's router (`protocol::route::parse`, gorilla/mux as dockerd configures it):
    /// 301 to the clean path for an unclean decoded path, 404 `page not found` for no route,
    /// 400 for a target Go's server refuses; else the route template. Checked against 20.10
    /// in `captures/fidelity/unclean-*` and `unknown-route`.
    pub fn route(&self, req: &ClientRequest) -> Result<&'static str, Refusal> {
        use protocol::route::{parse, RouteError};
        let query = req.target.split_once('?').map(|(_, q)| q);
        let refusal = |status: u16, message: String, location: Option<String>| Refusal {
            status,
            message,
            location,
        };
        match parse(&req.method, &req.target) {
            Ok(route) => Ok(route.template),
            Err(RouteError::Unclean { cleaned, .. }) => {
                let location = match query {
                    Some(query) => format!("{cleaned}?{query}"),
                    None => cleaned,
                };
                Err(refusal(301, String::new(), Some(location)))
            }
            Err(RouteError::Unknown { .. }) => Err(refusal(404, "page not found".to_owned(), None)),
            // Handlers read what Go's ParseQuery kept; the route is chosen without the query.
            Err(RouteError::Query { .. }) => {
                let path = req
                    .target
                    .split_once('?')
                    .map_or(req.target.as_str(), |(p, _)| p);
                match parse(&req.method, path) {
                    Ok(route) => Ok(route.template),
                    Err(error) => Err(refusal(400, error.to_string(), None)),
                }
            }
            Err(error @ RouteError::Malformed { .. }) => Err(refusal(400, error.to_string(), None)),
        }
    }

    /// What `AuthZReq` carries for this client request, or the daemon's own answer when no
    /// plugin is asked at all (301, 404, or a body too large on 29.3).
    pub fn plugin_request(&self, req: &ClientRequest) -> Result<AuthzRequest, Refusal> {
        self.route(req)?;
        let body = self.forwarded_request_body(req)?;
        // middleware.go: the first peer certificate's CommonName, method "TLS".
        let (user, user_authn_method) = match &req.tls_user {
            Some(user) => (user.clone(), "TLS".to_owned()),
            None => (String::new(), String::new()),
        };
        Ok(AuthzRequest {
            user,
            user_authn_method,
            request_method: req.method.clone(),
            request_uri: req.target.clone(),
            request_body: body,
            request_headers: go::flatten_headers(&self.server_request_headers(req)),
            request_peer_certificates: req.peer_certificates.clone(),
            ..AuthzRequest::default()
        })
    }

    /// What `AuthZRes` carries once the handler answered `resp`. Only meaningful when
    /// [`Profile::plugin_request`] let the call through.
    pub fn plugin_response(&self, req: &ClientRequest, resp: &ClientResponse) -> AuthzRequest {
        let mut message = self.plugin_request(req).unwrap_or_default();
        let template = self.route(req).unwrap_or_default();
        let implicit = IMPLICIT_STATUS_ROUTES
            .iter()
            .find(|(method, path, _)| *method == req.method && *path == template);
        let flushed = resp.kind == ResponseKind::Streamed
            || (resp.kind == ResponseKind::Buffered && resp.body.len() > self.response_buffer);
        if flushed {
            // FlushAll resets the status and headers; the body tail has no Content-Type.
            return message;
        }
        let mut dropped = vec!["Date", "Connection", "Transfer-Encoding"];
        if req.method != "HEAD" {
            dropped.push("Content-Length");
        }
        match resp.kind {
            ResponseKind::HandlerError => dropped.extend(["Content-Type", "Content-Length"]),
            ResponseKind::Hijacked => dropped.extend(["Content-Type", "Upgrade"]),
            ResponseKind::Buffered if implicit.is_some_and(|(_, _, sniffed)| *sniffed) => {
                dropped.push("Content-Type")
            }
            _ => {}
        }
        let headers: Vec<(String, String)> = resp
            .headers
            .iter()
            .filter(|(name, _)| !dropped.iter().any(|d| d.eq_ignore_ascii_case(name)))
            .cloned()
            .collect();
        message.response_headers = go::flatten_headers(&headers);
        if resp.kind == ResponseKind::Buffered {
            if implicit.is_none() {
                message.response_status_code = i64::from(resp.status);
            }
            if self.sends_body(&req.target, go::header_get(&headers, "Content-Type")) {
                message.response_body = resp.body.clone();
            }
        }
        message
    }

    /// `RequestBody` as the profile's daemon fills it, or its refusal of an oversized body.
    fn forwarded_request_body(&self, req: &ClientRequest) -> Result<Vec<u8>, Refusal> {
        let content_type = go::header_get(&req.headers, "Content-Type");
        if !self.sends_body(&req.target, content_type) {
            return Ok(Vec::new());
        }
        let length = req.content_length();
        match self.request_body {
            RequestBodyRule::PositiveContentLength { limit } => {
                let forwarded = length > 0 && (length as u64) < limit as u64;
                Ok(if forwarded {
                    req.body.clone()
                } else {
                    Vec::new()
                })
            }
            RequestBodyRule::SkipLarge { limit } => {
                let announced = (length > 0 || req.chunked) && length < limit as i64;
                let forwarded = announced && req.body.len() < limit;
                Ok(if forwarded {
                    req.body.clone()
                } else {
                    Vec::new()
                })
            }
            RequestBodyRule::RefuseLarge { limit } => {
                if req.body.len() > limit {
                    return Err(Refusal {
                        status: 500,
                        message: format!(
                            "request body too large for authorization plugin: size exceeds {limit} bytes"
                        ),
                        location: None,
                    });
                }
                Ok(req.body.clone())
            }
        }
    }

    /// `sendBody`: not for `/auth` (per the profile's rule), only for `application/json`.
    fn sends_body(&self, target: &str, content_type: Option<&str>) -> bool {
        let is_auth = match self.auth_endpoint {
            AuthEndpointRule::RawTargetSuffix => target.ends_with("/auth"),
            AuthEndpointRule::DecodedPathPrefix => {
                let path = target.split_once('?').map_or(target, |(p, _)| p);
                match go::path_unescape(path) {
                    Some(path) => go::is_auth_endpoint(&path),
                    // url.Parse failed: sendBody answers false.
                    None => true,
                }
            }
            AuthEndpointRule::NotWithheld => false,
        };
        !is_auth
            && go::parse_media_type(content_type.unwrap_or(""))
                .is_some_and(|media| media == "application/json")
    }

    /// The request header lines as Go's server keeps them in `r.Header`: `Host` moved out,
    /// `Transfer-Encoding` (and with it `Content-Length`) removed for chunked bodies.
    fn server_request_headers(&self, req: &ClientRequest) -> Vec<(String, String)> {
        req.headers
            .iter()
            .filter(|(name, _)| {
                let moved_out = name.eq_ignore_ascii_case("Host")
                    || name.eq_ignore_ascii_case("Transfer-Encoding")
                    || (req.chunked && name.eq_ignore_ascii_case("Content-Length"));
                !moved_out
            })
            .cloned()
            .collect()
    }
}
