//! The response-phase half of ownership: what a successful daemon answer (`AuthZRes` with a
//! 2xx status) changes in the record. Pure: the message and a read-only view in, changes out.
//!
//! Response bodies are written by dockerd's own `json.Marshal`, so their field names are
//! exact; request bodies (a network's name) go through the protocol crate's Go-faithful
//! reader. A body reaches plugins only when the daemon buffered it (under 64 KiB), which the
//! create, removal and rename answers always are.

use protocol::body::{decode, NetworkCreate};
use protocol::route::{self, Route};
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
    let Ok(route) = route::parse(&request.request_method, &request.request_uri) else {
        return Ok(Vec::new());
    };
    match Lesson::taught(request, &route) {
        Some(lesson) => lesson.teach(request, &route, view, now),
        None => Ok(Vec::new()),
    }
}

/// The daemon answers ownership is learned from, one per route [`learn`] reads: the one
/// table that says which answers can change the record, so the plugin can answer every
/// other response without touching the record at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lesson {
    /// `POST /containers/create`: a new container, named by the `name` query.
    ContainerCreate,
    /// `POST /containers/{name}/exec`: a new exec session, owned with its container.
    ExecCreate,
    /// `POST /volumes/create`: a new volume, unless it already existed.
    VolumeCreate,
    /// `POST /networks/create`: a new network, named in the request body.
    NetworkCreate,
    /// `DELETE /containers/{name}`.
    ContainerRemove,
    /// `DELETE /volumes/{name}`.
    VolumeRemove,
    /// `DELETE /networks/{id}`.
    NetworkRemove,
    /// `POST /containers/{name}/rename`.
    ContainerRename,
    /// `POST /containers/prune`, `/volumes/prune`, `/networks/prune`: the removed objects.
    Prune,
    /// `GET /containers/json`: generated names, and containers removed without a call.
    ContainerList,
    /// `GET /containers/{name}/json`: a generated name.
    ContainerInspect,
}

impl Lesson {
    /// What a 2xx answer to `route` can teach; `None` for every route that teaches nothing.
    pub fn of(route: &Route) -> Option<Lesson> {
        Some(match (route.method.as_str(), route.template) {
            ("POST", "/containers/create") => Lesson::ContainerCreate,
            ("POST", "/containers/{name}/exec") => Lesson::ExecCreate,
            ("POST", "/volumes/create") => Lesson::VolumeCreate,
            ("POST", "/networks/create") => Lesson::NetworkCreate,
            ("DELETE", "/containers/{name}") => Lesson::ContainerRemove,
            ("DELETE", "/volumes/{name}") => Lesson::VolumeRemove,
            ("DELETE", "/networks/{id}") => Lesson::NetworkRemove,
            ("POST", "/containers/{name}/rename") => Lesson::ContainerRename,
            ("POST", "/containers/prune" | "/volumes/prune" | "/networks/prune") => Lesson::Prune,
            ("GET", "/containers/json") => Lesson::ContainerList,
            ("GET", "/containers/{name}/json") => Lesson::ContainerInspect,
            _ => return None,
        })
    }

    /// What the response-phase message `request`, routed to `route`, can teach: nothing
    /// unless the daemon answered 2xx.
    pub fn taught(request: &AuthzRequest, route: &Route) -> Option<Lesson> {
        if !(200..300).contains(&request.response_status_code) {
            return None;
        }
        Lesson::of(route)
    }

    /// The changes the answer teaches, resolved against `view`; `now` stamps new records.
    pub fn teach(
        self,
        request: &AuthzRequest,
        route: &Route,
        view: &dyn OwnershipView,
        now: u64,
    ) -> Result<Vec<Change>, StoreError> {
        let owner = owner_of(caller_of(request));
        let found = |kind: ObjectKind, reference: &str| -> Result<Option<Owned>, StoreError> {
            Ok(match view.lookup(kind, reference)? {
                Lookup::Found(owned) => Some(owned),
                _ => None,
            })
        };
        let forget = |kind: ObjectKind, owned: Option<Owned>| {
            owned.map(|o| Change::Forget { kind, id: o.id })
        };
        let param = |name: &str| route.param(name).unwrap_or_default();
        let mut changes = Vec::new();
        match self {
            Lesson::ContainerCreate => {
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
            Lesson::ExecCreate => {
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
            Lesson::VolumeCreate => {
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
            Lesson::NetworkCreate => {
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
            Lesson::ContainerRemove => {
                changes.extend(forget(
                    ObjectKind::Container,
                    found(ObjectKind::Container, param("name"))?,
                ));
            }
            Lesson::VolumeRemove => {
                changes.extend(forget(
                    ObjectKind::Volume,
                    found(ObjectKind::Volume, param("name"))?,
                ));
            }
            Lesson::NetworkRemove => {
                changes.extend(forget(
                    ObjectKind::Network,
                    found(ObjectKind::Network, param("id"))?,
                ));
            }
            Lesson::ContainerRename => {
                if let Some(container) = found(ObjectKind::Container, param("name"))? {
                    let name = route.query_value("name").unwrap_or_default();
                    changes.push(Change::Rename {
                        id: container.id,
                        name: container_name(name).to_owned(),
                    });
                }
            }
            Lesson::Prune => {
                changes.extend(pruned(request, view)?);
            }
            Lesson::ContainerList => {
                if let Some(listed) = response::<Vec<Listed>>(request) {
                    let mut present = BTreeSet::new();
                    for entry in listed {
                        present.insert(entry.id.clone());
                        let primary = entry.names.unwrap_or_default().into_iter().next();
                        changes.extend(learned_name(view, entry.id, primary)?);
                    }
                    if lists_every_container(route) {
                        changes.push(Change::Reconcile {
                            present,
                            learned_before: now.saturating_sub(RECONCILE_GRACE_SECONDS),
                        });
                    }
                }
            }
            Lesson::ContainerInspect => {
                if let Some(inspected) = response::<Created>(request) {
                    changes.extend(learned_name(view, inspected.id, Some(inspected.name))?);
                }
            }
        }
        Ok(changes)
    }
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
fn lists_every_container(route: &Route) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Targets dockerd routes to each lesson's routes; the match is exhaustive so a new
    /// lesson cannot be added without a target here.
    fn targets(lesson: Lesson) -> &'static [(&'static str, &'static str)] {
        match lesson {
            Lesson::ContainerCreate => &[("POST", "/v1.41/containers/create?name=web")],
            Lesson::ExecCreate => &[("POST", "/v1.41/containers/web/exec")],
            Lesson::VolumeCreate => &[("POST", "/v1.41/volumes/create")],
            Lesson::NetworkCreate => &[("POST", "/networks/create")],
            Lesson::ContainerRemove => &[("DELETE", "/v1.41/containers/web?force=1")],
            Lesson::VolumeRemove => &[("DELETE", "/v1.41/volumes/data")],
            Lesson::NetworkRemove => &[("DELETE", "/v1.41/networks/front")],
            Lesson::ContainerRename => &[("POST", "/v1.41/containers/web/rename?name=db")],
            Lesson::Prune => &[
                ("POST", "/v1.41/containers/prune"),
                ("POST", "/v1.41/volumes/prune"),
                ("POST", "/v1.41/networks/prune"),
            ],
            Lesson::ContainerList => &[("GET", "/v1.41/containers/json?all=1")],
            Lesson::ContainerInspect => &[("GET", "/v1.41/containers/web/json")],
        }
    }

    const EVERY_LESSON: [Lesson; 11] = [
        Lesson::ContainerCreate,
        Lesson::ExecCreate,
        Lesson::VolumeCreate,
        Lesson::NetworkCreate,
        Lesson::ContainerRemove,
        Lesson::VolumeRemove,
        Lesson::NetworkRemove,
        Lesson::ContainerRename,
        Lesson::Prune,
        Lesson::ContainerList,
        Lesson::ContainerInspect,
    ];

    fn answered(method: &str, target: &str, status: i64) -> AuthzRequest {
        AuthzRequest {
            request_method: method.into(),
            request_uri: target.into(),
            response_status_code: status,
            ..AuthzRequest::default()
        }
    }

    fn routed(request: &AuthzRequest) -> Route {
        route::parse(&request.request_method, &request.request_uri).unwrap()
    }

    #[test]
    fn every_route_learning_reads_is_let_through_as_the_router_spells_it() {
        for lesson in EVERY_LESSON {
            for &(method, target) in targets(lesson) {
                for status in [200, 201, 204] {
                    let request = answered(method, target, status);
                    assert_eq!(
                        Lesson::taught(&request, &routed(&request)),
                        Some(lesson),
                        "{method} {target} answered {status}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_answer_that_is_not_2xx_teaches_nothing() {
        for lesson in EVERY_LESSON {
            for &(method, target) in targets(lesson) {
                for status in [0, 199, 300, 304, 404, 409, 500] {
                    let request = answered(method, target, status);
                    assert_eq!(Lesson::taught(&request, &routed(&request)), None);
                }
            }
        }
    }

    #[test]
    fn starts_stops_and_other_routes_teach_nothing() {
        for (method, target) in [
            ("POST", "/v1.41/containers/web/start"),
            ("POST", "/v1.41/containers/web/stop"),
            ("POST", "/v1.41/containers/web/wait"),
            ("GET", "/v1.41/containers/web/logs"),
            ("POST", "/v1.41/exec/e1/start"),
            ("GET", "/v1.41/volumes"),
            ("GET", "/_ping"),
        ] {
            let request = answered(method, target, 200);
            assert_eq!(
                Lesson::taught(&request, &routed(&request)),
                None,
                "{target}"
            );
        }
    }
}
