//! The product record exchanged with channels and kept in the catalog.
//! Prices are decimal strings end to end: never parsed into a float.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One product as the beta-rest protocol and the catalog know it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub sku: String,
    pub title: String,
    /// Decimal string such as `"19.90"`; see [`check_price`].
    pub price: String,
    pub currency: String,
    pub quantity: i64,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// RFC 3339 timestamp of the last change, as the source gave it.
    pub updated_at: String,
    /// The channel's own id for this product, when a channel gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("empty `sku`")]
    EmptySku,
    #[error("invalid sku `{shown}`: {reason} (a sku is printable text without leading or trailing spaces, at most {MAX_SKU_BYTES} bytes)", shown = shown_sku(.sku))]
    Sku { sku: String, reason: String },
    #[error(
        "invalid price `{0}`: expected a decimal string such as `19.90` (digits, one optional `.`)"
    )]
    Price(String),
    #[error("invalid currency `{0}`: expected a three-letter ISO 4217 code such as `EUR`")]
    Currency(String),
    #[error(
        "invalid updated_at `{0}`: expected an RFC 3339 timestamp such as `2026-01-31T12:00:00Z`"
    )]
    UpdatedAt(String),
    #[error("invalid quantity {0}: must not be negative")]
    Quantity(i64),
}

/// The longest sku, in bytes of UTF-8.
pub const MAX_SKU_BYTES: usize = 255;

/// A sku as shown in a message: escaped, and cut after 40 characters.
fn shown_sku(sku: &str) -> String {
    let mut shown: String = sku
        .chars()
        .take(40)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if sku.chars().count() > 40 {
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

/// A price is `digits[.digits]`, optionally negative for credits; no exponent, no spaces.
pub fn check_price(price: &str) -> Result<(), ProductError> {
    let digits = price.strip_prefix('-').unwrap_or(price);
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if all_digits(whole) && fraction.is_none_or(all_digits) {
        Ok(())
    } else {
        Err(ProductError::Price(price.to_string()))
    }
}

impl Product {
    /// Checks the fields a channel or a load file could get wrong.
    pub fn check(&self) -> Result<(), ProductError> {
        check_sku(&self.sku)?;
        check_price(&self.price)?;
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ProductError::Currency(self.currency.clone()));
        }
        if self.quantity < 0 {
            return Err(ProductError::Quantity(self.quantity));
        }
        self.updated_at_timestamp()?;
        Ok(())
    }

    pub fn updated_at_timestamp(&self) -> Result<jiff::Timestamp, ProductError> {
        self.updated_at
            .parse::<jiff::Timestamp>()
            .map_err(|_| ProductError::UpdatedAt(self.updated_at.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_plain_decimals() {
        for ok in ["0", "19.90", "1000000.0001", "-5.00", "007"] {
            assert!(check_price(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", ".5", "5.", "1e3", "1,50", " 1", "NaN", "--1", "1.2.3", "+1",
        ] {
            assert!(check_price(bad).is_err(), "{bad}");
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
    fn price_survives_json_as_string() {
        let json = r#"{"sku":"A","title":"t","price":"19.90","currency":"EUR","quantity":1,"updated_at":"2026-01-01T00:00:00Z"}"#;
        let product: Product = serde_json::from_str(json).unwrap();
        assert_eq!(product.price, "19.90");
        assert!(
            serde_json::to_string(&product)
                .unwrap()
                .contains(r#""price":"19.90""#)
        );
        let float = json.replace(r#""19.90""#, "19.90");
        assert!(serde_json::from_str::<Product>(&float).is_err());
    }
}
