//! Product and variant attributes in a custom field (`attributes-field`):
//! Vendure has no free-form attributes, only custom fields the server's own
//! config declares, so a channel that names a `text` custom field declared
//! on both Product and ProductVariant gets the attributes map there as JSON
//! (`{"brand":"Acme"}`, keys sorted). Without the setting attributes are not
//! carried. The field's name is the channel's, so these operations are
//! written here as text, not checked by cynic against the committed schema
//! (a stock server has no custom fields at all).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::client::{Credential, Replay, VendureClient};
use super::wire::Id;
use crate::catalog::Product;
use crate::connector::ChannelError;

/// Products read per call, variants written per call.
const PER_CALL: usize = 100;

/// The name of the custom field holding attributes: a GraphQL name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeField(String);

impl AttributeField {
    /// The field `name`, or why it cannot be one (for `validate`, and for
    /// the connector as [`ChannelError::Options`]).
    pub fn new(name: &str) -> Result<AttributeField, String> {
        let mut chars = name.chars();
        let starts_well = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if starts_well && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            Ok(AttributeField(name.to_string()))
        } else {
            Err(format!(
                "`attributes-field` = `{}` is not a Vendure custom field name: letters, digits and `_`, not starting with a digit",
                crate::output::escape(name)
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub type Attributes = BTreeMap<String, String>;

/// A product's attributes and its variants' (by variant id) as stored, or
/// why a stored value is not an attributes map.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stored {
    pub product: Attributes,
    pub variants: HashMap<String, Attributes>,
    pub bad: Option<String>,
}

impl Stored {
    /// Puts the stored attributes on `product` (mapped from this Vendure
    /// product, so its variants carry their Vendure ids), or says why not.
    pub fn apply(&self, product: &mut Product) -> Result<(), String> {
        if let Some(bad) = &self.bad {
            return Err(bad.clone());
        }
        product.attributes = self.product.clone();
        for v in &mut product.variants {
            if let Some(a) = v.id.as_ref().and_then(|id| self.variants.get(id)) {
                v.attributes = a.clone();
            }
        }
        Ok(())
    }
}

/// The field's text as attributes: empty or null is none; anything but a
/// JSON object of strings is refused.
pub fn decode(text: Option<&str>) -> Result<Attributes, String> {
    let text = text.unwrap_or("").trim();
    if text.is_empty() {
        return Ok(Attributes::new());
    }
    serde_json::from_str::<Attributes>(text).map_err(|e| {
        format!(
            "`{}` is not a JSON object of strings ({e})",
            crate::output::escape(&text.chars().take(80).collect::<String>())
        )
    })
}

/// Attributes as the field's text (none: an empty text).
pub fn encode(attributes: &Attributes) -> String {
    if attributes.is_empty() {
        String::new()
    } else {
        serde_json::to_string(attributes).expect("a map of strings serializes")
    }
}

/// The stored attributes of the products `ids`, by product id.
pub async fn read(
    client: &VendureClient,
    credential: Credential<'_>,
    field: &AttributeField,
    ids: &[String],
) -> Result<HashMap<String, Stored>, ChannelError> {
    let f = field.as_str();
    let query = format!(
        "query($ids: [String!]!, $take: Int!) {{ products(options: {{filter: {{id: {{in: $ids}}}}, take: $take}}) \
         {{ items {{ id customFields {{ {f} }} variants {{ id customFields {{ {f} }} }} }} }} }}"
    );
    let mut out = HashMap::new();
    for chunk in ids.chunks(PER_CALL) {
        let body = serde_json::to_vec(&json!({
            "query": query,
            "variables": {"ids": chunk, "take": chunk.len()},
        }))
        .expect("JSON serializes");
        let data: Value = client
            .run_body("products", credential, &body, Replay::Safe)
            .await?;
        for item in data["products"]["items"].as_array().into_iter().flatten() {
            let id = item["id"].as_str().unwrap_or_default().to_string();
            out.insert(id, stored(item, f));
        }
    }
    Ok(out)
}

fn stored(item: &Value, field: &str) -> Stored {
    let mut out = Stored::default();
    let mut refuse = |what: String| {
        out.bad.get_or_insert(what);
    };
    match decode(item["customFields"][field].as_str()) {
        Ok(a) => out.product = a,
        Err(why) => refuse(format!("the product's `{field}`: {why}")),
    }
    for v in item["variants"].as_array().into_iter().flatten() {
        let id = v["id"].as_str().unwrap_or_default().to_string();
        match decode(v["customFields"][field].as_str()) {
            Ok(a) => {
                out.variants.insert(id, a);
            }
            Err(why) => refuse(format!("variant {id}'s `{field}`: {why}")),
        }
    }
    out
}

/// Writes the product's attributes (when `product` is given) and those of
/// `variants` (variant id, attributes); each write sets the whole map, so
/// it is safe to send again.
pub async fn write(
    client: &VendureClient,
    credential: Credential<'_>,
    field: &AttributeField,
    product_id: &Id,
    product: Option<&Attributes>,
    variants: &[(Id, &Attributes)],
) -> Result<(), ChannelError> {
    let f = field.as_str();
    if let Some(attributes) = product {
        let body = serde_json::to_vec(&json!({
            "query": "mutation($input: UpdateProductInput!) { updateProduct(input: $input) { id } }",
            "variables": {"input": {"id": product_id.inner(), "customFields": {f: encode(attributes)}}},
        }))
        .expect("JSON serializes");
        client
            .run_body::<Value>("updateProduct", credential, &body, Replay::Safe)
            .await?;
    }
    for chunk in variants.chunks(PER_CALL) {
        let input: Vec<Value> = chunk
            .iter()
            .map(|(id, a)| json!({"id": id.inner(), "customFields": {f: encode(a)}}))
            .collect();
        let body = serde_json::to_vec(&json!({
            "query": "mutation($input: [UpdateProductVariantInput!]!) { updateProductVariants(input: $input) { id } }",
            "variables": {"input": input},
        }))
        .expect("JSON serializes");
        client
            .run_body::<Value>("updateProductVariants", credential, &body, Replay::Safe)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_name_is_a_graphql_name() {
        assert!(AttributeField::new("omsAttributes").is_ok());
        assert!(AttributeField::new("_x1").is_ok());
        for bad in ["", "1x", "oms-attributes", "a b", "a}"] {
            let err = AttributeField::new(bad).unwrap_err();
            assert!(err.contains("attributes-field"), "{bad}: {err}");
        }
    }

    #[test]
    fn attributes_round_trip_as_json_with_empty_for_none() {
        let a = Attributes::from([
            ("material".to_string(), "cotton".to_string()),
            ("brand".to_string(), "Acme".to_string()),
        ]);
        assert_eq!(encode(&a), r#"{"brand":"Acme","material":"cotton"}"#);
        assert_eq!(decode(Some(&encode(&a))).unwrap(), a);
        assert_eq!(encode(&Attributes::new()), "");
        assert_eq!(decode(None).unwrap(), Attributes::new());
        assert_eq!(decode(Some("  ")).unwrap(), Attributes::new());
        let err = decode(Some(r#"{"n": 3}"#)).unwrap_err();
        assert!(err.contains("not a JSON object of strings"), "{err}");
    }

    #[test]
    fn a_bad_stored_value_is_named_with_its_owner() {
        let item = json!({"id": "5", "customFields": {"oms": "{\"a\":\"1\"}"},
                          "variants": [{"id": "7", "customFields": {"oms": "oops"}},
                                       {"id": "8", "customFields": {"oms": null}}]});
        let s = stored(&item, "oms");
        assert_eq!(s.product["a"], "1");
        assert_eq!(s.variants["8"], Attributes::new());
        assert!(s.bad.unwrap().starts_with("variant 7's `oms`"));
    }
}
