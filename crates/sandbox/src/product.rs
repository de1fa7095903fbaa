//! The product as the beta-rest protocol carries it: the one shape the
//! sandbox stores, lists and takes in export batches.
//!
//! It is the sandbox's own wire type, not `oms-channels`' catalog product:
//! every field is plain text, so a test can make the channel hold and send
//! what a real channel might (a SKU with trailing white space, a price that
//! is no decimal), and the server judges what a client sends from the JSON
//! itself (`batch`), never through the client's types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One product as the beta-rest protocol knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub sku: String,
    pub title: String,
    /// Decimal string such as `"19.90"`, never a float.
    pub price: String,
    pub currency: String,
    pub quantity: i64,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// RFC 3339; the sandbox sets it to "now" on every change, so a client
    /// may leave it out of an export item.
    #[serde(default)]
    pub updated_at: String,
    /// The sandbox's own id: `p-<index>` for seeded products. An export
    /// item's id is ignored: the channel keeps its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}
