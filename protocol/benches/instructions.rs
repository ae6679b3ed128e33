//! A fixed-count loop for instruction counting (`valgrind --tool=callgrind`), where a
//! timing harness would only add noise: `instructions decode N` decodes the recorded
//! `docker run` create body N times, `instructions route N` parses its request line N times,
//! `instructions routes N` parses every request line of the recorded workflow N times.
//! The count per call is the difference between two runs divided by the difference in N.

use std::hint::black_box;

use protocol::body::{decode, ContainerCreate};

#[path = "support/recorded.rs"]
mod recorded;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; without a known mode there is nothing to count.
    let (Some(mode), Some(count)) = (args.first(), args.get(1)) else {
        return;
    };
    let count: usize = count.parse().expect("an iteration count");
    let requests = recorded::recorded_requests();
    let create = recorded::recorded_create();
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
