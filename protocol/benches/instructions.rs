//! A fixed-count loop for instruction counting (`valgrind --tool=callgrind`), where a
//! timing harness would only add noise: `instructions decode N` decodes the recorded
//! `docker run` create body N times, `instructions route N` parses its request line N times,
//! `instructions routes N` parses every request line of the recorded workflow N times.
//! The count per call is the difference between two runs divided by the difference in N.

use std::hint::black_box;
use std::path::Path;

use protocol::body::{decode, ContainerCreate};
use protocol::AuthzRequest;

/// The request-phase messages of the recorded `docker run` workflow, in order.
fn recorded_requests() -> Vec<AuthzRequest> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/workflow/run.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a capture line"))
        .filter(|call| call["phase"] == "Request")
        .map(|call| serde_json::from_value::<AuthzRequest>(call["message"].clone()).unwrap())
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; without a known mode there is nothing to count.
    let (Some(mode), Some(count)) = (args.first(), args.get(1)) else {
        return;
    };
    let count: usize = count.parse().expect("an iteration count");
    let requests = recorded_requests();
    let create = requests
        .iter()
        .find(|m| m.request_uri.contains("/containers/create"))
        .expect("the capture holds a container create");
    match mode.as_str() {
        "decode" => {
            for _ in 0..count {
                black_box(decode::<ContainerCreate>(black_box(&create.request_body)).unwrap());
            }
        }
        "route" => {
            for _ in 0..count {
                let route = protocol::route::parse(
                    black_box(&create.request_method),
                    black_box(&create.request_uri),
                );
                black_box(route.unwrap());
            }
        }
        "routes" => {
            for _ in 0..count {
                for request in &requests {
                    let route = protocol::route::parse(
                        black_box(&request.request_method),
                        black_box(&request.request_uri),
                    );
                    black_box(route.unwrap());
                }
            }
        }
        other => panic!("unknown mode {other:?}: decode, route or routes"),
    }
}
