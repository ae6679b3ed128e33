//! Who is calling: a connection's peer credentials turned into the name dockerd will see.
//!
//! The kernel records the connecting process's credentials (`SO_PEERCRED`) when it calls
//! `connect(2)`; nothing the caller sends can change them. The uid is looked up in the
//! host's accounts ([`crate::userdb`]); uid 0 becomes the configured root identity.
//! A caller that cannot be named, or that runs in another pid namespace (a container that
//! was given the gate's socket: its uid 0 is not the host's root in any sense we can check),
//! is refused rather than guessed at.
//!
//! The namespace is read from `/proc/PID/status` (`NSpid`: the pid in each namespace the
//! process is in, from the reader's down), which any process may read: the gate needs no
//! capability for it. A caller the gate can see at all is in its namespace or below it; one
//! listed at the same depth as the gate is in the gate's own.

use std::fs;

use crate::userdb::{groups_of, UserDb};

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
    /// The uid has no account.
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
    /// The accounts could not be read.
    #[error("cannot look up uid {uid} in the host's accounts: {reason}")]
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
    accounts: UserDb,
    root_identity: String,
    overflow_uid: Option<u32>,
    own_pid_depth: Option<usize>,
}

/// The uid the kernel reports for an id a user namespace does not map (overflowuid).
const OVERFLOW_UID_FILE: &str = "/proc/sys/kernel/overflowuid";

impl Resolver {
    /// A resolver naming users from `accounts` and uid 0 `root_identity`, reading the
    /// kernel's overflow uid and the gate's own pid namespace from /proc.
    pub fn new(accounts: UserDb, root_identity: impl Into<String>) -> Self {
        let overflow_uid = fs::read_to_string(OVERFLOW_UID_FILE)
            .ok()
            .and_then(|text| text.trim().parse().ok());
        Resolver {
            accounts,
            root_identity: root_identity.into(),
            overflow_uid,
            own_pid_depth: pid_namespace_depth("self"),
        }
    }

    /// The identity of the connection's caller, or why it has none. Reads files: call it off
    /// the async workers.
    pub fn resolve(&self, peer: Peer) -> Result<Identity, Refusal> {
        self.check_namespace(peer)?;
        if Some(peer.uid) == self.overflow_uid && peer.uid != 0 {
            return Err(Refusal::OverflowUid { uid: peer.uid });
        }
        let lookup = |error: std::io::Error| Refusal::Lookup {
            uid: peer.uid,
            reason: error.to_string(),
        };
        let account = self
            .accounts
            .account_by_uid(peer.uid)
            .map_err(lookup)?
            .ok_or(Refusal::UnknownUid { uid: peer.uid })?;
        let groups = self.accounts.groups().map_err(lookup)?;
        let mut names: Vec<String> = groups_of(&account, &groups)
            .into_iter()
            .map(|group| group.name.clone())
            .collect();
        names.sort();
        names.dedup();
        name_identity(peer.uid, account.name, names, &self.root_identity)
    }

    fn check_namespace(&self, peer: Peer) -> Result<(), Refusal> {
        let pid = peer.pid.unwrap_or(0);
        if pid <= 0 {
            return Err(Refusal::ForeignNamespace { pid });
        }
        let Some(own) = self.own_pid_depth else {
            // Without /proc the check cannot be made; the uid is still the kernel's word.
            return Ok(());
        };
        match pid_namespace_depth(&pid.to_string()) {
            Some(theirs) if theirs == own => Ok(()),
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

/// How many pid namespaces deep a process is, as seen from this /proc: the number of pids
/// on its `NSpid` line.
fn pid_namespace_depth(process: &str) -> Option<usize> {
    let status = fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    nspid_depth(&status)
}

fn nspid_depth(status: &str) -> Option<usize> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("NSpid:"))?;
    Some(line.split_whitespace().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolver over accounts of its own, and the directory holding them.
    fn resolver(root_identity: &str) -> (Resolver, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("passwd"),
            "root:x:0:0:root:/root:/bin/sh\n\
             alice:x:4100:4100::/home/alice:/bin/sh\n\
             admin:x:4101:4101::/home/admin:/bin/sh\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("group"),
            "root:x:0:\nalice:x:4100:\nadmin:x:4101:\ndocker:x:999:alice,bob\n",
        )
        .unwrap();
        let accounts = UserDb::at(dir.path().join("passwd"), dir.path().join("group"));
        (Resolver::new(accounts, root_identity), dir)
    }

    /// A caller: this test process, with `uid` as its credentials claim.
    fn caller(uid: u32) -> Peer {
        Peer {
            uid,
            gid: uid,
            pid: Some(std::process::id() as i32),
        }
    }

    #[test]
    fn a_user_is_named_by_its_login_name_with_its_groups() {
        let (resolver, _dir) = resolver("root");
        let identity = resolver.resolve(caller(4100)).unwrap();
        assert_eq!(identity.name, "alice");
        assert_eq!(identity.groups, ["alice", "docker"]);
    }

    #[test]
    fn uid_0_is_the_root_identity_whatever_its_name() {
        let (resolver, _dir) = resolver("gate-admin");
        let identity = resolver.resolve(caller(0)).unwrap();
        assert_eq!(identity.name, "gate-admin");
        assert_eq!(identity.groups, ["root"]);
    }

    #[test]
    fn a_user_named_like_the_root_identity_is_refused() {
        let (resolver, _dir) = resolver("admin");
        let refusal = resolver.resolve(caller(4101)).unwrap_err();
        assert!(
            matches!(refusal, Refusal::NameOfRoot { uid: 4101, .. }),
            "{refusal}"
        );
    }

    #[test]
    fn a_uid_without_an_account_is_refused_with_its_number() {
        let (resolver, _dir) = resolver("root");
        let refusal = resolver.resolve(caller(4242)).unwrap_err();
        assert!(matches!(refusal, Refusal::UnknownUid { uid: 4242 }));
        assert!(refusal.to_string().contains("uid 4242 has no user name"));
    }

    #[test]
    fn unreadable_accounts_refuse_everyone() {
        let accounts = UserDb::at("/nonexistent/passwd", "/nonexistent/group");
        let refusal = Resolver::new(accounts, "root")
            .resolve(caller(0))
            .unwrap_err();
        assert!(
            matches!(refusal, Refusal::Lookup { uid: 0, .. }),
            "{refusal}"
        );
    }

    #[test]
    fn the_overflow_uid_names_nobody() {
        let (resolver, _dir) = resolver("root");
        let Some(overflow) = resolver.overflow_uid else {
            panic!("{OVERFLOW_UID_FILE} is unreadable");
        };
        assert!(matches!(
            resolver.resolve(caller(overflow)),
            Err(Refusal::OverflowUid { .. })
        ));
    }

    #[test]
    fn a_process_in_a_container_is_one_namespace_deeper() {
        let host = "Name:\tsleep\nNSpid:\t4242\nNSpgid:\t4242\n";
        let container = "Name:\tsh\nNSpid:\t4243\t1\nNSpgid:\t4243\t1\n";
        assert_eq!(nspid_depth(host), Some(1));
        assert_eq!(nspid_depth(container), Some(2));
        assert_eq!(nspid_depth("Name:\told kernel\n"), None);
    }

    #[test]
    fn a_pid_the_gate_cannot_see_is_another_namespace() {
        let (resolver, _dir) = resolver("root");
        let peer = Peer {
            pid: None,
            ..caller(4100)
        };
        let refusal = resolver.resolve(peer).unwrap_err();
        assert!(
            matches!(refusal, Refusal::ForeignNamespace { pid: 0 }),
            "{refusal}"
        );
    }
}
