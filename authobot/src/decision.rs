//! The outcome of one decision: verdict, the rule that gave it, the message the client sees
//! and the canonical fields that were read to reach it (for `authobot explain`).

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
    /// The rule that decided: a built-in rule id or a route rule's name.
    pub rule: String,
    /// For a deny: what was refused, why, and the rule. Empty for an allow.
    pub message: String,
    /// The canonical fields read, in the order they were read.
    pub fields: Vec<Field>,
}

impl Decision {
    /// An allow given by `rule`.
    pub fn allow(rule: impl Into<String>, fields: Vec<Field>) -> Decision {
        Decision {
            allow: true,
            rule: rule.into(),
            message: String::new(),
            fields,
        }
    }

    /// A deny by `rule`: `"{what} is not allowed: {why} (rule: {rule})"`.
    pub fn deny(rule: impl Into<String>, what: &str, why: &str, fields: Vec<Field>) -> Decision {
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

/// Collects the fields a decision reads.
#[derive(Debug, Default)]
pub struct FieldLog {
    fields: Vec<Field>,
}

impl FieldLog {
    /// Records that `name` was read with `value`.
    pub fn read(&mut self, name: impl Into<String>, value: impl Serialize) {
        self.fields.push(Field {
            name: name.into(),
            value: serde_json::to_value(value).unwrap_or(Value::Null),
        });
    }

    /// The fields read so far.
    pub fn into_fields(self) -> Vec<Field> {
        self.fields
    }
}
