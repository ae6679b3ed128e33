//! API routes as dockerd routes them: decoded path, optional `/vX.Y` prefix, query apart.
//!
//! `RequestUri` is the raw request target; dockerd percent-decodes it and ignores the query
//! before matching its route table, so policies must match on the route parsed here and
//! never on the raw string.

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
}
