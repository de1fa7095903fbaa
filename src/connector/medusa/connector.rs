//! The Medusa connector behind the seam: [`Connector`] over the protocol
//! functions of this module. The store context (sales channel, stock
//! location, currencies) is read once per connector, on first use, with the
//! job's credential.

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::sync::OnceCell;

use std::collections::{BTreeSet, HashMap};

use super::Credential as WireCredential;
use super::{MedusaClient, StoreContext, StoreOverrides, is_unauthorized};
use crate::connector::{
    AuthMethod, Authorization, ChannelError, Connector, Credential, ExportBatch, ExportItem,
    ItemResult, ItemStatus, Journal, Limits, OpenIntent, PageRequest, ProductPage, Resolution,
    Settings, StockOutcome, StockReading, StockSet,
};

/// The protocol's name in the capability list.
pub const PROTOCOL: &str = "medusa-admin";

/// One Medusa channel.
pub struct Medusa {
    client: MedusaClient,
    auth_method: AuthMethod,
    limits: Limits,
    overrides: StoreOverrides,
    context: OnceCell<StoreContext>,
    /// The mapped stock location ids Medusa has, read once.
    present_locations: OnceCell<BTreeSet<String>>,
}

/// [`crate::connector::PROTOCOLS`]' constructor.
pub fn connect(settings: Settings) -> Result<Box<dyn Connector>, ChannelError> {
    let client = MedusaClient::new(settings.base_url.as_str(), settings.options)?;
    Ok(Box::new(Medusa {
        client,
        auth_method: settings.auth_method,
        limits: settings.limits,
        overrides: StoreOverrides {
            sales_channel_id: settings.sales_channel_id,
            stock_location_id: settings.stock_location_id,
            locations: settings.locations,
        },
        context: OnceCell::new(),
        present_locations: OnceCell::new(),
    }))
}

impl Medusa {
    /// How `access` (a JWT, or the secret key itself) goes on the wire.
    fn credential<'a>(&self, access: &'a str) -> WireCredential<'a> {
        match self.auth_method {
            AuthMethod::ApiKey => WireCredential::SecretKey(access),
            _ => WireCredential::Bearer(access),
        }
    }

    async fn context(&self, access: &str) -> Result<&StoreContext, ChannelError> {
        self.context
            .get_or_try_init(|| async {
                self.client
                    .store_context(self.credential(access), &self.overrides)
                    .await
            })
            .await
    }

    async fn present_locations(
        &self,
        access: &str,
        ctx: &StoreContext,
    ) -> Result<&BTreeSet<String>, ChannelError> {
        self.present_locations
            .get_or_try_init(|| async {
                self.client
                    .present_locations(self.credential(access), &ctx.locations)
                    .await
            })
            .await
    }

    /// A base URL that cannot be a Medusa server's fails each call before
    /// any request (in the job, so the other channels still run).
    fn check_url(&self) -> Result<(), ChannelError> {
        match self.client.url_problem() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }
}

#[async_trait(?Send)]
impl Connector for Medusa {
    fn limits(&self) -> Limits {
        self.limits
    }

    /// Listings page by offset, so an interrupted incremental one starts
    /// again rather than trust a shifted offset.
    fn resumes_incremental_listings(&self) -> bool {
        false
    }

    async fn authenticate(&self, auth: Authorization<'_>) -> Result<Credential, ChannelError> {
        self.check_url()?;
        match auth {
            Authorization::Login {
                username,
                password,
                current,
            } => {
                // Renew while the session is valid; an expired (or revoked)
                // one answers 401, and a fresh login follows.
                let renewed = match current {
                    Some(jwt) => match self.client.refresh(jwt).await {
                        Ok(jwt) => Some(jwt),
                        Err(err) if is_unauthorized(&err) => None,
                        Err(err) => return Err(err),
                    },
                    None => None,
                };
                let jwt = match renewed {
                    Some(jwt) => jwt,
                    None => self.client.login(username, password).await?,
                };
                let expires_in = jwt.expires_at.map(|at| {
                    at.duration_since(Timestamp::now())
                        .as_secs()
                        .max(0)
                        .unsigned_abs()
                });
                Ok(Credential {
                    access_token: jwt.token,
                    expires_in,
                    refresh_token: None,
                })
            }
            Authorization::ApiKey { key } => {
                self.client
                    .check_credential(WireCredential::SecretKey(key))
                    .await?;
                Ok(Credential {
                    access_token: key.to_string(),
                    expires_in: None,
                    refresh_token: None,
                })
            }
            Authorization::Oauth2 { .. } => Err(ChannelError::UnsupportedAuth {
                protocol: PROTOCOL,
                method: AuthMethod::Oauth2,
            }),
        }
    }

    async fn fetch_page(
        &self,
        access: &str,
        request: PageRequest<'_>,
    ) -> Result<ProductPage, ChannelError> {
        self.check_url()?;
        let ctx = self.context(access).await?;
        let page = self
            .client
            .fetch_import_page(
                self.credential(access),
                ctx,
                self.limits.page_size,
                request.cursor,
                request.since,
            )
            .await?;
        if !page.deleted_skus.is_empty() {
            // The seam's page has no deletion list yet: a complete import
            // from the master removes what the platform no longer has.
            tracing::info!(
                count = page.deleted_skus.len(),
                "Medusa reports deleted variants; a full import removes them from the catalog"
            );
        }
        Ok(ProductPage {
            products: page.products,
            next_cursor: page.next_cursor,
            skipped: page.skipped,
        })
    }

    /// Offsets: while pages are full, the next starts a page-size further.
    fn cursor_after(&self, cursor: Option<&str>, _since: Option<Timestamp>) -> Option<String> {
        super::import::cursor_after(cursor, self.limits.page_size)
    }

    fn request_bytes(&self, item: &ExportItem<'_>) -> usize {
        super::bodies::request_bytes(item.product)
    }

    async fn send_batch(
        &self,
        access: &str,
        batch: &ExportBatch<'_>,
        journal: &dyn Journal,
    ) -> Result<Vec<ItemResult>, ChannelError> {
        self.check_url()?;
        self.limits.check_batch(batch)?;
        let mut results = Vec::with_capacity(batch.len());
        if !batch.items.is_empty() {
            let ctx = self.context(access).await?;
            results.extend(
                self.client
                    .export_items(self.credential(access), ctx, &batch.items, journal)
                    .await?,
            );
        }
        for deletion in &batch.deletions {
            let outcomes = self
                .client
                .delete_products(self.credential(access), &deletion.skus)
                .await?;
            let mut by_sku: HashMap<String, super::ItemOutcome> =
                outcomes.into_iter().map(|o| (o.sku.clone(), o)).collect();
            let mut status = ItemStatus::Deleted;
            for sku in &deletion.skus {
                if let Some(outcome) = by_sku.remove(sku)
                    && outcome.status == super::ItemStatus::Error
                {
                    let why = outcome.error.unwrap_or_default();
                    status = ItemStatus::Error(format!("variant `{sku}`: {why}"));
                    break;
                }
            }
            // A whole product the store knows, with no variant left to name.
            if deletion.whole_product
                && deletion.skus.is_empty()
                && let Some(id) = deletion.known.product(&deletion.handle)
                && let Err(why) = self
                    .client
                    .delete_product_ids(self.credential(access), &[id])
                    .await?
            {
                status = ItemStatus::Error(why);
            }
            results.push(ItemResult::new(deletion.handle.clone(), status));
        }
        Ok(results)
    }

    async fn reconcile(
        &self,
        access: &str,
        open: &[OpenIntent],
        _journal: &dyn Journal,
    ) -> Result<Vec<Resolution>, ChannelError> {
        self.check_url()?;
        self.client.reconcile(self.credential(access), open).await
    }

    /// Levels are set on the inventory item of the variant with the SKU
    /// (`stocked_quantity` only; `reserved_quantity` is Medusa's).
    async fn send_stock(
        &self,
        access: &str,
        levels: &[StockSet],
    ) -> Result<Vec<StockOutcome>, ChannelError> {
        self.check_url()?;
        self.limits.check_count(levels.len())?;
        if levels.is_empty() {
            return Ok(Vec::new());
        }
        let ctx = self.context(access).await?;
        let present = self.present_locations(access, ctx).await?;
        self.client
            .send_stock(
                self.credential(access),
                ctx,
                present,
                levels,
                self.limits.max_request_bytes,
            )
            .await
    }

    async fn read_stock(
        &self,
        access: &str,
        skus: &[String],
    ) -> Result<Vec<StockReading>, ChannelError> {
        self.check_url()?;
        self.limits.check_count(skus.len())?;
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let ctx = self.context(access).await?;
        self.client
            .read_stock(self.credential(access), ctx, skus)
            .await
    }
}
