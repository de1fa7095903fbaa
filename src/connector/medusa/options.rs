//! A product's options on Medusa: which option changes an update can
//! write (values, not the options themselves), the values new or revalued
//! variants need added first, and the values a change leaves unused
//! removed (`/admin/products/{id}/options/batch`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::export::item_error;
use super::wire::{DEFAULT_OPTION, WireProduct};
use super::{ChannelError, Credential, MedusaClient, Replay};
use crate::catalog::{Product, Variant};

impl MedusaClient {
    /// Adds the option values `variants` use that the product's options
    /// lack (`/admin/products/{id}/options/batch`).
    pub(super) async fn add_option_values(
        &self,
        credential: Credential<'_>,
        desired: &Product,
        held: &WireProduct,
        variants: &[&Variant],
    ) -> Result<Result<(), String>, ChannelError> {
        if desired.options.is_empty() {
            return Ok(Ok(()));
        }
        let mut update = Vec::new();
        for (i, name) in desired.options.iter().enumerate() {
            let Some(option) = held.options.iter().find(|o| &o.title == name) else {
                return Ok(Err(format!(
                    "Medusa's product has no option `{name}`: adding an option to a product is not carried yet"
                )));
            };
            let have: BTreeSet<&str> = option.values.iter().map(|v| v.value.as_str()).collect();
            let new: BTreeSet<&str> = variants
                .iter()
                .filter_map(|v| v.option_values.get(i).map(String::as_str))
                .filter(|v| !have.contains(v))
                .collect();
            if !new.is_empty() {
                // A string would be a value id; `{value}` names one.
                let values: Vec<Value> = new.iter().map(|v| json!({ "value": v })).collect();
                update.push(json!({"product_option_id": option.id, "add": values}));
            }
        }
        if update.is_empty() {
            return Ok(Ok(()));
        }
        // Adds values by name to an option; a second add of the same value
        // is refused, never made twice.
        self.update_options(credential, held, update).await
    }

    /// Removes the values of the product's options that its variants used
    /// before a change and no variant of `desired` uses after it (a renamed
    /// value's old name); values no variant ever used are the shop's own.
    pub(super) async fn remove_unused_values(
        &self,
        credential: Credential<'_>,
        desired: &Product,
        held: &WireProduct,
    ) -> Result<Result<(), String>, ChannelError> {
        let used_before: BTreeSet<(&str, &str)> = held
            .variants
            .iter()
            .filter(|v| v.deleted_at.is_none())
            .flat_map(|v| &v.options)
            .filter_map(|o| Some((o.option_id.as_deref()?, o.value.as_str())))
            .collect();
        let mut update = Vec::new();
        for (i, name) in desired.options.iter().enumerate() {
            let Some(option) = held.options.iter().find(|o| &o.title == name) else {
                continue;
            };
            let used_after: BTreeSet<&str> = desired
                .variants
                .iter()
                .filter_map(|v| v.option_values.get(i).map(String::as_str))
                .collect();
            let doomed: Vec<&str> = option
                .values
                .iter()
                .filter(|v| {
                    used_before.contains(&(option.id.as_str(), v.value.as_str()))
                        && !used_after.contains(v.value.as_str())
                })
                .filter_map(|v| v.id.as_deref())
                .collect();
            if !doomed.is_empty() {
                update.push(json!({"product_option_id": option.id, "remove": doomed}));
            }
        }
        if update.is_empty() {
            return Ok(Ok(()));
        }
        // Removes values by id: a second removal finds nothing to remove.
        self.update_options(credential, held, update).await
    }

    /// `update` of `/admin/products/{id}/options/batch`.
    async fn update_options(
        &self,
        credential: Credential<'_>,
        held: &WireProduct,
        update: Vec<Value>,
    ) -> Result<Result<(), String>, ChannelError> {
        let path = format!("admin/products/{}/options/batch", held.id);
        match self
            .post::<serde::de::IgnoredAny>(
                &path,
                &[("fields", "id")],
                credential,
                &json!({ "update": update }).to_string(),
                Replay::Safe,
            )
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(err) => item_error(err).map(Err),
        }
    }
}

/// Whether an options change can be written: only values added to the
/// same options are (new variants bring them).
pub(super) fn options_carried(current: &Product, desired: &Product) -> Result<(), String> {
    if current.options == desired.options {
        return Ok(());
    }
    Err(format!(
        "its options change from [{}] to [{}]: changing a Medusa product's options is not carried yet; delete the product in Medusa to have it made again",
        current.options.join(", "),
        desired.options.join(", ")
    ))
}

/// `{"Size": "S"}`, or the default option for a product without options.
pub(super) fn variant_options(product: &Product, variant: &Variant) -> Value {
    if product.options.is_empty() {
        return json!({ DEFAULT_OPTION: DEFAULT_OPTION });
    }
    let map: serde_json::Map<String, Value> = product
        .options
        .iter()
        .zip(&variant.option_values)
        .map(|(name, value)| (name.clone(), json!(value)))
        .collect();
    Value::Object(map)
}
