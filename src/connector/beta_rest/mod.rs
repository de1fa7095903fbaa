//! The beta-rest protocol (the reference connector, spoken by the sandbox):
//! OAuth 2 tokens, cursor-paged `GET /products` (whole products, or flat
//! ones from servers of earlier versions), and `POST /products/batch` with
//! products (and the fields the channel owns) and a `delete` list of
//! products or variants; `stock/batch` and `stock/read` for absolute stock
//! levels (`stock`). The README's "beta-rest" section is the protocol.
//!
//! A batch is atomic and keyed by handle and SKU on the server, so sending
//! one again is harmless: nothing is journalled, and the default
//! [`Connector::reconcile`] settles any intent.

mod stock;
#[cfg(test)]
mod tests;
mod wire;

use std::collections::BTreeSet;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use self::wire::{WireDeletion, WireProduct, WireProductOut, WireResult};
use super::http::{Auth, Call, Endpoint, Replay, Reply, UrlSetting, excerpt_at, shown};
use super::oauth2::request_token;
use super::{
    AuthMethod, Authorization, ChannelError, ClientOptions, Connector, Credential, ExportBatch,
    ExportItem, Grant, HttpClient, ItemResult, ItemStatus, Journal, Limits, LocationMap,
    PageRequest, PlatformIds, ProductPage, Settings, StockOutcome, StockReading, StockSet,
    TokenReply, Url, check_parsed_url,
};
use crate::price::Currency;

/// The beta-rest connector of one channel.
pub struct BetaRest {
    client: BetaRestClient,
    base_url: Url,
    auth_method: AuthMethod,
    limits: Limits,
    locations: LocationMap,
}

/// [`super::PROTOCOLS`]' constructor.
pub fn connect(settings: Settings) -> Result<Box<dyn Connector>, ChannelError> {
    check_parsed_url(&settings.base_url)?;
    Ok(Box::new(BetaRest {
        client: BetaRestClient::new(settings.options)?,
        base_url: settings.base_url,
        auth_method: settings.auth_method,
        limits: settings.limits,
        locations: settings.locations,
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
                &self.locations,
            )
            .await
    }

    fn request_bytes(&self, item: &ExportItem<'_>) -> usize {
        // The item as it goes on the wire, and its comma.
        serde_json::to_vec(&WireProductOut::new(item)).map_or(usize::MAX, |v| v.len() + 1)
    }

    async fn send_batch(
        &self,
        access: &str,
        batch: &ExportBatch<'_>,
        _journal: &dyn Journal,
    ) -> Result<Vec<ItemResult>, ChannelError> {
        self.limits.check_batch(batch)?;
        self.client
            .export_batch(&self.base_url, access, batch)
            .await
    }

    async fn send_stock(
        &self,
        access: &str,
        levels: &[StockSet],
    ) -> Result<Vec<StockOutcome>, ChannelError> {
        self.limits.check_count(levels.len())?;
        self.client
            .send_stock(&self.base_url, access, levels, &self.locations)
            .await
    }

    async fn read_stock(
        &self,
        access: &str,
        skus: &[String],
    ) -> Result<Vec<StockReading>, ChannelError> {
        self.limits.check_count(skus.len())?;
        self.client
            .read_stock(&self.base_url, access, skus, &self.locations)
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
    /// Bearer auth. A product without a field the protocol requires makes
    /// the page [`ChannelError::Malformed`]; one whose values the catalog
    /// cannot take is skipped by name. A 400 that names `limit` is
    /// [`ChannelError::PageSizeRefused`].
    pub async fn fetch_products_page(
        &self,
        base_url: &Url,
        access_token: &str,
        limit: usize,
        cursor: Option<&str>,
        updated_since: Option<Timestamp>,
        locations: &LocationMap,
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
        parse_products_page(&url, reply.body(), locations)
    }

    /// POST {base}/products/batch `{"products":[...],"delete":[...]}`.
    /// Returns one result per product and deletion, in that order; a reply
    /// that leaves one out, adds one, or answers a product with `deleted`
    /// is malformed. An empty batch makes no request. The channel's
    /// `batch-size` is checked by [`BetaRest`].
    pub async fn export_batch(
        &self,
        base_url: &Url,
        access_token: &str,
        batch: &ExportBatch<'_>,
    ) -> Result<Vec<ItemResult>, ChannelError> {
        // A bad base URL fails here, whether or not the batch is empty.
        Endpoint::new(base_url.clone(), UrlSetting::BaseUrl)?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        #[derive(Serialize)]
        struct Wire<'a> {
            products: Vec<WireProductOut<'a>>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            delete: Vec<WireDeletion<'a>>,
        }
        let body = serde_json::to_vec(&Wire {
            products: batch.items.iter().map(WireProductOut::new).collect(),
            delete: batch
                .deletions
                .iter()
                .map(|d| WireDeletion {
                    handle: &d.handle,
                    skus: (!d.whole_product).then_some(d.skus.as_slice()),
                })
                .collect(),
        })
        .map_err(|err| ChannelError::Options(format!("a batch did not serialize: {err}")))?;
        // The server writes by handle and SKU, and deleting what is gone
        // answers `deleted`: resending a batch is safe.
        let (url, reply) = self
            .post_json(base_url, access_token, &["products", "batch"], body)
            .await?;
        parse_batch_reply(&url, reply.body(), batch)
    }

    /// POSTs a JSON `body` to `{base}/{path}` with Bearer auth, as a call
    /// safe to resend (every beta-rest POST is keyed and absolute); the
    /// URL is returned for messages about the reply.
    async fn post_json(
        &self,
        base_url: &Url,
        access_token: &str,
        path: &[&str],
        body: Vec<u8>,
    ) -> Result<(Url, Reply), ChannelError> {
        let api = Endpoint::new(base_url.clone(), UrlSetting::BaseUrl)?;
        let target = api.at(path);
        let url = target.url().clone();
        let call = Call::post(target, Replay::Safe)
            .auth(Auth::Bearer(access_token))
            .json(body);
        Ok((url, self.http.send(call).await?))
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

fn parse_products_page(
    url: &Url,
    body: &[u8],
    locations: &LocationMap,
) -> Result<ProductPage, ChannelError> {
    #[derive(Deserialize)]
    struct Wire {
        products: Vec<WireProduct>,
        #[serde(default)]
        next_cursor: Option<String>,
    }
    let malformed = |what: String, excerpt: String| ChannelError::Malformed {
        url: shown(url),
        what,
        excerpt,
    };
    let wire: Wire = serde_json::from_slice(body).map_err(|err| {
        malformed(
            format!(
                "not a valid products page (`{{\"products\":[...],\"next_cursor\":...}}`): {err}"
            ),
            excerpt_at(body, err.line(), err.column()),
        )
    })?;
    // A bad item is skipped by name, never the page: the import job checks
    // the rules and counts what was left out.
    let mut products = Vec::with_capacity(wire.products.len());
    let mut skipped = Vec::new();
    for (index, item) in wire.products.into_iter().enumerate() {
        match item.into_product(locations) {
            Ok((product, skips)) => {
                products.extend(product);
                skipped.extend(skips);
            }
            Err(missing) => {
                return Err(malformed(
                    format!(
                        "not a valid products page: product {} of the page: {missing}",
                        index + 1
                    ),
                    String::new(),
                ));
            }
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
    sent: &ExportBatch<'_>,
) -> Result<Vec<ItemResult>, ChannelError> {
    #[derive(Deserialize)]
    struct Wire {
        results: Vec<WireResult>,
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
    // Without a result per item, the caller could not tell what was
    // exported; the whole batch is then resent later (safe: it is keyed).
    let expected: Vec<(&str, bool)> = (sent
        .items
        .iter()
        .map(|i| (i.product.handle.as_str(), false)))
    .chain(sent.deletions.iter().map(|d| (d.handle.as_str(), true)))
    .collect();
    if wire.results.len() != expected.len() {
        let answered: BTreeSet<&str> = wire.results.iter().map(|r| r.handle.as_str()).collect();
        let what = match expected.iter().find(|(h, _)| !answered.contains(h)) {
            Some((handle, _)) => format!(
                "the batch reply has no result for handle `{}` ({} results for {} items)",
                handle.escape_debug(),
                wire.results.len(),
                expected.len()
            ),
            None => format!(
                "the batch reply has {} results for {} items",
                wire.results.len(),
                expected.len()
            ),
        };
        return Err(malformed(what, String::new()));
    }
    let mut results = Vec::with_capacity(expected.len());
    for (result, (handle, deletion)) in wire.results.into_iter().zip(expected) {
        if result.handle != handle {
            return Err(malformed(
                format!(
                    "the batch reply has a result for handle `{}` where the batch's item was `{}` (results come in the batch's order: products, then deletions)",
                    result.handle.escape_debug(),
                    handle.escape_debug()
                ),
                String::new(),
            ));
        }
        let status = match (result.status.as_str(), deletion) {
            ("error", _) => ItemStatus::Error(
                result
                    .error
                    .unwrap_or_else(|| "rejected without a reason".into()),
            ),
            ("deleted", true) => ItemStatus::Deleted,
            ("created", false) => ItemStatus::Created,
            ("updated", false) => ItemStatus::Updated,
            ("unchanged", false) => ItemStatus::Unchanged,
            (other, _) => {
                return Err(malformed(
                    format!(
                        "the batch reply says `{}` for handle `{}`, which was sent as {}",
                        other.escape_debug(),
                        handle.escape_debug(),
                        if deletion { "a deletion" } else { "a product" }
                    ),
                    String::new(),
                ));
            }
        };
        let mut ids = PlatformIds::default();
        if let Some(id) = result.id {
            ids.insert(PlatformIds::PRODUCT, handle, id);
        }
        for (sku, id) in result.variant_ids {
            ids.insert(PlatformIds::VARIANT, &sku, id);
        }
        results.push(ItemResult {
            handle: handle.to_string(),
            status,
            ids,
            // A code the catalog does not know cannot be one of its prices.
            dropped_currencies: (result.dropped_currencies.iter())
                .filter_map(|code| Currency::from_code(code).ok())
                .collect(),
            variant_errors: (result.variant_errors.into_iter())
                .map(|e| (e.sku, e.error))
                .collect(),
        });
    }
    Ok(results)
}
