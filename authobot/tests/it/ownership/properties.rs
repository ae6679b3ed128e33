//! Model-based property: whatever the interleaving of creates, removals and accesses by
//! several users, the plugin allows a call on a container exactly when a plain map of
//! "container -> creator" says the caller owns it.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::support::{default_policy_with_admin, plugin, TlsDaemon};

const USERS: [&str; 3] = ["alice", "bob", "dave"];

/// How an access names the container.
#[derive(Debug, Clone, Copy)]
enum Naming {
    Name,
    FullId,
    Prefix,
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        user: usize,
    },
    Remove {
        user: usize,
        target: usize,
    },
    Access {
        user: usize,
        target: usize,
        naming: Naming,
        action: usize,
    },
}

const ACTIONS: [(&str, &str); 5] = [
    ("POST", "/v1.41/containers/{}/exec"),
    ("GET", "/v1.41/containers/{}/logs?stdout=1"),
    ("GET", "/v1.41/containers/{}/archive?path=%2F"),
    ("POST", "/v1.41/containers/{}/stop"),
    ("POST", "/v1.41/commit?container={}"),
];

fn op() -> impl Strategy<Value = Op> {
    let naming = prop_oneof![
        Just(Naming::Name),
        Just(Naming::FullId),
        Just(Naming::Prefix)
    ];
    prop_oneof![
        (0..USERS.len()).prop_map(|user| Op::Create { user }),
        (0..USERS.len(), 0..8usize).prop_map(|(user, target)| Op::Remove { user, target }),
        (0..USERS.len(), 0..8usize, naming, 0..ACTIONS.len()).prop_map(
            |(user, target, naming, action)| Op::Access {
                user,
                target,
                naming,
                action
            }
        ),
    ]
}

/// A container the test created: its name and id (gone ones stay, for stale references).
struct Made {
    name: String,
    id: String,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn no_interleaving_lets_a_user_touch_another_users_container(
        ops in proptest::collection::vec(op(), 1..40)
    ) {
        let state = tempfile::tempdir().unwrap();
        let daemon = TlsDaemon::in_process(plugin(&default_policy_with_admin(), state.path()));
        let mut made: Vec<Made> = Vec::new();
        // The reference model: live container id -> owner.
        let mut owners: BTreeMap<String, &str> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Create { user } => {
                    let name = format!("c{}", made.len());
                    let id = daemon.create(USERS[user], &name).expect("creates are allowed");
                    owners.insert(id.clone(), USERS[user]);
                    made.push(Made { name, id });
                }
                Op::Remove { user, target } => {
                    let Some(m) = made.get(target) else { continue };
                    let allowed = daemon.remove(USERS[user], &m.name).is_ok();
                    prop_assert_eq!(allowed, owners.get(&m.id) == Some(&USERS[user]));
                    if allowed {
                        owners.remove(&m.id);
                    }
                }
                Op::Access { user, target, naming, action } => {
                    let Some(m) = made.get(target) else { continue };
                    let reference = match naming {
                        Naming::Name => m.name.clone(),
                        Naming::FullId => m.id.clone(),
                        Naming::Prefix => m.id[..12].to_owned(),
                    };
                    let (method, template) = ACTIONS[action];
                    let target = template.replace("{}", &reference);
                    let allowed = daemon
                        .touch_json(USERS[user], method, &target, r#"{"Cmd":["sh"]}"#)
                        .is_ok();
                    prop_assert_eq!(
                        allowed,
                        owners.get(&m.id) == Some(&USERS[user]),
                        "{} {} by {}", method, target, USERS[user]
                    );
                }
            }
        }
    }
}
