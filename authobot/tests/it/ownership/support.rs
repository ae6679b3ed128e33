//! A TLS daemon in front of authobot: fake-dockerd's authz chain (dockerd 20.10's
//! middleware) sending what a `--tlsverify` daemon sends, `User` set to the client
//! certificate's CommonName, with made-up daemon answers for the response phase.

use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;

use authobot::audit::AuditLog;
use authobot::ownership::store::Store;
use authobot::plugin::Authobot;
use authobot::policy::DEFAULT_POLICY;
use authobot::Policy;
use fake_dockerd::chain::{InProcess, PluginEndpoint};
use fake_dockerd::{AuthzChain, ClientRequest, ClientResponse, Denial, Profile, ProfileName};
use protocol::client::PluginClient;

/// The default policy with `carol` in an admin group.
pub fn default_policy_with_admin() -> String {
    format!("{DEFAULT_POLICY}\n[groups.admins]\nmembers = [\"carol\"]\nadmin = true\n")
}

/// The policy of the mode tests (quota 2, list filter and owner label required).
pub fn modes_policy() -> String {
    std::fs::read_to_string(crate::support::crate_path(
        "tests/data/ownership-modes.toml",
    ))
    .expect("tests/data/ownership-modes.toml is readable")
}

/// authobot with `policy` and an ownership record in `state_dir`, auditing nowhere.
pub fn plugin(policy: &str, state_dir: &Path) -> Arc<Authobot> {
    let policy = Policy::parse(policy).expect("the test policy is valid");
    let store = Store::open(state_dir).expect("the ownership record opens");
    Arc::new(Authobot::with_store(
        policy,
        AuditLog::new(Box::new(std::io::sink())),
        store,
    ))
}

/// A full container id that shares no 12-character prefix with its neighbours.
pub fn container_id(n: u64) -> String {
    let mixed = n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{mixed:016x}").repeat(4)
}

/// A daemon answer with a JSON body.
pub fn answer(status: u16, body: &str) -> ClientResponse {
    ClientResponse {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
        ..ClientResponse::default()
    }
}

/// A dockerd 20.10 with `--tlsverify` and authobot as its only authorization plugin.
pub struct TlsDaemon {
    chain: AuthzChain,
    runtime: tokio::runtime::Runtime,
    next_id: Cell<u64>,
}

impl TlsDaemon {
    /// A daemon calling `plugin` in-process.
    pub fn in_process(plugin: Arc<Authobot>) -> TlsDaemon {
        TlsDaemon::with_endpoint(InProcess(plugin))
    }

    /// A daemon calling the plugin listening on `socket`, through the protocol crate's
    /// daemon-side client (fake-dockerd's socket endpoint).
    pub fn over_socket(socket: &Path) -> TlsDaemon {
        TlsDaemon::with_endpoint(PluginClient::new(socket))
    }

    fn with_endpoint<E: PluginEndpoint + 'static>(endpoint: E) -> TlsDaemon {
        TlsDaemon {
            chain: AuthzChain::new(
                Profile::get(ProfileName::Moby2010),
                vec![("authobot".to_owned(), endpoint)],
            ),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime"),
            next_id: Cell::new(0),
        }
    }

    /// `user`'s call; if the plugin lets it through, the daemon answers `response` and the
    /// plugin sees that too. An empty user is an anonymous (unix socket) caller.
    pub fn call(
        &self,
        user: &str,
        request: ClientRequest,
        response: ClientResponse,
    ) -> Result<(), Denial> {
        let mut request = request;
        request.tls_user = (!user.is_empty()).then(|| user.to_owned());
        self.runtime.block_on(async {
            self.chain.authorize_request(&request).await?;
            self.chain.authorize_response(&request, &response).await
        })
    }

    /// `docker create --name NAME busybox` by `user`; the new container's id.
    pub fn create(&self, user: &str, name: &str) -> Result<String, Denial> {
        self.create_with(user, name, r#"{"Image":"busybox","Cmd":["sh"]}"#)
    }

    /// A container create with `body` by `user`; the new container's id.
    pub fn create_with(&self, user: &str, name: &str, body: &str) -> Result<String, Denial> {
        let n = self.next_id.get();
        self.next_id.set(n + 1);
        let id = container_id(n);
        let target = format!("/v1.41/containers/create?name={name}");
        let response = answer(201, &format!(r#"{{"Id":"{id}","Warnings":[]}}"#));
        self.call(
            user,
            ClientRequest::new("POST", &target).json(body),
            response,
        )?;
        Ok(id)
    }

    /// A call whose daemon answer does not matter (200, empty JSON object).
    pub fn touch(&self, user: &str, method: &str, target: &str) -> Result<(), Denial> {
        self.call(user, ClientRequest::new(method, target), answer(200, "{}"))
    }

    /// A call with a JSON body whose daemon answer does not matter.
    pub fn touch_json(
        &self,
        user: &str,
        method: &str,
        target: &str,
        body: &str,
    ) -> Result<(), Denial> {
        self.call(
            user,
            ClientRequest::new(method, target).json(body),
            answer(200, "{}"),
        )
    }

    /// `docker rm -f REFERENCE` by `user`, answered 204 when let through.
    pub fn remove(&self, user: &str, reference: &str) -> Result<(), Denial> {
        let target = format!("/v1.41/containers/{reference}?force=1");
        self.call(user, ClientRequest::new("DELETE", &target), answer(204, ""))
    }
}

/// Asserts a refusal whose message names `words`.
#[track_caller]
pub fn assert_refused(result: Result<(), Denial>, words: &[&str]) {
    let denial = result.expect_err("the call should be refused");
    for word in words {
        assert!(
            denial.message.contains(word),
            "{word:?} missing from {:?}",
            denial.message
        );
    }
}
