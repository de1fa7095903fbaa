//! Prices between the catalog's decimal strings and Vendure's integer minor
//! units, by the currency's ISO 4217 exponent. Pure digit arithmetic: a price
//! never passes through a float.

/// Digits after the decimal point of `currency` (ISO 4217). Every current
/// code not listed here has 2.
pub fn exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// The largest price Vendure stores: its price column is a 32-bit integer.
pub const MAX_MINOR_UNITS: i64 = i32::MAX as i64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("invalid price `{0}`: expected a decimal string such as `19.90`")]
    NotDecimal(String),
    #[error("price `{price}` has more decimals than {currency} allows ({exponent})")]
    TooPrecise {
        price: String,
        currency: String,
        exponent: u32,
    },
    #[error(
        "price `{price}` is too large for Vendure (at most {MAX_MINOR_UNITS} minor units of {currency})"
    )]
    TooLarge { price: String, currency: String },
}

/// `"19.99"` EUR -> `1999`; `"1999"` JPY -> `1999`; `"1.5"` KWD -> `1500`.
/// Trailing zeros beyond the exponent are accepted (`"19.990"` EUR -> 1999);
/// other extra digits are an error rather than a rounding.
pub fn to_minor_units(price: &str, currency: &str) -> Result<i64, PriceError> {
    let exponent = exponent(currency);
    let not_decimal = || PriceError::NotDecimal(price.to_string());
    let (negative, digits) = match price.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, price),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(not_decimal());
    }
    if digits.contains('.') && fraction.is_empty() {
        return Err(not_decimal());
    }
    let significant = fraction.trim_end_matches('0');
    if significant.len() > exponent as usize {
        return Err(PriceError::TooPrecise {
            price: price.to_string(),
            currency: currency.to_string(),
            exponent,
        });
    }
    let too_large = || PriceError::TooLarge {
        price: price.to_string(),
        currency: currency.to_string(),
    };
    let mut minor: i64 = 0;
    let padded = format!("{significant:0<width$}", width = exponent as usize);
    for b in whole.bytes().chain(padded.bytes()) {
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(b - b'0')))
            .ok_or_else(too_large)?;
    }
    if minor > MAX_MINOR_UNITS {
        return Err(too_large());
    }
    Ok(if negative { -minor } else { minor })
}

/// `1999` EUR -> `"19.99"`; `1999` JPY -> `"1999"`; `5` EUR -> `"0.05"`.
pub fn from_minor_units(minor: i64, currency: &str) -> String {
    let exponent = exponent(currency) as usize;
    let sign = if minor < 0 { "-" } else { "" };
    let digits = minor.unsigned_abs().to_string();
    if exponent == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = exponent + 1);
    let (whole, fraction) = padded.split_at(padded.len() - exponent);
    format!("{sign}{whole}.{fraction}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_become_decimal_strings_by_the_currency_exponent() {
        for (minor, currency, expected) in [
            (1999, "USD", "19.99"),
            (5, "EUR", "0.05"),
            (0, "EUR", "0.00"),
            (100, "GBP", "1.00"),
            (1999, "JPY", "1999"),
            (0, "KRW", "0"),
            (1500, "KWD", "1.500"),
            (7, "BHD", "0.007"),
            (12345, "CLF", "1.2345"),
            (-250, "EUR", "-2.50"),
            (i64::from(i32::MAX), "USD", "21474836.47"),
        ] {
            assert_eq!(
                from_minor_units(minor, currency),
                expected,
                "{minor} {currency}"
            );
        }
    }

    #[test]
    fn decimal_strings_become_minor_units_exactly() {
        for (price, currency, expected) in [
            ("19.99", "USD", 1999),
            ("19.9", "EUR", 1990),
            ("19", "EUR", 1900),
            ("19.990", "EUR", 1999),
            ("0.01", "EUR", 1),
            ("1999", "JPY", 1999),
            ("1999.0", "JPY", 1999),
            ("1.5", "KWD", 1500),
            ("-2.5", "EUR", -250),
            ("21474836.47", "USD", i64::from(i32::MAX)),
            // 0.1 + 0.2 style values stay exact.
            ("0.30", "EUR", 30),
            ("1234567.89", "EUR", 123456789),
        ] {
            assert_eq!(
                to_minor_units(price, currency),
                Ok(expected),
                "{price} {currency}"
            );
        }
    }

    #[test]
    fn round_trips_for_every_exponent() {
        for currency in ["USD", "JPY", "KWD", "CLF"] {
            for minor in [0, 1, 9, 10, 99, 100, 101, 123456, 2147483647] {
                let text = from_minor_units(minor, currency);
                assert_eq!(
                    to_minor_units(&text, currency),
                    Ok(minor),
                    "{text} {currency}"
                );
            }
        }
    }

    #[test]
    fn prices_that_cannot_be_represented_are_errors_not_roundings() {
        assert!(matches!(
            to_minor_units("19.999", "EUR"),
            Err(PriceError::TooPrecise { exponent: 2, .. })
        ));
        assert!(matches!(
            to_minor_units("10.5", "JPY"),
            Err(PriceError::TooPrecise { exponent: 0, .. })
        ));
        assert!(matches!(
            to_minor_units("21474836.48", "USD"),
            Err(PriceError::TooLarge { .. })
        ));
        assert!(matches!(
            to_minor_units("99999999999999999999999", "USD"),
            Err(PriceError::TooLarge { .. })
        ));
        for bad in [
            "", ".", "1.", ".5", "1,50", "1e3", "abc", "--1", "1.2.3", " 1",
        ] {
            assert!(
                matches!(to_minor_units(bad, "EUR"), Err(PriceError::NotDecimal(_))),
                "`{bad}`"
            );
        }
        let message = to_minor_units("19.999", "EUR").unwrap_err().to_string();
        assert_eq!(
            message,
            "price `19.999` has more decimals than EUR allows (2)"
        );
    }
}
