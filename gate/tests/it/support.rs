//! A TLS server standing in for dockerd's TLS port: it requires a client certificate from
//! the gate's CA, as `dockerd --tlsverify --tlscacert ca.pem` does, and says who it saw.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The server's TLS settings: its certificate and key from `state` (`daemon.pem`,
/// `daemon-key.pem`), clients verified against `client_ca` when given.
pub fn daemon_tls(state: &Path, client_ca: Option<&Path>) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = vec![CertificateDer::from_pem_file(state.join("daemon.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(state.join("daemon-key.pem")).unwrap();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap();
    let config = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_file(ca).unwrap())
                .unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(config.with_single_cert(chain, key).unwrap())
}

/// The CommonName and the URIs of a DER certificate.
pub fn names_of(certificate: &[u8]) -> (String, Vec<String>) {
    use x509_parser::extensions::GeneralName;
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate).unwrap();
    let common_name = parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned();
    let uris = parsed
        .subject_alternative_name()
        .unwrap()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::URI(uri) => Some((*uri).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    (common_name, uris)
}

/// Serves `config` on a loopback port: each connection reads everything until the client
/// closes its half, then answers `CN <name>` (the client certificate's CommonName), a
/// newline and the bytes it received, and closes.
pub async fn echo_daemon(config: Arc<ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let name = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|cert| names_of(cert).0)
                    .unwrap_or_default();
                let mut received = Vec::new();
                if tls.read_to_end(&mut received).await.is_err() {
                    return;
                }
                let mut answer = format!("CN {name}\n").into_bytes();
                answer.extend_from_slice(&received);
                let _ = tls.write_all(&answer).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    address
}

/// Reads one request head and answers it as dockerd answers `/_ping`, then closes.
async fn answer_ping(mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")
        .await;
    let _ = stream.shutdown().await;
}

/// A loopback TCP listener answering pings, over TLS with `config` or in plain HTTP.
pub async fn ping_daemon(config: Option<Arc<ServerConfig>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = config.map(TlsAcceptor::from);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            answer_ping(tls).await;
                        }
                    }
                    None => answer_ping(tcp).await,
                }
            });
        }
    });
    address
}

/// A unix socket at `path` answering pings.
pub fn ping_socket(path: &Path) -> tokio::net::UnixListener {
    tokio::net::UnixListener::bind(path).unwrap()
}

/// Answers pings on `listener` until the test ends.
pub fn serve_pings(listener: tokio::net::UnixListener) {
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer_ping(stream));
        }
    });
}
