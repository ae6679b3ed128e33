//! Policy files: the TOML format, its validation (errors with line numbers) and the
//! compiled [`Policy`] the decision core reads.
//!
//! A policy maps each caller to a profile (TLS user name, or `anonymous` for the unix
//! socket), and each profile holds route rules (first match wins, else the policy's
//! `default`) and the allow-lists of the host-escape rules, which always apply.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use protocol::body::{go_path_clean, parse_security_opt, HostConfig};
use serde::Deserialize;
use toml::Spanned;

use crate::ownership::config::{compile_groups, GroupFile, OwnershipSettings};
use crate::pattern::RoutePattern;
use crate::rego::{RegoOptions, RegoPolicy, DEFAULT_QUERY};
use crate::rules;

/// The policy compiled into the binary: refuses every host escape, allows the ordinary
/// docker CLI workflow.
pub const DEFAULT_POLICY: &str = include_str!("../policies/default.toml");

/// One problem found in a policy file, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The text is not TOML, or does not fit the policy schema (unknown key, wrong type).
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What the TOML reader reported.
        message: String,
    },
    /// The file parses but a value is invalid (unknown profile, bad pattern, unknown rule).
    #[error("line {line}: {message}")]
    Invalid {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl PolicyError {
    /// The 1-based line the problem is on.
    pub fn line(&self) -> usize {
        match self {
            PolicyError::Syntax { line, .. } | PolicyError::Invalid { line, .. } => *line,
        }
    }
}

/// Every problem found in a policy file (at least one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Let the call through (host-escape rules still apply).
    Allow,
    /// Refuse the call.
    Deny,
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    default: Verdict,
    anonymous: Option<usize>,
    unknown_users: Option<usize>,
    users: BTreeMap<String, usize>,
    profiles: Vec<Profile>,
    admins: BTreeSet<String>,
    rego: Option<Arc<RegoPolicy>>,
}

/// What one kind of caller may do.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profile's name in the file.
    pub name: String,
    /// What the profile is for, as the file describes it.
    pub description: String,
    /// Route rules, first match wins.
    pub routes: Vec<RouteRule>,
    /// Allow-lists of the host-escape rules.
    pub escapes: Escapes,
    /// Who owns what: enforcement, list and label modes, container quota.
    pub ownership: OwnershipSettings,
}

/// A named route rule.
#[derive(Debug, Clone)]
pub struct RouteRule {
    /// The rule name shown in messages and the audit log.
    pub name: String,
    /// What happens to a matching call.
    pub verdict: Verdict,
    /// Any of these patterns matches.
    pub patterns: Vec<RoutePattern>,
    /// Why, appended to deny messages.
    pub reason: String,
}

impl RouteRule {
    /// Whether this rule applies to a call routed to `template`.
    pub fn matches(&self, method: &str, template: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(method, template))
    }
}

/// The allow-lists of the host-escape rules; empty lists allow nothing.
#[derive(Debug, Clone, Default)]
pub struct Escapes {
    /// Rules switched off for this profile (`*` switches them all off).
    pub disabled: BTreeSet<String>,
    /// Host paths (cleaned) under which binds are allowed.
    pub bind_prefixes: Vec<String>,
    /// Whether allowed binds may be writable.
    pub bind_read_write: bool,
    /// Capabilities that may be added, normalised as the daemon does (`CAP_NET_ADMIN`).
    pub capabilities: BTreeSet<String>,
    /// Host device paths (cleaned) that may be mapped.
    pub devices: BTreeSet<String>,
    /// OCI runtimes that may be chosen.
    pub runtimes: BTreeSet<String>,
    /// Sysctl names that may be set.
    pub sysctls: BTreeSet<String>,
    /// Security options that may be given, as (key, value) the way dockerd splits them.
    pub security_opts: BTreeSet<(String, String)>,
    /// Plugin privilege names that a plugin pull or upgrade may grant.
    pub plugin_privileges: BTreeSet<String>,
    /// Volume drivers that may be used besides `local`.
    pub volume_drivers: BTreeSet<String>,
}

impl Escapes {
    /// Whether `rule` is in force for this profile.
    pub fn enforces(&self, rule: &str) -> bool {
        !(self.disabled.contains("*") || self.disabled.contains(rule))
    }
}

/// How a caller maps to a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    /// No TLS identity (the unix socket, or a daemon without `--tlsverify`).
    Anonymous,
    /// A TLS client certificate's CommonName.
    User(&'a str),
}

impl Policy {
    /// The embedded default policy.
    pub fn embedded_default() -> Policy {
        Policy::parse(DEFAULT_POLICY).expect("the embedded default policy is valid")
    }

    /// Parses and validates a policy file's text; a `[rego]` file is read relative to the
    /// current directory.
    pub fn parse(text: &str) -> Result<Policy, PolicyErrors> {
        Policy::parse_in(text, Path::new(""))
    }

    /// Parses and validates the text of a policy file that lives in `dir` (where a relative
    /// `[rego]` file is read from).
    pub fn parse_in(text: &str, dir: &Path) -> Result<Policy, PolicyErrors> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |span| line_of(text, span.start));
            PolicyErrors(vec![PolicyError::Syntax {
                line,
                message: e.message().trim().to_owned(),
            }])
        })?;
        Compiler {
            text,
            dir,
            errors: Vec::new(),
        }
        .compile(file)
    }

    /// A policy that is only the Rego policy `rego` (a `.rego` policy file): no profile is
    /// asked, the guards and the query decide every call.
    pub fn from_rego(rego: RegoPolicy) -> Policy {
        Policy {
            default: Verdict::Deny,
            anonymous: None,
            unknown_users: None,
            users: BTreeMap::new(),
            profiles: Vec::new(),
            admins: BTreeSet::new(),
            rego: Some(Arc::new(rego)),
        }
    }

    /// The Rego policy that decides after (or instead of) the profiles, if any.
    pub fn rego(&self) -> Option<&RegoPolicy> {
        self.rego.as_deref()
    }

    /// The decision when no route rule matches.
    pub fn default_verdict(&self) -> Verdict {
        self.default
    }

    /// The profile for a caller, if the policy has one.
    pub fn profile_for(&self, caller: Caller<'_>) -> Option<&Profile> {
        let index = match caller {
            Caller::Anonymous => self.anonymous,
            Caller::User(name) => self.users.get(name).copied().or(self.unknown_users),
        }?;
        self.profiles.get(index)
    }

    /// Whether the caller has the admin role (may touch every object, whoever owns it).
    pub fn is_admin(&self, caller: Caller<'_>) -> bool {
        matches!(caller, Caller::User(name) if self.admins.contains(name))
    }

    /// Every profile, in file order of their names.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }
}

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    /// Required unless a `[rego]` policy decides alone.
    default: Option<Verdict>,
    anonymous: Option<Spanned<String>>,
    unknown_users: Option<Spanned<String>>,
    #[serde(default)]
    users: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    profiles: BTreeMap<String, ProfileFile>,
    #[serde(default)]
    groups: BTreeMap<String, GroupFile>,
    rego: Option<RegoFile>,
}

/// `[rego]`: a Rego policy that decides too.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegoFile {
    /// The `.rego` file, relative to the policy file.
    file: Spanned<String>,
    /// The rule whose value decides.
    #[serde(default = "default_query")]
    query: String,
    /// Whether the profiles (route, host-escape and ownership rules) decide first.
    #[serde(default = "yes")]
    builtin_rules: bool,
    /// Whether `HEAD /_ping` is allowed without asking the Rego policy.
    #[serde(default = "yes")]
    skip_ping: bool,
}

fn default_query() -> String {
    DEFAULT_QUERY.to_owned()
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    description: String,
    #[serde(default)]
    routes: Vec<RouteRuleFile>,
    #[serde(default)]
    escapes: EscapesFile,
    #[serde(default)]
    ownership: OwnershipSettings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteRuleFile {
    name: Spanned<String>,
    decision: Verdict,
    #[serde(rename = "match")]
    patterns: Vec<Spanned<String>>,
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct EscapesFile {
    disable: Vec<Spanned<String>>,
    bind_prefixes: Vec<Spanned<String>>,
    bind_read_write: bool,
    capabilities: Vec<String>,
    devices: Vec<Spanned<String>>,
    runtimes: Vec<String>,
    sysctls: Vec<String>,
    security_opts: Vec<String>,
    plugin_privileges: Vec<String>,
    volume_drivers: Vec<String>,
}

struct Compiler<'a> {
    text: &'a str,
    dir: &'a Path,
    errors: Vec<PolicyError>,
}

impl Compiler<'_> {
    fn invalid(&mut self, span: Range<usize>, message: String) {
        let line = line_of(self.text, span.start);
        self.errors.push(PolicyError::Invalid { line, message });
    }

    fn compile(mut self, file: PolicyFile) -> Result<Policy, PolicyErrors> {
        let names: Vec<String> = file.profiles.keys().cloned().collect();
        let mut profiles = Vec::new();
        for (name, profile) in file.profiles {
            profiles.push(self.profile(name, profile));
        }
        let resolve = |this: &mut Self, reference: &Spanned<String>, what: &str| {
            let found = names.iter().position(|n| n == reference.get_ref());
            if found.is_none() {
                this.invalid(
                    reference.span(),
                    format!(
                        "{what} names profile {:?}, which is not defined under [profiles]",
                        reference.get_ref()
                    ),
                );
            }
            found
        };
        let anonymous = file
            .anonymous
            .as_ref()
            .and_then(|r| resolve(&mut self, r, "`anonymous`"));
        let unknown_users = file
            .unknown_users
            .as_ref()
            .and_then(|r| resolve(&mut self, r, "`unknown_users`"));
        let mut users = BTreeMap::new();
        for (user, reference) in &file.users {
            if let Some(index) = resolve(&mut self, reference, &format!("user {user:?}")) {
                users.insert(user.clone(), index);
            }
        }
        let roles = compile_groups(
            self.text,
            &file.groups,
            &names,
            &file.users,
            &mut self.errors,
        );
        for (user, index) in roles.profiles {
            users.entry(user).or_insert(index);
        }
        let rego = file.rego.and_then(|rego| self.rego(rego));
        let alone = rego.as_ref().is_some_and(|r| !r.options().builtin_rules);
        if alone && !names.is_empty() {
            self.invalid(
                0..0,
                "[rego] builtin_rules = false: the Rego policy decides alone, so [profiles] would never be asked; remove them or set builtin_rules = true".to_owned(),
            );
        }
        if file.default.is_none() && !alone {
            self.invalid(0..0, "missing field `default`".to_owned());
        }
        if self.errors.is_empty() {
            Ok(Policy {
                default: file.default.unwrap_or(Verdict::Deny),
                anonymous,
                unknown_users,
                users,
                profiles,
                admins: roles.admins,
                rego: rego.map(Arc::new),
            })
        } else {
            self.errors.sort_by_key(PolicyError::line);
            Err(PolicyErrors(self.errors))
        }
    }

    /// Reads and compiles the `[rego]` policy; its problems are reported on the `file` line.
    fn rego(&mut self, file: RegoFile) -> Option<RegoPolicy> {
        let path = self.dir.join(file.file.get_ref());
        let options = RegoOptions {
            query: file.query,
            builtin_rules: file.builtin_rules,
            skip_ping: file.skip_ping,
        };
        let compiled = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|text| RegoPolicy::compile(&path, &text, options).map_err(|e| e.to_string()));
        match compiled {
            Ok(policy) => Some(policy),
            Err(message) => {
                self.invalid(file.file.span(), format!("[rego] {message}"));
                None
            }
        }
    }

    fn profile(&mut self, name: String, file: ProfileFile) -> Profile {
        let mut routes: Vec<RouteRule> = Vec::new();
        for rule in file.routes {
            if routes.iter().any(|r| r.name == *rule.name.get_ref()) {
                self.invalid(
                    rule.name.span(),
                    format!(
                        "route rule {:?} is defined twice in profile {name:?}",
                        rule.name.get_ref()
                    ),
                );
            }
            if rules::rule(rule.name.get_ref()).is_some() {
                self.invalid(
                    rule.name.span(),
                    format!(
                        "route rule {:?} has the name of a built-in rule; pick another",
                        rule.name.get_ref()
                    ),
                );
            }
            let mut patterns = Vec::new();
            for pattern in &rule.patterns {
                match RoutePattern::parse(pattern.get_ref()) {
                    Ok(p) => patterns.push(p),
                    Err(e) => self.invalid(pattern.span(), e.to_string()),
                }
            }
            routes.push(RouteRule {
                name: rule.name.into_inner(),
                verdict: rule.decision,
                patterns,
                reason: rule.reason,
            });
        }
        Profile {
            name,
            description: file.description,
            routes,
            escapes: self.escapes(file.escapes),
            ownership: file.ownership,
        }
    }

    fn escapes(&mut self, file: EscapesFile) -> Escapes {
        let mut disabled = BTreeSet::new();
        for rule in &file.disable {
            let id = rule.get_ref();
            if id != "*" && !rules::rule(id).is_some_and(|r| rules::is_disableable(r.id)) {
                self.invalid(
                    rule.span(),
                    format!("{id:?} is not a host-escape rule that can be disabled (see `authobot rules`)"),
                );
            }
            disabled.insert(id.clone());
        }
        let mut bind_prefixes = Vec::new();
        for prefix in &file.bind_prefixes {
            if !prefix.get_ref().starts_with('/') || go_path_clean(prefix.get_ref()) == "/" {
                self.invalid(
                    prefix.span(),
                    format!(
                        "bind prefix {:?} must be an absolute path other than /",
                        prefix.get_ref()
                    ),
                );
            }
            bind_prefixes.push(go_path_clean(prefix.get_ref()));
        }
        let mut devices = BTreeSet::new();
        for device in &file.devices {
            if !device.get_ref().starts_with('/') {
                self.invalid(
                    device.span(),
                    format!("device {:?} must be an absolute path", device.get_ref()),
                );
            }
            devices.insert(go_path_clean(device.get_ref()));
        }
        let capabilities = HostConfig {
            cap_add: file.capabilities,
            ..HostConfig::default()
        }
        .normalized_cap_add()
        .into_iter()
        .collect();
        Escapes {
            disabled,
            bind_prefixes,
            bind_read_write: file.bind_read_write,
            capabilities,
            devices,
            runtimes: file.runtimes.into_iter().collect(),
            sysctls: file.sysctls.into_iter().collect(),
            security_opts: file
                .security_opts
                .iter()
                .map(|o| parse_security_opt(o))
                .collect(),
            plugin_privileges: file.plugin_privileges.into_iter().collect(),
            volume_drivers: file.volume_drivers.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_reported_with_its_line() {
        let errors = Policy::parse("default = \"deny\"\n\nfrobnicate = 1\n").unwrap_err();
        assert_eq!(errors.0[0].line(), 3);
    }

    #[test]
    fn undefined_profile_reference_is_reported_with_its_line() {
        let errors = Policy::parse("default = \"deny\"\nanonymous = \"nobody\"\n").unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].line(), 2);
        assert!(errors.0[0].to_string().contains("\"nobody\""));
    }

    #[test]
    fn bad_route_pattern_is_reported_with_its_line() {
        let text = "default = \"deny\"\n[profiles.p]\nroutes = [\n  { name = \"r\", decision = \"allow\", match = [\"/containers/json\"] },\n]\n";
        let errors = Policy::parse(text).unwrap_err();
        assert_eq!(errors.0[0].line(), 4);
    }

    #[test]
    fn unknown_rule_in_disable_is_refused() {
        let text = "default = \"deny\"\n[profiles.p.escapes]\ndisable = [\"no-privilege\"]\n";
        let errors = Policy::parse(text).unwrap_err();
        assert_eq!(errors.0[0].line(), 3);
    }

    #[test]
    fn users_without_profile_fall_back_to_unknown_users() {
        let text = "default = \"deny\"\nunknown_users = \"p\"\n[users]\nalice = \"admin\"\n[profiles.p]\n[profiles.admin]\n";
        let policy = Policy::parse(text).unwrap();
        assert_eq!(
            policy.profile_for(Caller::User("alice")).unwrap().name,
            "admin"
        );
        assert_eq!(policy.profile_for(Caller::User("bob")).unwrap().name, "p");
        assert!(policy.profile_for(Caller::Anonymous).is_none());
    }
}
