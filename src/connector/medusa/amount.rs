//! Exact conversion between the catalog's [`Price`] and the JSON numbers
//! Medusa puts on the wire (decimal major units: `19.99` is EUR 19.99).
//! Nothing goes through a float: a number's JSON text is rewritten as plain
//! decimal digits and read by the price rule, with the currency's ISO 4217
//! minor units (the same table Vendure's conversion uses).

use crate::price::{Currency, Price, PriceError};

/// Why a wire amount is not a catalog price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount `{0}` is not a JSON number")]
    NotANumber(String),
    #[error("amount `{0}` has an exponent too large to write out")]
    TooLarge(String),
    #[error(transparent)]
    Price(#[from] PriceError),
}

/// JSON number text (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`) as
/// plain decimal text, digit for digit: `1.5E-1` is `0.15`, `1e2` is `100`.
fn plain_decimal(text: &str) -> Result<String, AmountError> {
    let bad = || AmountError::NotANumber(crate::output::escape(text).into_owned());
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !digits_only(whole)
        || (whole.len() > 1 && whole.starts_with('0'))
        || (mantissa.contains('.') && fraction.is_empty())
        || !digits_only(fraction)
    {
        return Err(bad());
    }
    let mut exp: i64 = 0;
    if let Some(exponent) = exponent {
        let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if unsigned.is_empty() || !digits_only(unsigned) {
            return Err(bad());
        }
        // A price has at most 15 + 3 significant places: an exponent beyond
        // four digits can only make a number no price can be.
        if unsigned.len() > 4 {
            return Err(AmountError::TooLarge(text.to_string()));
        }
        exp = unsigned.parse().map_err(|_| bad())?;
        if exponent.starts_with('-') {
            exp = -exp;
        }
    }
    let mut digits = format!("{whole}{fraction}");
    let mut scale = fraction.len() as i64 - exp;
    if scale < 0 {
        digits.extend(std::iter::repeat_n('0', (-scale) as usize));
        scale = 0;
    }
    let scale = scale as usize;
    if digits.len() <= scale {
        digits.insert_str(0, &"0".repeat(scale + 1 - digits.len()));
    }
    let split = digits.len() - scale;
    Ok(if scale == 0 {
        format!("{sign}{digits}")
    } else {
        format!("{sign}{}.{}", &digits[..split], &digits[split..])
    })
}

/// A wire amount (JSON number text) in `currency` as a catalog price, by the
/// price rule, written with the currency's minor units (Medusa drops trailing
/// zeros: `0.1` EUR is 0.10 EUR); `1.005` EUR or `-1` are refused.
pub fn amount_to_price(amount: &str, currency: Currency) -> Result<Price, AmountError> {
    Ok(Price::parse_amount(&plain_decimal(amount.trim())?, currency)?.with_minor_units())
}

/// A catalog price as JSON number text for the wire: its own digits
/// (`19.90`, `0.1`, `1500`).
pub fn price_to_amount(price: &Price) -> String {
    price.amount_text()
}

/// Whether a wire amount is this price (`0.1` and `0.10` EUR are); an
/// amount that is no valid price in its currency is not.
pub fn same_amount(amount: &str, price: &Price) -> bool {
    amount_to_price(amount, price.currency()).is_ok_and(|wire| wire == *price)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    fn price(amount: &str, code: &str) -> Price {
        Price::parse(amount, code).unwrap()
    }

    #[test]
    fn wire_amounts_become_prices_with_the_currency_minor_units() {
        for (amount, code, expected) in [
            ("19.99", "EUR", "19.99"),
            ("0.1", "EUR", "0.10"),
            ("0.10", "EUR", "0.10"),
            ("1234567.89", "EUR", "1234567.89"),
            ("5", "EUR", "5.00"),
            ("5", "JPY", "5"),
            ("1500.0", "JPY", "1500"),
            ("1e2", "EUR", "100.00"),
            ("1.5E-1", "EUR", "0.15"),
            ("0", "BHD", "0.000"),
            ("0.125", "BHD", "0.125"),
            ("-0", "EUR", "0.00"),
        ] {
            assert_eq!(
                amount_to_price(amount, currency(code)).map(|p| p.amount_text()),
                Ok(expected.to_string()),
                "{amount} {code}"
            );
        }
    }

    #[test]
    fn wire_amounts_that_break_the_price_rule_are_refused() {
        for (amount, code, expected) in [
            (
                "1.005",
                "EUR",
                "price `1.005` has more decimals than EUR allows: at most 2 decimals",
            ),
            ("1e-7", "EUR", "price `0.0000001` has more decimals"),
            (
                "1500.5",
                "JPY",
                "price `1500.5` has more decimals than JPY allows: no decimals",
            ),
            ("-2.5", "EUR", "price `-2.5` is negative"),
            ("1e21", "JPY", "is too large"),
            (
                "12345678901234567890.12",
                "EUR",
                "is too large: at most 15 digits",
            ),
        ] {
            let err = amount_to_price(amount, currency(code))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{amount} {code}: {err}");
        }
    }

    #[test]
    fn only_json_numbers_are_amounts() {
        for bad in [
            "", "-", "01", ".5", "5.", "1e", "1e+", "\"5\"", "NaN", "1,5", "+1", "0x10", "1.2.3",
        ] {
            assert!(
                matches!(
                    amount_to_price(bad, currency("EUR")),
                    Err(AmountError::NotANumber(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            amount_to_price("1e99999", currency("EUR")),
            Err(AmountError::TooLarge(_))
        ));
    }

    #[test]
    fn prices_go_out_with_their_digits_as_json_numbers() {
        for (amount, code, wire) in [
            ("19.99", "EUR", "19.99"),
            ("0.10", "EUR", "0.10"),
            ("0.1", "EUR", "0.1"),
            ("007.50", "EUR", "7.50"),
            ("000", "EUR", "0"),
            ("1500.00", "JPY", "1500"),
            ("0.500", "BHD", "0.500"),
        ] {
            let out = price_to_amount(&price(amount, code));
            assert_eq!(out, wire, "{amount} {code}");
            assert!(
                serde_json::from_str::<serde_json::Value>(&out).is_ok(),
                "{out} is JSON"
            );
        }
    }

    #[test]
    fn equal_amounts_compare_equal_whatever_their_zeros() {
        let eur = |amount| price(amount, "EUR");
        assert!(same_amount("0.1", &eur("0.10")));
        assert!(same_amount("19.99", &eur("19.99")));
        assert!(same_amount("5", &eur("5.00")));
        assert!(same_amount("0", &eur("0")));
        assert!(same_amount("1e2", &eur("100")));
        assert!(!same_amount("19.99", &eur("19.98")));
        assert!(!same_amount("0.1", &eur("0.01")));
        assert!(!same_amount("-1", &eur("1")));
        assert!(!same_amount("1.005", &eur("1.00")));
        assert!(!same_amount("x", &eur("1")));
    }

    #[test]
    fn round_trip_is_exact() {
        for amount in ["19.99", "0.10", "1234567.89"] {
            let catalog = price(amount, "EUR");
            let wire = price_to_amount(&catalog);
            assert_eq!(amount_to_price(&wire, currency("EUR")), Ok(catalog));
            // Medusa answers `0.1` for `0.10`: the same price.
            let answered = wire.trim_end_matches('0');
            assert_eq!(amount_to_price(answered, currency("EUR")), Ok(catalog));
        }
    }
}
