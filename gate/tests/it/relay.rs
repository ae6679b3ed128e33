//! The relay: a caller on the unix socket reaches the daemon's TLS port as its own user,
//! byte for byte; a daemon it cannot reach or trust is an HTTP error the CLI prints.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gate::ca::{LocalCa, CA_CERT};
use gate::identity::Resolver;
use gate::relay::{self, Gate};
use gate::tls::ClientSettings;
use gate::userdb::UserDb;
use nix::unistd::Uid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::support::{daemon_tls, echo_daemon};

const ROOT_IDENTITY: &str = "gate-test-admin";

/// The name the gate gives this test process.
fn my_identity() -> String {
    let uid = Uid::effective();
    if uid.is_root() {
        ROOT_IDENTITY.into()
    } else {
        let account = UserDb::system().account_by_uid(uid.as_raw()).unwrap();
        account
            .expect("the tests run as a user of /etc/passwd")
            .name
    }
}

/// A gate over the CA in `state`, relaying to `daemon`, on a socket in `dir`.
fn start_gate(state: &Path, daemon: SocketAddr, dir: &Path) -> PathBuf {
    let ca = LocalCa::open_or_create(state).unwrap();
    let settings = ClientSettings::new(ca, Duration::from_secs(600)).unwrap();
    let gate = Arc::new(Gate::new(
        Resolver::new(UserDb::system(), ROOT_IDENTITY),
        settings,
        daemon,
    ));
    let socket = dir.join("gate.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    tokio::spawn(relay::serve(listener, gate, std::future::pending()));
    socket
}

/// Sends `bytes`, closes the sending half, and reads everything that comes back.
async fn exchange(socket: &Path, bytes: &[u8]) -> Vec<u8> {
    let mut client = UnixStream::connect(socket).await.unwrap();
    let (mut read, mut write) = client.split();
    let send = async {
        write.write_all(bytes).await.unwrap();
        write.shutdown().await.unwrap();
    };
    let mut received = Vec::new();
    let receive = read.read_to_end(&mut received);
    let ((), result) = tokio::join!(send, receive);
    result.unwrap();
    received
}

#[tokio::test]
async fn the_daemon_sees_the_caller_as_its_user() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    LocalCa::open_or_create(&state).unwrap();
    let daemon = echo_daemon(daemon_tls(&state, Some(&state.join(CA_CERT)))).await;
    let socket = start_gate(&state, daemon, dir.path());
    let answer = exchange(&socket, b"GET /_ping HTTP/1.1\r\n\r\n").await;
    assert_eq!(
        String::from_utf8(answer).unwrap(),
        format!("CN {}\nGET /_ping HTTP/1.1\r\n\r\n", my_identity())
    );
}

#[tokio::test]
async fn bytes_pass_unchanged_both_ways_and_a_half_close_reaches_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    LocalCa::open_or_create(&state).unwrap();
    let daemon = echo_daemon(daemon_tls(&state, Some(&state.join(CA_CERT)))).await;
    let socket = start_gate(&state, daemon, dir.path());
    // Larger than any buffer on the way, every byte value, as a build context would be.
    let payload: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let answer = exchange(&socket, &payload).await;
    let header = format!("CN {}\n", my_identity()).into_bytes();
    assert_eq!(&answer[..header.len()], header.as_slice());
    assert!(answer[header.len()..] == payload[..], "payload changed");
}

#[tokio::test]
async fn a_ca_opened_again_issues_certificates_the_daemon_still_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    drop(LocalCa::open_or_create(&state).unwrap());
    let daemon = echo_daemon(daemon_tls(&state, Some(&state.join(CA_CERT)))).await;
    // start_gate opens the CA from its files a second time.
    let socket = start_gate(&state, daemon, dir.path());
    let answer = exchange(&socket, b"x").await;
    assert!(
        answer.starts_with(b"CN "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

/// Sends one HTTP request and returns the whole answer (the gate closes after an error).
async fn http_answer(socket: &Path) -> String {
    let mut client = UnixStream::connect(socket).await.unwrap();
    client
        .write_all(b"GET /v1.41/containers/json HTTP/1.1\r\nHost: docker\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).await.unwrap();
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn an_unreachable_daemon_is_a_bad_gateway_naming_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let socket = start_gate(&state, address, dir.path());
    let answer = http_answer(&socket).await;
    assert!(answer.starts_with("HTTP/1.1 502 "), "{answer}");
    assert!(answer.contains("application/json"), "{answer}");
    assert!(
        answer.contains(&format!(
            "{{\"message\":\"authobot gate: cannot reach the docker daemon at {address}"
        )),
        "{answer}"
    );
}

#[tokio::test]
async fn a_daemon_certificate_from_another_ca_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let impostor = dir.path().join("impostor");
    LocalCa::open_or_create(&state).unwrap();
    LocalCa::open_or_create(&impostor).unwrap();
    // The impostor's certificate, and it would even accept the gate's users.
    let daemon = echo_daemon(daemon_tls(&impostor, Some(&state.join(CA_CERT)))).await;
    let socket = start_gate(&state, daemon, dir.path());
    let answer = http_answer(&socket).await;
    assert!(answer.starts_with("HTTP/1.1 502 "), "{answer}");
    assert!(
        answer.contains("TLS handshake with the docker daemon"),
        "{answer}"
    );
}
