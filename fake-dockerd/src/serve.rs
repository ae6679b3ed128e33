//! `fake-dockerd serve`: a Docker API endpoint that runs the authz chain as a daemon would.
//!
//! Every call is read whole, routed (unknown routes and unclean paths are answered before
//! any plugin is asked, as dockerd's router does), put through the profile's request phase,
//! answered by the in-memory engine or a real daemon (`--upstream`), and put through the
//! response phase in the form dockerd's middleware would see it: a buffered answer whole,
//! a flushed or hijacked one empty and after the fact. `record` reuses the same machinery
//! with no plugins and a tap that writes each exchange down.

pub mod discovery;
mod relay;

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use protocol::client::PluginClient;
use protocol::{ActivateManifest, AuthzRequest, Phase};
use tokio::net::UnixListener;

use crate::backend::{EngineIdentity, MemoryEngine, Reply};
use crate::chain::{
    ActivationError, AuthzChain, BoxFuture, Denial, EndpointAnswer, PluginEndpoint,
};
use crate::profile_go::canonical_header_key;
use crate::upstream::{Upstream, UpstreamError};
use crate::{ClientRequest, ClientResponse, Profile, ProfileName};
use discovery::{DiscoveryError, SearchPaths};

/// Serve the Docker API on a unix socket, with dockerd's authz plugin chain in front of an
/// in-memory engine or a real daemon.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Unix socket to serve the Docker API on (point DOCKER_HOST=unix://SOCK at it).
    #[arg(long)]
    pub listen: PathBuf,
    /// An authz plugin by name, found as dockerd finds it; repeat for a chain (flag order).
    #[arg(long = "authorization-plugin", value_name = "NAME")]
    pub plugins: Vec<String>,
    /// The daemon version family whose authz behaviour to reproduce.
    #[arg(long, default_value = "moby-20.10")]
    pub profile: ProfileName,
    /// Forward allowed calls to this real daemon (unix:///var/run/docker.sock) instead of
    /// answering from the in-memory engine.
    #[arg(long, value_name = "ADDRESS")]
    pub upstream: Option<String>,
    /// Look for plugins (NAME.sock, NAME/NAME.sock, NAME.spec, NAME.json) only in this
    /// directory instead of /run/docker/plugins, /etc/docker/plugins, /usr/lib/docker/plugins.
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
}

/// Why `serve` could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A plugin could not be located within dockerd's retry window.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// A plugin's socket was found but nothing answers on it (retried like dockerd).
    #[error("plugin {name} is unreachable: {reason}")]
    Unreachable {
        /// The plugin name.
        name: String,
        /// The connection error.
        reason: String,
    },
    /// A plugin answered its activation with something dockerd refuses, or it is not an
    /// authz plugin (not retried, as in dockerd).
    #[error("plugin {name} could not be activated: {reason}")]
    Activation {
        /// The plugin name.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// The upstream address is unusable or the daemon does not answer.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The API socket could not be bound.
    #[error("cannot listen on {}: {reason}", path.display())]
    Listen {
        /// The socket path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Accepting a connection failed.
    #[error("accepting a connection failed: {0}")]
    Accept(#[source] std::io::Error),
}

/// Where allowed calls are answered.
#[derive(Debug)]
pub enum Engine {
    /// The in-memory engine.
    Memory(MemoryEngine),
    /// A real daemon, with the identity headers it puts on every answer.
    Upstream(Upstream, Vec<(String, String)>),
}

/// Called with every finished exchange, as the client saw it (used by `record`).
pub type Tap = Arc<dyn Fn(&ClientRequest, &ClientResponse) + Send + Sync>;

/// Everything a connection handler needs.
pub struct Service {
    /// The daemon family whose router and middleware are reproduced.
    profile: Profile,
    /// The plugin chain; `None` without plugins, where dockerd skips its authz middleware
    /// and leaves routing to the daemon (`record`).
    chain: Option<AuthzChain>,
    /// Who answers.
    engine: Engine,
    /// Receives finished exchanges (whole bodies), if set.
    tap: Option<Tap>,
    /// Exchanges not finished yet (response phase and tap included): shutdown waits for them.
    flights: tokio::sync::watch::Sender<usize>,
}

/// Marks an exchange as in flight until dropped.
#[derive(Debug)]
struct Flight(tokio::sync::watch::Sender<usize>);

impl Drop for Flight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

impl Service {
    /// A service answering with `engine`, behind `chain` (none: no authz middleware at
    /// all), passing finished exchanges to `tap`.
    pub fn new(
        profile: Profile,
        chain: Option<AuthzChain>,
        engine: Engine,
        tap: Option<Tap>,
    ) -> Service {
        Service {
            profile,
            chain,
            engine,
            tap,
            flights: tokio::sync::watch::Sender::new(0),
        }
    }

    fn enter(&self) -> Flight {
        self.flights.send_modify(|n| *n += 1);
        Flight(self.flights.clone())
    }

    /// Waits until no exchange is in flight, at most `limit`.
    async fn drain(&self, limit: std::time::Duration) {
        let mut flights = self.flights.subscribe();
        if tokio::time::timeout(limit, flights.wait_for(|n| *n == 0))
            .await
            .is_err()
        {
            tracing::warn!(
                "{} exchanges still in flight at shutdown",
                *flights.borrow()
            );
        }
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("engine", &self.engine)
            .field("plugins", &self.chain.is_some())
            .field("tap", &self.tap.is_some())
            .finish_non_exhaustive()
    }
}

/// The body type of every answer: whole or relayed chunk by chunk.
pub type AnswerBody = BoxBody<Bytes, std::io::Error>;

/// Runs `fake-dockerd serve` until SIGTERM or SIGINT.
pub async fn run(args: Args) -> Result<(), ServeError> {
    let profile = Profile::get(args.profile);
    let paths = args
        .plugin_dir
        .as_deref()
        .map(SearchPaths::single)
        .unwrap_or_else(SearchPaths::dockerd);
    let mut plugins = Vec::new();
    for name in &args.plugins {
        let plugin = connect_plugin(name, &paths, &profile).await?;
        plugins.push((name.clone(), plugin));
    }
    let engine = match &args.upstream {
        Some(address) => {
            let upstream = Upstream::from_address(address)?;
            let identity = upstream.identity().await?;
            Engine::Upstream(upstream, identity)
        }
        None => Engine::Memory(MemoryEngine::new(engine_identity(args.profile))),
    };
    let chain = (!plugins.is_empty()).then(|| AuthzChain::new(profile.clone(), plugins));
    let service = Service::new(profile, chain, engine, None);
    let listener = listen(&args.listen)?;
    tracing::info!(socket = %args.listen.display(), profile = %args.profile, "serving the Docker API");
    serve(
        listener,
        Arc::new(service),
        protocol::server::shutdown_signal(),
    )
    .await
}

/// Binds the API socket (a stale socket file is replaced, a live one refused).
pub fn listen(path: &std::path::Path) -> Result<UnixListener, ServeError> {
    protocol::server::bind_unix(path).map_err(|err| ServeError::Listen {
        path: path.to_path_buf(),
        reason: err.to_string(),
    })
}

/// How long a stopping server waits for exchanges in flight.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Accepts connections and answers them with `service` until `shutdown` resolves.
pub async fn serve(
    listener: UnixListener,
    service: Arc<Service>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServeError> {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted.map_err(ServeError::Accept)?.0,
            () = &mut shutdown => {
                // Streams, hijacks and response phases still running finish (and are
                // recorded) before the process ends.
                service.drain(SHUTDOWN_GRACE).await;
                return Ok(());
            }
        };
        let service = Arc::clone(&service);
        tokio::spawn(async move {
            let handler = hyper::service::service_fn(move |request| {
                let service = Arc::clone(&service);
                async move { Ok::<_, Infallible>(answer(&service, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .title_case_headers(true)
                .serve_connection(TokioIo::new(stream), handler)
                .with_upgrades();
            if let Err(err) = connection.await {
                tracing::debug!("client connection ended: {err}");
            }
        });
    }
}

/// Locates, then activates plugin `name`, retrying both as dockerd does at startup.
async fn connect_plugin(
    name: &str,
    paths: &SearchPaths,
    profile: &Profile,
) -> Result<Activated, ServeError> {
    let started = std::time::Instant::now();
    let mut retries = 0;
    loop {
        let attempt = match discovery::locate(name, paths) {
            Ok(socket) => activate(name, socket).await,
            Err(err) => Err(ServeError::Discovery(err)),
        };
        match attempt {
            Ok(plugin) => return Ok(plugin),
            Err(err @ ServeError::Activation { .. }) => return Err(err),
            Err(err) => {
                let wait = profile.retry.backoff(retries);
                // pkg/plugins/client.go `abort`: no retry whose wait would end the window.
                if started.elapsed() + wait >= profile.retry.give_up_after {
                    return Err(err);
                }
                tracing::warn!("unable to reach plugin {name}: {err}, retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                retries += 1;
            }
        }
    }
}

/// dockerd's `ErrNotImplements` text (`pkg/plugins/plugins.go`).
const NOT_AUTHZ: &str = "Plugin does not implement the requested driver";

/// A plugin activated at startup, as dockerd's `validateAuthzPlugins` does. The chain's
/// activation on first use gets the stored manifest: dockerd sends `Plugin.Activate` once.
#[derive(Debug)]
pub struct Activated {
    client: PluginClient,
    manifest: ActivateManifest,
}

impl PluginEndpoint for Activated {
    fn activate(&self) -> BoxFuture<'_, Result<ActivateManifest, ActivationError>> {
        let manifest = self.manifest.clone();
        Box::pin(async move { Ok(manifest) })
    }

    fn call<'a>(
        &'a self,
        phase: Phase,
        message: &'a AuthzRequest,
    ) -> BoxFuture<'a, EndpointAnswer> {
        PluginEndpoint::call(&self.client, phase, message)
    }
}

async fn activate(name: &str, socket: PathBuf) -> Result<Activated, ServeError> {
    let client = PluginClient::new(socket);
    let manifest = PluginEndpoint::activate(&client)
        .await
        .map_err(|err| match err {
            ActivationError::Unreachable(reason) => ServeError::Unreachable {
                name: name.to_owned(),
                reason,
            },
            ActivationError::Refused(reason) => ServeError::Activation {
                name: name.to_owned(),
                reason,
            },
        })?;
    if !manifest.implements_authz() {
        return Err(ServeError::Activation {
            name: name.to_owned(),
            reason: NOT_AUTHZ.to_owned(),
        });
    }
    Ok(Activated { client, manifest })
}

/// The engine identity a profile's daemon reports (version and API range).
pub fn engine_identity(profile: ProfileName) -> EngineIdentity {
    let (version, api, min) = match profile {
        ProfileName::MobyPre2024 => ("20.10.24", "1.41", "1.12"),
        ProfileName::Moby2010 => ("20.10.24+dfsg1", "1.41", "1.12"),
        ProfileName::Moby271 => ("27.1.1", "1.46", "1.24"),
        ProfileName::Moby293 => ("29.3.1", "1.54", "1.40"),
    };
    EngineIdentity {
        version: version.to_owned(),
        api_version: api.to_owned(),
        min_api_version: min.to_owned(),
    }
}

/// Answers one client call.
async fn answer(service: &Arc<Service>, mut request: Request<Incoming>) -> Response<AnswerBody> {
    let _flight = service.enter();
    let upgrade = request
        .headers()
        .contains_key(http::header::UPGRADE)
        .then(|| hyper::upgrade::on(&mut request));
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => return plain_error(StatusCode::BAD_REQUEST, &format!("reading body: {err}")),
    };
    let call = client_request(&parts, &body);
    // Without plugins a forwarded call is the daemon's to route; otherwise calls the
    // daemon would answer by itself must never reach a plugin or the engine.
    let routes_locally = service.chain.is_some() || matches!(service.engine, Engine::Memory(_));
    let route = if routes_locally {
        match relay::route(&service.profile, &call) {
            Ok(route) => Some(route),
            Err(refusal) => return relay::refusal_response(&refusal),
        }
    } else {
        protocol::route::parse(&call.method, &call.target).ok()
    };
    if let Some(chain) = &service.chain {
        if let Err(denial) = chain.authorize_request(&call).await {
            // The route only: the target's query and the plugin's message can carry values
            // of the call (build args, a field a policy quotes).
            let template = route
                .as_ref()
                .map_or("(unroutable)", |route| route.template);
            tracing::info!(method = %call.method, route = template, status = denial.status, "denied by a plugin");
            return denial_response(&denial);
        }
    }
    relay::dispatch(service, route, parts, body, call, upgrade).await
}

/// The call as it crossed the wire. hyper lower-cases header names; they are given back in
/// Go's canonical spelling, which is all dockerd could tell of them.
pub fn client_request(parts: &http::request::Parts, body: &Bytes) -> ClientRequest {
    let chunked = parts
        .headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .any(|v| v.as_bytes().to_ascii_lowercase().ends_with(b"chunked"));
    ClientRequest {
        method: parts.method.as_str().to_owned(),
        target: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| parts.uri.to_string()),
        headers: header_lines(&parts.headers),
        body: body.to_vec(),
        chunked,
        tls_user: None,
        peer_certificates: Vec::new(),
    }
}

/// Header lines in order, names canonicalised, values as text (bytes beyond ASCII as
/// Latin-1, since Go keeps raw bytes).
pub fn header_lines(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let text = match value.to_str() {
                Ok(text) => text.to_owned(),
                Err(_) => value.as_bytes().iter().map(|&b| char::from(b)).collect(),
            };
            (canonical_header_key(name.as_str()), text)
        })
        .collect()
}

/// dockerd's error answer: `{"message": ...}` as JSON with the given status.
pub fn json_error(status: u16, message: &str) -> Response<AnswerBody> {
    let body = serde_json::json!({ "message": message }).to_string() + "\n";
    let mut response = Response::new(whole(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// The answer to a denied call. The authz middleware wraps the version middleware, so a
/// denial carries none of the daemon's identity headers.
fn denial_response(denial: &Denial) -> Response<AnswerBody> {
    json_error(denial.status, &denial.message)
}

fn plain_error(status: StatusCode, message: &str) -> Response<AnswerBody> {
    json_error(status.as_u16(), message)
}

/// A body sent whole.
pub fn whole(bytes: impl Into<Bytes>) -> AnswerBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

impl Service {
    /// Runs the response phase, as dockerd does only when plugins are configured.
    async fn authorize_response(
        &self,
        call: &ClientRequest,
        response: &ClientResponse,
    ) -> Result<(), Denial> {
        match &self.chain {
            Some(chain) => chain.authorize_response(call, response).await,
            None => Ok(()),
        }
    }

    /// `headers` with the daemon's identity headers added where absent. A hijacked call's
    /// response phase shows what the version middleware set, even when the daemon wrote its
    /// switch of protocols without them (attach does).
    fn with_identity(&self, headers: &[(String, String)]) -> Vec<(String, String)> {
        let identity = match &self.engine {
            Engine::Memory(engine) => engine.identity().headers(),
            Engine::Upstream(_, identity) => identity.clone(),
        };
        identity
            .into_iter()
            .filter(|(name, _)| !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
            .chain(headers.iter().cloned())
            .collect()
    }

    /// Resolves a pending answer of the in-memory engine.
    async fn resolve(&self, container_id: &str, awaited: &crate::backend::Awaited) -> Reply {
        match &self.engine {
            Engine::Memory(engine) => engine.resolve(container_id, awaited).await,
            Engine::Upstream(..) => Reply::Failed {
                status: 500,
                message: "fake-dockerd: a pending answer needs the in-memory engine".into(),
            },
        }
    }

    fn record(&self, call: &ClientRequest, response: &ClientResponse) {
        if let Some(tap) = &self.tap {
            tap(call, response);
        }
    }
}

/// A response-phase verdict on a call whose answer already left: dockerd writes the error
/// after what was flushed, so a deny shows up as a JSON error at the end of the stream.
fn late_denial_bytes(denial: &Denial) -> Bytes {
    Bytes::from(serde_json::json!({ "message": denial.message }).to_string() + "\n")
}
