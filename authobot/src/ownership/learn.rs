//! The response-phase half of ownership: what a successful daemon answer (`AuthZRes` with a
//! 2xx status) changes in the record. Pure: the message and a read-only view in, changes out.
//!
//! Response bodies are written by dockerd's own `json.Marshal`, so their field names are
//! exact; request bodies (a network's name) go through the protocol crate's Go-faithful
//! reader. A body reaches plugins only when the daemon buffered it (under 64 KiB), which the
//! create, removal and rename answers always are.

use protocol::body::{decode, NetworkCreate};
use protocol::route;
use protocol::AuthzRequest;
use std::collections::BTreeSet;

use serde::Deserialize;

use super::enforce::owner_of;
use super::{container_name, Change, Lookup, ObjectKind, Owned, OwnershipView, StoreError};
use crate::decide::caller_of;

/// `{"Id": ...}` of container, exec and network creates, and a container inspect's `Name`.
#[derive(Debug, Deserialize)]
struct Created {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Name", default)]
    name: String,
}

/// One entry of a container list.
#[derive(Debug, Deserialize)]
struct Listed {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Names", default)]
    names: Option<Vec<String>>,
}

/// `{"Name": ...}` of a volume create.
#[derive(Debug, Deserialize)]
struct VolumeCreated {
    #[serde(rename = "Name")]
    name: String,
}

/// The prune reports: removed container ids, volume names, network names.
#[derive(Debug, Default, Deserialize)]
struct Pruned {
    #[serde(rename = "ContainersDeleted", default)]
    containers: Option<Vec<String>>,
    #[serde(rename = "VolumesDeleted", default)]
    volumes: Option<Vec<String>>,
    #[serde(rename = "NetworksDeleted", default)]
    networks: Option<Vec<String>>,
}

fn response<'a, T: Deserialize<'a>>(request: &'a AuthzRequest) -> Option<T> {
    serde_json::from_slice(&request.response_body).ok()
}

/// The changes a response-phase message teaches; none unless the daemon answered 2xx.
pub fn learn(
    request: &AuthzRequest,
    view: &dyn OwnershipView,
    now: u64,
) -> Result<Vec<Change>, StoreError> {
    if !(200..300).contains(&request.response_status_code) {
        return Ok(Vec::new());
    }
    let Ok(route) = route::parse(&request.request_method, &request.request_uri) else {
        return Ok(Vec::new());
    };
    let owner = owner_of(caller_of(request));
    let found = |kind: ObjectKind, reference: &str| -> Result<Option<Owned>, StoreError> {
        Ok(match view.lookup(kind, reference)? {
            Lookup::Found(owned) => Some(owned),
            _ => None,
        })
    };
    let forget =
        |kind: ObjectKind, owned: Option<Owned>| owned.map(|o| Change::Forget { kind, id: o.id });
    let param = |name: &str| route.param(name).unwrap_or_default();
    let mut changes = Vec::new();
    match (route.method.as_str(), route.template) {
        ("POST", "/containers/create") => {
            if let Some(created) = response::<Created>(request) {
                let name = route.query_value("name").unwrap_or_default();
                changes.push(Change::Own {
                    kind: ObjectKind::Container,
                    owned: Owned {
                        id: created.id,
                        owner,
                        name: container_name(name).to_owned(),
                        learned_at: now,
                    },
                });
            }
        }
        ("POST", "/containers/{name}/exec") => {
            if let Some(created) = response::<Created>(request) {
                let container = found(ObjectKind::Container, param("name"))?;
                let (owner, container_id) = match container {
                    Some(c) => (c.owner, c.id),
                    None => (owner, param("name").to_owned()),
                };
                changes.push(Change::Own {
                    kind: ObjectKind::Exec,
                    owned: Owned {
                        id: created.id,
                        owner,
                        name: container_id,
                        learned_at: now,
                    },
                });
            }
        }
        ("POST", "/volumes/create") => {
            // A create naming an existing volume answers 201 with that volume: it keeps
            // its owner.
            let created = match response::<VolumeCreated>(request) {
                Some(v) if found(ObjectKind::Volume, &v.name)?.is_none() => Some(v),
                _ => None,
            };
            if let Some(created) = created {
                changes.push(Change::Own {
                    kind: ObjectKind::Volume,
                    owned: Owned {
                        id: created.name,
                        owner,
                        name: String::new(),
                        learned_at: now,
                    },
                });
            }
        }
        ("POST", "/networks/create") => {
            if let Some(created) = response::<Created>(request) {
                let name = decode::<NetworkCreate>(&request.request_body)
                    .map(|n| n.name)
                    .unwrap_or_default();
                changes.push(Change::Own {
                    kind: ObjectKind::Network,
                    owned: Owned {
                        id: created.id,
                        owner,
                        name,
                        learned_at: now,
                    },
                });
            }
        }
        ("DELETE", "/containers/{name}") => {
            changes.extend(forget(
                ObjectKind::Container,
                found(ObjectKind::Container, param("name"))?,
            ));
        }
        ("DELETE", "/volumes/{name}") => {
            changes.extend(forget(
                ObjectKind::Volume,
                found(ObjectKind::Volume, param("name"))?,
            ));
        }
        ("DELETE", "/networks/{id}") => {
            changes.extend(forget(
                ObjectKind::Network,
                found(ObjectKind::Network, param("id"))?,
            ));
        }
        ("POST", "/containers/{name}/rename") => {
            if let Some(container) = found(ObjectKind::Container, param("name"))? {
                let name = route.query_value("name").unwrap_or_default();
                changes.push(Change::Rename {
                    id: container.id,
                    name: container_name(name).to_owned(),
                });
            }
        }
        ("POST", "/containers/prune" | "/volumes/prune" | "/networks/prune") => {
            changes.extend(pruned(request, view)?);
        }
        ("GET", "/containers/json") => {
            if let Some(listed) = response::<Vec<Listed>>(request) {
                let mut present = BTreeSet::new();
                for entry in listed {
                    present.insert(entry.id.clone());
                    let primary = entry.names.unwrap_or_default().into_iter().next();
                    changes.extend(learned_name(view, entry.id, primary)?);
                }
                if lists_every_container(&route) {
                    changes.push(Change::Reconcile {
                        present,
                        learned_before: now.saturating_sub(RECONCILE_GRACE_SECONDS),
                    });
                }
            }
        }
        ("GET", "/containers/{name}/json") => {
            if let Some(inspected) = response::<Created>(request) {
                changes.extend(learned_name(view, inspected.id, Some(inspected.name))?);
            }
        }
        _ => {}
    }
    Ok(changes)
}

/// How old a record must be before a complete list that lacks it forgets it: the list may
/// have been made before the create it lacks was answered.
const RECONCILE_GRACE_SECONDS: u64 = 60;

/// Go's `httputils.BoolValue`: anything but empty, `0`, `no`, `false` and `none` is true.
fn go_bool(value: Option<&str>) -> bool {
    let value = value.unwrap_or_default().trim().to_lowercase();
    !matches!(value.as_str(), "" | "0" | "no" | "false" | "none")
}

/// Whether a container list answers with every container the daemon has: `all` set, and no
/// filter, limit, `since` or `before` narrowing it.
fn lists_every_container(route: &route::Route) -> bool {
    let narrowed = |key: &str| route.query_value(key).is_some_and(|v| !v.trim().is_empty());
    let limited = route
        .query_value("limit")
        .is_some_and(|v| v.trim().parse::<i64>().is_ok_and(|n| n > 0));
    let filtered = route
        .query_value("filters")
        .is_some_and(|f| !matches!(f.trim(), "" | "{}"));
    go_bool(route.query_value("all"))
        && !limited
        && !filtered
        && !narrowed("since")
        && !narrowed("before")
}

/// A container created without `--name` gets a generated one the create answer does not
/// carry; list and inspect answers reveal it. Only names of recorded containers are learned,
/// and only primary names (`/web`; link names such as `/app/db` have more slashes).
fn learned_name(
    view: &dyn OwnershipView,
    id: String,
    name: Option<String>,
) -> Result<Option<Change>, StoreError> {
    let Some(name) = name else {
        return Ok(None);
    };
    let name = container_name(&name);
    if name.is_empty() || name.contains('/') {
        return Ok(None);
    }
    Ok(match view.lookup(ObjectKind::Container, &id)? {
        Lookup::Found(owned) if owned.id == id && owned.name != name => Some(Change::Rename {
            id,
            name: name.to_owned(),
        }),
        _ => None,
    })
}

fn pruned(request: &AuthzRequest, view: &dyn OwnershipView) -> Result<Vec<Change>, StoreError> {
    let report = response::<Pruned>(request).unwrap_or_default();
    let mut changes = Vec::new();
    for id in report.containers.unwrap_or_default() {
        changes.push(Change::Forget {
            kind: ObjectKind::Container,
            id,
        });
    }
    for name in report.volumes.unwrap_or_default() {
        changes.push(Change::Forget {
            kind: ObjectKind::Volume,
            id: name,
        });
    }
    for name in report.networks.unwrap_or_default() {
        for network in view.networks_named(&name)? {
            changes.push(Change::Forget {
                kind: ObjectKind::Network,
                id: network.id,
            });
        }
    }
    Ok(changes)
}
