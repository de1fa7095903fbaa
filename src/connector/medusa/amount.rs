//! Exact conversion between the catalog's decimal price strings and the
//! JSON numbers Medusa puts on the wire (decimal major units, e.g. `19.99`
//! is EUR 19.99). Nothing here goes through a float: the digits are moved
//! as text.

/// Why an amount or a price could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount `{0}` is not a JSON number")]
    NotANumber(String),
    #[error(
        "price `{0}` is not a decimal such as `19.99` (digits, one optional `.`, optional leading `-`)"
    )]
    NotADecimal(String),
    #[error("amount `{0}` has an exponent too large to write out")]
    TooLarge(String),
}

/// A decimal as sign, digits and the number of those digits after the point.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    scale: usize,
}

impl Decimal {
    /// Parses JSON number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn from_json(text: &str) -> Result<Decimal, AmountError> {
        let bad = || AmountError::NotANumber(text.to_string());
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let (whole, fraction) = match mantissa.split_once('.') {
            Some((w, f)) => (w, f),
            None => (mantissa, ""),
        };
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
            if unsigned.is_empty() || !digits_only(unsigned) || unsigned.len() > 4 {
                return Err(if unsigned.len() > 4 && digits_only(unsigned) {
                    AmountError::TooLarge(text.to_string())
                } else {
                    bad()
                });
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
        Ok(Decimal {
            negative,
            digits,
            scale: scale as usize,
        }
        .trim_leading())
    }

    /// Parses the catalog's price grammar (see `crate::product::check_price`).
    fn from_price(price: &str) -> Result<Decimal, AmountError> {
        crate::product::check_price(price).map_err(|_| AmountError::NotADecimal(price.into()))?;
        let (negative, rest) = match price.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, price),
        };
        let (whole, fraction) = rest.split_once('.').unwrap_or((rest, ""));
        Ok(Decimal {
            negative,
            digits: format!("{whole}{fraction}"),
            scale: fraction.len(),
        }
        .trim_leading())
    }

    /// Drops leading zeros of the whole part (keeping one before the point).
    fn trim_leading(mut self) -> Decimal {
        let keep = self.scale + 1;
        while self.digits.len() > keep && self.digits.starts_with('0') {
            self.digits.remove(0);
        }
        if self.digits.len() < keep {
            let pad = keep - self.digits.len();
            self.digits.insert_str(0, &"0".repeat(pad));
        }
        self
    }

    /// At least `min_scale` digits after the point; never drops a digit.
    fn with_min_scale(mut self, min_scale: usize) -> Decimal {
        if self.scale < min_scale {
            self.digits
                .extend(std::iter::repeat_n('0', min_scale - self.scale));
            self.scale = min_scale;
        }
        self
    }

    /// The same value with trailing fraction zeros dropped and no `-0`.
    fn canonical(mut self) -> Decimal {
        while self.scale > 0 && self.digits.ends_with('0') {
            self.digits.pop();
            self.scale -= 1;
        }
        let mut out = self.trim_leading();
        if out.digits.bytes().all(|b| b == b'0') {
            out.negative = false;
        }
        out
    }

    fn render(&self) -> String {
        let split = self.digits.len() - self.scale;
        let sign = if self.negative { "-" } else { "" };
        if self.scale == 0 {
            format!("{sign}{}", self.digits)
        } else {
            format!("{sign}{}.{}", &self.digits[..split], &self.digits[split..])
        }
    }
}

/// A wire amount (JSON number text) as a catalog price with at least
/// `currency_exponent` fraction digits: `0.1` in EUR (exponent 2) is `0.10`.
/// Digits beyond the exponent are kept, never rounded away.
pub fn amount_to_price(amount: &str, currency_exponent: u32) -> Result<String, AmountError> {
    Ok(Decimal::from_json(amount.trim())?
        .with_min_scale(currency_exponent as usize)
        .render())
}

/// A catalog price as JSON number text for the wire: the same digits, with
/// redundant leading zeros dropped (`007.50` is not JSON; `7.50` is).
pub fn price_to_amount(price: &str) -> Result<String, AmountError> {
    Ok(Decimal::from_price(price)?.render())
}

/// Whether a wire amount and a catalog price are the same number
/// (`0.1` and `0.10` are).
pub fn same_amount(amount: &str, price: &str) -> bool {
    match (
        Decimal::from_json(amount.trim()),
        Decimal::from_price(price),
    ) {
        (Ok(a), Ok(b)) => a.canonical() == b.canonical(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_amounts_become_prices_with_the_currency_exponent() {
        for (amount, exponent, price) in [
            ("19.99", 2, "19.99"),
            ("0.1", 2, "0.10"),
            ("0.10", 2, "0.10"),
            ("1234567.89", 2, "1234567.89"),
            ("5", 2, "5.00"),
            ("5", 0, "5"),
            ("1.005", 2, "1.005"),
            ("-2.5", 2, "-2.50"),
            ("1e2", 2, "100.00"),
            ("1.5E-1", 2, "0.15"),
            ("1e-7", 2, "0.0000001"),
            ("1e21", 0, "1000000000000000000000"),
            ("0", 3, "0.000"),
            ("12345678901234567890.12", 2, "12345678901234567890.12"),
        ] {
            assert_eq!(
                amount_to_price(amount, exponent).as_deref(),
                Ok(price),
                "{amount} exp {exponent}"
            );
        }
    }

    #[test]
    fn only_json_numbers_are_amounts() {
        for bad in [
            "", "-", "01", ".5", "5.", "1e", "1e+", "\"5\"", "NaN", "1,5", "+1", "0x10", "1.2.3",
        ] {
            assert!(amount_to_price(bad, 2).is_err(), "{bad:?}");
        }
        assert!(matches!(
            amount_to_price("1e99999", 2),
            Err(AmountError::TooLarge(_))
        ));
    }

    #[test]
    fn prices_go_out_with_their_digits() {
        for (price, amount) in [
            ("19.99", "19.99"),
            ("0.10", "0.10"),
            ("1234567.89", "1234567.89"),
            ("007.50", "7.50"),
            ("000", "0"),
            ("-0.10", "-0.10"),
            ("5", "5"),
        ] {
            assert_eq!(price_to_amount(price).as_deref(), Ok(amount), "{price}");
            assert!(
                serde_json::from_str::<serde_json::Value>(amount).is_ok(),
                "{amount} is JSON"
            );
        }
        for bad in ["", "1e3", ".5", "1,50", "abc"] {
            assert!(price_to_amount(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn equal_amounts_compare_equal_whatever_their_zeros() {
        assert!(same_amount("0.1", "0.10"));
        assert!(same_amount("19.99", "19.99"));
        assert!(same_amount("5", "5.00"));
        assert!(same_amount("0", "-0.00"));
        assert!(same_amount("1e2", "100"));
        assert!(!same_amount("19.99", "19.98"));
        assert!(!same_amount("0.1", "0.01"));
        assert!(!same_amount("-1", "1"));
        assert!(!same_amount("x", "1"));
    }

    #[test]
    fn round_trip_is_byte_for_byte_in_the_catalog() {
        for price in ["19.99", "0.10", "1234567.89"] {
            let wire = price_to_amount(price).unwrap();
            assert_eq!(amount_to_price(&wire, 2).unwrap(), price);
            // Medusa answers `0.1` for `0.10`: the exponent restores the digits.
            let answered = wire.trim_end_matches('0');
            assert_eq!(amount_to_price(answered, 2).unwrap(), price);
        }
    }
}
