//! Stock on Medusa: the location levels an export batch writes, planned
//! per variant and sent in one batch
//! (`/admin/inventory-items/location-levels/batch`).

use serde_json::{Value, json};

use super::export::item_error;
use super::import::StoreContext;
use super::wire::WireVariant;
use super::{ChannelError, Credential, MedusaClient, Replay};
use crate::catalog::Variant;

/// Stock levels to write, one batch for a whole export batch.
#[derive(Default)]
pub(super) struct Levels {
    create: Vec<Value>,
    update: Vec<Value>,
}

impl Levels {
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn len(&self) -> usize {
        self.create.len() + self.update.len()
    }

    /// The levels `variant` needs at its mapped locations that `wire`
    /// lacks or holds otherwise. A catalog location the channel does not
    /// map is not the shop's business.
    pub(super) fn plan(
        &mut self,
        variant: &Variant,
        wire: &WireVariant,
        ctx: &StoreContext,
    ) -> Result<(), String> {
        let wanted: Vec<(&str, i64)> = variant
            .stock
            .iter()
            .filter_map(|(name, q)| Some((ctx.locations.get(name)?.as_str(), *q)))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let Some(item) = wire.inventory_item() else {
            return Err(
                "the variant does not manage inventory, so its stock cannot be set: turn on \"Manage inventory\" in Medusa"
                    .into(),
            );
        };
        for (location, quantity) in wanted {
            let level = json!({
                "inventory_item_id": item,
                "location_id": location,
                "stocked_quantity": quantity,
            });
            match wire.level_at(location) {
                None => self.create.push(level),
                Some(have) if have.stocked_quantity.as_i64() != Some(quantity) => {
                    self.update.push(level)
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// One location-levels batch; `Ok(Err(why))` when Medusa refused it.
    pub(super) async fn write(
        self,
        client: &MedusaClient,
        credential: Credential<'_>,
    ) -> Result<Result<(), String>, ChannelError> {
        if self.is_empty() {
            return Ok(Ok(()));
        }
        let body = json!({"create": self.create, "update": self.update}).to_string();
        match client
            .post::<serde::de::IgnoredAny>(
                "admin/inventory-items/location-levels/batch",
                &[],
                credential,
                &body,
                // Absolute levels, one per item and location: applying
                // twice leaves the same level (a second create is refused,
                // never a second level).
                Replay::Safe,
            )
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(err) => item_error(err).map(Err),
        }
    }
}
