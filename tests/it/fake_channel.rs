//! A scripted HTTP server on loopback for connector tests that need no real
//! platform: rules answer by method, path and (optionally) a piece of the
//! body; anything else is redirected to another server, or answered 404.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request as AxRequest, State};
use axum::response::Response;

/// What the server received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

/// One scripted answer: `METHOD /path`, when the body contains `when`.
#[derive(Clone)]
pub struct Rule {
    key: String,
    when: Option<String>,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Rule {
    /// A 200 JSON answer to `METHOD /path`.
    pub fn json(key: &str, body: &str) -> Rule {
        Rule {
            key: key.to_string(),
            when: None,
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    /// Only when the request body contains `text`.
    pub fn when(mut self, text: &str) -> Rule {
        self.when = Some(text.to_string());
        self
    }

    pub fn status(mut self, status: u16) -> Rule {
        self.status = status;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Rule {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

#[derive(Clone)]
struct Script {
    rules: Vec<Rule>,
    redirect_to: Option<String>,
    seen: Arc<Mutex<Vec<Request>>>,
}

async fn handle(State(script): State<Script>, request: AxRequest) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let seen = Request {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    script.seen.lock().unwrap().push(seen.clone());
    let key = format!("{} {}", seen.method, seen.path);
    let rule = script
        .rules
        .iter()
        .find(|rule| rule.key == key && rule.when.as_ref().is_none_or(|w| seen.body.contains(w)));
    if let Some(rule) = rule {
        let mut response = Response::builder().status(rule.status);
        for (name, value) in &rule.headers {
            response = response.header(name, value);
        }
        return response.body(Body::from(rule.body.clone())).unwrap();
    }
    match &script.redirect_to {
        Some(to) => Response::builder()
            .status(302)
            .header("location", format!("{to}{}", seen.path))
            .body(Body::empty())
            .unwrap(),
        None => Response::builder()
            .status(404)
            .header("content-type", "text/html")
            .body(Body::from(format!("<h1>Cannot {key}</h1>")))
            .unwrap(),
    }
}

/// The server; it stops when dropped.
pub struct Server {
    pub base: String,
    seen: Arc<Mutex<Vec<Request>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    pub fn start(rules: Vec<Rule>, redirect_to: Option<&str>) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        let script = Script {
            rules,
            redirect_to: redirect_to.map(str::to_string),
            seen: Arc::clone(&seen),
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(handle).with_state(script);
        runtime.spawn(async move { axum::serve(listener, app).await });
        Server {
            base: format!("http://{addr}"),
            seen,
            _runtime: runtime,
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests were `METHOD /path`.
    pub fn count(&self, key: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| format!("{} {}", r.method, r.path) == key)
            .count()
    }
}

/// `channel add <id> --type <channel_type> --base-url <base_url> <auth...>`,
/// with auth-refresh every hour.
pub fn add_channel(
    env: &crate::support::run_env::RunEnv,
    id: &str,
    channel_type: &str,
    base_url: &str,
    auth: &[&str],
) {
    let mut args = vec![
        "channel",
        "add",
        id,
        "--type",
        channel_type,
        "--base-url",
        base_url,
    ];
    args.extend_from_slice(auth);
    env.ok(&args);
    env.ok(&["channel", "set-period", id, "auth-refresh", "1h"]);
}
