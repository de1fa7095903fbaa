//! Dispatch: which endpoint a request is for, the switches' plan for it,
//! the endpoint's reply, and the request log. Also the small pieces every
//! endpoint shares (JSON replies, content types, form parameters).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::RecordedRequest;
use crate::auth::{check_bearer, token_endpoint};
use crate::batch::batch;
use crate::conn::ConnHandle;
use crate::faults::{self, Plan, distort, plan};
use crate::listing::{list_page, parse_list_query};
use crate::shared::{Shared, lock};

/// Request bodies above this are refused with 413 before parsing.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The protocol's endpoints; everything else is 404 or 405.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    Products,
    Batch,
    StockBatch,
    StockRead,
}

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    request: Request,
) -> Response {
    let path = request.uri().path().to_string();
    if let Some(control_path) = path.strip_prefix("/_sandbox/") {
        return crate::admin::control(&shared, control_path, request).await;
    }
    let method = request.method().clone();
    let query = request.uri().query().unwrap_or_default().to_string();
    let authorization_present = request.headers().contains_key(header::AUTHORIZATION);
    let endpoint = match (path.as_str(), &method) {
        ("/oauth/token", &Method::POST) => Some(Endpoint::Token),
        ("/products", &Method::GET) => Some(Endpoint::Products),
        ("/products/batch", &Method::POST) => Some(Endpoint::Batch),
        ("/stock/batch", &Method::POST) => Some(Endpoint::StockBatch),
        ("/stock/read", &Method::POST) => Some(Endpoint::StockRead),
        _ => None,
    };
    let mut entry = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        status: 0,
        authorization_present,
        body: None,
    };
    let Some(endpoint) = endpoint else {
        let response = match path.as_str() {
            "/oauth/token" | "/products/batch" | "/stock/batch" | "/stock/read" => {
                method_not_allowed("POST")
            }
            "/products" => method_not_allowed("GET"),
            _ => json_response(
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "error_description": format!("no resource `{path}`")}),
            ),
        };
        entry.status = response.status().as_u16();
        shared.record(entry);
        return response;
    };

    let plan = plan(&shared, endpoint);
    match endpoint {
        Endpoint::Token => &shared.token_requests,
        Endpoint::Products => &shared.product_requests,
        Endpoint::Batch => &shared.batch_requests,
        Endpoint::StockBatch | Endpoint::StockRead => &shared.stock_requests,
    }
    .fetch_add(1, Ordering::Relaxed);
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            let response = json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "invalid_request", "error_description": "body too large or unreadable"}),
            );
            entry.status = response.status().as_u16();
            shared.record(entry);
            return response;
        }
    };
    if matches!(endpoint, Endpoint::Batch | Endpoint::StockBatch) {
        entry.body = Some(String::from_utf8_lossy(&body).into_owned());
    }
    let response = respond(&shared, endpoint, &plan, &parts.headers, &query, &body);
    let response = if plan.close || plan.drop_reply {
        conn.reset.store(true, Ordering::SeqCst);
        entry.status = 0;
        response
    } else {
        let response = if endpoint != Endpoint::Token && response.status().is_success() {
            distort(&shared, response).await
        } else {
            response
        };
        entry.status = response.status().as_u16();
        response
    };
    let mut response = response;
    if let Some(verdict) = &plan.rate {
        crate::rate::add_headers(&mut response, plan.rate_headers, verdict);
    }
    shared.record(entry);
    response
}

fn respond(
    shared: &Shared,
    endpoint: Endpoint,
    plan: &Plan,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Response {
    if plan.close {
        // Never written: the connection is reset instead.
        return Response::new(Body::empty());
    }
    if let Some(response) = faults::injected(plan) {
        return response;
    }
    match endpoint {
        Endpoint::Token => token_endpoint(shared, headers, body),
        Endpoint::Products => {
            if let Some(unauthorized) = check_bearer(shared, headers) {
                return unauthorized;
            }
            match parse_list_query(query, shared.max_page_size) {
                Ok(query) => {
                    let repeat = lock(&shared.switches).repeat_cursor;
                    bytes_response(StatusCode::OK, list_page(shared, &query, repeat))
                }
                Err(description) => bad_request(&description),
            }
        }
        Endpoint::Batch => {
            if let Some(unauthorized) = check_bearer(shared, headers) {
                return unauthorized;
            }
            batch(shared, headers, body)
        }
        Endpoint::StockBatch | Endpoint::StockRead => {
            if let Some(unauthorized) = check_bearer(shared, headers) {
                return unauthorized;
            }
            if endpoint == Endpoint::StockBatch {
                crate::stock::stock_batch(shared, headers, body)
            } else {
                crate::stock::stock_read(shared, headers, body)
            }
        }
    }
}

pub(crate) fn json_response(status: StatusCode, value: Value) -> Response {
    bytes_response(status, serde_json::to_vec(&value).expect("json serializes"))
}

pub(crate) fn bytes_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(mime::APPLICATION_JSON.as_ref()),
    );
    response
}

/// 415 unless the body is declared `application/json`.
pub(crate) fn json_only(headers: &HeaderMap) -> Option<Response> {
    (!content_type_is(headers, &mime::APPLICATION_JSON)).then(|| {
        json_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"error": "invalid_request", "error_description": "the body must be `application/json`"}),
        )
    })
}

/// 413 for a request of `count` `what` (e.g. "items in one batch") past `limit`.
pub(crate) fn too_large(count: usize, what: &str, limit: usize) -> Response {
    json_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        json!({
            "error": "batch_too_large",
            "error_description": format!("{count} {what}: at most {limit}"),
        }),
    )
}

pub(crate) fn bad_request(description: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_request", "error_description": description}),
    )
}

pub(crate) fn method_not_allowed(allow: &'static str) -> Response {
    let mut response = json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"error": "method_not_allowed", "error_description": format!("use {allow}")}),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// Whether the body is declared as `expected` (parameters such as `charset`
/// aside; type names compare without regard to case).
pub(crate) fn content_type_is(headers: &HeaderMap, expected: &mime::Mime) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|given| given.essence_str() == expected.essence_str())
}

/// `application/x-www-form-urlencoded` parameters (a token request's body,
/// a listing's query); `None` when a name repeats, which RFC 6749 §3.2
/// forbids and the listing refuses as ambiguous.
pub(crate) fn form_params(text: &[u8]) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    for (name, value) in form_urlencoded::parse(text) {
        if params
            .insert(name.into_owned(), value.into_owned())
            .is_some()
        {
            return None;
        }
    }
    Some(params)
}
