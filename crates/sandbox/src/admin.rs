//! `/_sandbox/*`, the operator's side door: read and change the switches,
//! read the state, mint a fresh refresh token. Not recorded, no faults.

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::Switches;
use crate::http::{MAX_BODY_BYTES, bad_request, json_response, method_not_allowed};
use crate::shared::{Shared, lock};

/// `/_sandbox/*`: switches, state, fresh refresh tokens. Not recorded, no faults.
pub(crate) async fn control(shared: &Shared, path: &str, request: Request) -> Response {
    let method = request.method().clone();
    match (path, method) {
        ("switches", Method::GET) => json_response(
            StatusCode::OK,
            serde_json::to_value(&*lock(&shared.switches)).expect("switches serialize"),
        ),
        ("switches", Method::POST) => {
            let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await else {
                return bad_request("unreadable body");
            };
            let patch: serde_json::Map<String, Value> = match serde_json::from_slice(&body) {
                Ok(patch) => patch,
                Err(err) => {
                    return bad_request(&format!("expected a JSON object of switches: {err}"));
                }
            };
            let mut switches = lock(&shared.switches);
            let mut merged = serde_json::to_value(&*switches).expect("switches serialize");
            for (key, value) in patch {
                if merged.get(&key).is_none() {
                    return bad_request(&format!("unknown switch `{key}`"));
                }
                merged[key] = value;
            }
            let next: Switches = match serde_json::from_value(merged) {
                Ok(next) => next,
                Err(err) => return bad_request(&format!("invalid switches: {err}")),
            };
            if let Err(msg) = next.check() {
                return bad_request(&msg);
            }
            *switches = next;
            json_response(
                StatusCode::OK,
                serde_json::to_value(&*switches).expect("switches serialize"),
            )
        }
        ("state", Method::GET) => json_response(StatusCode::OK, shared.state()),
        ("refresh-token", Method::POST) => {
            let token = lock(&shared.auth).mint();
            json_response(StatusCode::OK, json!({ "refresh_token": token }))
        }
        ("switches", _) => method_not_allowed("GET, POST"),
        ("state", _) => method_not_allowed("GET"),
        ("refresh-token", _) => method_not_allowed("POST"),
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "error_description": format!("no resource `/_sandbox/{path}`")}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::Switches;
    use crate::test_client::*;

    #[tokio::test]
    async fn state_and_error_rate() {
        let sb = start(
            4,
            Switches {
                error_rate: 1.0,
                ..Switches::default()
            },
        )
        .await;
        let http = client();
        let access = access_token(&sb, &http).await;
        assert_eq!(page(&sb, &http, &access, "").await.0, 500);
        let state: Value = http
            .get(format!("{}/_sandbox/state", sb.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            state,
            json!({
                "refresh_token": sb.current_refresh_token(),
                "requests": {"token": 1, "products": 1, "batch": 0, "stock": 0},
                "stock_levels_received": 0,
                "product_count": 4,
                "grant_revoked": false,
                "refused_for_rate": 0,
            })
        );
        assert_eq!(sb.count("/oauth/token"), 1);
        sb.clear_requests();
        assert!(sb.requests().is_empty());
        sb.shutdown().await;
    }
}
