//! The product record exchanged with channels and kept in the catalog, and
//! the rules every product meets wherever it comes from (`products load`,
//! import from any channel, the store): a SKU by the SKU rule, a [`Price`] by
//! the price rule, shop text without control characters and within the sizes
//! below, a quantity of 0 or more, an `updated_at` in the supported range.
//!
//! The sizes are what real shops take and keep one product far below
//! Vendure's stock 100 kB request limit even at its largest (about 65 kB of
//! JSON with every field full): Vendure and most SQL-backed shops keep names
//! in 255-character columns.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::output::escape;
use crate::price::{Price, PriceError};
use crate::timestamp::{InstantError, parse_instant};

/// One product as the beta-rest protocol and the catalog know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub sku: String,
    pub title: String,
    /// The amount and its currency, by the price rule.
    pub price: Price,
    pub quantity: i64,
    pub attributes: BTreeMap<String, String>,
    /// RFC 3339 timestamp of the last change, as the source gave it.
    pub updated_at: String,
    /// The channel's own id for this product, when a channel gave one.
    pub id: Option<String>,
}

/// The `--json` shape, the same as a load file's line: the price is a
/// decimal string beside its currency code, never a float.
impl Serialize for Product {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut out = serializer.serialize_struct("Product", 8)?;
        out.serialize_field("sku", &self.sku)?;
        out.serialize_field("title", &self.title)?;
        out.serialize_field("price", &self.price.amount_text())?;
        out.serialize_field("currency", &self.price.currency())?;
        out.serialize_field("quantity", &self.quantity)?;
        out.serialize_field("attributes", &self.attributes)?;
        out.serialize_field("updated_at", &self.updated_at)?;
        match &self.id {
            Some(id) => out.serialize_field("id", id)?,
            None => out.skip_field("id")?,
        }
        out.end()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("empty `sku`")]
    EmptySku,
    #[error("invalid sku `{shown}`: {reason} (a sku is printable text without leading or trailing spaces, at most {MAX_SKU_BYTES} bytes)", shown = shown(.sku))]
    Sku { sku: String, reason: String },
    #[error(transparent)]
    Price(#[from] PriceError),
    /// `field` names the field (`title`, "attribute `color`", ...), already
    /// escaped.
    #[error(
        "{field} `{shown}` has control character U+{code:04X} at character {at}: shop text is printable, without control characters (TAB and line breaks included)",
        shown = shown(.text),
        code = u32::from(*.control)
    )]
    ControlCharacter {
        field: String,
        text: String,
        control: char,
        at: usize,
    },
    #[error("{field} `{shown}` is {chars} characters long: at most {max}", shown = shown(.text))]
    TooLong {
        field: String,
        text: String,
        chars: usize,
        max: usize,
    },
    #[error("attribute name `` is empty: name every attribute")]
    EmptyAttributeName,
    #[error("{count} attributes: at most {MAX_ATTRIBUTES}")]
    TooManyAttributes { count: usize },
    #[error("invalid updated_at: {0}")]
    UpdatedAt(#[from] InstantError),
    #[error("invalid quantity {0}: must not be negative")]
    Quantity(i64),
}

/// The longest sku, in bytes of UTF-8.
pub const MAX_SKU_BYTES: usize = 255;
/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 255;
/// The most attributes a product has.
pub const MAX_ATTRIBUTES: usize = 50;
/// The longest attribute name, in characters.
pub const MAX_ATTRIBUTE_NAME_CHARS: usize = 64;
/// The longest attribute value, in characters.
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 255;
/// The longest channel id of a product, in characters.
pub const MAX_ID_CHARS: usize = 255;

/// Text from outside as a message shows it: escaped, and cut after 40
/// characters.
fn shown(text: &str) -> String {
    let mut shown = escape(&text.chars().take(40).collect::<String>()).into_owned();
    if text.chars().count() > 40 {
        shown.push_str("...");
    }
    shown
}

/// The sku rules, the same for `products load`, import and `products remove`:
/// non-empty, printable (no control characters), no leading or trailing
/// white space, at most [`MAX_SKU_BYTES`] bytes.
pub fn check_sku(sku: &str) -> Result<(), ProductError> {
    let bad = |reason: String| {
        Err(ProductError::Sku {
            sku: sku.to_string(),
            reason,
        })
    };
    if sku.is_empty() {
        return Err(ProductError::EmptySku);
    }
    if sku.len() > MAX_SKU_BYTES {
        return bad(format!("{} bytes long", sku.len()));
    }
    if let Some((at, c)) = sku.char_indices().find(|(_, c)| c.is_control()) {
        return bad(format!(
            "control character U+{:04X} at byte {at}",
            u32::from(c)
        ));
    }
    if sku.starts_with(char::is_whitespace) {
        return bad("leading white space".into());
    }
    if sku.ends_with(char::is_whitespace) {
        return bad("trailing white space".into());
    }
    Ok(())
}

/// The shop text rule: no control character (C0, TAB and line breaks
/// included, DEL, C1), at most `max_chars` characters. `field` names the
/// field in the message. TAB is refused in titles too: shops show titles on
/// one line, and a TAB breaks every table and TSV export that carries it.
pub fn check_text(field: &str, text: &str, max_chars: usize) -> Result<(), ProductError> {
    if let Some((at, control)) = text.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(ProductError::ControlCharacter {
            field: field.to_string(),
            text: text.to_string(),
            control,
            at: at + 1,
        });
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(ProductError::TooLong {
            field: field.to_string(),
            text: text.to_string(),
            chars,
            max: max_chars,
        });
    }
    Ok(())
}

impl Product {
    /// Checks what a channel or a load file could get wrong; the price
    /// already passed its rule when it became a [`Price`].
    pub fn check(&self) -> Result<(), ProductError> {
        check_sku(&self.sku)?;
        check_text("title", &self.title, MAX_TITLE_CHARS)?;
        if self.attributes.len() > MAX_ATTRIBUTES {
            return Err(ProductError::TooManyAttributes {
                count: self.attributes.len(),
            });
        }
        for (name, value) in &self.attributes {
            if name.is_empty() {
                return Err(ProductError::EmptyAttributeName);
            }
            check_text("attribute name", name, MAX_ATTRIBUTE_NAME_CHARS)?;
            check_text(
                &format!("attribute `{}`", shown(name)),
                value,
                MAX_ATTRIBUTE_VALUE_CHARS,
            )?;
        }
        if let Some(id) = &self.id {
            check_text("id", id, MAX_ID_CHARS)?;
        }
        if self.quantity < 0 {
            return Err(ProductError::Quantity(self.quantity));
        }
        self.updated_at_timestamp()?;
        Ok(())
    }

    pub fn updated_at_timestamp(&self) -> Result<jiff::Timestamp, ProductError> {
        Ok(parse_instant(&self.updated_at)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> Product {
        Product {
            sku: "A".into(),
            title: "Mug".into(),
            price: Price::parse("19.90", "EUR").unwrap(),
            quantity: 1,
            attributes: BTreeMap::from([("color".to_string(), "red".to_string())]),
            updated_at: "2026-01-01T00:00:00Z".into(),
            id: None,
        }
    }

    #[test]
    fn sku_rules() {
        for ok in [
            "A",
            "SKU-0000001",
            "a b",
            "Größe-XL",
            "粗茶",
            &"x".repeat(255),
        ] {
            assert!(check_sku(ok).is_ok(), "{ok}");
        }
        let cases: [(&str, &str); 7] = [
            ("", "empty `sku`"),
            (" A", "leading white space"),
            ("A\t", "control character U+0009 at byte 1"),
            ("A ", "trailing white space"),
            ("A\u{7f}B", "control character U+007F"),
            ("\u{a0}A", "leading white space"),
            ("\n", "control character U+000A at byte 0"),
        ];
        for (bad, expected) in cases {
            let err = check_sku(bad).unwrap_err().to_string();
            assert!(err.contains(expected), "{bad:?}: {err}");
        }
        let long = "x".repeat(100_000);
        let err = check_sku(&long).unwrap_err().to_string();
        assert!(err.contains("100000 bytes long"), "{err}");
        assert!(err.len() < 300, "the sku is cut in the message: {err}");
        assert!(check_sku(&"é".repeat(128)).is_err(), "256 bytes");
    }

    #[test]
    fn shop_text_has_no_control_characters_and_fits_its_size() {
        type Edit = fn(&mut Product);
        let cases: &[(&str, Edit, Option<&str>)] = &[
            ("a plain product", |_| {}, None),
            ("unicode", |p| p.title = "Größe XL – 粗茶 €".into(), None),
            ("255 characters", |p| p.title = "é".repeat(255), None),
            (
                "ESC",
                |p| p.title = "Mug\u{1b}]0;owned\u{7}".into(),
                Some(
                    "title `Mug\\u{1b}]0;owned\\u{7}` has control character U+001B at character 4",
                ),
            ),
            (
                "TAB",
                |p| p.title = "Mug\tred".into(),
                Some("control character U+0009 at character 4"),
            ),
            ("LF", |p| p.title = "Mug\n".into(), Some("U+000A")),
            (
                "CR",
                |p| p.title = "\rMug".into(),
                Some("U+000D at character 1"),
            ),
            ("NUL", |p| p.title = "M\0".into(), Some("U+0000")),
            ("DEL", |p| p.title = "M\u{7f}".into(), Some("U+007F")),
            ("C1", |p| p.title = "M\u{9b}2J".into(), Some("U+009B")),
            (
                "256 characters",
                |p| p.title = "é".repeat(256),
                Some(
                    "title `éééééééééééééééééééééééééééééééééééééééé...` is 256 characters long: at most 255",
                ),
            ),
            (
                "an attribute name",
                |p| {
                    p.attributes.insert("col\u{1b}or".into(), "x".into());
                },
                Some("attribute name `col\\u{1b}or` has control character U+001B at character 4"),
            ),
            (
                "an attribute value",
                |p| {
                    p.attributes.insert("color".into(), "red\nblue".into());
                },
                Some("attribute `color` `red\\nblue` has control character U+000A"),
            ),
            (
                "a long attribute name",
                |p| {
                    p.attributes.insert("n".repeat(65), "x".into());
                },
                Some("is 65 characters long: at most 64"),
            ),
            (
                "a long attribute value",
                |p| {
                    p.attributes.insert("color".into(), "v".repeat(256));
                },
                Some("is 256 characters long: at most 255"),
            ),
            (
                "an empty attribute name",
                |p| {
                    p.attributes.insert(String::new(), "x".into());
                },
                Some("attribute name `` is empty"),
            ),
            (
                "51 attributes",
                |p| {
                    p.attributes = (0..51).map(|i| (format!("a{i}"), "x".into())).collect();
                },
                Some("51 attributes: at most 50"),
            ),
            (
                "50 attributes",
                |p| {
                    p.attributes = (0..50).map(|i| (format!("a{i}"), "x".into())).collect();
                },
                None,
            ),
            (
                "an id",
                |p| p.id = Some("v\u{1b}1".into()),
                Some("id `v\\u{1b}1`"),
            ),
            ("quantity", |p| p.quantity = -1, Some("invalid quantity -1")),
            (
                "updated_at",
                |p| p.updated_at = "9999-12-31T23:59:59Z".into(),
                Some("beyond the supported range"),
            ),
        ];
        for (what, edit, expected) in cases {
            let mut p = product();
            edit(&mut p);
            match (p.check(), expected) {
                (Ok(()), None) => {}
                (Err(err), Some(expected)) => {
                    let text = err.to_string();
                    assert!(text.contains(expected), "{what}: {text}");
                    assert!(!text.chars().any(char::is_control), "{what}: {text:?}");
                }
                (got, _) => panic!("{what}: {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn json_carries_the_price_as_a_string_beside_its_currency() {
        let mut p = product();
        p.price = Price::parse("19.9", "EUR").unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"sku":"A","title":"Mug","price":"19.9","currency":"EUR","quantity":1,"attributes":{"color":"red"},"updated_at":"2026-01-01T00:00:00Z"}"#
        );
        p.id = Some("v-1".into());
        assert!(
            serde_json::to_string(&p)
                .unwrap()
                .ends_with(r#","id":"v-1"}"#)
        );
    }
}
