//! Prints the Rust canonicaliser's reading of bodies in the Go oracle's format, so that
//! `check-oracle.sh` can compare the two line by line.
//!
//! Input: the oracle's JSON Lines, `{"kind":"container_create","body":"<base64>"}`. Output:
//! one line each, the model object or `{"error":"syntax|type|trailing|input|other"}`.

use std::io::{BufRead, Write};

use authz_protocol_fuzz::canonical_json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

fn verdict(line: &str) -> Value {
    let input = || -> Option<(String, Vec<u8>)> {
        let request: Value = serde_json::from_str(line).ok()?;
        let kind = request.get("kind")?.as_str()?.to_owned();
        let body = STANDARD.decode(request.get("body")?.as_str()?).ok()?;
        Some((kind, body))
    };
    input()
        .and_then(|(kind, body)| canonical_json(&kind, &body))
        .unwrap_or_else(|| json!({ "error": "input" }))
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line.expect("read stdin");
        if line.trim().is_empty() {
            continue;
        }
        writeln!(out, "{}", verdict(&line)).expect("write stdout");
    }
}
