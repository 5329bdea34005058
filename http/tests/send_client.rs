//! `SendClient` from inside a tokio runtime: requests sent from tokio tasks (the futures are
//! `Send`) run on the client's slotnet thread and resolve with `http` responses or errors.

use std::time::Duration;

use bytes::Bytes;
use slotnet_http::{NetworkError, SendClient, SendClientError};
use slotnet_testkit::h1::{respond, Next, ScriptedServer};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// An echo of the method, path and body, with a 404 for `/missing`.
fn echo_server() -> ScriptedServer {
    ScriptedServer::start(|request, s| {
        if request.target == "/missing" {
            respond(s, "404 Not Found", &[], b"gone");
        } else {
            let text = format!(
                "{} {} {}",
                request.method,
                request.target,
                String::from_utf8_lossy(&request.body)
            );
            respond(s, "200 OK", &[("X-Echo", "yes")], text.as_bytes());
        }
        Next::KeepAlive
    })
}

#[test]
fn requests_from_tokio_tasks_resolve_with_http_responses() {
    let server = echo_server();
    let client = SendClient::new().unwrap();
    let responses = runtime().block_on(async {
        // tokio::spawn needs Send futures: the client's are.
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (client, url) = (client.clone(), server.url(&format!("/item/{i}")));
                tokio::spawn(async move { client.get(&url).await })
            })
            .collect();
        let mut responses = Vec::new();
        for task in tasks {
            responses.push(task.await.unwrap().expect("no error"));
        }
        let posted = client
            .post(&server.url("/form"), Bytes::from_static(b"a=1"))
            .await
            .expect("no error");
        responses.push(posted);
        responses
    });
    for (i, response) in responses.iter().take(8).enumerate() {
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-echo"], "yes");
        assert_eq!(response.body(), format!("GET /item/{i} ").as_bytes());
    }
    assert_eq!(responses[8].body().as_ref(), b"POST /form a=1");
}

#[test]
fn send_takes_an_http_request_and_reports_errors_as_qt() {
    let server = echo_server();
    let client = SendClient::new().unwrap();
    runtime().block_on(async {
        let request = http::Request::builder()
            .method("PUT")
            .uri(server.url("/thing"))
            .body(Bytes::from_static(b"body"))
            .unwrap();
        let response = client.send(request).await.expect("no error");
        assert_eq!(response.body().as_ref(), b"PUT /thing body");

        match client.get(&server.url("/missing")).await {
            Err(SendClientError::Reply(error)) => {
                assert_eq!(error.kind(), NetworkError::ContentNotFoundError);
                assert_eq!(error.status(), Some(404));
            }
            other => panic!("expected a 404 error, got {other:?}"),
        }
        match client.get("not a url").await {
            Err(SendClientError::Request(_)) => {}
            other => panic!("expected a request error, got {other:?}"),
        }
    });
}

#[test]
fn dropping_a_request_future_aborts_it_on_the_client_thread() {
    // The server answers the head and stalls: only an abort ends the request.
    let server = ScriptedServer::start(|_, s| {
        use std::io::Write;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        Next::Hold
    });
    let client = SendClient::new().unwrap();
    let url = server.url("/stall");
    runtime().block_on(async {
        let request = tokio::spawn({
            let client = client.clone();
            async move { client.get(&url).await }
        });
        // Give up once the server has the request.
        while server.seen().is_empty() {
            tokio::task::yield_now().await;
            std::thread::sleep(Duration::from_millis(1));
        }
        request.abort();
        assert!(request.await.unwrap_err().is_cancelled());
    });
    // The aborted reply closed its connection: the server sees the client go.
    let limit = std::time::Instant::now() + Duration::from_secs(20);
    while server.closed_count() == 0 {
        assert!(
            std::time::Instant::now() < limit,
            "the request was never aborted"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
