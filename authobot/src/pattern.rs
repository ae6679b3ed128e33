//! Route patterns of policy files (`POST /containers/{id}/exec`, `GET /images/**`).
//!
//! Patterns match the route template the protocol parser resolved, never the raw URI, so
//! an encoded or versioned path cannot slip past them. A `{...}` segment matches any
//! template parameter whatever its name, `*` one segment, `**` any number of segments.

use std::fmt;

/// Why a pattern string is not a route pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is not `METHOD /path`.
    #[error("route pattern {0:?} is not `METHOD /path` (for example `GET /containers/json`)")]
    Shape(String),
    /// A method is not an HTTP method token.
    #[error(
        "{method:?} in route pattern {pattern:?} is not an HTTP method (use GET, POST, ..., or *)"
    )]
    Method {
        /// The pattern.
        pattern: String,
        /// The offending method.
        method: String,
    },
    /// A path segment mixes `{`, `}` or `*` with other text.
    #[error(
        "segment {segment:?} of route pattern {pattern:?} must be a name, `{{param}}`, `*` or `**`"
    )]
    Segment {
        /// The pattern.
        pattern: String,
        /// The offending segment.
        segment: String,
    },
}

/// One segment of a pattern path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Matches exactly this template segment.
    Literal(String),
    /// Matches any template parameter segment (`{name}`, `{id}`).
    Param,
    /// Matches any one segment.
    One,
    /// Matches zero or more segments.
    Rest,
}

/// A compiled `METHOD /path` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    source: String,
    /// `None` matches every method.
    methods: Option<Vec<String>>,
    segments: Vec<Segment>,
}

impl RoutePattern {
    /// Compiles `GET /containers/{id}/json`, `GET|HEAD /_ping`, `* /containers/**`.
    pub fn parse(text: &str) -> Result<RoutePattern, PatternError> {
        let mut parts = text.split_whitespace();
        let (Some(method), Some(path), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(PatternError::Shape(text.to_owned()));
        };
        if !path.starts_with('/') {
            return Err(PatternError::Shape(text.to_owned()));
        }
        let methods = if method == "*" {
            None
        } else {
            let mut list = Vec::new();
            for m in method.split('|') {
                if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(PatternError::Method {
                        pattern: text.to_owned(),
                        method: m.to_owned(),
                    });
                }
                list.push(m.to_ascii_uppercase());
            }
            Some(list)
        };
        let segments = split_path(path)
            .map(|segment| parse_segment(text, segment))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RoutePattern {
            source: text.to_owned(),
            methods,
            segments,
        })
    }

    /// Whether a request with `method` routed to `template` matches.
    pub fn matches(&self, method: &str, template: &str) -> bool {
        if let Some(methods) = &self.methods {
            if !methods.iter().any(|m| m.eq_ignore_ascii_case(method)) {
                return false;
            }
        }
        match_segments(&self.segments, split_path(template))
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The non-empty `/`-separated segments of a path.
fn split_path(path: &str) -> Segments<'_> {
    Segments(path)
}

/// The segments of a path, split off byte by byte as they are needed: every route rule of
/// a profile is tried on every call, and `str::split` with a filter cost about three times
/// as much on these short templates.
#[derive(Debug, Clone)]
struct Segments<'t>(&'t str);

impl<'t> Iterator for Segments<'t> {
    type Item = &'t str;

    fn next(&mut self) -> Option<&'t str> {
        let bytes = self.0.as_bytes();
        let Some(start) = bytes.iter().position(|&b| b != b'/') else {
            self.0 = "";
            return None;
        };
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(bytes.len(), |length| start + length);
        let segment = &self.0[start..end];
        self.0 = &self.0[end..];
        Some(segment)
    }
}

fn is_param(segment: &str) -> bool {
    matches!(segment.as_bytes(), [b'{', .., b'}'])
}

fn parse_segment(pattern: &str, segment: &str) -> Result<Segment, PatternError> {
    match segment {
        "**" => Ok(Segment::Rest),
        "*" => Ok(Segment::One),
        s if is_param(s) && !s[1..s.len() - 1].contains(['{', '}', '*']) => Ok(Segment::Param),
        s if s.contains(['{', '}', '*']) => Err(PatternError::Segment {
            pattern: pattern.to_owned(),
            segment: s.to_owned(),
        }),
        s => Ok(Segment::Literal(s.to_owned())),
    }
}

/// Matches the template's segments as they are split off, so a decision that tries every
/// route rule of a profile allocates nothing; `**` retries the rest of the pattern from
/// each later segment on a copy of the iterator.
fn match_segments<'t>(
    pattern: &[Segment],
    mut template: impl Iterator<Item = &'t str> + Clone,
) -> bool {
    match pattern.split_first() {
        None => template.next().is_none(),
        Some((Segment::Rest, rest)) => loop {
            if match_segments(rest, template.clone()) {
                return true;
            }
            if template.next().is_none() {
                return false;
            }
        },
        Some((first, rest)) => match template.next() {
            None => false,
            Some(segment) => {
                let hit = match first {
                    Segment::Literal(literal) => literal == segment,
                    Segment::Param => is_param(segment),
                    Segment::One => true,
                    Segment::Rest => unreachable!("handled above"),
                };
                hit && match_segments(rest, template)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(pattern: &str, method: &str, template: &str) -> bool {
        RoutePattern::parse(pattern)
            .unwrap()
            .matches(method, template)
    }

    #[test]
    fn param_segment_matches_any_parameter_name() {
        assert!(hit(
            "POST /containers/{id}/exec",
            "POST",
            "/containers/{name}/exec"
        ));
    }

    #[test]
    fn param_segment_does_not_match_a_literal_segment() {
        assert!(!hit("GET /containers/{id}", "GET", "/containers/json"));
    }

    #[test]
    fn double_star_matches_the_rest_of_the_path() {
        assert!(hit("* /containers/**", "DELETE", "/containers/{name}"));
        assert!(hit("* /containers/**", "GET", "/containers/json"));
        assert!(!hit("* /containers/**", "GET", "/images/json"));
    }

    #[test]
    fn double_star_in_the_middle_matches_any_number_of_segments() {
        assert!(hit("GET /plugins/**/json", "GET", "/plugins/json"));
        assert!(hit("GET /plugins/**/json", "GET", "/plugins/{name}/x/json"));
        assert!(!hit(
            "GET /plugins/**/json",
            "GET",
            "/plugins/{name}/enable"
        ));
    }

    #[test]
    fn paths_split_into_their_non_empty_segments() {
        let segments: Vec<&str> = split_path("//containers/{id}//json/").collect();
        assert_eq!(segments, ["containers", "{id}", "json"]);
        assert_eq!(split_path("/").next(), None);
    }

    #[test]
    fn method_alternatives_are_matched_case_insensitively() {
        assert!(hit("GET|HEAD /_ping", "head", "/_ping"));
        assert!(!hit("GET|HEAD /_ping", "POST", "/_ping"));
    }

    #[test]
    fn pattern_without_a_method_is_refused() {
        assert!(matches!(
            RoutePattern::parse("/containers/json"),
            Err(PatternError::Shape(_))
        ));
    }

    #[test]
    fn partial_wildcard_segment_is_refused() {
        assert!(matches!(
            RoutePattern::parse("GET /contain*/json"),
            Err(PatternError::Segment { .. })
        ));
    }
}
