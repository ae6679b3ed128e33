//! The host's accounts and groups, read from `/etc/passwd` and `/etc/group`.
//!
//! Read directly rather than through NSS: authobot ships as one static binary, and a static
//! glibc program that loads NSS modules (Debian's default `files systemd` loads
//! libnss_systemd for every group lookup) crashes. So users and groups known only to a
//! network directory (LDAP, sssd) are not seen: such a caller is refused as unknown.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One line of the passwd file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The login name.
    pub name: String,
    /// The uid.
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
}

/// One line of the group file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// The group's name.
    pub name: String,
    /// Its gid.
    pub gid: u32,
    /// Its supplementary members, by login name.
    pub members: Vec<String>,
}

/// Where the accounts are read from.
#[derive(Debug, Clone)]
pub struct UserDb {
    passwd: PathBuf,
    group: PathBuf,
}

impl UserDb {
    /// The host's `/etc/passwd` and `/etc/group`.
    pub fn system() -> Self {
        UserDb::at("/etc/passwd", "/etc/group")
    }

    /// Other files of the same formats.
    pub fn at(passwd: impl Into<PathBuf>, group: impl Into<PathBuf>) -> Self {
        UserDb {
            passwd: passwd.into(),
            group: group.into(),
        }
    }

    /// The passwd file.
    pub fn passwd_path(&self) -> &Path {
        &self.passwd
    }

    /// Every account, in file order.
    pub fn accounts(&self) -> io::Result<Vec<Account>> {
        Ok(parse_passwd(&fs::read_to_string(&self.passwd)?))
    }

    /// Every group, in file order.
    pub fn groups(&self) -> io::Result<Vec<GroupEntry>> {
        Ok(parse_group(&fs::read_to_string(&self.group)?))
    }

    /// The first account with `uid`, as `getpwuid` finds it.
    pub fn account_by_uid(&self, uid: u32) -> io::Result<Option<Account>> {
        Ok(self
            .accounts()?
            .into_iter()
            .find(|account| account.uid == uid))
    }

    /// The gid of the group named `name`.
    pub fn gid_of(&self, name: &str) -> io::Result<Option<u32>> {
        Ok(self
            .groups()?
            .into_iter()
            .find(|group| group.name == name)
            .map(|group| group.gid))
    }
}

/// The groups `account` is in, as `initgroups` makes them: its primary group and every
/// group listing it as a member.
pub fn groups_of<'a>(account: &Account, groups: &'a [GroupEntry]) -> Vec<&'a GroupEntry> {
    groups
        .iter()
        .filter(|group| group.gid == account.gid || group.members.contains(&account.name))
        .collect()
}

/// `name:password:uid:gid:gecos:home:shell` lines; comments, NIS `+`/`-` lines and lines
/// without numeric ids are skipped.
fn parse_passwd(text: &str) -> Vec<Account> {
    text.lines()
        .filter(|line| !line.starts_with(['#', '+', '-']))
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next().filter(|name| !name.is_empty())?;
            let _password = fields.next()?;
            let uid = fields.next()?.parse().ok()?;
            let gid = fields.next()?.parse().ok()?;
            Some(Account {
                name: name.to_owned(),
                uid,
                gid,
            })
        })
        .collect()
}

/// `name:password:gid:member,member` lines.
fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|line| !line.starts_with(['#', '+', '-']))
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next().filter(|name| !name.is_empty())?;
            let _password = fields.next()?;
            let gid = fields.next()?.parse().ok()?;
            let members = fields
                .next()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|member| !member.is_empty())
                .map(str::to_owned)
                .collect();
            Some(GroupEntry {
                name: name.to_owned(),
                gid,
                members,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        # a comment\n\
        +nisuser::::::\n\
        alice:x:1000:1000:Alice:/home/alice:/bin/sh\n\
        broken:x:notanumber:1\n\
        toor:x:0:0::/root:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nalice:x:1000:\ndocker:x:999:alice,bob\nstaff:x:50:bob\n";

    #[test]
    fn passwd_lines_become_accounts_and_odd_lines_are_skipped() {
        let names: Vec<_> = parse_passwd(PASSWD).into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["root", "alice", "toor"]);
    }

    #[test]
    fn a_user_is_in_its_primary_group_and_every_group_listing_it() {
        let accounts = parse_passwd(PASSWD);
        let groups = parse_group(GROUP);
        let alice = &accounts[1];
        let names: Vec<_> = groups_of(alice, &groups)
            .into_iter()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(names, ["alice", "docker"]);
    }

    #[test]
    fn the_first_account_of_a_uid_names_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("passwd"), PASSWD).unwrap();
        fs::write(dir.path().join("group"), GROUP).unwrap();
        let db = UserDb::at(dir.path().join("passwd"), dir.path().join("group"));
        assert_eq!(db.account_by_uid(0).unwrap().unwrap().name, "root");
        assert_eq!(db.account_by_uid(4242).unwrap(), None);
        assert_eq!(db.gid_of("docker").unwrap(), Some(999));
        assert_eq!(db.gid_of("nope").unwrap(), None);
    }
}
