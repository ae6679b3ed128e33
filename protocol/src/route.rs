//! API routes as dockerd routes them: decoded path, optional `/vX.Y` prefix, query apart.
//!
//! `RequestUri` is the raw request target; dockerd percent-decodes it and ignores the query
//! before matching its route table, so policies must match on the route parsed here and
//! never on the raw string.
//!
//! What [`parse`] reproduces, read from Go 1.19's `net/http` and `net/url`, the gorilla mux
//! v1.8.0 vendored in moby v20.10.24, and moby's `createMux` (v20.10.24 and HEAD):
//! - the request line: the method is an HTTP token, the target has no space and no control
//!   byte; `url.ParseRequestURI` accepts origin form (`/path`), absolute form
//!   (`scheme://authority/path`, also `scheme:/path`) and `*`; `OPTIONS *` is answered by
//!   Go's server itself and never reaches dockerd's handlers;
//! - `r.URL.Path` is the percent-decoded path (`%2F` becomes `/`, `+` stays `+`); a bad escape
//!   is a 400; the query is everything after the first `?` and a `#` is part of the path;
//! - gorilla mux answers 301 when its `cleanPath` of the decoded path differs from it (`//`,
//!   `/./`, `/../`, a trailing `/.` or `/..`, an empty path), also when decoding produced them;
//! - routes match the decoded path with anchored regular expressions: `{x}` is `[^/]+`,
//!   `{x:.*}` any run without a newline (greedy), the first registered route wins, every route
//!   exists with a `/v{version:[0-9.]+}` prefix and without; an unknown path or a wrong method
//!   is a 404 that never reaches plugins;
//! - the query is read by `url.ParseQuery`: `&` separates, `+` is a space, a pair with a
//!   bad escape or (since Go 1.17) a `;` is dropped and makes `ParseForm` fail.

use std::borrow::Cow;
use std::sync::LazyLock;

/// A request target resolved to the dockerd route that will execute it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method, upper case as sent.
    pub method: String,
    /// The API version of a `/v<version>` prefix, if any.
    pub version: Option<String>,
    /// The decoded path without the version prefix and without the query.
    pub path: String,
    /// The route template dockerd matched, such as `/containers/{name}/exec`.
    pub template: &'static str,
    /// Template parameters in order, decoded (`("name", "web")`).
    pub params: Vec<(&'static str, String)>,
    /// Query parameters in order, decoded.
    pub query: Vec<(String, String)>,
}

impl Route {
    /// The value of a template parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a query parameter as Go's `r.Form.Get` returns it: the first one.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the call's API version is below `version`, compared like moby's
    /// `versions.LessThan` (dot-separated numeric parts, missing parts are 0).
    ///
    /// A route without a version prefix runs at the daemon's current version, which is never
    /// below the versions policies ask about.
    pub fn api_version_below(&self, version: &str) -> bool {
        match &self.version {
            None => false,
            Some(own) => compare_versions(own, version) == std::cmp::Ordering::Less,
        }
    }
}

/// Why a request target cannot be trusted to route the way it parses. Every variant means
/// "deny".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The target is not an origin-form or absolute-form request target.
    #[error("malformed request target {target:?}: {reason}")]
    Malformed {
        /// The raw target.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
    /// dockerd has no route for this method and path (it answers 404).
    #[error("no dockerd route for {method} {path}")]
    Unknown {
        /// The method.
        method: String,
        /// The decoded path.
        path: String,
    },
    /// The decoded path is not in clean form; dockerd's router answers 301 to the clean one.
    #[error("unclean path {path:?} is redirected by dockerd to {cleaned:?}")]
    Unclean {
        /// The decoded path.
        path: String,
        /// Where dockerd redirects.
        cleaned: String,
    },
    /// The query is one Go's `ParseQuery` refuses in part, so handlers see something else.
    #[error("query {query:?} is not read whole by dockerd: {reason}")]
    Query {
        /// The raw query.
        query: String,
        /// What Go refuses in it.
        reason: String,
    },
}

/// Whether dockerd's handler may read form values from the request body as well as from the
/// query, so that [`Route::query`] is not all it acts on.
///
/// Go's `Request.ParseForm` reads a `POST`, `PUT` or `PATCH` body with media type
/// `application/x-www-form-urlencoded` into `r.Form` ahead of the query (so `FormValue` takes
/// the body's value), and `FormValue` also parses `multipart/form-data` bodies, whatever the
/// method, when nothing parsed the form before. dockerd's handlers (build's `networkmode`,
/// `cgroupparent`, `securityopt`...) read `r.Form`. Such bodies are never forwarded to
/// plugins, so a policy that reads query parameters must refuse these requests. Pass the
/// `Content-Type` the plugin received.
///
/// Blind spot: with several `Content-Type` headers dockerd uses the first and plugins are sent
/// only the last, so a form body can hide behind a second header; no plugin can see that.
pub fn form_body_may_set_parameters(method: &str, content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/x-www-form-urlencoded" => matches!(method, "POST" | "PUT" | "PATCH"),
        // `ParseMultipartForm` does not look at the method.
        "multipart/form-data" => true,
        _ => false,
    }
}

/// Resolves `method` and the raw `request_uri` to the route dockerd executes, or says why
/// dockerd would not execute it the way it parses.
pub fn parse(method: &str, request_uri: &str) -> Result<Route, RouteError> {
    let malformed = |reason: &str| RouteError::Malformed {
        target: request_uri.to_owned(),
        reason: reason.to_owned(),
    };
    if !is_token(method) {
        return Err(malformed("the method is not an HTTP token"));
    }
    let target = parse_request_target(method, request_uri).map_err(malformed)?;
    let path = unescape(&target.raw_path, false).map_err(|e| match e {
        Unescape::BadEscape => malformed("bad percent escape in the path"),
        Unescape::NotUtf8 => malformed("decoded path is not UTF-8"),
    })?;
    if !is_clean(&path) {
        return Err(RouteError::Unclean {
            cleaned: clean_path(&path),
            path: path.into_owned(),
        });
    }
    let query = parse_query(&target.raw_query).map_err(|reason| RouteError::Query {
        query: target.raw_query.clone().into_owned(),
        reason,
    })?;
    let Some(found) = match_route(method, &path) else {
        return Err(RouteError::Unknown {
            method: method.to_owned(),
            path: path.into_owned(),
        });
    };
    Ok(Route {
        method: method.to_owned(),
        version: found.version.map(str::to_owned),
        path: found.path.to_owned(),
        template: found.spec.template,
        params: found
            .captures
            .as_slice()
            .iter()
            .map(|&(name, value)| (name, value.to_owned()))
            .collect(),
        query,
    })
}

/// The pieces of a request target that routing reads, still percent-encoded; borrowed from
/// the target unless Go reads it through a rewritten URL.
struct Target<'t> {
    raw_path: Cow<'t, str>,
    raw_query: Cow<'t, str>,
}

impl Target<'_> {
    fn into_owned(self) -> Target<'static> {
        Target {
            raw_path: Cow::Owned(self.raw_path.into_owned()),
            raw_query: Cow::Owned(self.raw_query.into_owned()),
        }
    }
}

/// Go's `url.ParseRequestURI` as `http.ReadRequest` calls it, reduced to what routing reads.
fn parse_request_target<'t>(method: &str, target: &'t str) -> Result<Target<'t>, &'static str> {
    if target.is_empty() {
        return Err("empty request target");
    }
    if any_byte(target, |b| b == b' ') {
        return Err("space in the request target (Go splits the request line there)");
    }
    if target == "*" {
        if method == "OPTIONS" {
            return Err("OPTIONS * is answered by Go's HTTP server, not dockerd");
        }
        // Go keeps `*` as the path; the router then redirects it.
        return Ok(Target {
            raw_path: Cow::Borrowed(target),
            raw_query: Cow::Borrowed(""),
        });
    }
    // `CONNECT host:port` is read as the authority of an `http://` URL.
    if method == "CONNECT" && !target.starts_with('/') {
        return parse_url(&format!("http://{target}")).map(Target::into_owned);
    }
    parse_url(target)
}

/// The path and query of an origin-form or absolute-form request target.
fn parse_url(url: &str) -> Result<Target<'_>, &'static str> {
    if any_byte(url, |b| (b < 0x20) | (b == 0x7f)) {
        return Err("control byte in the request target");
    }
    let (has_scheme, rest) = match scheme_split(url)? {
        Some((_scheme, rest)) => (true, rest),
        None => (false, url),
    };
    let (before_query, raw_query) = match split_at_byte(rest, b'?') {
        Some((path, query)) => (path, query),
        None => (rest, ""),
    };
    if !before_query.starts_with('/') {
        if has_scheme {
            // An opaque URL: Go leaves the path empty, which the router redirects to `/`.
            return Ok(Target {
                raw_path: Cow::Borrowed(""),
                raw_query: Cow::Borrowed(raw_query),
            });
        }
        return Err("invalid URI for request");
    }
    let mut path = before_query;
    if has_scheme {
        if let Some(authority_and_path) = path.strip_prefix("//") {
            let end = authority_and_path
                .find('/')
                .unwrap_or(authority_and_path.len());
            check_authority(&authority_and_path[..end])?;
            path = &authority_and_path[end..];
        }
    }
    Ok(Target {
        raw_path: Cow::Borrowed(path),
        raw_query: Cow::Borrowed(raw_query),
    })
}

/// Go's `getScheme`: a letter, then letters, digits, `+`, `-`, `.`, up to a `:`.
fn scheme_split(target: &str) -> Result<Option<(&str, &str)>, &'static str> {
    for (i, c) in target.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme"),
            b':' => return Ok(Some((&target[..i], &target[i + 1..]))),
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// Go's `parseAuthority`: optional userinfo before the last `@`, then a host with an
/// optional numeric port, IPv6 literals in brackets.
fn check_authority(authority: &str) -> Result<(), &'static str> {
    let host = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let valid = userinfo
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b));
            if !valid || percent_decode(userinfo.as_bytes(), false).is_none() {
                return Err("invalid userinfo");
            }
            &authority[at + 1..]
        }
        None => authority,
    };
    let name = if let Some(literal) = host.strip_prefix('[') {
        let close = literal.rfind(']').ok_or("missing ']' in host")?;
        check_port(&literal[close + 1..])?;
        &literal[..close]
    } else {
        match host.rfind(':') {
            Some(colon) => {
                check_port(&host[colon..])?;
                &host[..colon]
            }
            None => host,
        }
    };
    let valid = name
        .bytes()
        .all(|b| b >= 0x80 || b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:[]<>\"%".contains(&b));
    if !valid || !host_escapes_are_valid(name) {
        return Err("invalid host");
    }
    Ok(())
}

/// In a host, Go accepts `%XX` only for non-ASCII bytes, and `%25`.
fn host_escapes_are_valid(host: &str) -> bool {
    let bytes = host.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        if b != b'%' {
            return true;
        }
        match (bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(&hi), Some(&lo)) => match (hex_value(hi), hex_value(lo)) {
                (Some(h), Some(_)) => h >= 8 || (hi == b'2' && lo == b'5'),
                _ => false,
            },
            _ => false,
        }
    })
}

fn check_port(port: &str) -> Result<(), &'static str> {
    match port.strip_prefix(':') {
        None if port.is_empty() => Ok(()),
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err("invalid port"),
    }
}

/// RFC 7230 token characters, which Go's `validMethod` requires of a method.
fn is_token(method: &str) -> bool {
    !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Why a percent-encoded component does not decode.
enum Unescape {
    /// A `%` without two hex digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

/// Go's `url.unescape` of a path or (`plus_is_space`) query component, as text; borrowed when
/// nothing in it needs decoding, as in nearly every request.
fn unescape(s: &str, plus_is_space: bool) -> Result<Cow<'_, str>, Unescape> {
    if !any_byte(s, |b| (b == b'%') | (plus_is_space & (b == b'+'))) {
        return Ok(Cow::Borrowed(s));
    }
    let bytes = percent_decode(s.as_bytes(), plus_is_space).ok_or(Unescape::BadEscape)?;
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| Unescape::NotUtf8)
}

/// Go's `url.unescape`: `%XX` with two hex digits; `plus_is_space` for query components.
fn percent_decode(input: &[u8], plus_is_space: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let hi = hex_value(*input.get(i + 1)?)?;
                let lo = hex_value(*input.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether gorilla mux's `cleanPath` leaves `path` as it is (see [`clean_path`]): rooted, and
/// no empty, `.` or `..` element anywhere but a final empty one (a trailing slash).
fn is_clean(path: &str) -> bool {
    let Some(mut rest) = path.strip_prefix('/') else {
        return false;
    };
    loop {
        let (segment, next) = match split_at_byte(rest, b'/') {
            Some((segment, next)) => (segment, Some(next)),
            None => (rest, None),
        };
        if segment == "." || segment == ".." || (segment.is_empty() && next.is_some()) {
            return false;
        }
        match next {
            Some(next) => rest = next,
            None => return true,
        }
    }
}

/// Whether any byte of `s` passes `test`. Eight bytes are tested together, without stopping
/// inside them at a hit, which lets the compiler test them at once (with a `test` that does
/// not short-circuit either): these checks run on every call and almost never hit.
fn any_byte(s: &str, test: impl Fn(u8) -> bool) -> bool {
    let chunks = s.as_bytes().chunks_exact(8);
    let tail = chunks.remainder();
    chunks
        .into_iter()
        .any(|chunk| chunk.iter().fold(false, |hit, &b| hit | test(b)))
        || tail.iter().any(|&b| test(b))
}

/// `s` around the first `byte` (ASCII), without it. A plain byte loop: the strings here are
/// short, where it beats the general `char` searcher.
fn split_at_byte(s: &str, byte: u8) -> Option<(&str, &str)> {
    let at = s.bytes().position(|b| b == byte)?;
    Some((&s[..at], &s[at + 1..]))
}

/// gorilla mux's `cleanPath`: Go's `path.Clean` of the rooted path, trailing slash kept.
fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let rooted = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let mut cleaned = go_path_clean_rooted(&rooted);
    if rooted.ends_with('/') && cleaned != "/" {
        cleaned.push('/');
    }
    cleaned
}

/// Go's `path.Clean` for a path that starts with `/`.
fn go_path_clean_rooted(path: &str) -> String {
    let bytes = path.as_bytes();
    let n = bytes.len();
    let mut out: Vec<u8> = vec![b'/'];
    let mut r = 1;
    while r < n {
        let at_end_or_slash = |i: usize| i == n || bytes[i] == b'/';
        if bytes[r] == b'/' || (bytes[r] == b'.' && at_end_or_slash(r + 1)) {
            // Empty and `.` elements vanish.
            r += 1;
        } else if bytes[r] == b'.' && r + 1 < n && bytes[r + 1] == b'.' && at_end_or_slash(r + 2) {
            r += 2;
            // Back up to the previous slash, never above the root.
            while out.len() > 1 && out[out.len() - 1] != b'/' {
                out.pop();
            }
            if out.len() > 1 {
                out.pop();
            }
        } else {
            if out.len() != 1 {
                out.push(b'/');
            }
            while r < n && bytes[r] != b'/' {
                out.push(bytes[r]);
                r += 1;
            }
        }
    }
    // Only whole UTF-8 runs between slashes are copied, so this cannot split a character.
    String::from_utf8_lossy(&out).into_owned()
}

/// Go's `url.ParseQuery`, keeping order; any pair Go drops makes the whole query an error,
/// because the handler's `ParseForm` then fails or sees less than the plugin would.
fn parse_query(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    if raw.is_empty() {
        return Ok(pairs);
    }
    // One scan of the whole query: in nearly every call no pair needs decoding or refusing.
    let plain = !any_byte(raw, |b| (b == b'%') | (b == b'+') | (b == b';'));
    let mut rest = Some(raw);
    while let Some(current) = rest {
        let piece = match split_at_byte(current, b'&') {
            Some((piece, next)) => {
                rest = Some(next);
                piece
            }
            None => {
                rest = None;
                current
            }
        };
        if !plain && any_byte(piece, |b| b == b';') {
            return Err("invalid semicolon separator in query".to_owned());
        }
        if piece.is_empty() {
            continue;
        }
        let (key, value) = split_at_byte(piece, b'=').unwrap_or((piece, ""));
        let decode = |s: &str| match unescape(s, true) {
            Ok(text) => Ok(text.into_owned()),
            Err(Unescape::BadEscape) => Err(format!("invalid URL escape in {s:?}")),
            Err(Unescape::NotUtf8) => Err(format!("{s:?} does not decode to UTF-8")),
        };
        if plain {
            pairs.push((key.to_owned(), value.to_owned()));
        } else {
            pairs.push((decode(key)?, decode(value)?));
        }
    }
    Ok(pairs)
}

/// moby's `versions.compare`: numeric dot-separated parts, unparsable or missing parts 0.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    if a == b {
        return std::cmp::Ordering::Equal;
    }
    let parts_a: Vec<&str> = a.split('.').collect();
    let parts_b: Vec<&str> = b.split('.').collect();
    let part = |parts: &[&str], i: usize| parts.get(i).map_or(0, |p| go_atoi(p));
    for i in 0..parts_a.len().max(parts_b.len()) {
        let ordering = part(&parts_a, i).cmp(&part(&parts_b, i));
        if ordering.is_ne() {
            return ordering;
        }
    }
    std::cmp::Ordering::Equal
}

/// Go's `strconv.Atoi` as `versions.compare` uses it: errors read as 0 except overflow,
/// which saturates.
fn go_atoi(s: &str) -> i64 {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    match digits.parse::<i64>() {
        Ok(v) if negative => -v,
        Ok(v) => v,
        Err(_) if negative => i64::MIN,
        Err(_) => i64::MAX,
    }
}

/// dockerd's route table, union of v20.10.24 and HEAD, in registration order (the first
/// match wins). One route a line: method (`ANY` for no method matcher), moby's template,
/// and `unversioned` when the route is registered without the `/v{version}` twin.
const ROUTE_TABLE: &str = "
GET /containers/{name:.*}/checkpoints
POST /containers/{name:.*}/checkpoints
DELETE /containers/{name}/checkpoints/{checkpoint}
HEAD /containers/{name:.*}/archive
GET /containers/json
GET /containers/{name:.*}/export
GET /containers/{name:.*}/changes
GET /containers/{name:.*}/json
GET /containers/{name:.*}/top
GET /containers/{name:.*}/logs
GET /containers/{name:.*}/stats
GET /containers/{name:.*}/attach/ws
GET /exec/{id:.*}/json
GET /containers/{name:.*}/archive
POST /containers/create
POST /containers/{name:.*}/kill
POST /containers/{name:.*}/pause
POST /containers/{name:.*}/unpause
POST /containers/{name:.*}/restart
POST /containers/{name:.*}/start
POST /containers/{name:.*}/stop
POST /containers/{name:.*}/wait
POST /containers/{name:.*}/resize
POST /containers/{name:.*}/attach
POST /containers/{name:.*}/copy
POST /containers/{name:.*}/exec
POST /exec/{name:.*}/start
POST /exec/{name:.*}/resize
POST /containers/{name:.*}/rename
POST /containers/{name:.*}/update
POST /containers/prune
POST /commit
PUT /containers/{name:.*}/archive
DELETE /containers/{name:.*}
GET /images/json
GET /images/search
GET /images/get
GET /images/{name:.*}/get
GET /images/{name:.*}/history
GET /images/{name:.*}/json
GET /images/{name:.*}/attestations
POST /images/load
POST /images/create
POST /images/{name:.*}/push
POST /images/{name:.*}/tag
POST /images/prune
DELETE /images/{name:.*}
OPTIONS /{anyroute:.*}
GET /_ping
HEAD /_ping
GET /events
GET /info
GET /version
GET /system/df
POST /auth
GET /volumes
GET /volumes/{name:.*}
POST /volumes/create
POST /volumes/prune
PUT /volumes/{name:.*}
DELETE /volumes/{name:.*}
POST /build
POST /build/prune
POST /build/cancel
POST /session
POST /swarm/init
POST /swarm/join
POST /swarm/leave
GET /swarm
GET /swarm/unlockkey
POST /swarm/update
POST /swarm/unlock
GET /services
GET /services/{id}
POST /services/create
POST /services/{id}/update
DELETE /services/{id}
GET /services/{id}/logs
GET /nodes
GET /nodes/{id}
DELETE /nodes/{id}
POST /nodes/{id}/update
GET /tasks
GET /tasks/{id}
GET /tasks/{id}/logs
GET /secrets
POST /secrets/create
DELETE /secrets/{id}
GET /secrets/{id}
POST /secrets/{id}/update
GET /configs
POST /configs/create
DELETE /configs/{id}
GET /configs/{id}
POST /configs/{id}/update
GET /plugins
GET /plugins/{name:.*}/json
GET /plugins/privileges
DELETE /plugins/{name:.*}
POST /plugins/{name:.*}/enable
POST /plugins/{name:.*}/disable
POST /plugins/pull
POST /plugins/{name:.*}/push
POST /plugins/{name:.*}/upgrade
POST /plugins/{name:.*}/set
POST /plugins/create
GET /distribution/{name:.*}/json
POST /grpc
GET /networks
GET /networks/
GET /networks/{id:.+}
POST /networks/create
POST /networks/{id:.*}/connect
POST /networks/{id:.*}/disconnect
POST /networks/prune
DELETE /networks/{id:.*}
GET /debug/vars
GET /debug/pprof/
GET /debug/pprof/cmdline
GET /debug/pprof/profile
GET /debug/pprof/symbol
GET /debug/pprof/trace
GET /debug/pprof/{name}
ANY /debug/vars unversioned
ANY /debug/pprof/ unversioned
ANY /debug/pprof/cmdline unversioned
ANY /debug/pprof/profile unversioned
ANY /debug/pprof/symbol unversioned
ANY /debug/pprof/trace unversioned
ANY /debug/pprof/{name} unversioned
";

/// One route of the table, ready to match.
#[derive(Debug)]
struct RouteSpec {
    /// `None` matches any method (20.10's debug routes).
    method: Option<&'static str>,
    /// The template without variable patterns (`/containers/{name}/exec`).
    template: &'static str,
    /// Literal runs and variables, in order; the first is always a literal.
    pieces: Vec<Piece>,
    /// dockerd also registers the route under `/v{version:[0-9.]+}`.
    versioned: bool,
    /// The first literal, which every matching path starts with.
    head: &'static str,
    /// The last literal when it follows a variable (else empty): every matching path ends
    /// with it, so most paths that cannot match are turned away before a variable is walked.
    tail: &'static str,
}

impl RouteSpec {
    fn new(method: &'static str, template: &'static str, versioned: bool) -> RouteSpec {
        let pieces = compile_template(template)
            .unwrap_or_else(|| panic!("route table template {template:?} does not compile"));
        let Some(Piece::Literal(head)) = pieces.first() else {
            panic!("route table template {template:?} does not start with a literal");
        };
        let tail = match pieces.last() {
            Some(Piece::Literal(tail)) if pieces.len() > 1 => tail,
            _ => "",
        };
        let vars = pieces
            .iter()
            .filter(|p| matches!(p, Piece::Var(..)))
            .count();
        assert!(
            vars <= MAX_VARS,
            "route table template {template:?} has more than {MAX_VARS} variables"
        );
        let method = (method != "ANY").then_some(method);
        assert!(
            method.is_none_or(|m| METHODS.contains(&m)),
            "route table method {method:?} is missing from METHODS"
        );
        RouteSpec {
            method,
            template: display_template(&pieces).leak(),
            versioned,
            head,
            tail,
            pieces,
        }
    }

    /// Anchored match with Go's leftmost-first preference: each variable takes the longest
    /// run that lets the rest match.
    fn matches<'t>(&self, text: &'t str) -> Option<Captures<'t>> {
        let after_head = text.strip_prefix(self.head)?;
        if after_head.len() < self.tail.len() || !after_head.ends_with(self.tail) {
            return None;
        }
        let mut captures = Captures::default();
        match_from(&self.pieces[1..], after_head, &mut captures).then_some(captures)
    }
}

/// A part of a compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(&'static str),
    Var(&'static str, Pattern),
}

/// The variable patterns dockerd's templates use, as Go's regexp reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// `[^/]+`, the gorilla mux default.
    NoSlash,
    /// `.*`: anything but a newline, possibly empty.
    AnyOrEmpty,
    /// `.+`: anything but a newline, at least one character.
    Any,
}

impl Pattern {
    fn from_regex(regex: &str) -> Option<Pattern> {
        match regex {
            "[^/]+" => Some(Pattern::NoSlash),
            ".*" => Some(Pattern::AnyOrEmpty),
            ".+" => Some(Pattern::Any),
            _ => None,
        }
    }

    /// The one (ASCII) byte the pattern stops at.
    fn stop(self) -> u8 {
        match self {
            Pattern::NoSlash => b'/',
            Pattern::AnyOrEmpty | Pattern::Any => b'\n',
        }
    }

    fn min_len(self) -> usize {
        match self {
            Pattern::AnyOrEmpty => 0,
            _ => 1,
        }
    }
}

/// Splits a moby template into pieces; `None` if it uses a pattern we do not model.
fn compile_template(template: &'static str) -> Option<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Literal(&rest[..open]));
        }
        let close = open + rest[open..].find('}')?;
        let inner = &rest[open + 1..close];
        let (name, pattern) = match inner.split_once(':') {
            Some((name, regex)) => (name, Pattern::from_regex(regex)?),
            None => (inner, Pattern::NoSlash),
        };
        pieces.push(Piece::Var(name, pattern));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest));
    }
    Some(pieces)
}

/// The template as policies name it: variables without their patterns.
fn display_template(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|piece| match piece {
            Piece::Literal(text) => (*text).to_owned(),
            Piece::Var(name, _) => format!("{{{name}}}"),
        })
        .collect()
}

/// The methods the table's routes name. A request with another method can match only the
/// routes without a method matcher.
const METHODS: [&str; 6] = ["GET", "POST", "DELETE", "HEAD", "PUT", "OPTIONS"];

/// Where a method's routes are listed in [`ByMethod`]: its place in [`METHODS`], or the
/// last list for any other method.
fn method_slot(method: &str) -> usize {
    METHODS
        .iter()
        .position(|known| *known == method)
        .unwrap_or(METHODS.len())
}

/// Route indexes in registration order for each [`method_slot`]: the routes with that
/// method and those without a method matcher.
type ByMethod = [Vec<u16>; METHODS.len() + 1];

/// Slots of the open-addressed first-segment index; a power of two well above the number
/// of first segments the table fixes, so probes are short.
const SEGMENT_SLOTS: usize = 128;

/// An empty slot of the first-segment index.
const NO_SEGMENT: u8 = u8::MAX;

/// The route table in registration order, with the routes that can match a path indexed by
/// the path's first segment and the method, so that a call is tried against a handful of
/// routes, not all.
struct Table {
    routes: Vec<RouteSpec>,
    /// For each first segment some template fixes (`containers`), the routes that can match
    /// a path starting with it: those with that segment and those that fix none.
    by_segment: Vec<(&'static str, ByMethod)>,
    /// Open-addressed by [`segment_hash`]: the index in `by_segment`, or [`NO_SEGMENT`].
    segment_slots: [u8; SEGMENT_SLOTS],
    /// The routes whose template fixes no first segment (`/{anyroute:.*}`).
    any_segment: ByMethod,
}

impl Table {
    fn new(routes: Vec<RouteSpec>) -> Table {
        let segments: Vec<Option<&'static str>> = routes
            .iter()
            .map(|route| fixed_first_segment(&route.pieces))
            .collect();
        let mut fixed: Vec<&'static str> = segments.iter().flatten().copied().collect();
        fixed.sort_unstable();
        fixed.dedup();
        assert!(fixed.len() < SEGMENT_SLOTS / 2 && fixed.len() < usize::from(NO_SEGMENT));
        let routes_for = |wanted: Option<&str>| -> ByMethod {
            std::array::from_fn(|slot| {
                (0..routes.len())
                    .filter(|&i| segments[i].is_none() || segments[i] == wanted)
                    .filter(|&i| routes[i].method.is_none_or(|m| method_slot(m) == slot))
                    .map(|i| u16::try_from(i).expect("the route table fits u16 indexes"))
                    .collect()
            })
        };
        let mut segment_slots = [NO_SEGMENT; SEGMENT_SLOTS];
        for (at, segment) in fixed.iter().enumerate() {
            let mut slot = segment_hash(segment);
            while segment_slots[slot] != NO_SEGMENT {
                slot = (slot + 1) % SEGMENT_SLOTS;
            }
            segment_slots[slot] = at as u8;
        }
        Table {
            by_segment: fixed
                .iter()
                .map(|&segment| (segment, routes_for(Some(segment))))
                .collect(),
            segment_slots,
            any_segment: routes_for(None),
            routes,
        }
    }

    /// The routes that can match `method` `path`, in registration order.
    fn candidates(&self, method_slot: usize, path: &str) -> &[u16] {
        let rest = path.strip_prefix('/').unwrap_or(path);
        let segment = split_at_byte(rest, b'/').map_or(rest, |(segment, _)| segment);
        let mut slot = segment_hash(segment);
        loop {
            let at = self.segment_slots[slot];
            if at == NO_SEGMENT {
                return &self.any_segment[method_slot];
            }
            let (fixed, by_method) = &self.by_segment[usize::from(at)];
            if *fixed == segment {
                return &by_method[method_slot];
            }
            slot = (slot + 1) % SEGMENT_SLOTS;
        }
    }
}

/// Where a first segment starts its probe in [`Table::segment_slots`]: its length and three
/// of its bytes mixed, which already tells the table's segments nearly all apart.
fn segment_hash(segment: &str) -> usize {
    let bytes = segment.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return 0;
    };
    let mixed = bytes.len() as u64
        | u64::from(first) << 8
        | u64::from(bytes[bytes.len() / 2]) << 16
        | u64::from(last) << 24;
    (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 57) as usize % SEGMENT_SLOTS
}

/// The first path segment every path a template matches starts with, if the template fixes
/// one (its first literal runs past that segment, or is the whole template).
fn fixed_first_segment(pieces: &[Piece]) -> Option<&'static str> {
    let Some(Piece::Literal(literal)) = pieces.first() else {
        return None;
    };
    let rest = literal.strip_prefix('/')?;
    match rest.find('/') {
        Some(end) => Some(&rest[..end]),
        None if pieces.len() == 1 => Some(rest),
        None => None,
    }
}

static ROUTES: LazyLock<Table> = LazyLock::new(|| {
    let routes = ROUTE_TABLE
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let (method, template) = (fields.next(), fields.next());
            let (Some(method), Some(template)) = (method, template) else {
                panic!("route table line {line:?} lacks a method or a template");
            };
            RouteSpec::new(method, template, fields.next() != Some("unversioned"))
        })
        .collect();
    Table::new(routes)
});

/// The most variables a template has (`/containers/{name}/checkpoints/{checkpoint}`).
const MAX_VARS: usize = 2;

/// A template's captures, kept on the stack while matching.
#[derive(Default)]
struct Captures<'t> {
    len: usize,
    items: [(&'static str, &'t str); MAX_VARS],
}

impl<'t> Captures<'t> {
    fn as_slice(&self) -> &[(&'static str, &'t str)] {
        &self.items[..self.len]
    }
}

/// A matched route: the version prefix, the path without it, and the template's captures,
/// all borrowed from the decoded path.
struct Found<'p> {
    spec: &'static RouteSpec,
    version: Option<&'p str>,
    path: &'p str,
    captures: Captures<'p>,
}

/// `/v{version:[0-9.]+}` at the start of `path`: the version and the rest. Every template
/// starts with `/`, which `[0-9.]` never matches, so the version is the whole run of digits
/// and dots and the rest must start with `/`: no other split can match.
fn split_version(path: &str) -> Option<(&str, &str)> {
    let after = path.strip_prefix("/v")?;
    let len = after
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    (len > 0 && after[len..].starts_with('/')).then(|| (&after[..len], &after[len..]))
}

/// The first route dockerd would dispatch `method` `path` to, with its captures. Each route
/// is tried with its version prefix first, then without, as dockerd registers them.
fn match_route<'p>(method: &str, path: &'p str) -> Option<Found<'p>> {
    let table = &*ROUTES;
    let slot = method_slot(method);
    let versioned = split_version(path);
    let with_version = versioned.map_or(&[][..], |(_, rest)| table.candidates(slot, rest));
    let mut with_version = with_version.iter().copied().peekable();
    let mut plain = table.candidates(slot, path).iter().copied().peekable();
    // Both lists are in registration order: walk them together so the first route wins.
    loop {
        let next = match (with_version.peek(), plain.peek()) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => return None,
        };
        let try_versioned = with_version.next_if_eq(&next).is_some();
        let try_plain = plain.next_if_eq(&next).is_some();
        let spec = &table.routes[usize::from(next)];
        if let (true, true, Some((version, rest))) = (try_versioned, spec.versioned, versioned) {
            if let Some(captures) = spec.matches(rest) {
                return Some(Found {
                    spec,
                    version: Some(version),
                    path: rest,
                    captures,
                });
            }
        }
        if try_plain {
            if let Some(captures) = spec.matches(path) {
                return Some(Found {
                    spec,
                    version: None,
                    path,
                    captures,
                });
            }
        }
    }
}

/// Matches `text` against the rest of a template, pushing what each variable takes.
fn match_from<'t>(pieces: &[Piece], text: &'t str, captures: &mut Captures<'t>) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return text.is_empty();
    };
    match first {
        Piece::Literal(literal) => match text.strip_prefix(literal) {
            Some(remaining) => match_from(rest, remaining, captures),
            None => false,
        },
        Piece::Var(name, pattern) => {
            // The stop byte is ASCII, so its position is a character boundary.
            let stop = pattern.stop();
            let reach = text.bytes().position(|b| b == stop).unwrap_or(text.len());
            // Every end the pattern can reach, longest first.
            let ends = (pattern.min_len()..=reach)
                .rev()
                .filter(|&end| text.is_char_boundary(end));
            for end in ends {
                // A literal must follow: skip ends where it cannot start.
                if let Some(Piece::Literal(next)) = rest.first() {
                    if !text[end..].starts_with(next) {
                        continue;
                    }
                }
                captures.items[captures.len] = (name, &text[..end]);
                captures.len += 1;
                if match_from(rest, &text[end..], captures) {
                    return true;
                }
                captures.len -= 1;
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_table_line_compiles() {
        assert!(ROUTES.routes.len() > 100);
        assert!(ROUTES.routes.iter().all(|r| !r.pieces.is_empty()));
    }

    /// [`split_version`] relies on it: a version prefix can then end only before a `/`.
    #[test]
    fn every_template_starts_with_a_slash() {
        for route in &ROUTES.routes {
            assert!(
                matches!(route.pieces.first(), Some(Piece::Literal(l)) if l.starts_with('/')),
                "{}",
                route.template
            );
        }
    }

    #[test]
    fn a_path_is_tried_only_against_routes_that_can_match_its_first_segment() {
        let post = method_slot("POST");
        let candidates = ROUTES.candidates(post, "/containers/create");
        assert!(candidates.len() < 20, "{}", candidates.len());
        let template = |i: &u16| ROUTES.routes[usize::from(*i)].template;
        assert!(candidates
            .iter()
            .any(|i| template(i) == "/containers/create"));
        assert!(candidates
            .iter()
            .all(|i| ROUTES.routes[usize::from(*i)].method == Some("POST")));
        // The catch-all OPTIONS route can match any path, known segment or not.
        let options = method_slot("OPTIONS");
        let anyroute = |list: &[u16]| list.iter().any(|i| template(i) == "/{anyroute}");
        assert!(anyroute(ROUTES.candidates(options, "/containers/create")));
        assert!(anyroute(ROUTES.candidates(options, "/no-such-segment/x")));
        // Routes without a method matcher are tried for any method.
        let other = method_slot("PATCH");
        assert!(ROUTES
            .candidates(other, "/debug/vars")
            .iter()
            .any(|i| template(i) == "/debug/vars"));
    }

    #[test]
    fn clean_path_matches_gorilla_mux_on_known_forms() {
        for (input, expected) in [
            ("/", "/"),
            ("", "/"),
            ("*", "/*"),
            ("/a//b", "/a/b"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/..", "/"),
            ("/a/.", "/a"),
            ("/a/b/", "/a/b/"),
            ("/a/b/..", "/a"),
            ("/a/..b", "/a/..b"),
        ] {
            assert_eq!(clean_path(input), expected, "{input:?}");
        }
    }

    #[test]
    fn clean_check_agrees_with_cleaning_on_every_short_path() {
        // Every string of up to seven bytes over the characters that cleaning looks at.
        let mut paths = vec![String::new()];
        for _ in 0..7 {
            let longer: Vec<String> = paths
                .iter()
                .filter(|p| p.len() == paths.last().map_or(0, String::len))
                .flat_map(|p| ["/", ".", "a"].map(|c| format!("{p}{c}")))
                .collect();
            paths.extend(longer);
        }
        assert!(paths.len() > 3000);
        for path in &paths {
            assert_eq!(is_clean(path), clean_path(path) == *path, "{path:?}");
        }
    }

    #[test]
    fn versions_compare_numerically_by_part() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_versions("1.9", "1.24"), Less);
        assert_eq!(compare_versions("1.24", "1.24.0"), Equal);
        assert_eq!(compare_versions("1..", "1.0"), Equal);
        assert_eq!(compare_versions("99999999999999999999", "1"), Greater);
    }
}
