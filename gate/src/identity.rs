//! Who is calling: a connection's peer credentials turned into the name dockerd will see.
//!
//! The kernel records the connecting process's credentials (`SO_PEERCRED`) when it calls
//! `connect(2)`; nothing the caller sends can change them. The uid is looked up in the
//! host's user database (NSS, as `id` does); uid 0 becomes the configured root identity.
//! A caller that cannot be named, or that runs in another pid namespace (a container that
//! was given the gate's socket: its uid 0 is not the host's root in any sense we can check),
//! is refused rather than guessed at.

use std::ffi::CString;
use std::fs;
use std::io;

use nix::unistd::{getgrouplist, Gid, Group, Uid, User};

/// The credentials the kernel recorded for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The effective uid of the connecting process.
    pub uid: u32,
    /// Its effective gid.
    pub gid: u32,
    /// Its pid as seen from the gate's pid namespace; `None` when the kernel could not map it
    /// (the caller lives in a pid namespace the gate cannot see into).
    pub pid: Option<i32>,
}

/// The identity a connection is relayed under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The TLS user name (the certificate's CommonName): the user's login name, or the root
    /// identity for uid 0.
    pub name: String,
    /// The names of the user's groups (primary and supplementary), sorted.
    pub groups: Vec<String>,
}

/// Why a connection gets no identity. Each message is shown to the caller.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The uid has no entry in the user database.
    #[error(
        "uid {uid} has no user name on this host, so it has no identity for the docker daemon"
    )]
    UnknownUid {
        /// The caller's uid.
        uid: u32,
    },
    /// The uid is the kernel's overflow uid: a user namespace's id that maps to no host uid.
    #[error("uid {uid} is the overflow uid (an id from a user namespace with no host uid): it names nobody")]
    OverflowUid {
        /// The caller's uid.
        uid: u32,
    },
    /// A non-root user whose name is the root identity: it would be taken for root.
    #[error("user {name:?} (uid {uid}) has the name of the root identity; refused so it is not taken for root")]
    NameOfRoot {
        /// The user's name.
        name: String,
        /// The user's uid.
        uid: u32,
    },
    /// The caller's pid namespace is not the gate's (or cannot be seen from it).
    #[error("the calling process (pid {pid}) runs in another pid namespace, as a container does: the gate serves host users only")]
    ForeignNamespace {
        /// The pid as the gate sees it (0: not visible at all).
        pid: i32,
    },
    /// The user database could not be read.
    #[error("cannot look up uid {uid} in the user database: {reason}")]
    Lookup {
        /// The caller's uid.
        uid: u32,
        /// What failed.
        reason: String,
    },
}

/// Turns peer credentials into identities.
#[derive(Debug, Clone)]
pub struct Resolver {
    root_identity: String,
    overflow_uid: Option<u32>,
    own_pid_namespace: Option<String>,
}

/// The uid the kernel reports for an id a user namespace does not map (overflowuid).
const OVERFLOW_UID_FILE: &str = "/proc/sys/kernel/overflowuid";

impl Resolver {
    /// A resolver mapping uid 0 to `root_identity`, reading the kernel's overflow uid and the
    /// gate's own pid namespace from /proc.
    pub fn new(root_identity: impl Into<String>) -> Self {
        let overflow_uid = fs::read_to_string(OVERFLOW_UID_FILE)
            .ok()
            .and_then(|text| text.trim().parse().ok());
        Resolver {
            root_identity: root_identity.into(),
            overflow_uid,
            own_pid_namespace: pid_namespace("self").ok(),
        }
    }

    /// The name uid 0 is relayed under.
    pub fn root_identity(&self) -> &str {
        &self.root_identity
    }

    /// The identity of the connection's caller, or why it has none. Reads the user database
    /// (which may block on NSS): call it off the async workers.
    pub fn resolve(&self, peer: Peer) -> Result<Identity, Refusal> {
        self.check_namespace(peer)?;
        if Some(peer.uid) == self.overflow_uid && peer.uid != 0 {
            return Err(Refusal::OverflowUid { uid: peer.uid });
        }
        let lookup = |error: nix::Error| Refusal::Lookup {
            uid: peer.uid,
            reason: error.to_string(),
        };
        let user = User::from_uid(Uid::from_raw(peer.uid))
            .map_err(lookup)?
            .ok_or(Refusal::UnknownUid { uid: peer.uid })?;
        let groups = group_names(&user.name, user.gid).map_err(lookup)?;
        name_identity(peer.uid, user.name, groups, &self.root_identity)
    }

    fn check_namespace(&self, peer: Peer) -> Result<(), Refusal> {
        let pid = peer.pid.unwrap_or(0);
        if pid <= 0 {
            return Err(Refusal::ForeignNamespace { pid });
        }
        let Some(own) = &self.own_pid_namespace else {
            // Without /proc the check cannot be made; the uid is still the kernel's word.
            return Ok(());
        };
        match pid_namespace(&pid.to_string()) {
            Ok(theirs) if &theirs == own => Ok(()),
            _ => Err(Refusal::ForeignNamespace { pid }),
        }
    }
}

/// The identity of a looked-up user: uid 0 is the root identity whatever its name; any other
/// user keeps its name unless that name is the root identity's.
fn name_identity(
    uid: u32,
    name: String,
    groups: Vec<String>,
    root_identity: &str,
) -> Result<Identity, Refusal> {
    if uid == 0 {
        return Ok(Identity {
            name: root_identity.to_owned(),
            groups,
        });
    }
    if name == root_identity {
        return Err(Refusal::NameOfRoot { name, uid });
    }
    Ok(Identity { name, groups })
}

/// The link naming a process's pid namespace (`pid:[4026531836]`).
fn pid_namespace(process: &str) -> io::Result<String> {
    fs::read_link(format!("/proc/{process}/ns/pid")).map(|link| link.to_string_lossy().into_owned())
}

/// The names of every group of `user` (primary `gid` included), sorted; groups without a
/// name are left out (they can match no policy group).
fn group_names(user: &str, gid: Gid) -> nix::Result<Vec<String>> {
    let name = CString::new(user).map_err(|_| nix::Error::EINVAL)?;
    let mut names: Vec<String> = getgrouplist(&name, gid)?
        .into_iter()
        .filter_map(|gid| Group::from_gid(gid).ok().flatten())
        .map(|group| group.name)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_0_is_the_root_identity_whatever_its_name() {
        let identity = name_identity(0, "root".into(), vec!["root".into()], "admin").unwrap();
        assert_eq!(identity.name, "admin");
        assert_eq!(identity.groups, ["root"]);
    }

    #[test]
    fn a_user_keeps_its_login_name() {
        let identity = name_identity(1000, "alice".into(), vec![], "root").unwrap();
        assert_eq!(identity.name, "alice");
    }

    #[test]
    fn a_user_named_like_the_root_identity_is_refused() {
        let refusal = name_identity(1001, "admin".into(), vec![], "admin").unwrap_err();
        assert!(
            matches!(refusal, Refusal::NameOfRoot { uid: 1001, .. }),
            "{refusal}"
        );
    }

    #[test]
    fn the_calling_process_itself_resolves_to_its_own_user() {
        let resolver = Resolver::new("root-admin");
        let uid = Uid::effective().as_raw();
        let peer = Peer {
            uid,
            gid: Gid::effective().as_raw(),
            pid: Some(std::process::id() as i32),
        };
        let identity = resolver.resolve(peer).unwrap();
        let expected = if uid == 0 {
            "root-admin".to_owned()
        } else {
            User::from_uid(Uid::from_raw(uid)).unwrap().unwrap().name
        };
        assert_eq!(identity.name, expected);
    }

    #[test]
    fn a_pid_the_gate_cannot_see_is_another_namespace() {
        let resolver = Resolver::new("root");
        let peer = Peer {
            uid: Uid::effective().as_raw(),
            gid: 0,
            pid: None,
        };
        let refusal = resolver.resolve(peer).unwrap_err();
        assert!(
            matches!(refusal, Refusal::ForeignNamespace { pid: 0 }),
            "{refusal}"
        );
    }

    #[test]
    fn a_uid_without_a_name_is_refused_with_its_number() {
        let resolver = Resolver::new("root");
        // A uid no test host gives anyone.
        let uid = 4_000_000_123;
        assert!(User::from_uid(Uid::from_raw(uid)).unwrap().is_none());
        let peer = Peer {
            uid,
            gid: uid,
            pid: Some(std::process::id() as i32),
        };
        let refusal = resolver.resolve(peer).unwrap_err();
        assert!(matches!(
            refusal,
            Refusal::UnknownUid { uid: 4_000_000_123 }
        ));
        assert!(refusal
            .to_string()
            .contains("uid 4000000123 has no user name"));
    }

    #[test]
    fn the_overflow_uid_names_nobody() {
        let resolver = Resolver::new("root");
        let Some(overflow) = resolver.overflow_uid else {
            panic!("{OVERFLOW_UID_FILE} is unreadable");
        };
        let peer = Peer {
            uid: overflow,
            gid: overflow,
            pid: Some(std::process::id() as i32),
        };
        assert!(matches!(
            resolver.resolve(peer),
            Err(Refusal::OverflowUid { .. })
        ));
    }
}
