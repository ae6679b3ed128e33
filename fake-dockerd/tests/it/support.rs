//! A scripted authz plugin on a real unix socket, speaking raw HTTP so that tests can make
//! it answer anything (non-200 statuses, `Err`, wrong manifests), and recording every call.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use protocol::AuthzRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// What the plugin answers to one kind of call: HTTP status and raw body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn allow() -> Self {
        Answer {
            status: 200,
            body: r#"{"Allow":true}"#.into(),
        }
    }

    pub fn deny(msg: &str) -> Self {
        Answer {
            status: 200,
            body: serde_json::json!({ "Allow": false, "Msg": msg }).to_string(),
        }
    }

    /// What moby's test plugin does for `Err`: HTTP 500 with the `Err` field.
    pub fn error(err: &str) -> Self {
        Answer {
            status: 500,
            body: serde_json::json!({ "Err": err }).to_string(),
        }
    }
}

#[derive(Debug)]
struct Script {
    manifest: String,
    request: Answer,
    response: Answer,
    calls: Vec<(String, AuthzRequest)>,
}

/// The running plugin; dropped with the test.
#[derive(Debug)]
pub struct ScriptedPlugin {
    pub socket: PathBuf,
    script: Arc<Mutex<Script>>,
    _dir: tempfile::TempDir,
}

impl ScriptedPlugin {
    pub fn start(request: Answer, response: Answer) -> Self {
        Self::start_with_manifest(r#"{"Implements":["authz"]}"#, request, response)
    }

    pub fn start_with_manifest(manifest: &str, request: Answer, response: Answer) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("plugin.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let script = Arc::new(Mutex::new(Script {
            manifest: manifest.to_owned(),
            request,
            response,
            calls: Vec::new(),
        }));
        let shared = script.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, shared.clone()));
            }
        });
        ScriptedPlugin {
            socket,
            script,
            _dir: dir,
        }
    }

    /// Every AuthZ call so far: (`AuthZReq` or `AuthZRes`, message).
    pub fn calls(&self) -> Vec<(String, AuthzRequest)> {
        self.script.lock().unwrap().calls.clone()
    }

    /// How many calls of `kind` carried `uri_part` in their RequestUri.
    pub fn count(&self, kind: &str, uri_part: &str) -> usize {
        self.calls()
            .iter()
            .filter(|(k, m)| k == kind && m.request_uri.contains(uri_part))
            .count()
    }
}

async fn serve_connection(mut stream: UnixStream, script: Arc<Mutex<Script>>) {
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let path = head.split(' ').nth(1).unwrap_or("").to_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 65536];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buffer.drain(..head_end + length).skip(head_end).collect();
        let answer = {
            let mut script = script.lock().unwrap();
            match path.as_str() {
                "/Plugin.Activate" => Answer {
                    status: 200,
                    body: script.manifest.clone(),
                },
                "/AuthZPlugin.AuthZReq" | "/AuthZPlugin.AuthZRes" => {
                    let message: AuthzRequest = serde_json::from_slice(&body).unwrap();
                    let kind = path.trim_start_matches("/AuthZPlugin.").to_owned();
                    script.calls.push((kind, message));
                    if path.ends_with("Req") {
                        script.request.clone()
                    } else {
                        script.response.clone()
                    }
                }
                _ => Answer {
                    status: 404,
                    body: "404 page not found".into(),
                },
            }
        };
        let reply = format!(
            "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            answer.status,
            answer.body.len(),
            answer.body
        );
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}
