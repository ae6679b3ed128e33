//! Go standard-library behaviour the daemon profiles depend on, re-implemented exactly:
//! header canonicalisation and flattening, `mime.ParseMediaType`, path unescaping, and
//! `isAuthEndpoint`'s regular expression.

use std::collections::BTreeMap;

/// Headers dockerd never shows plugins (`headers()` in `authz.go`, all versions).
pub const STRIPPED_HEADERS: [&str; 3] = ["Authorization", "X-Registry-Config", "X-Registry-Auth"];

/// `textproto.CanonicalMIMEHeaderKey`: `x-registry-auth` becomes `X-Registry-Auth`; a key
/// with a byte outside the token set is returned unchanged.
pub fn canonical_header_key(key: &str) -> String {
    let is_token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if key.is_empty() || !key.bytes().all(is_token) {
        return key.to_owned();
    }
    let mut upper = true;
    key.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// `headers()` of `authz.go`: canonical keys, credentials removed, last value wins; values
/// trimmed as Go's header reader trims them.
pub fn flatten_headers(headers: &[(String, String)]) -> BTreeMap<String, String> {
    let mut flat = BTreeMap::new();
    for (name, value) in headers {
        if STRIPPED_HEADERS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(name))
        {
            continue;
        }
        flat.insert(canonical_header_key(name), value.trim().to_owned());
    }
    flat
}

/// `http.Header.Get`: the FIRST value of the key, compared canonically.
pub fn header_get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let wanted = canonical_header_key(name);
    headers
        .iter()
        .find(|(k, _)| canonical_header_key(k) == wanted)
        .map(|(_, v)| v.trim())
}

/// `mime.ParseMediaType`'s media type, lower-cased, or `None` where Go returns an error.
pub fn parse_media_type(value: &str) -> Option<String> {
    let (media, mut params) = match value.split_once(';') {
        Some((media, params)) => (media, params),
        None => (value, ""),
    };
    let media = media.trim().to_ascii_lowercase();
    let (kind, sub) = media.split_once('/')?;
    if !is_token(kind) || !is_token(sub) {
        return None;
    }
    let mut seen = Vec::new();
    loop {
        params = params.trim_start();
        if params.is_empty() {
            return Some(media);
        }
        let (key, rest) = params.split_once('=')?;
        let key = key.trim().to_ascii_lowercase();
        if !is_token(&key) || seen.contains(&key) {
            return None;
        }
        seen.push(key);
        let rest = rest.trim_start();
        let after = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted_end(quoted)?;
            &quoted[end + 1..]
        } else {
            let end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            &rest[end..]
        };
        let after = after.trim_start();
        if after.is_empty() {
            return Some(media);
        }
        // Parameters are separated by ';'; a trailing ';' is ignored.
        params = after.strip_prefix(';')?;
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii() && !c.is_ascii_control() && !" ()<>@,;:\\\"/[]?=".contains(c)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// Index of the closing quote of a quoted-string body (after the opening quote).
fn quoted_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// `url.PathUnescape`-style decoding of a request path; `None` for a bad `%` escape, which
/// Go's server answers with 400 before any handler runs.
pub fn path_unescape(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// `isAuthEndpoint` of v27.1.1/HEAD `authz.go`: `^[^\/]*\/(v\d[\d\.]*\/)?auth.*` on the
/// decoded path.
pub fn is_auth_endpoint(path: &str) -> bool {
    let Some((_, rest)) = path.split_once('/') else {
        return false;
    };
    if rest.starts_with("auth") {
        return true;
    }
    let Some(version) = rest.strip_prefix('v') else {
        return false;
    };
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let digits = version
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(version.len());
    version[digits..]
        .strip_prefix('/')
        .is_some_and(|after| after.starts_with("auth"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_header_keys_like_textproto() {
        assert_eq!(canonical_header_key("x-registry-auth"), "X-Registry-Auth");
        assert_eq!(canonical_header_key("CONTENT-type"), "Content-Type");
        assert_eq!(canonical_header_key("bad key"), "bad key");
    }

    #[test]
    fn flattening_keeps_the_last_value_and_strips_credentials() {
        let headers = vec![
            ("X-Dup".to_owned(), "first".to_owned()),
            ("x-dup".to_owned(), "second".to_owned()),
            ("authorization".to_owned(), "Bearer x".to_owned()),
            ("X-REGISTRY-AUTH".to_owned(), "x".to_owned()),
            ("X-Registry-Config".to_owned(), "x".to_owned()),
        ];
        let flat = flatten_headers(&headers);
        assert_eq!(flat.len(), 1);
        assert_eq!(flat["X-Dup"], "second");
    }

    #[test]
    fn header_get_returns_the_first_value() {
        let headers = vec![
            ("content-type".to_owned(), "text/plain".to_owned()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ];
        assert_eq!(header_get(&headers, "Content-Type"), Some("text/plain"));
    }

    #[test]
    fn media_types_parse_like_go() {
        let cases = [
            ("application/json", Some("application/json")),
            ("Application/JSON", Some("application/json")),
            ("application/json; charset=utf-8", Some("application/json")),
            ("application/json;", Some("application/json")),
            (
                "application/json; charset=\"utf-8\"",
                Some("application/json"),
            ),
            ("application/json; charset", None),
            ("application/json; a=1; a=2", None),
            ("application", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_media_type(input).as_deref(), expected, "{input:?}");
        }
    }

    #[test]
    fn auth_endpoint_regex_matches_versioned_and_prefixed_paths() {
        for path in ["/auth", "/v1.41/auth", "/authx", "/v1/auth/x"] {
            assert!(is_auth_endpoint(path), "{path}");
        }
        for path in [
            "/containers/create",
            "/v1.41/containers/auth",
            "/vx/auth",
            "auth",
        ] {
            assert!(!is_auth_endpoint(path), "{path}");
        }
    }

    #[test]
    fn path_unescape_refuses_bad_escapes() {
        assert_eq!(
            path_unescape("/%63ontainers").as_deref(),
            Some("/containers")
        );
        assert_eq!(path_unescape("/a%2Fb").as_deref(), Some("/a/b"));
        assert_eq!(path_unescape("/bad%zz"), None);
    }
}
