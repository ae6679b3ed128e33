//! The ownership rules' stable ids and what each refuses, listed by `authobot rules` after
//! the built-in host-escape rules. They are switched by a profile's `[ownership]` settings,
//! not by `escapes.disable`.

use crate::rules::RuleInfo;

/// A call on another user's container, exec session, volume or network.
pub const OWNERSHIP: &str = "ownership";
/// A call on an object the ownership record does not know, by a non-admin.
pub const OWNERSHIP_UNKNOWN: &str = "ownership-unknown";
/// A call naming an id prefix several recorded objects share.
pub const OWNERSHIP_AMBIGUOUS: &str = "ownership-ambiguous";
/// A prune (it removes every user's objects) by a non-admin.
pub const OWNERSHIP_ADMIN_ONLY: &str = "ownership-admin-only";
/// The ownership record cannot be read or written.
pub const OWNERSHIP_STORE: &str = "ownership-store";
/// A list call without the caller's owner-label filter.
pub const OWNER_FILTER_REQUIRED: &str = "owner-filter-required";
/// A create without the caller's owner label.
pub const OWNER_LABEL_REQUIRED: &str = "owner-label-required";
/// A container create over the caller's quota.
pub const CONTAINER_QUOTA: &str = "container-quota";

/// Every ownership rule.
#[rustfmt::skip]
pub const RULES: &[RuleInfo] = &[
    RuleInfo { id: OWNERSHIP, summary: "a call on another user's container, exec session, volume or network (by id, id prefix or name), unless the caller is an admin" },
    RuleInfo { id: OWNERSHIP_UNKNOWN, summary: "a call by a non-admin on an object the ownership record does not know (created before or around the plugin, or nonexistent)" },
    RuleInfo { id: OWNERSHIP_AMBIGUOUS, summary: "an id prefix that several recorded objects share" },
    RuleInfo { id: OWNERSHIP_ADMIN_ONLY, summary: "container, volume and network prune by a non-admin: they remove every user's unused objects" },
    RuleInfo { id: OWNERSHIP_STORE, summary: "the ownership record (the journal in --state-dir) cannot be read, or a learned change cannot be written to it" },
    RuleInfo { id: OWNER_FILTER_REQUIRED, summary: "list calls (containers, volumes, networks) without the filter label=authobot.owner=USER, where the profile requires it" },
    RuleInfo { id: OWNER_LABEL_REQUIRED, summary: "creates (containers, volumes, networks) without the label authobot.owner=USER, where the profile requires it" },
    RuleInfo { id: CONTAINER_QUOTA, summary: "a container create when the caller already owns the profile's max_containers" },
];
