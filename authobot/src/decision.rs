//! The outcome of one decision: verdict, the rule that gave it, the message the client sees
//! and the canonical fields that were read to reach it (for `authobot explain`).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

/// A canonical field the decision read, with the value the daemon will act on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// Docker's own spelling of the field (`HostConfig.Privileged`), or `route.*` and
    /// `query.*` for what the route parser resolved.
    pub name: String,
    /// The canonical value.
    pub value: Value,
}

/// What authobot decided about one call, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Whether the call may go on.
    pub allow: bool,
    /// The rule that decided: a built-in rule id (borrowed: most decisions name one, and
    /// copying it was an allocation per call) or a route rule's name.
    pub rule: Cow<'static, str>,
    /// For a deny: what was refused, why, and the rule. Empty for an allow.
    pub message: String,
    /// The canonical fields read, in the order they were read; empty when the decision was
    /// made without a [`FieldLog`] recording (`serve`).
    pub fields: Vec<Field>,
    /// The route the decision resolved, kept for the audit line so it need not parse the
    /// request target again; `None` when the decision did not keep one (a refusal before
    /// routing, a target that does not route, a decision made outside the plugin), and the
    /// audit then parses it.
    /// Boxed to keep a `Decision` small: it travels in `Result`s.
    #[serde(skip)]
    pub route: Option<Box<Routed>>,
    /// What the Rego policy answered, when one was asked: the decision log of the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rego: Option<Box<RegoTrace>>,
}

/// A Rego policy's answer for one call, as the audit line logs it: never the input (it
/// holds bodies and headers), only the query and what it evaluated to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegoTrace {
    /// A fresh UUID per decision, as OPA's decision logs carry.
    pub decision_id: String,
    /// The query asked (`data.docker.authz.allow`).
    pub query: Arc<str>,
    /// What it evaluated to.
    pub result: RegoResult,
}

impl RegoTrace {
    /// The trace of a decision of `query` with `result`, under a new decision id.
    pub fn new(query: Arc<str>, result: RegoResult) -> RegoTrace {
        RegoTrace {
            decision_id: uuid::Uuid::new_v4().to_string(),
            query,
            result,
        }
    }
}

/// What a Rego query evaluated to. Only `Bool(true)` allows. Logged as the boolean, or as a
/// string saying why there is none (`"undefined"`, `"a object"`, `"an evaluation error"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegoResult {
    /// A boolean.
    Bool(bool),
    /// No value.
    Undefined,
    /// A value of another JSON type (named).
    NotBoolean(&'static str),
    /// The evaluation failed.
    Failed,
}

impl Serialize for RegoResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RegoResult::Bool(b) => serializer.serialize_bool(*b),
            other => serializer.collect_str(other),
        }
    }
}

impl fmt::Display for RegoResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegoResult::Bool(b) => write!(f, "{b}"),
            RegoResult::Undefined => f.write_str("undefined"),
            RegoResult::NotBoolean(kind) => write!(f, "not a boolean: {kind}"),
            RegoResult::Failed => f.write_str("an evaluation error"),
        }
    }
}

/// What the audit log needs of a resolved route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The route template dockerd will run (`/containers/{name}/exec`).
    pub template: &'static str,
    /// The decoded path without version prefix or query.
    pub path: String,
}

impl From<protocol::route::Route> for Routed {
    fn from(route: protocol::route::Route) -> Routed {
        Routed {
            template: route.template,
            path: route.path,
        }
    }
}

impl Decision {
    /// An allow given by `rule`.
    pub fn allow(rule: impl Into<Cow<'static, str>>, fields: Vec<Field>) -> Decision {
        Decision {
            allow: true,
            rule: rule.into(),
            message: String::new(),
            fields,
            route: None,
            rego: None,
        }
    }

    /// A deny by `rule`: `"{what} is not allowed: {why} (rule: {rule})"`.
    pub fn deny(
        rule: impl Into<Cow<'static, str>>,
        what: &str,
        why: &str,
        fields: Vec<Field>,
    ) -> Decision {
        let rule = rule.into();
        let message = if why.is_empty() {
            format!("{what} is not allowed (rule: {rule})")
        } else {
            format!("{what} is not allowed: {why} (rule: {rule})")
        };
        Decision {
            allow: false,
            rule,
            message,
            fields,
            route: None,
            rego: None,
        }
    }

    /// The reply for the daemon: the message is what the client will see after
    /// `authorization denied by plugin authobot: `.
    pub fn reply(&self) -> protocol::AuthzReply {
        if self.allow {
            protocol::AuthzReply::allow()
        } else {
            protocol::AuthzReply::deny(self.message.clone())
        }
    }
}

/// Collects the fields a decision reads, when someone will look at them (`explain`, tests).
///
/// Decisions run the same code whether or not the log records: a log that is off drops
/// every read before its name or value is turned into a `String` or a JSON value, which
/// on a create body was a tenth of the decision's cost.
#[derive(Debug)]
pub struct FieldLog {
    fields: Vec<Field>,
    recording: bool,
}

impl Default for FieldLog {
    /// A log that records.
    fn default() -> FieldLog {
        FieldLog::recording()
    }
}

impl FieldLog {
    /// A log that keeps every field read.
    pub fn recording() -> FieldLog {
        FieldLog {
            fields: Vec::new(),
            recording: true,
        }
    }

    /// A log that keeps nothing: for decisions nobody will explain.
    pub fn off() -> FieldLog {
        FieldLog {
            fields: Vec::new(),
            recording: false,
        }
    }

    /// Whether reads are kept: lets a caller skip building a value only the log would use.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Records that `name` was read with `value`.
    #[inline]
    pub fn read(&mut self, name: impl fmt::Display, value: impl Serialize) {
        if !self.recording {
            return;
        }
        self.fields.push(Field {
            name: name.to_string(),
            value: serde_json::to_value(value).unwrap_or(Value::Null),
        });
    }

    /// The fields read so far.
    pub fn into_fields(self) -> Vec<Field> {
        self.fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_that_is_off_keeps_no_field() {
        let mut log = FieldLog::off();
        log.read("HostConfig.Privileged", true);
        assert!(log.into_fields().is_empty());
    }

    #[test]
    fn a_recording_log_keeps_fields_in_read_order() {
        let mut log = FieldLog::default();
        log.read("User", "");
        log.read(format_args!("{}.{}", "HostConfig", "Privileged"), false);
        let names: Vec<String> = log.into_fields().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["User", "HostConfig.Privileged"]);
    }
}
