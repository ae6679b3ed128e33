//! Unit tests of the in-memory engine: each pins one answer the docker CLI depends on.

use super::*;

fn route(
    method: &str,
    template: &'static str,
    params: &[(&'static str, &str)],
    query: &[(&str, &str)],
) -> Route {
    Route {
        method: method.into(),
        version: Some("1.41".into()),
        path: template.into(),
        template,
        params: params.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        query: query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn engine() -> MemoryEngine {
    MemoryEngine::new(EngineIdentity {
        version: "20.10.24".into(),
        api_version: "1.41".into(),
        min_api_version: "1.12".into(),
    })
}

fn json_body(reply: &Reply) -> Value {
    match reply {
        Reply::Buffered(answer) => serde_json::from_slice(&answer.body).unwrap(),
        other => panic!("expected a buffered JSON answer, got {other:?}"),
    }
}

fn create(engine: &MemoryEngine, name: &str, cmd: &[&str]) -> String {
    let body = json!({"Image": "img", "Cmd": cmd}).to_string();
    let reply = engine.handle(
        &route("POST", "/containers/create", &[], &[("name", name)]),
        body.as_bytes(),
    );
    json_body(&reply)["Id"].as_str().unwrap().to_owned()
}

/// The call `template` (a `POST /containers/{name}/...` the engine answers later) on container
/// `name` with `query`: the container's id and what its answer waits for.
fn pending(
    engine: &MemoryEngine,
    template: &'static str,
    name: &str,
    query: &[(&str, &str)],
) -> (String, Awaited) {
    let reply = engine.handle(&route("POST", template, &[("name", name)], query), b"");
    let Reply::Pending {
        container_id,
        awaited,
    } = reply
    else {
        panic!("{reply:?}")
    };
    (container_id, awaited)
}

fn start(engine: &MemoryEngine, name: &str) -> Reply {
    engine.handle(
        &route("POST", "/containers/{name}/start", &[("name", name)], &[]),
        b"",
    )
}

#[test]
fn create_answers_201_with_a_64_hex_digit_id_and_no_warnings() {
    let engine = engine();
    let reply = engine.handle(
        &route("POST", "/containers/create", &[], &[]),
        br#"{"Image":"img","Cmd":["sleep","1"]}"#,
    );
    let Reply::Buffered(answer) = &reply else {
        panic!("{reply:?}")
    };
    assert_eq!(answer.status, 201);
    let body = json_body(&reply);
    let id = body["Id"].as_str().unwrap();
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(body["Warnings"], json!([]));
}

#[test]
fn a_second_container_with_the_same_name_is_a_409_conflict() {
    let engine = engine();
    create(&engine, "web", &["sleep", "1"]);
    let reply = engine.handle(
        &route("POST", "/containers/create", &[], &[("name", "web")]),
        br#"{"Image":"img"}"#,
    );
    assert!(
        matches!(reply, Reply::Failed { status: 409, ref message } if message.contains("\"/web\" is already in use"))
    );
}

#[test]
fn ps_lists_only_running_containers_unless_all_is_set() {
    let engine = engine();
    create(&engine, "up", &["sleep", "100"]);
    create(&engine, "done", &["true"]);
    start(&engine, "up");
    start(&engine, "done");
    let running = json_body(&engine.handle(&route("GET", "/containers/json", &[], &[]), b""));
    assert_eq!(running.as_array().unwrap().len(), 1);
    assert_eq!(running[0]["Names"], json!(["/up"]));
    assert!(running[0]["Status"].as_str().unwrap().starts_with("Up "));
    let all =
        json_body(&engine.handle(&route("GET", "/containers/json", &[], &[("all", "1")]), b""));
    assert_eq!(all.as_array().unwrap().len(), 2);
}

#[test]
fn a_container_running_echo_exits_zero_and_keeps_its_output_as_logs() {
    let engine = engine();
    let id = create(&engine, "hello", &["echo", "hi"]);
    start(&engine, &id[..12]);
    let state = json_body(&engine.handle(
        &route("GET", "/containers/{name}/json", &[("name", "hello")], &[]),
        b"",
    ));
    assert_eq!(state["State"]["Status"], "exited");
    assert_eq!(state["State"]["ExitCode"], 0);
    let logs = engine.handle(
        &route(
            "GET",
            "/containers/{name}/logs",
            &[("name", "hello")],
            &[("stdout", "1"), ("stderr", "1")],
        ),
        b"",
    );
    let Reply::Streamed(answer) = logs else {
        panic!("logs must be streamed: {logs:?}")
    };
    assert_eq!(answer.body, multiplex(StdStream::Stdout, b"hi\n"));
}

#[test]
fn exec_start_hijacks_with_multiplexed_output_and_inspect_reports_the_exit_code() {
    let engine = engine();
    create(&engine, "box", &["sleep", "100"]);
    start(&engine, "box");
    let created = json_body(&engine.handle(
        &route("POST", "/containers/{name}/exec", &[("name", "box")], &[]),
        br#"{"Cmd":["false"],"AttachStdout":true}"#,
    ));
    let exec_id = created["Id"].as_str().unwrap();
    let started = engine.handle(
        &route("POST", "/exec/{name}/start", &[("name", exec_id)], &[]),
        br#"{"Detach":false,"Tty":false}"#,
    );
    assert_eq!(started, Reply::Hijacked(Vec::new()));
    let inspected = json_body(&engine.handle(
        &route("GET", "/exec/{id}/json", &[("id", exec_id)], &[]),
        b"",
    ));
    assert_eq!(inspected["ExitCode"], 1);
    assert_eq!(inspected["Running"], false);
}

#[test]
fn exec_in_a_stopped_container_is_a_409() {
    let engine = engine();
    create(&engine, "box", &["sleep", "100"]);
    start(&engine, "box");
    engine.handle(
        &route("POST", "/containers/{name}/stop", &[("name", "box")], &[]),
        b"",
    );
    let reply = engine.handle(
        &route("POST", "/containers/{name}/exec", &[("name", "box")], &[]),
        br#"{"Cmd":["echo","x"]}"#,
    );
    assert!(
        matches!(reply, Reply::Failed { status: 409, .. }),
        "{reply:?}"
    );
}

#[test]
fn removing_a_running_container_needs_force() {
    let engine = engine();
    create(&engine, "box", &["sleep", "100"]);
    start(&engine, "box");
    let refused = engine.handle(
        &route("DELETE", "/containers/{name}", &[("name", "box")], &[]),
        b"",
    );
    assert!(
        matches!(refused, Reply::Failed { status: 409, .. }),
        "{refused:?}"
    );
    let forced = engine.handle(
        &route(
            "DELETE",
            "/containers/{name}",
            &[("name", "box")],
            &[("force", "1")],
        ),
        b"",
    );
    assert_eq!(forced, Reply::no_content(204));
    let gone = engine.handle(
        &route("GET", "/containers/{name}/json", &[("name", "box")], &[]),
        b"",
    );
    assert_eq!(gone, Reply::fail(404, "No such container: box"));
}

#[test]
fn starting_a_running_container_is_304_not_modified() {
    let engine = engine();
    create(&engine, "box", &["sleep", "100"]);
    start(&engine, "box");
    assert_eq!(start(&engine, "box"), Reply::no_content(304));
}

#[test]
fn routes_the_engine_does_not_model_answer_501_naming_the_route() {
    let reply = engine().handle(&route("GET", "/images/json", &[], &[]), b"");
    assert!(
        matches!(reply, Reply::Failed { status: 501, ref message } if message.contains("GET /images/json"))
    );
}

#[test]
fn go_bool_form_values_follow_dockerd() {
    for falsy in ["", "0", "no", "false", "none", "FALSE"] {
        assert!(!form_bool(falsy), "{falsy:?}");
    }
    for truthy in ["1", "true", "yes", "anything"] {
        assert!(form_bool(truthy), "{truthy:?}");
    }
}

#[tokio::test]
async fn an_attach_before_start_gets_the_output_of_the_run_once_it_stopped() {
    let engine = engine();
    let id = create(&engine, "box", &["echo", "attached"]);
    let (container_id, awaited) = pending(
        &engine,
        "/containers/{name}/attach",
        "box",
        &[("stream", "1"), ("stdout", "1"), ("stderr", "1")],
    );
    assert_eq!(container_id, id);
    start(&engine, "box");
    let output = engine.resolve(&container_id, &awaited).await;
    assert_eq!(
        output,
        Reply::Hijacked(multiplex(StdStream::Stdout, b"attached\n"))
    );
}

#[tokio::test]
async fn a_wait_for_removal_of_an_autoremove_container_answers_its_exit_code() {
    let engine = engine();
    let body = json!({"Image": "img", "Cmd": ["false"], "HostConfig": {"AutoRemove": true}});
    let created = engine.handle(
        &route("POST", "/containers/create", &[], &[("name", "gone")]),
        body.to_string().as_bytes(),
    );
    let id = json_body(&created)["Id"].as_str().unwrap().to_owned();
    let (container_id, awaited) = pending(
        &engine,
        "/containers/{name}/wait",
        &id,
        &[("condition", "removed")],
    );
    start(&engine, &id);
    let answer = engine.resolve(&container_id, &awaited).await;
    assert_eq!(answer.into_body(), b"{\"Error\":null,\"StatusCode\":1}\n");
    let gone = engine.handle(
        &route("GET", "/containers/{name}/json", &[("name", &id)], &[]),
        b"",
    );
    assert!(
        matches!(gone, Reply::Failed { status: 404, .. }),
        "{gone:?}"
    );
}

#[tokio::test]
async fn a_next_exit_wait_on_a_running_container_answers_when_it_is_stopped() {
    let engine = std::sync::Arc::new(engine());
    create(&engine, "box", &["sleep", "100"]);
    start(&engine, "box");
    let (container_id, awaited) = pending(
        &engine,
        "/containers/{name}/wait",
        "box",
        &[("condition", "next-exit")],
    );
    let waiter = {
        let engine = std::sync::Arc::clone(&engine);
        tokio::spawn(async move { engine.resolve(&container_id, &awaited).await })
    };
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    engine.handle(
        &route("POST", "/containers/{name}/stop", &[("name", "box")], &[]),
        b"",
    );
    let answer = waiter.await.unwrap();
    assert_eq!(answer.into_body(), b"{\"Error\":null,\"StatusCode\":143}\n");
}
