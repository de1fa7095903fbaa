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
        if self.sku.trim().is_empty() {
            return Err(ProductError::EmptySku);
        }
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
