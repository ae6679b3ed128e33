//! Prints the Rust route parser's verdicts in the Go route oracle's format, so that
//! `check-routes.sh` can compare the two line by line.
//!
//! Input lines: `METHOD<TAB>base64(TARGET)`. Output: one JSON object a line with `outcome`
//! (`route`, `malformed`, `unknown`, `unclean`), and for routes `template`, `vars` (the
//! version included, as gorilla mux reports it), `query` and `query_err`.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use protocol::route::{self, RouteError};
use serde_json::{json, Value};

fn verdict(method: &str, target: &[u8]) -> Value {
    let Ok(target) = std::str::from_utf8(target) else {
        return json!({"outcome": "malformed", "detail": "not UTF-8"});
    };
    match route::parse(method, target) {
        Ok(route) => {
            let mut vars: BTreeMap<&str, &str> =
                route.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            if let Some(version) = &route.version {
                vars.insert("version", version);
            }
            let mut query: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (k, v) in &route.query {
                query.entry(k).or_default().push(v);
            }
            json!({"outcome": "route", "template": route.template, "vars": vars, "query": query})
        }
        Err(RouteError::Query { reason, .. }) => json!({"outcome": "route", "query_err": reason}),
        Err(RouteError::Malformed { reason, .. }) => {
            json!({"outcome": "malformed", "detail": reason})
        }
        Err(RouteError::Unknown { .. }) => json!({"outcome": "unknown"}),
        Err(RouteError::Unclean { cleaned, .. }) => {
            json!({"outcome": "unclean", "detail": cleaned})
        }
    }
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line.expect("read stdin");
        let (method, encoded) = line.split_once('\t').unwrap_or((&line, ""));
        let target = STANDARD.decode(encoded).expect("base64 target");
        writeln!(out, "{}", verdict(method, &target)).expect("write stdout");
    }
}
