//! A scripted HTTP server on loopback for the tests that need no real
//! platform, only its answers: rules answer by method, path and
//! (optionally) a piece of the body; anything else is redirected to another
//! server, or answered 404. It records every request, headers included, so
//! a test can see what reached it (and what must not have).
//!
//! ```ignore
//! let shop = Server::start(vec![Rule::json("POST /oauth/token", TOKEN)], None);
//! env.add_channel_at("shop", "beta-rest", &shop.base, &auth);
//! assert_eq!(shop.count("POST /oauth/token"), 1);
//! ```

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
    script.seen.lock().expect("request log").push(seen.clone());
    let key = format!("{} {}", seen.method, seen.path);
    let rule = script
        .rules
        .iter()
        .find(|rule| rule.key == key && rule.when.as_ref().is_none_or(|w| seen.body.contains(w)));
    let response = if let Some(rule) = rule {
        let mut response = Response::builder().status(rule.status);
        for (name, value) in &rule.headers {
            response = response.header(name, value);
        }
        response.body(Body::from(rule.body.clone()))
    } else {
        match &script.redirect_to {
            Some(to) => Response::builder()
                .status(302)
                .header("location", format!("{to}{}", seen.path))
                .body(Body::empty()),
            None => Response::builder()
                .status(404)
                .header("content-type", "text/html")
                .body(Body::from(format!("<h1>Cannot {key}</h1>"))),
        }
    };
    response.expect("a scripted response is well-formed")
}

/// The server on its own runtime; it stops when dropped.
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    seen: Arc<Mutex<Vec<Request>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    /// Answers by `rules`; anything else is redirected to `redirect_to`
    /// (same path) when given, else 404.
    pub fn start(rules: Vec<Rule>, redirect_to: Option<&str>) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        let script = Script {
            rules,
            redirect_to: redirect_to.map(str::to_string),
            seen: Arc::clone(&seen),
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let app = Router::new().fallback(handle).with_state(script);
        runtime.spawn(async move { axum::serve(listener, app).await });
        Server {
            base: format!("http://{addr}"),
            seen,
            _runtime: runtime,
        }
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().expect("request log").clone()
    }

    /// How many requests were `METHOD /path`.
    pub fn count(&self, key: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| format!("{} {}", r.method, r.path) == key)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_answer_by_path_and_body_and_the_rest_is_redirected_or_404() {
        let other = Server::start(Vec::new(), None);
        let server = Server::start(
            vec![
                Rule::json("POST /api", r#"{"who":"login"}"#).when("login"),
                Rule::json("POST /api", r#"{"who":"other"}"#)
                    .status(400)
                    .header("x-seen", "1"),
            ],
            Some(&other.base),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let send = |request: reqwest::RequestBuilder| {
            runtime.block_on(async {
                let reply = request.send().await.unwrap();
                let status = reply.status().as_u16();
                let location = reply
                    .headers()
                    .get("location")
                    .map(|v| v.to_str().unwrap().to_string());
                let seen = reply.headers().contains_key("x-seen");
                (status, location, seen, reply.text().await.unwrap())
            })
        };
        let post =
            |body: &'static str| send(client.post(format!("{}/api", server.base)).body(body));
        let login = post("a login");
        assert_eq!(
            (login.0, login.2, login.3.as_str()),
            (200, false, r#"{"who":"login"}"#)
        );
        let other_post = post("else");
        assert_eq!(
            (other_post.0, other_post.2, other_post.3.as_str()),
            (400, true, r#"{"who":"other"}"#)
        );
        let moved = send(client.get(format!("{}/elsewhere", server.base)));
        assert_eq!(
            (moved.0, moved.1),
            (302, Some(format!("{}/elsewhere", other.base)))
        );
        assert_eq!(server.count("POST /api"), 2);
        assert_eq!(server.requests()[0].body, "a login");
        assert!(other.requests().is_empty(), "a redirect is not followed");
        let missing = send(client.get(format!("{}/nothing", other.base)));
        assert_eq!(missing.0, 404);
    }
}
