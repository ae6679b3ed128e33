//! Rego policies, as opa-docker-authz runs them, without its bypasses.
//!
//! A policy written for opa-docker-authz runs unchanged: the same query
//! (`data.docker.authz.allow` by default), the same input document (`input.rs`), the same
//! verdict (allowed exactly when the query's value is `true`). What differs is what the
//! input holds — the request as dockerd will act on it — and that the calls a policy cannot
//! see are refused before it runs (`decide.rs`). The policy is compiled once, with
//! [regorus], when the policy file is loaded (start, SIGHUP); a file that does not compile
//! is refused with its line.

pub(crate) mod decide;
pub mod input;

use std::cell::RefCell;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};

/// The query opa-docker-authz asks by default (its `-allowPath`).
pub const DEFAULT_QUERY: &str = "data.docker.authz.allow";

/// The longest one evaluation may run before it fails (and the call is denied): a policy
/// that loops must not hang the daemon, which waits on its plugin without a timeout.
pub const EVALUATION_LIMIT: Duration = Duration::from_secs(1);

/// How a Rego policy is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegoOptions {
    /// The rule whose value decides: `data.<package>.<rule>` (or opa-docker-authz's
    /// `/<package>/<rule>` spelling).
    pub query: String,
    /// Whether authobot's own policy (profiles, route rules, host-escape rules, ownership)
    /// decides first; the Rego policy then only sees calls it allowed.
    pub builtin_rules: bool,
    /// Allow `HEAD /_ping` without asking the policy, as opa-docker-authz's `-skip-ping`
    /// (on by default there too) does.
    pub skip_ping: bool,
}

impl Default for RegoOptions {
    fn default() -> RegoOptions {
        RegoOptions {
            query: DEFAULT_QUERY.to_owned(),
            builtin_rules: false,
            skip_ping: true,
        }
    }
}

/// A compiled Rego policy and how to run it.
#[derive(Debug, Clone)]
pub struct RegoPolicy {
    file: PathBuf,
    query: Arc<str>,
    /// The engine with the policy parsed and prepared for `query`; each thread evaluates
    /// on its own clone of it (see [`RegoPolicy::evaluate`]).
    engine: Engine,
    /// Tells this compilation apart from every other, for the per-thread clones.
    generation: u64,
    options: RegoOptions,
}

/// Why a Rego policy cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegoError {
    /// The policy does not parse or compile, or the query names no rule of it.
    #[error("{}:{line}: {message}", file.display())]
    Compile {
        /// The policy file.
        file: PathBuf,
        /// The 1-based line of the problem (1 when the compiler named none).
        line: usize,
        /// What the compiler said.
        message: String,
    },
    /// The query is not a rule reference.
    #[error("query {query:?} is not a rule reference such as data.docker.authz.allow")]
    Query {
        /// The query as given.
        query: String,
    },
}

impl RegoPolicy {
    /// Compiles the policy `text` of `file` for `options.query`.
    pub fn compile(file: &Path, text: &str, options: RegoOptions) -> Result<RegoPolicy, RegoError> {
        static GENERATION: AtomicU64 = AtomicU64::new(0);
        let query = normalize_query(&options.query)?;
        let name = file.display().to_string();
        let compile_error = |error: anyhow::Error| {
            let message = format!("{error:#}");
            RegoError::Compile {
                file: file.to_owned(),
                line: line_in(&message, &name).unwrap_or(1),
                message: first_line(&message, &name),
            }
        };
        let mut engine = Engine::new();
        // OPA's default: a built-in given the wrong types is undefined, not an error.
        engine.set_strict_builtin_errors(false);
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: EVALUATION_LIMIT,
            check_interval: NonZeroU32::new(256).expect("non-zero"),
        });
        engine
            .add_policy(name.clone(), text.to_owned())
            .map_err(compile_error)?;
        // Compiling for the query checks it names a rule, and prepares the engine.
        engine
            .compile_with_entrypoint(&query.as_str().into())
            .map_err(|error| match compile_error(error) {
                RegoError::Compile {
                    file,
                    line,
                    message,
                } => RegoError::Compile {
                    file,
                    line,
                    message: format!("query {query}: {message}"),
                },
                other => other,
            })?;
        Ok(RegoPolicy {
            file: file.to_owned(),
            query: query.into(),
            engine,
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            options,
        })
    }

    /// The policy file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The rule whose value decides, as `data.<package>.<rule>`.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The same, shared with the decision log of every call.
    pub(crate) fn query_shared(&self) -> Arc<str> {
        Arc::clone(&self.query)
    }

    /// How the policy is run.
    pub fn options(&self) -> &RegoOptions {
        &self.options
    }

    /// Evaluates the query against `input`, on this thread's clone of the prepared engine:
    /// a fresh engine per call (regorus's `CompiledPolicy`) cost a tenth of a decision.
    pub fn evaluate(&self, input: Value) -> Outcome {
        thread_local! {
            static ENGINE: RefCell<Option<(u64, Engine)>> = const { RefCell::new(None) };
        }
        let result = ENGINE.with(|cell| {
            let mut slot = cell.borrow_mut();
            let engine = match &mut *slot {
                Some((generation, engine)) if *generation == self.generation => engine,
                other => &mut other.insert((self.generation, self.engine.clone())).1,
            };
            engine.set_input(input);
            engine.eval_rule(self.query.to_string())
        });
        match result {
            Ok(Value::Bool(allow)) => Outcome::Bool(allow),
            Ok(Value::Undefined) => Outcome::Undefined,
            Ok(other) => Outcome::NotBoolean(type_name(&other)),
            Err(error) => Outcome::Failed(format!("{error:#}")),
        }
    }
}

/// What the query evaluated to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A boolean: `true` allows.
    Bool(bool),
    /// No value (no rule body held, and no default): a deny, as in opa-docker-authz.
    Undefined,
    /// A value of another type (named): a deny (opa-docker-authz answers an error).
    NotBoolean(&'static str),
    /// The evaluation failed (a built-in's error in strict mode, the time limit): a deny.
    Failed(String),
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Set(_) => "set",
        Value::Object(_) => "object",
        Value::Undefined => "undefined",
    }
}

/// opa-docker-authz's `normalizeAllowPath` in policy-file mode: `/a/b` is `data.a.b`.
fn normalize_query(query: &str) -> Result<String, RegoError> {
    let query = match query.strip_prefix('/') {
        Some(path) => format!("data.{}", path.replace('/', ".")),
        None => query.to_owned(),
    };
    let is_rule_ref = query.starts_with("data.")
        && query["data.".len()..]
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_'));
    if is_rule_ref {
        Ok(query)
    } else {
        Err(RegoError::Query {
            query: query.to_owned(),
        })
    }
}

/// The line number regorus gives after `name:` in an error, if any.
fn line_in(message: &str, name: &str) -> Option<usize> {
    let rest = &message[message.find(&format!("{name}:"))? + name.len() + 1..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The error's own text: regorus writes `--> FILE:LINE:COL`, the source excerpt, then
/// `error: MESSAGE`.
fn first_line(message: &str, name: &str) -> String {
    let lines = || message.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find_map(|l| l.strip_prefix("error:"))
        .or_else(|| lines().find(|l| !l.starts_with("-->") && !l.contains(name)))
        .unwrap_or(message)
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW_GETS: &str =
        "package docker.authz\n\ndefault allow := false\n\nallow if input.Method == \"GET\"\n";

    fn compile(text: &str) -> Result<RegoPolicy, RegoError> {
        RegoPolicy::compile(Path::new("p.rego"), text, RegoOptions::default())
    }

    #[test]
    fn a_compiled_policy_answers_its_query() {
        let policy = compile(ALLOW_GETS).unwrap();
        let input = |method: &str| Value::from(serde_json::json!({ "Method": method }));
        assert_eq!(policy.evaluate(input("GET")), Outcome::Bool(true));
        assert_eq!(policy.evaluate(input("POST")), Outcome::Bool(false));
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let error = compile("package docker.authz\n\nallow if {\n  input.Method ==\n").unwrap_err();
        let RegoError::Compile { line, message, .. } = &error else {
            panic!("{error}");
        };
        assert_eq!(*line, 5, "{error}");
        assert_eq!(message, "expecting expression");
        assert!(!message.is_empty());
        assert!(error.to_string().starts_with("p.rego:"), "{error}");
    }

    #[test]
    fn a_query_naming_no_rule_is_refused() {
        let error = RegoPolicy::compile(
            Path::new("p.rego"),
            ALLOW_GETS,
            RegoOptions {
                query: "data.docker.authz.permit".to_owned(),
                ..RegoOptions::default()
            },
        )
        .unwrap_err();
        assert!(matches!(error, RegoError::Compile { .. }), "{error}");
    }

    #[test]
    fn an_evaluation_that_runs_too_long_fails_instead_of_hanging_the_daemon() {
        let policy = compile(
            "package docker.authz\n\nr := numbers.range(1, 2000)\n\nallow if {\n  some a in r\n  some b in r\n  some c in r\n  a + b + c == -1\n}\n",
        )
        .unwrap();
        let started = std::time::Instant::now();
        let outcome = policy.evaluate(Value::new_object());
        assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
        assert!(started.elapsed() < EVALUATION_LIMIT * 5);
    }

    #[test]
    fn opa_docker_authz_query_spellings_are_accepted() {
        assert_eq!(
            normalize_query("/docker/authz/allow").unwrap(),
            "data.docker.authz.allow"
        );
        assert!(normalize_query("data.docker.authz.allow == true").is_err());
        assert!(normalize_query("allow").is_err());
    }

    #[test]
    fn an_undefined_or_non_boolean_result_is_told_apart() {
        let policy = compile("package docker.authz\n\nallow if input.Method == \"GET\"\n").unwrap();
        assert_eq!(
            policy.evaluate(Value::from(serde_json::json!({"Method": "POST"}))),
            Outcome::Undefined
        );
        let policy = compile("package docker.authz\n\nallow := {\"a\": 1}\n").unwrap();
        assert_eq!(
            policy.evaluate(Value::new_object()),
            Outcome::NotBoolean("object")
        );
    }
}
