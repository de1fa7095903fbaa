//! A counting reverse proxy on loopback: a channel pointed at it reaches
//! the real shop behind it, and the test reads what the shop received
//! (method, path, body), which a real server does not tell. It runs on a
//! runtime of its own, so sync and async tests alike can use it; dropping
//! it stops it.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::Response;
use serde_json::Value;

/// One request the proxy passed on.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub body: String,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    log: Mutex<Vec<Seen>>,
}

pub struct CountingProxy {
    url: String,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl CountingProxy {
    /// A proxy to `upstream` (`http://127.0.0.1:PORT`, no trailing path).
    pub fn start(upstream: &str) -> CountingProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            log: Mutex::new(Vec::new()),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("the proxy's runtime");
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            axum::serve(listener, app).await.expect("the proxy serves");
        });
        CountingProxy {
            url,
            shared,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT`: where the channel points instead of the shop.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The requests since the last call, in the order they came.
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.shared.log.lock().expect("log"))
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        // Never blocks, so a proxy may drop inside an async test too.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("request body");
    shared.log.lock().expect("log").push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = shared
        .client
        .request(parts.method.clone(), format!("{}{target}", shared.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            upstream = upstream.header(name, value);
        }
    }
    let reply = upstream.send().await.expect("the shop answers");
    let status = reply.status();
    let headers = reply.headers().clone();
    let bytes = reply.bytes().await.expect("the shop's body");
    let mut response = Response::new(axum::body::Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        let hop_by_hop = [
            header::TRANSFER_ENCODING,
            header::CONTENT_LENGTH,
            header::CONNECTION,
        ];
        if !hop_by_hop.contains(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

/// How many of `seen` are `method` requests to a path ending in `path`.
pub fn count(seen: &[Seen], method: &str, path: &str) -> usize {
    seen.iter()
        .filter(|s| s.method == method && s.path.ends_with(path))
        .count()
}

/// How many GraphQL requests of `seen` run the operation `field` (e.g.
/// `updateProductVariants`; `productVariants` does not count those).
pub fn graphql(seen: &[Seen], field: &str) -> usize {
    seen.iter()
        .filter(|s| s.body.contains(&format!("{field}(")))
        .count()
}

/// The stock levels a Medusa received in location-levels batches
/// (creates and updates).
pub fn medusa_levels_written(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|s| s.method == "POST" && s.path.ends_with("/location-levels/batch"))
        .map(|s| {
            let body: Value = serde_json::from_str(&s.body).expect("a JSON batch");
            ["create", "update"]
                .iter()
                .map(|k| body[k].as_array().map_or(0, Vec::len))
                .sum::<usize>()
        })
        .sum()
}

/// The stock levels a Vendure received in `updateProductVariants` calls
/// (each `stockLevels` entry, and each `stockOnHand`).
pub fn vendure_levels_written(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|s| s.body.contains("updateProductVariants("))
        .map(|s| {
            let body: Value = serde_json::from_str(&s.body).expect("a GraphQL body");
            body["variables"]["input"].as_array().map_or(0, |inputs| {
                inputs
                    .iter()
                    .map(|i| {
                        i["stockLevels"].as_array().map_or(0, Vec::len)
                            + usize::from(i["stockOnHand"].is_number())
                    })
                    .sum()
            })
        })
        .sum()
}
