//! Who besides root can reach a file: connect to a socket, read a key, or replace a file,
//! from the owner, group and mode of the file and of every directory above it.
//!
//! Only mode bits are read: POSIX ACLs, capabilities and security modules can open or close
//! more (the README says so). Root is never counted: it can do all of this anyway.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A local user as the kernel checks it: uid and every gid (primary included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The login name.
    pub name: String,
    /// The uid.
    pub uid: u32,
    /// The primary and supplementary gids.
    pub gids: Vec<u32>,
}

/// What one wants to do with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Connect to a unix socket (write permission on it).
    Connect,
    /// Read the file.
    Read,
    /// Replace or change the file (write it, or rename another file over it).
    Replace,
}

/// The owner, group and mode of one path component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Owner uid.
    pub uid: u32,
    /// Group gid.
    pub gid: u32,
    /// Mode bits (permissions, setuid/setgid/sticky).
    pub mode: u32,
}

impl Entry {
    fn from_metadata(metadata: &fs::Metadata) -> Entry {
        Entry {
            uid: metadata.uid(),
            gid: metadata.gid(),
            mode: metadata.mode() & 0o7777,
        }
    }

    /// Whether `account` has permission `bit` (4 read, 2 write, 1 search/execute) here,
    /// checked as the kernel does: the owner class if it owns it, else the group class if
    /// in its group, else the others class.
    fn allows(&self, account: &Credentials, bit: u32) -> bool {
        let class = if account.uid == self.uid {
            self.mode >> 6
        } else if account.gids.contains(&self.gid) {
            self.mode >> 3
        } else {
            self.mode
        };
        class & bit != 0
    }
}

const READ: u32 = 4;
const WRITE: u32 = 2;
const SEARCH: u32 = 1;
const STICKY: u32 = 0o1000;

/// A path and its components, each read once: `ancestors[0]` is `/`, the last is the
/// directory holding the file.
#[derive(Debug, Clone)]
pub struct PathModes {
    ancestors: Vec<Entry>,
    file: Entry,
}

impl PathModes {
    /// Reads `path` (absolute, as seen from `root`, e.g. `/proc/PID/root` for a path in
    /// another mount namespace) and every directory above it. A symlinked file is read
    /// through the link, as `open` and `connect` do (the directories above its target are
    /// not read).
    pub fn read(root: &Path, path: &Path) -> io::Result<PathModes> {
        let mut ancestors = Vec::new();
        let mut at = PathBuf::from(root);
        for component in path.parent().into_iter().flat_map(Path::components) {
            at.push(component);
            ancestors.push(Entry::from_metadata(&fs::metadata(&at)?));
        }
        let file = Entry::from_metadata(&fs::metadata(root.join(relative(path)))?);
        Ok(PathModes { ancestors, file })
    }

    /// Whether `account` (never root) can do `access` on the file.
    pub fn allows(&self, account: &Credentials, access: Access) -> bool {
        let Some(parent) = self.ancestors.last() else {
            return false;
        };
        let reaches_parent = self
            .ancestors
            .iter()
            .all(|entry| entry.allows(account, SEARCH));
        match access {
            Access::Connect => reaches_parent && self.file.allows(account, WRITE),
            Access::Read => reaches_parent && self.file.allows(account, READ),
            Access::Replace => {
                // An owner of any directory above can change its mode and then anything below.
                let owns_a_directory = self.ancestors.iter().any(|entry| entry.uid == account.uid);
                let renames_into_parent = reaches_parent
                    && parent.allows(account, WRITE)
                    && (parent.mode & STICKY == 0 || self.file.uid == account.uid);
                let writes_file = reaches_parent
                    && (self.file.allows(account, WRITE) || self.file.uid == account.uid);
                owns_a_directory || renames_into_parent || writes_file
            }
        }
    }

    /// The accounts of `accounts` (root left out) that can do `access`.
    pub fn who<'a>(&self, accounts: &'a [Credentials], access: Access) -> Vec<&'a Credentials> {
        accounts
            .iter()
            .filter(|account| account.uid != 0 && self.allows(account, access))
            .collect()
    }

    /// Whether an account in no group of the file's path and owning none of it could do
    /// `access`: then every user, listed or not, can.
    pub fn open_to_everyone(&self, access: Access) -> bool {
        let stranger = Credentials {
            name: String::new(),
            uid: u32::MAX - 1,
            gids: vec![u32::MAX - 1],
        };
        self.allows(&stranger, access)
    }
}

fn relative(path: &Path) -> &Path {
    path.strip_prefix("/").unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(name: &str, uid: u32, gids: &[u32]) -> Credentials {
        Credentials {
            name: name.into(),
            uid,
            gids: gids.to_vec(),
        }
    }

    fn dir(uid: u32, gid: u32, mode: u32) -> Entry {
        Entry { uid, gid, mode }
    }

    /// `/` and `/run` as on a Debian host, then `dir`, then `file` in it.
    fn path(dir_entry: Entry, file: Entry) -> PathModes {
        PathModes {
            ancestors: vec![dir(0, 0, 0o755), dir(0, 0, 0o755), dir_entry],
            file,
        }
    }

    const DOCKER: u32 = 999;

    #[test]
    fn a_socket_of_group_docker_is_open_to_its_members_only() {
        let socket = path(dir(0, 0, 0o755), dir(0, DOCKER, 0o660));
        let alice = credentials("alice", 1000, &[1000, DOCKER]);
        let bob = credentials("bob", 1001, &[1001]);
        assert!(socket.allows(&alice, Access::Connect));
        assert!(!socket.allows(&bob, Access::Connect));
        assert!(!socket.open_to_everyone(Access::Connect));
    }

    #[test]
    fn a_root_only_directory_closes_a_socket_open_to_everyone() {
        let socket = path(dir(0, 0, 0o700), dir(0, DOCKER, 0o666));
        assert!(!socket.open_to_everyone(Access::Connect));
        let alice = credentials("alice", 1000, &[1000, DOCKER]);
        assert!(!socket.allows(&alice, Access::Connect));
    }

    #[test]
    fn a_world_writable_socket_is_open_to_everyone() {
        let socket = path(dir(0, 0, 0o755), dir(0, 0, 0o666));
        assert!(socket.open_to_everyone(Access::Connect));
    }

    #[test]
    fn the_owner_class_decides_for_the_owner_even_when_the_group_allows() {
        // Mode 0060: the owner is refused although its group could connect.
        let socket = path(dir(0, 0, 0o755), dir(1000, DOCKER, 0o060));
        let owner = credentials("alice", 1000, &[DOCKER]);
        assert!(!socket.allows(&owner, Access::Connect));
    }

    #[test]
    fn a_key_readable_by_its_group_is_read_by_the_members() {
        let key = path(dir(0, 0, 0o755), dir(0, 50, 0o640));
        let staff = credentials("carol", 1002, &[50]);
        assert!(key.allows(&staff, Access::Read));
        assert!(!key.allows(&staff, Access::Replace));
    }

    #[test]
    fn a_writable_directory_lets_a_file_be_replaced() {
        let ca = path(dir(0, 50, 0o770), dir(0, 0, 0o644));
        assert!(ca.allows(&credentials("carol", 1002, &[50]), Access::Replace));
    }

    #[test]
    fn a_sticky_directory_protects_files_of_others() {
        let ca = path(dir(0, 0, 0o1777), dir(0, 0, 0o644));
        assert!(!ca.open_to_everyone(Access::Replace));
    }

    #[test]
    fn owning_a_directory_above_is_owning_everything_below() {
        let ca = PathModes {
            ancestors: vec![dir(0, 0, 0o755), dir(1000, 1000, 0o755), dir(0, 0, 0o700)],
            file: dir(0, 0, 0o600),
        };
        assert!(ca.allows(&credentials("alice", 1000, &[1000]), Access::Replace));
    }

    #[test]
    fn root_is_never_listed() {
        let socket = path(dir(0, 0, 0o755), dir(0, 0, 0o666));
        let accounts = [
            credentials("root", 0, &[0]),
            credentials("alice", 1000, &[1000]),
        ];
        let names: Vec<_> = socket
            .who(&accounts, Access::Connect)
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, ["alice"]);
    }

    #[test]
    fn modes_are_read_from_the_file_system() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        fs::write(&key, "secret").unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o604)).unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o711)).unwrap();
        let modes = PathModes::read(Path::new("/"), &key).unwrap();
        assert!(modes.open_to_everyone(Access::Read));
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let modes = PathModes::read(Path::new("/"), &key).unwrap();
        assert!(!modes.open_to_everyone(Access::Read));
    }
}
