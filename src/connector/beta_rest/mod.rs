//! The beta-rest protocol (the reference connector, spoken by the sandbox):
//! OAuth 2 tokens, cursor-paged `GET /products`, and `POST /products/batch`
//! with upserts and a `delete` list. See the brief's "beta-rest protocol".

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::http::{Auth, Call, Endpoint, Replay, UrlSetting, excerpt_at, shown};
use super::oauth2::request_token;
use super::{
    AuthMethod, Authorization, Batch, ChannelError, ClientOptions, Connector, Credential, Grant,
    HttpClient, ItemResult, ItemStatus, Limits, PageRequest, ProductPage, Settings, Skipped,
    TokenReply, Url, check_parsed_url,
};
use crate::price::Price;
use crate::product::Product;

/// The beta-rest connector of one channel.
pub struct BetaRest {
    client: BetaRestClient,
    base_url: Url,
    auth_method: AuthMethod,
    limits: Limits,
}

/// [`super::PROTOCOLS`]' constructor.
pub fn connect(settings: Settings) -> Result<Box<dyn Connector>, ChannelError> {
    check_parsed_url(&settings.base_url)?;
    Ok(Box::new(BetaRest {
        client: BetaRestClient::new(settings.options)?,
        base_url: settings.base_url,
        auth_method: settings.auth_method,
        limits: settings.limits,
    }))
}

#[async_trait(?Send)]
impl Connector for BetaRest {
    fn limits(&self) -> Limits {
        self.limits
    }

    async fn authenticate(&self, auth: Authorization<'_>) -> Result<Credential, ChannelError> {
        match auth {
            Authorization::Oauth2 {
                token_url,
                client_id,
                client_secret,
                grant,
            } => {
                let reply = self
                    .client
                    .request_token(token_url, client_id, client_secret, grant)
                    .await?;
                Ok(Credential {
                    access_token: reply.access_token,
                    expires_in: reply.expires_in,
                    refresh_token: reply.refresh_token,
                })
            }
            Authorization::Login { .. } | Authorization::ApiKey { .. } => {
                Err(ChannelError::UnsupportedAuth {
                    protocol: "beta-rest",
                    method: self.auth_method,
                })
            }
        }
    }

    async fn fetch_page(
        &self,
        access: &str,
        request: PageRequest<'_>,
    ) -> Result<ProductPage, ChannelError> {
        self.client
            .fetch_products_page(
                &self.base_url,
                access,
                self.limits.page_size,
                request.cursor,
                request.since,
            )
            .await
    }

    async fn send_batch(
        &self,
        access: &str,
        batch: Batch<'_>,
    ) -> Result<Vec<ItemResult>, ChannelError> {
        self.limits.check_batch(&batch)?;
        self.client
            .export_batch(&self.base_url, access, batch)
            .await
    }
}

/// The beta-rest calls over one keep-alive connection pool. Cloning is cheap
/// and shares the pool; it needs a tokio runtime (current-thread is enough).
#[derive(Clone, Debug)]
pub struct BetaRestClient {
    http: HttpClient,
}

impl BetaRestClient {
    pub fn new(options: ClientOptions) -> Result<Self, ChannelError> {
        Ok(BetaRestClient {
            http: HttpClient::new(options)?,
        })
    }

    /// See [`request_token`].
    pub async fn request_token(
        &self,
        token_url: &Url,
        client_id: &str,
        client_secret: &str,
        grant: &Grant,
    ) -> Result<TokenReply, ChannelError> {
        request_token(&self.http, token_url, client_id, client_secret, grant).await
    }

    /// GET {base}/products?limit=N[&cursor=C][&updated_since=RFC3339] with
    /// Bearer auth. Every product is checked with [`Product::check`]; a bad
    /// one makes the page [`ChannelError::Malformed`]. A 400 that names
    /// `limit` is [`ChannelError::PageSizeRefused`].
    pub async fn fetch_products_page(
        &self,
        base_url: &Url,
        access_token: &str,
        limit: usize,
        cursor: Option<&str>,
        updated_since: Option<Timestamp>,
    ) -> Result<ProductPage, ChannelError> {
        let limit_text = limit.to_string();
        let since_text = updated_since.map(|t| t.to_string());
        let mut query = vec![("limit", limit_text.as_str())];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor));
        }
        if let Some(since) = &since_text {
            query.push(("updated_since", since));
        }
        let api = Endpoint::new(base_url.clone(), UrlSetting::BaseUrl)?;
        let target = api.at(&["products"]).query(&query);
        let url = target.url().clone();
        let reply = self
            .http
            .send(Call::get(target, Replay::Safe).auth(Auth::Bearer(access_token)))
            .await
            .map_err(|err| page_size_refused(err, limit))?;
        parse_products_page(&url, reply.body())
    }

    /// POST {base}/products/batch `{"products":[...],"delete":[...]}`.
    /// Returns one result per item sent; a reply that leaves one out, or
    /// names a SKU that was not sent, is malformed. An empty batch makes no
    /// request. The channel's `batch-size` is checked by [`BetaRest`].
    pub async fn export_batch(
        &self,
        base_url: &Url,
        access_token: &str,
        batch: Batch<'_>,
    ) -> Result<Vec<ItemResult>, ChannelError> {
        let api = Endpoint::new(base_url.clone(), UrlSetting::BaseUrl)?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        #[derive(Serialize)]
        struct Wire<'a> {
            products: Vec<WireProductOut<'a>>,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            delete: &'a [String],
        }
        let body = serde_json::to_vec(&Wire {
            products: batch.upserts.iter().map(WireProductOut::from).collect(),
            delete: batch.deletions,
        })
        .map_err(|err| ChannelError::Options(format!("a batch did not serialize: {err}")))?;
        let target = api.at(&["products", "batch"]);
        let url = target.url().clone();
        // Batch export is an SKU-keyed upsert, and deleting a deleted SKU
        // answers `deleted`: resending a batch is safe.
        let call = Call::post(target, Replay::Safe)
            .auth(Auth::Bearer(access_token))
            .json(body);
        let reply = self.http.send(call).await?;
        parse_batch_reply(&url, reply.body(), batch)
    }
}

/// A 400 on a page request that names the page-size parameter.
fn page_size_refused(err: ChannelError, page_size: usize) -> ChannelError {
    match err {
        ChannelError::Status {
            url,
            status: 400 | 422,
            excerpt,
        } if excerpt.to_ascii_lowercase().contains("limit") => ChannelError::PageSizeRefused {
            url,
            page_size,
            message: excerpt,
        },
        other => other,
    }
}

/// A product as beta-rest sends it. Fields a channel adds beyond these are
/// ignored (the protocol allows them); a missing one fails the page.
#[derive(Deserialize)]
struct WireProduct {
    sku: String,
    title: String,
    price: String,
    currency: String,
    quantity: i64,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    updated_at: String,
    #[serde(default)]
    id: Option<String>,
}

impl WireProduct {
    /// The catalog product, or why the item is skipped: a price that breaks
    /// the price rule (the import job checks the other rules).
    fn into_product(self) -> Result<Product, Skipped> {
        if self.sku.trim().is_empty() {
            return Err(Skipped::NoSku);
        }
        match Price::parse(&self.price, &self.currency) {
            Ok(price) => Ok(Product {
                sku: self.sku,
                title: self.title,
                price,
                quantity: self.quantity,
                attributes: self.attributes,
                updated_at: self.updated_at,
                id: self.id,
            }),
            Err(e) => Err(Skipped::Refused {
                sku: self.sku,
                reason: e.to_string(),
            }),
        }
    }
}

/// A catalog product as beta-rest receives it.
#[derive(Serialize)]
struct WireProductOut<'a> {
    sku: &'a str,
    title: &'a str,
    /// A decimal string with the currency's minor units (`"19.90"`).
    price: String,
    currency: &'static str,
    quantity: i64,
    attributes: &'a BTreeMap<String, String>,
    updated_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
}

impl<'a> From<&'a Product> for WireProductOut<'a> {
    fn from(p: &'a Product) -> Self {
        WireProductOut {
            sku: &p.sku,
            title: &p.title,
            price: p.price.amount_text(),
            currency: p.price.currency().code(),
            quantity: p.quantity,
            attributes: &p.attributes,
            updated_at: &p.updated_at,
            id: p.id.as_deref(),
        }
    }
}

fn parse_products_page(url: &Url, body: &[u8]) -> Result<ProductPage, ChannelError> {
    #[derive(Deserialize)]
    struct Wire {
        products: Vec<WireProduct>,
        #[serde(default)]
        next_cursor: Option<String>,
    }
    let wire: Wire = serde_json::from_slice(body).map_err(|err| ChannelError::Malformed {
        url: shown(url),
        what: format!(
            "not a valid products page (`{{\"products\":[...],\"next_cursor\":...}}`): {err}"
        ),
        excerpt: excerpt_at(body, err.line(), err.column()),
    })?;
    // A bad item is skipped by name, never the page: the import job checks
    // the rules and counts what was left out.
    let mut products = Vec::with_capacity(wire.products.len());
    let mut skipped = Vec::new();
    for item in wire.products {
        match item.into_product() {
            Ok(product) => products.push(product),
            Err(skip) => skipped.push(skip),
        }
    }
    Ok(ProductPage {
        products,
        next_cursor: wire.next_cursor.filter(|c| !c.is_empty()),
        skipped,
    })
}

fn parse_batch_reply(
    url: &Url,
    body: &[u8],
    sent: Batch<'_>,
) -> Result<Vec<ItemResult>, ChannelError> {
    #[derive(Deserialize)]
    struct Wire {
        results: Vec<ItemResult>,
    }
    let malformed = |what: String, excerpt: String| ChannelError::Malformed {
        url: shown(url),
        what,
        excerpt,
    };
    let wire: Wire = serde_json::from_slice(body).map_err(|err| {
        malformed(
            format!("not a valid batch reply (`{{\"results\":[...]}}`): {err}"),
            excerpt_at(body, err.line(), err.column()),
        )
    })?;
    // Without a result per product, the caller could not tell what was
    // exported; the whole batch is then resent later (safe: it is an upsert).
    let sent_skus: Vec<&str> = (sent.upserts.iter().map(|p| p.sku.as_str()))
        .chain(sent.deletions.iter().map(String::as_str))
        .collect();
    let mut missing: BTreeSet<&str> = sent_skus.iter().copied().collect();
    for result in &wire.results {
        let was_deletion = sent.deletions.contains(&result.sku);
        let fits = match result.status {
            ItemStatus::Error => true,
            ItemStatus::Deleted => was_deletion,
            ItemStatus::Created | ItemStatus::Updated | ItemStatus::Unchanged => !was_deletion,
        };
        if missing.contains(result.sku.as_str()) && !fits {
            return Err(malformed(
                format!(
                    "the batch reply says `{}` for sku `{}`, which was sent as {}",
                    result.status.as_str(),
                    result.sku.escape_debug(),
                    if was_deletion {
                        "a deletion"
                    } else {
                        "an upsert"
                    }
                ),
                String::new(),
            ));
        }
        if !missing.remove(result.sku.as_str()) {
            let why = if sent_skus.contains(&result.sku.as_str()) {
                "twice"
            } else {
                "but it was not sent"
            };
            return Err(malformed(
                format!(
                    "the batch reply has a result for sku `{}` {why}",
                    result.sku.escape_debug()
                ),
                String::new(),
            ));
        }
    }
    if let Some(sku) = missing.first() {
        return Err(malformed(
            format!(
                "the batch reply has no result for sku `{}` ({} of {} missing)",
                sku.escape_debug(),
                missing.len(),
                sent_skus.len()
            ),
            String::new(),
        ));
    }
    Ok(wire.results)
}
