//! A small HTTP client for the sandbox's own tests: what a careful beta-rest
//! client sends, nothing more.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{Sandbox, SandboxConfig, Switches};

pub(crate) async fn start(products: u64, switches: Switches) -> Sandbox {
    Sandbox::start(SandboxConfig {
        products,
        switches,
        ..SandboxConfig::default()
    })
    .await
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

pub(crate) async fn token(
    sb: &Sandbox,
    http: &reqwest::Client,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let reply = http
        .post(sb.token_url())
        .basic_auth(sb.client_id(), Some(sb.client_secret()))
        .form(form)
        .send()
        .await
        .unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

pub(crate) async fn refresh(
    sb: &Sandbox,
    http: &reqwest::Client,
    refresh_token: &str,
) -> (u16, Value) {
    token(
        sb,
        http,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

pub(crate) async fn access_token(sb: &Sandbox, http: &reqwest::Client) -> String {
    let (status, reply) = refresh(sb, http, &sb.current_refresh_token()).await;
    assert_eq!(status, 200, "{reply}");
    reply["access_token"].as_str().unwrap().to_string()
}

pub(crate) async fn get(http: &reqwest::Client, url: String, access: &str) -> reqwest::Response {
    http.get(url).bearer_auth(access).send().await.unwrap()
}

pub(crate) async fn page(
    sb: &Sandbox,
    http: &reqwest::Client,
    access: &str,
    query: &str,
) -> (u16, Value) {
    let reply = get(http, format!("{}/products?{query}", sb.base_url()), access).await;
    (reply.status().as_u16(), reply.json().await.unwrap())
}

pub(crate) async fn export(
    sb: &Sandbox,
    http: &reqwest::Client,
    access: &str,
    body: Value,
) -> (u16, Value) {
    let reply = http
        .post(format!("{}/products/batch", sb.base_url()))
        .bearer_auth(access)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

pub(crate) fn product_json(sku: &str, price: Value) -> Value {
    json!({"sku": sku, "title": "T", "price": price, "currency": "EUR", "quantity": 1,
           "attributes": {}, "updated_at": "2026-01-01T00:00:00Z"})
}

pub(crate) fn skus(reply: &Value) -> Vec<String> {
    reply["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap().to_string())
        .collect()
}

/// Follows `next_cursor` to the end; returns every sku in order.
pub(crate) async fn import_all(
    sb: &Sandbox,
    http: &reqwest::Client,
    access: &str,
    since: Option<&str>,
) -> Vec<String> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url =
            reqwest::Url::parse(&format!("{}/products?limit=500", sb.base_url())).unwrap();
        if let Some(since) = since {
            url.query_pairs_mut().append_pair("updated_since", since);
        }
        if let Some(cursor) = &cursor {
            url.query_pairs_mut().append_pair("cursor", cursor);
        }
        let reply = get(http, url.to_string(), access).await;
        assert_eq!(reply.status(), 200);
        let reply: Value = reply.json().await.unwrap();
        all.extend(skus(&reply));
        match reply["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return all,
        }
    }
}
