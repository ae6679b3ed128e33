//! `authobot explain` output: a decision and the canonical fields it read, as text for
//! people or JSON for tools.

use std::fmt::Write;

use crate::decision::Decision;

/// Renders a decision for people: verdict, rule, message, then one `name = value` line per
/// canonical field read.
pub fn to_text(decision: &Decision) -> String {
    let mut out = String::new();
    let verdict = if decision.allow { "allow" } else { "deny" };
    let _ = writeln!(out, "decision: {verdict}");
    let _ = writeln!(out, "rule:     {}", decision.rule);
    if !decision.message.is_empty() {
        let _ = writeln!(out, "message:  {}", decision.message);
    }
    let _ = writeln!(out, "fields read:");
    for field in &decision.fields {
        let _ = writeln!(out, "  {} = {}", field.name, field.value);
    }
    out
}

/// Renders a decision as one pretty-printed JSON object.
pub fn to_json(decision: &Decision) -> String {
    serde_json::to_string_pretty(decision).expect("a decision is plain JSON")
}
