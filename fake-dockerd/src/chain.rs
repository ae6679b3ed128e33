//! The authz chain: dockerd's middleware calling its plugins in order, for both phases.
//!
//! Plugins are asked in flag order with duplicates dropped; the first deny or error stops the
//! chain; a request-phase deny means no plugin gets `AuthZRes`. Each plugin is activated on
//! first use and unreachable plugins are retried with the daemon's backoff. The texts and
//! statuses of [`Denial`] are the ones the client sees (v20.10.24 and HEAD `pkg/authorization/
//! {authz,middleware,plugin}.go`, `pkg/plugins/client.go`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use protocol::{ActivateManifest, AuthzPlugin, AuthzReply, AuthzRequest, Phase};
use tokio::sync::OnceCell;

use crate::profile::{ClientRequest, ClientResponse, Profile, Refusal, ResponseKind, RetryRule};

/// A boxed future, for the object-safe [`PluginEndpoint`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The daemon refusing a call, exactly as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {status}: {message}")]
pub struct Denial {
    /// The HTTP status of the error. After a response was already flushed this is the status
    /// the client got before the error text was appended to the body.
    pub status: u16,
    /// The `message` of the daemon's JSON error body.
    pub message: String,
}

impl From<Refusal> for Denial {
    fn from(refusal: Refusal) -> Self {
        Denial {
            status: refusal.status,
            message: refusal.message,
        }
    }
}

/// Why `Plugin.Activate` gave no manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationError {
    /// The plugin could not be reached (dockerd retries with backoff).
    #[error("{0}")]
    Unreachable(String),
    /// The plugin answered, but not with a manifest dockerd accepts.
    #[error("{0}")]
    Refused(String),
}

/// One plugin's answer to one call, before the chain judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointAnswer {
    /// The plugin answered over HTTP.
    Answered {
        /// The HTTP status.
        status: u16,
        /// The raw body.
        body: Vec<u8>,
        /// The verdict as dockerd reads it, or the error text it reports.
        verdict: Result<AuthzReply, String>,
    },
    /// The plugin could not be reached (dockerd retries these).
    Unreachable(String),
}

/// Something the chain can call as a plugin: a socket (`protocol::client::PluginClient`,
/// see `chain_client.rs`) or an in-process [`AuthzPlugin`] ([`InProcess`]).
pub trait PluginEndpoint: Send + Sync + fmt::Debug {
    /// `Plugin.Activate`: the manifest, or why it could not be had.
    fn activate(&self) -> BoxFuture<'_, Result<ActivateManifest, ActivationError>>;
    /// One `AuthZReq` or `AuthZRes` call.
    fn call<'a>(&'a self, phase: Phase, message: &'a AuthzRequest)
        -> BoxFuture<'a, EndpointAnswer>;
}

/// An [`AuthzPlugin`] called in-process, as if over a socket that always answers 200.
#[derive(Debug, Clone)]
pub struct InProcess<P>(pub Arc<P>);

impl<P: AuthzPlugin + fmt::Debug> PluginEndpoint for InProcess<P> {
    fn activate(&self) -> BoxFuture<'_, Result<ActivateManifest, ActivationError>> {
        let manifest = self.0.manifest();
        Box::pin(async move { Ok(manifest) })
    }

    fn call<'a>(
        &'a self,
        phase: Phase,
        message: &'a AuthzRequest,
    ) -> BoxFuture<'a, EndpointAnswer> {
        let reply = match phase {
            Phase::Request => self.0.authz_request(message),
            Phase::Response => self.0.authz_response(message),
        };
        let body = serde_json::to_vec(&reply).unwrap_or_default();
        Box::pin(async move {
            EndpointAnswer::Answered {
                status: 200,
                body,
                verdict: Ok(reply),
            }
        })
    }
}

/// One plugin call the chain made, for replay output and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCall {
    /// The plugin's name in the chain.
    pub plugin: String,
    /// Which phase.
    pub phase: Phase,
    /// The message sent.
    pub sent: AuthzRequest,
    /// What came back (after retries, the last attempt).
    pub answer: EndpointAnswer,
}

/// The result of one phase with the calls it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseOutcome {
    /// `Ok` when the call goes on (or, in the response phase, the client's answer stands).
    pub result: Result<(), Denial>,
    /// The plugin calls made, in order.
    pub calls: Vec<ChainCall>,
}

#[derive(Debug)]
struct ChainPlugin {
    name: String,
    endpoint: Box<dyn PluginEndpoint>,
    activated: OnceCell<Result<(), String>>,
}

/// dockerd's authz middleware with its plugins, for one daemon profile.
#[derive(Debug)]
pub struct AuthzChain {
    profile: Profile,
    retry: RetryRule,
    plugins: Vec<ChainPlugin>,
}

impl AuthzChain {
    /// A chain of plugins in flag order; a repeated name is dropped as dockerd drops it.
    pub fn new<E: PluginEndpoint + 'static>(profile: Profile, plugins: Vec<(String, E)>) -> Self {
        let boxed = plugins
            .into_iter()
            .map(|(name, endpoint)| (name, Box::new(endpoint) as Box<dyn PluginEndpoint>))
            .collect();
        Self::from_endpoints(profile, boxed)
    }

    /// A chain of mixed endpoints (sockets and in-process plugins).
    pub fn from_endpoints(
        profile: Profile,
        plugins: Vec<(String, Box<dyn PluginEndpoint>)>,
    ) -> Self {
        let mut chain: Vec<ChainPlugin> = Vec::new();
        for (name, endpoint) in plugins {
            if chain.iter().any(|p| p.name == name) {
                continue;
            }
            chain.push(ChainPlugin {
                name,
                endpoint,
                activated: OnceCell::new(),
            });
        }
        AuthzChain {
            retry: profile.retry,
            profile,
            plugins: chain,
        }
    }

    /// Replaces the daemon's retry timing (tests and harnesses that cannot wait 15 s).
    pub fn with_retry(mut self, retry: RetryRule) -> Self {
        self.retry = retry;
        self
    }

    /// The profile the chain plays.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The plugin names, in calling order, duplicates dropped.
    pub fn plugin_names(&self) -> Vec<&str> {
        self.plugins.iter().map(|p| p.name.as_str()).collect()
    }

    /// The request phase: `Ok` lets the daemon run the handler.
    pub async fn authorize_request(&self, req: &ClientRequest) -> Result<(), Denial> {
        self.authorize_request_traced(req).await.result
    }

    /// The response phase: `Ok` when the client's answer stands as the handler wrote it.
    pub async fn authorize_response(
        &self,
        req: &ClientRequest,
        resp: &ClientResponse,
    ) -> Result<(), Denial> {
        self.authorize_response_traced(req, resp).await.result
    }

    /// [`AuthzChain::authorize_request`] with every plugin call it made.
    pub async fn authorize_request_traced(&self, req: &ClientRequest) -> PhaseOutcome {
        let message = match self.profile.plugin_request(req) {
            Ok(message) => message,
            Err(refusal) => {
                return PhaseOutcome {
                    result: Err(refusal.into()),
                    calls: Vec::new(),
                }
            }
        };
        if self.plugins.is_empty() {
            return PhaseOutcome {
                result: Ok(()),
                calls: Vec::new(),
            };
        }
        self.run(Phase::Request, message).await
    }

    /// [`AuthzChain::authorize_response`] with every plugin call it made.
    pub async fn authorize_response_traced(
        &self,
        req: &ClientRequest,
        resp: &ClientResponse,
    ) -> PhaseOutcome {
        let message = self.profile.plugin_response(req, resp);
        let mut outcome = self.run(Phase::Response, message).await;
        let flushed = resp.kind == ResponseKind::Streamed
            || (resp.kind == ResponseKind::Buffered
                && resp.body.len() > self.profile.response_buffer);
        outcome.result = match (outcome.result, resp.kind) {
            (Ok(()), _) => Ok(()),
            // middleware.go: a handler error wins; the AuthZRes verdict is dropped.
            (Err(_), ResponseKind::HandlerError) => Ok(()),
            // The connection is gone from the HTTP server; the error write fails unseen.
            (Err(_), ResponseKind::Hijacked) => Ok(()),
            // Status and headers already left: the error text is appended to the body.
            (Err(denial), _) if flushed => Err(Denial {
                status: resp.status,
                message: denial.message,
            }),
            (Err(denial), _) => Err(denial),
        };
        outcome
    }

    /// Sends a message recorded from a real daemon to the plugins unchanged, judging the
    /// answers as the daemon would.
    pub async fn send_recorded(&self, phase: Phase, message: AuthzRequest) -> PhaseOutcome {
        self.run(phase, message).await
    }

    async fn run(&self, phase: Phase, message: AuthzRequest) -> PhaseOutcome {
        let mut calls = Vec::new();
        for plugin in &self.plugins {
            let fail = |text: String| Denial {
                status: 500,
                message: format!("plugin {} failed with error: {text}", plugin.name),
            };
            if let Err(error) = self.activate(plugin).await {
                return PhaseOutcome {
                    result: Err(fail(error)),
                    calls,
                };
            }
            let answer = self.call_with_retry(plugin, phase, &message).await;
            calls.push(ChainCall {
                plugin: plugin.name.clone(),
                phase,
                sent: message.clone(),
                answer: answer.clone(),
            });
            let verdict = match answer {
                EndpointAnswer::Answered { verdict, .. } => verdict,
                EndpointAnswer::Unreachable(error) => Err(error),
            };
            match verdict {
                Ok(reply) if reply.allow => {}
                Ok(reply) => {
                    return PhaseOutcome {
                        result: Err(Denial {
                            status: 403,
                            message: format!(
                                "authorization denied by plugin {}: {}",
                                plugin.name, reply.msg
                            ),
                        }),
                        calls,
                    }
                }
                Err(error) => {
                    return PhaseOutcome {
                        result: Err(fail(error)),
                        calls,
                    }
                }
            }
        }
        PhaseOutcome {
            result: Ok(()),
            calls,
        }
    }

    /// Lazy activation, once per plugin (`initPlugin`'s `sync.Once`): a failure sticks.
    async fn activate(&self, plugin: &ChainPlugin) -> Result<(), String> {
        plugin
            .activated
            .get_or_init(|| async {
                let manifest = self.with_retry_loop(|| plugin.endpoint.activate()).await?;
                if manifest.implements_authz() {
                    Ok(())
                } else {
                    Err("Plugin does not implement the requested driver".to_owned())
                }
            })
            .await
            .clone()
    }

    async fn call_with_retry(
        &self,
        plugin: &ChainPlugin,
        phase: Phase,
        message: &AuthzRequest,
    ) -> EndpointAnswer {
        let start = Instant::now();
        let mut retries = 0;
        loop {
            let answer = plugin.endpoint.call(phase, message).await;
            let EndpointAnswer::Unreachable(_) = &answer else {
                return answer;
            };
            let wait = self.retry.backoff(retries);
            if start.elapsed() + wait >= self.retry.give_up_after {
                return answer;
            }
            tracing::warn!(plugin = %plugin.name, ?wait, "unable to connect to plugin, retrying");
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    /// `callWithRetry` for activation: only transport failures are retried.
    async fn with_retry_loop<'a, F>(&self, mut attempt: F) -> Result<ActivateManifest, String>
    where
        F: FnMut() -> BoxFuture<'a, Result<ActivateManifest, ActivationError>>,
    {
        let start = Instant::now();
        let mut retries = 0;
        loop {
            match attempt().await {
                Ok(manifest) => return Ok(manifest),
                Err(ActivationError::Refused(error)) => return Err(error),
                Err(ActivationError::Unreachable(error)) => {
                    let wait = self.retry.backoff(retries);
                    if start.elapsed() + wait >= self.retry.give_up_after {
                        return Err(error);
                    }
                    tokio::time::sleep(wait).await;
                    retries += 1;
                }
            }
        }
    }
}
