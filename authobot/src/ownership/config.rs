//! The policy file's ownership settings: `[profiles.NAME.ownership]` (enforcement, list and
//! label modes, container quota) and `[groups.NAME]` (members mapped to a profile, and the
//! admin role), validated with line numbers like the rest of the policy.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::Spanned;

use crate::policy::{line_of, PolicyError};

/// Whose calls a profile checks against the ownership record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforce {
    /// Nobody's: every caller of this profile may touch every object (v1 behaviour).
    #[default]
    Off,
    /// TLS users may touch only what they own; anonymous callers are not checked (on the
    /// unix socket every caller is root-equivalent anyway).
    Identified,
    /// Everyone: all anonymous callers together are one owner.
    All,
}

/// A profile's ownership settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OwnershipSettings {
    /// Whose calls are checked.
    pub enforce: Enforce,
    /// How many containers one user of this profile may own; none means no limit.
    pub max_containers: Option<u64>,
    /// TLS users' list calls (containers, volumes, networks) must filter on their owner
    /// label: `filters={"label":{"authobot.owner=NAME":true}}`.
    pub require_list_filter: bool,
    /// TLS users' creates (containers, volumes, networks) must carry their owner label,
    /// so the daemon itself knows every owner.
    pub require_owner_label: bool,
}

/// One `[groups.NAME]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFile {
    /// TLS user names in the group.
    #[serde(default)]
    members: Vec<Spanned<String>>,
    /// The profile its members get (unless `[users]` names one for them).
    profile: Option<Spanned<String>>,
    /// The admin role: members may touch every object, whoever owns it.
    #[serde(default)]
    admin: bool,
}

/// What `[groups]` compiles to.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    /// User name to profile index, from groups with a profile.
    pub profiles: BTreeMap<String, usize>,
    /// Users with the admin role.
    pub admins: BTreeSet<String>,
}

/// Compiles `[groups]` against the profile `names`; `users` are the `[users]` entries, which
/// a group may not contradict.
pub fn compile_groups(
    text: &str,
    groups: &BTreeMap<String, GroupFile>,
    names: &[String],
    users: &BTreeMap<String, Spanned<String>>,
    errors: &mut Vec<PolicyError>,
) -> Roles {
    let mut roles = Roles::default();
    let mut from_group: BTreeMap<&str, &str> = BTreeMap::new();
    let mut invalid = |span: std::ops::Range<usize>, message: String| {
        errors.push(PolicyError::Invalid {
            line: line_of(text, span.start),
            message,
        });
    };
    for (group, file) in groups {
        let profile = file.profile.as_ref().and_then(|p| {
            let found = names.iter().position(|n| n == p.get_ref());
            if found.is_none() {
                invalid(
                    p.span(),
                    format!(
                        "group {group:?} names profile {:?}, which is not defined under [profiles]",
                        p.get_ref()
                    ),
                );
            }
            found.map(|index| (index, p.get_ref().as_str()))
        });
        if file.profile.is_none() && !file.admin {
            let line_span = file.members.first().map_or(0..0, |m| m.span());
            invalid(
                line_span,
                format!("group {group:?} gives neither a profile nor the admin role"),
            );
        }
        for member in &file.members {
            let user = member.get_ref();
            if user.is_empty() {
                invalid(
                    member.span(),
                    format!(
                        "group {group:?} lists an empty user name (anonymous callers have no name)"
                    ),
                );
                continue;
            }
            if file.admin {
                roles.admins.insert(user.clone());
            }
            let Some((index, profile_name)) = profile else {
                continue;
            };
            if let Some(direct) = users.get(user) {
                if direct.get_ref() != profile_name {
                    invalid(
                        member.span(),
                        format!(
                            "user {user:?} gets profile {:?} in [users] but {profile_name:?} from group {group:?}",
                            direct.get_ref()
                        ),
                    );
                }
                continue;
            }
            match from_group.insert(user, profile_name) {
                Some(other) if other != profile_name => invalid(
                    member.span(),
                    format!(
                        "user {user:?} gets profile {other:?} from one group and {profile_name:?} from group {group:?}"
                    ),
                ),
                _ => {
                    roles.profiles.insert(user.clone(), index);
                }
            }
        }
    }
    roles
}
