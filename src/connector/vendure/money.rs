//! Prices between the catalog's [`Price`] and Vendure's integer minor units
//! of the variant's currency (ISO 4217 minor units, the same table as the
//! price rule's). Exact integer arithmetic in `rust_decimal`: a price never
//! passes through a float.

use crate::price::{Currency, Price, PriceError};

/// The largest price Vendure stores: its price column is a 32-bit integer.
pub const MAX_MINOR_UNITS: i64 = i32::MAX as i64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "price {price} is too large for Vendure (at most {most}: its price column is a 32-bit integer of minor units)"
)]
pub struct TooLarge {
    price: Price,
    most: Price,
}

/// `19.99` EUR -> `1999`; `1999` JPY -> `1999`; `1.500` BHD -> `1500`.
pub fn to_minor_units(price: &Price) -> Result<i64, TooLarge> {
    let minor = price.minor_units();
    if minor > MAX_MINOR_UNITS {
        return Err(TooLarge {
            price: *price,
            most: Price::from_minor_units(MAX_MINOR_UNITS, price.currency())
                .expect("the limit is a valid price"),
        });
    }
    Ok(minor)
}

/// A Vendure price (`currencyCode`, minor units) as a catalog price, by the
/// price rule: a negative amount or a code shops do not sell in is refused.
pub fn from_minor_units(minor: i64, currency_code: &str) -> Result<Price, PriceError> {
    Price::from_minor_units(minor, Currency::from_code(currency_code)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(amount: &str, currency: &str) -> Price {
        Price::parse(amount, currency).unwrap()
    }

    #[test]
    fn minor_units_become_prices_by_the_currency_exponent() {
        for (minor, currency, expected) in [
            (1999, "USD", "19.99 USD"),
            (5, "EUR", "0.05 EUR"),
            (0, "EUR", "0.00 EUR"),
            (100, "GBP", "1.00 GBP"),
            (1999, "JPY", "1999 JPY"),
            (0, "KRW", "0 KRW"),
            (1500, "KWD", "1.500 KWD"),
            (7, "BHD", "0.007 BHD"),
            (MAX_MINOR_UNITS, "USD", "21474836.47 USD"),
        ] {
            assert_eq!(
                from_minor_units(minor, currency).map(|p| p.to_string()),
                Ok(expected.to_string()),
                "{minor} {currency}"
            );
        }
    }

    #[test]
    fn vendure_prices_that_break_the_price_rule_are_refused() {
        assert_eq!(
            from_minor_units(-250, "EUR").unwrap_err().to_string(),
            "price `-2.50` is negative: a price is 0 or more"
        );
        assert!(matches!(
            from_minor_units(100, "XTS"),
            Err(PriceError::NotMoney { .. })
        ));
        assert!(matches!(
            from_minor_units(100, "ZZZ"),
            Err(PriceError::UnknownCurrency(_))
        ));
    }

    #[test]
    fn prices_become_minor_units_exactly() {
        for (amount, currency, expected) in [
            ("19.99", "USD", 1999),
            ("19.9", "EUR", 1990),
            ("19", "EUR", 1900),
            ("19.990", "EUR", 1999),
            ("0.01", "EUR", 1),
            ("1999", "JPY", 1999),
            ("1.5", "KWD", 1500),
            ("21474836.47", "USD", MAX_MINOR_UNITS),
            ("0.30", "EUR", 30),
            ("1234567.89", "EUR", 123_456_789),
        ] {
            assert_eq!(
                to_minor_units(&price(amount, currency)),
                Ok(expected),
                "{amount} {currency}"
            );
        }
    }

    #[test]
    fn prices_beyond_vendures_column_are_refused_not_wrapped() {
        let err = to_minor_units(&price("21474836.48", "USD")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "price 21474836.48 USD is too large for Vendure (at most 21474836.47 USD: its price column is a 32-bit integer of minor units)"
        );
        assert!(to_minor_units(&price("999999999999999", "JPY")).is_err());
    }

    #[test]
    fn round_trips_for_every_exponent() {
        for currency in ["USD", "JPY", "KWD"] {
            for minor in [0, 1, 9, 10, 99, 100, 101, 123_456, MAX_MINOR_UNITS] {
                let price = from_minor_units(minor, currency).unwrap();
                assert_eq!(to_minor_units(&price), Ok(minor), "{price}");
            }
        }
    }
}
