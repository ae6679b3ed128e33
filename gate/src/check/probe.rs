//! Knocking on dockerd's listeners the way a user could: plain HTTP, TLS without a client
//! certificate, and reading which CAs the daemon names for client certificates.
//!
//! A probe sends `GET /_ping` and only asks whether an HTTP answer comes back; any answer
//! (even a plugin's 403) means the caller got through to the API.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

/// How long one probe may wait for a connection or an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The request every probe sends.
const PING: &[u8] = b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n";

/// What Go's TLS server answers a plain HTTP request with.
const GO_TLS_ON_PLAIN_HTTP: &str = "Client sent an HTTP request to an HTTPS server";

/// What a TCP listener let an unauthenticated caller do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpProbe {
    /// The API answered plain HTTP: no TLS at all.
    PlainHttp,
    /// The API answered over TLS without a client certificate.
    TlsWithoutClientCertificate,
    /// A client certificate is required; these are the CA subjects the daemon named as
    /// acceptable issuers (DER).
    ClientCertificateRequired {
        /// The subjects, as the daemon sent them.
        acceptable_issuers: Vec<Vec<u8>>,
    },
    /// Neither got an answer (not HTTP, or the connection failed).
    NoAnswer {
        /// What happened.
        reason: String,
    },
}

/// Whether a unix socket answers HTTP `GET /_ping` with anything but 404 (the Docker API
/// answers 200, or the plugin's refusal; a metrics socket answers 404).
pub fn unix_answers_api(path: &Path) -> io::Result<bool> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    let answer = exchange(&mut stream)?;
    Ok(status_of(&answer).is_some_and(|status| status != 404))
}

/// Probes a TCP listener as a user without credentials could.
pub fn tcp(address: SocketAddr) -> TcpProbe {
    match plain_http(address) {
        Ok(answer) if status_of(&answer).is_some() && !answer.contains(GO_TLS_ON_PLAIN_HTTP) => {
            return TcpProbe::PlainHttp
        }
        Ok(_) | Err(_) => {}
    }
    match tls_without_certificate(address) {
        Ok((answer, _)) if status_of(&answer).is_some() => TcpProbe::TlsWithoutClientCertificate,
        Ok((_, hints)) => match hints {
            Some(acceptable_issuers) => TcpProbe::ClientCertificateRequired { acceptable_issuers },
            None => TcpProbe::NoAnswer {
                reason: "TLS handshake completed but no HTTP answer came back".into(),
            },
        },
        Err(error) => TcpProbe::NoAnswer {
            reason: error.to_string(),
        },
    }
}

fn connect(address: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    Ok(stream)
}

fn plain_http(address: SocketAddr) -> io::Result<String> {
    exchange(&mut connect(address)?)
}

/// Sends the ping and reads the answer (the first 4 KiB are enough to see its status).
fn exchange(stream: &mut impl ReadWrite) -> io::Result<String> {
    stream.write_all(PING)?;
    stream.flush()?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while answer.len() < 4096 {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(error) if answer.is_empty() => return Err(error),
            Err(_) => break,
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// The status code of an HTTP answer's first line.
fn status_of(answer: &str) -> Option<u16> {
    let line = answer.lines().next()?;
    let mut words = line.split(' ');
    words.next()?.strip_prefix("HTTP/1.")?;
    words.next()?.parse().ok()
}

/// A TLS handshake with no client certificate (the server's certificate is not checked: a
/// user would not check it either), then the ping. Returns the answer and the acceptable
/// issuers the server named, when it asked for a certificate.
fn tls_without_certificate(address: SocketAddr) -> io::Result<(String, Option<Vec<Vec<u8>>>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let hints = Arc::new(IssuerHints::default());
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
        .with_client_cert_resolver(Arc::clone(&hints) as Arc<dyn ResolvesClientCert>);
    let name = match address.ip() {
        ip if ip.is_unspecified() => ServerName::DnsName("localhost".try_into().expect("valid")),
        ip => ServerName::IpAddress(ip.into()),
    };
    let mut connection = ClientConnection::new(Arc::new(config), name).map_err(io::Error::other)?;
    let mut tcp = connect(address)?;
    let answer = exchange(&mut rustls::Stream::new(&mut connection, &mut tcp));
    let hints = hints.take();
    match answer {
        Ok(answer) => Ok((answer, hints)),
        // The daemon refused the missing certificate: that is the hints' story.
        Err(_) if hints.is_some() => Ok((String::new(), hints)),
        Err(error) => Err(error),
    }
}

/// Records the acceptable issuers of a certificate request and sends no certificate.
#[derive(Debug, Default)]
struct IssuerHints(Mutex<Option<Vec<Vec<u8>>>>);

impl IssuerHints {
    fn take(&self) -> Option<Vec<Vec<u8>>> {
        self.0.lock().ok().and_then(|mut hints| hints.take())
    }
}

impl ResolvesClientCert for IssuerHints {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        if let Ok(mut hints) = self.0.lock() {
            *hints = Some(root_hint_subjects.iter().map(|s| s.to_vec()).collect());
        }
        None
    }

    fn has_certs(&self) -> bool {
        // So that a certificate request reaches `resolve`.
        true
    }
}

/// Accepts any server certificate (signatures are still checked, so the handshake is real).
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_read() {
        assert_eq!(status_of("HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status_of("HTTP/1.0 400 Bad Request\r\n"), Some(400));
        assert_eq!(status_of("\u{15}\u{3}\u{1}"), None);
        assert_eq!(status_of(""), None);
    }
}
