//! Prices: an exact decimal amount in a currency, under one rule wherever a
//! price comes in (`products load`, import from any channel, every
//! connector's conversion): not negative, no more decimals than the
//! currency's ISO 4217 minor units, a known currency that shops sell in.
//!
//! Amounts are `rust_decimal::Decimal`: never a float, and text only at the
//! edges (load files, the store's columns, JSON on the wire). A [`Price`]
//! always holds a value that passed the rule, so code that has one need not
//! check it again. Equal values are equal prices whatever their spelling:
//! `19.9`, `19.90` and `19.900` EUR are one price. A price keeps the
//! decimals it was written with, up to its currency's minor units (`19.9`
//! stays `19.9`, `19.900` EUR becomes `19.90`), so text read from a file or
//! a channel goes back out as it came.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// Digits before the decimal point a price may have: amounts stay below
/// 10^15 major units, so every price in minor units fits an `i64`.
pub const MAX_WHOLE_DIGITS: usize = 15;

/// Why a price or a currency code is refused. Every message names the value
/// and says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error(
        "price `{0}` is not a decimal number: write digits with an optional `.` and fraction, such as `19.90` (no sign, exponent, spaces or thousands separators)"
    )]
    NotDecimal(String),
    #[error("price `{0}` is negative: a price is 0 or more")]
    Negative(String),
    #[error("price `{amount}` has more decimals than {currency} allows: {}", allowed_decimals(*.minor_units))]
    TooPrecise {
        amount: String,
        currency: &'static str,
        minor_units: u32,
    },
    #[error("price `{0}` is too large: at most {MAX_WHOLE_DIGITS} digits before the decimal point")]
    TooLarge(String),
    #[error("unknown currency `{0}`: expected an ISO 4217 code in capitals, such as `EUR`")]
    UnknownCurrency(String),
    #[error("currency `{code}` is {what}, not money a shop sells in: use a currency such as `EUR`")]
    NotMoney { code: String, what: &'static str },
}

fn allowed_decimals(minor_units: u32) -> String {
    match minor_units {
        0 => "no decimals (ISO 4217)".to_string(),
        1 => "at most 1 decimal (ISO 4217)".to_string(),
        n => format!("at most {n} decimals (ISO 4217)"),
    }
}

/// A currency shops sell in: an ISO 4217 code that is neither a fund code
/// (`USN`, `CLF`, ...) nor a special one (`XTS` for testing, `XXX` for no
/// currency, precious metals, units of account). Codes an ISO update has
/// replaced (`HRK`) are still accepted: a shop's old prices stay readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// The currency of `code`, in capitals as ISO 4217 writes it.
    pub fn from_code(code: &str) -> Result<Currency, PriceError> {
        let currency = iso_currency::Currency::from_code(code)
            .ok_or_else(|| PriceError::UnknownCurrency(crate::output::escape(code).into_owned()))?;
        let what = if currency.is_fund() {
            Some("a fund code")
        } else if currency.is_special() {
            Some("a special code (testing, no currency, precious metal or unit of account)")
        } else {
            None
        };
        match (what, currency.exponent()) {
            (None, Some(_)) => Ok(Currency(currency)),
            (what, _) => Err(PriceError::NotMoney {
                code: code.to_string(),
                what: what.unwrap_or("a code without minor units"),
            }),
        }
    }

    /// `EUR`.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point (ISO 4217 minor units): 2 for EUR, 0
    /// for JPY, 3 for BHD.
    pub fn minor_units(self) -> u32 {
        u32::from(
            self.0
                .exponent()
                .expect("`from_code` only accepts currencies with minor units"),
        )
    }
}

impl FromStr for Currency {
    type Err = PriceError;

    fn from_str(code: &str) -> Result<Currency, PriceError> {
        Currency::from_code(code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl PartialOrd for Currency {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// By code, so a map of prices per currency lists them alphabetically.
impl Ord for Currency {
    fn cmp(&self, other: &Self) -> Ordering {
        self.code().cmp(other.code())
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Currency::from_code(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount of money that passed the price rule. Equality (and hashing) is
/// by value: `19.9` EUR equals `19.90` EUR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Price {
    amount: Decimal,
    currency: Currency,
}

impl Price {
    /// A price from a decimal amount; trailing zeros beyond the currency's
    /// minor units are fine (`19.900` EUR, kept as `19.90`), other extra
    /// digits are refused, never rounded.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Price, PriceError> {
        let minor_units = currency.minor_units();
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(PriceError::Negative(amount.to_string()));
        }
        if amount.normalize().scale() > minor_units {
            return Err(PriceError::TooPrecise {
                amount: amount.to_string(),
                currency: currency.code(),
                minor_units,
            });
        }
        if amount >= Decimal::from(10_i64.pow(MAX_WHOLE_DIGITS as u32)) {
            return Err(PriceError::TooLarge(amount.to_string()));
        }
        let mut amount = amount;
        // Only zeros go: the scale was at most the minor units once normalized.
        amount.rescale(amount.scale().min(minor_units));
        amount.set_sign_positive(true);
        Ok(Price { amount, currency })
    }

    /// A price from text at the edges (a load file, a stored row, a decimal
    /// string on the wire) and a currency code: `Price::parse("19.90", "EUR")`.
    pub fn parse(amount: &str, currency: &str) -> Result<Price, PriceError> {
        Price::parse_amount(amount, Currency::from_code(currency)?)
    }

    /// A price from decimal text, `digits[.digits]`, in `currency`. The digits
    /// are read exactly (no float, no rounding).
    pub fn parse_amount(amount: &str, currency: Currency) -> Result<Price, PriceError> {
        let shown = || crate::output::escape(amount).into_owned();
        let (negative, unsigned) = match amount.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, amount),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits(whole)
            || !digits(fraction)
            || (unsigned.contains('.') && fraction.is_empty())
        {
            return Err(PriceError::NotDecimal(shown()));
        }
        let whole = whole.trim_start_matches('0');
        let significant = fraction.trim_end_matches('0');
        if negative && !(whole.is_empty() && significant.is_empty()) {
            return Err(PriceError::Negative(shown()));
        }
        if whole.len() > MAX_WHOLE_DIGITS {
            return Err(PriceError::TooLarge(shown()));
        }
        let minor_units = currency.minor_units();
        if significant.len() > minor_units as usize {
            return Err(PriceError::TooPrecise {
                amount: shown(),
                currency: currency.code(),
                minor_units,
            });
        }
        // The written decimals, up to the minor units (beyond them: zeros).
        let kept = &fraction[..fraction.len().min(minor_units as usize)];
        // At most 15 + 3 digits (no currency shops sell in has more than 3
        // minor units): an i64 holds them.
        let mantissa: i64 = match format!("{whole}{kept}").as_str() {
            "" => 0,
            digits => digits.parse().expect("checked digits fit an i64"),
        };
        Ok(Price {
            amount: Decimal::new(mantissa, kept.len() as u32),
            currency,
        })
    }

    /// A price from an integer count of the currency's minor units (cents
    /// for EUR, yen for JPY), as platforms such as Vendure store it.
    pub fn from_minor_units(minor: i64, currency: Currency) -> Result<Price, PriceError> {
        Price::new(Decimal::new(minor, currency.minor_units()), currency)
    }

    /// The amount, with the decimals it was written with.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The same price written with exactly the currency's minor units
    /// (`0.1` EUR as `0.10`, `7` BHD as `7.000`).
    pub fn with_minor_units(self) -> Price {
        let mut amount = self.amount;
        amount.rescale(self.currency.minor_units());
        Price { amount, ..self }
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount in minor units: `19.9` EUR is 1990, `1500` JPY is 1500.
    pub fn minor_units(&self) -> i64 {
        i64::try_from(self.with_minor_units().amount.mantissa())
            .expect("a price is below 10^15 major units")
    }

    /// The amount as decimal text, as written: `19.9`, `19.90`, `1500`. It is
    /// also a valid JSON number.
    pub fn amount_text(&self) -> String {
        self.amount.to_string()
    }
}

/// `19.90 EUR`.
impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn minor_units_come_from_iso_4217() {
        for (code, minor_units) in [
            ("USD", 2),
            ("EUR", 2),
            ("JPY", 0),
            ("KRW", 0),
            ("ISK", 0),
            ("BHD", 3),
            ("KWD", 3),
            ("TND", 3),
            ("HRK", 2),
        ] {
            assert_eq!(
                Currency::from_code(code).map(Currency::minor_units),
                Ok(minor_units),
                "{code}"
            );
        }
    }

    #[test]
    fn codes_that_are_not_money_shops_sell_in_are_refused() {
        for (code, expected) in [
            ("XTS", "special code"),
            ("XXX", "special code"),
            ("XAU", "special code"),
            ("XDR", "special code"),
            ("USN", "a fund code"),
            ("CLF", "a fund code"),
            ("UYI", "a fund code"),
            ("BOV", "a fund code"),
            ("eur", "unknown currency `eur`"),
            ("ABC", "unknown currency `ABC`"),
            ("", "unknown currency ``"),
            ("EU\u{1b}", "unknown currency `EU\\u{1b}`"),
            ("EURO", "unknown currency"),
        ] {
            let err = Currency::from_code(code).unwrap_err().to_string();
            assert!(err.contains(expected), "{code:?}: {err}");
        }
    }

    #[test]
    fn prices_follow_one_rule() {
        type Case = (
            &'static str,
            &'static str,
            Result<&'static str, &'static str>,
        );
        let cases: &[Case] = &[
            ("19.90", "EUR", Ok("19.90 EUR")),
            ("19.9", "EUR", Ok("19.9 EUR")),
            ("19.900", "EUR", Ok("19.90 EUR")),
            ("19", "EUR", Ok("19 EUR")),
            ("007.50", "EUR", Ok("7.50 EUR")),
            ("0", "EUR", Ok("0 EUR")),
            ("-0.00", "EUR", Ok("0.00 EUR")),
            ("1500", "JPY", Ok("1500 JPY")),
            ("1500.00", "JPY", Ok("1500 JPY")),
            ("0.125", "BHD", Ok("0.125 BHD")),
            ("1.5", "BHD", Ok("1.5 BHD")),
            ("1.5000", "BHD", Ok("1.500 BHD")),
            ("999999999999999.99", "USD", Ok("999999999999999.99 USD")),
            (
                "-1.00",
                "EUR",
                Err("price `-1.00` is negative: a price is 0 or more"),
            ),
            ("-0.01", "EUR", Err("is negative")),
            (
                "0.001",
                "USD",
                Err(
                    "price `0.001` has more decimals than USD allows: at most 2 decimals (ISO 4217)",
                ),
            ),
            (
                "1500.5",
                "JPY",
                Err("price `1500.5` has more decimals than JPY allows: no decimals (ISO 4217)"),
            ),
            ("0.1255", "BHD", Err("at most 3 decimals")),
            (
                "1000000000000000",
                "USD",
                Err("too large: at most 15 digits"),
            ),
            ("1.00", "XTS", Err("currency `XTS` is a special code")),
            ("1.00", "ABC", Err("unknown currency `ABC`")),
        ];
        for (amount, currency, expected) in cases {
            let got = Price::parse(amount, currency)
                .map(|p| p.to_string())
                .map_err(|e| e.to_string());
            match (got, expected) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "{amount} {currency}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{amount} {currency}: {got}"),
                (got, _) => panic!("{amount} {currency}: {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn only_plain_decimals_are_prices() {
        for bad in [
            "",
            ".",
            "1.",
            ".5",
            "1,50",
            "1e3",
            "1E3",
            "abc",
            "--1",
            "1.2.3",
            " 1",
            "1 ",
            "+1",
            "NaN",
            "inf",
            "1_000",
            "0x10",
            "١٢",
            "1.5\u{1b}",
        ] {
            let err = Price::parse(bad, "EUR").unwrap_err();
            assert!(matches!(err, PriceError::NotDecimal(_)), "{bad:?}: {err}");
            assert!(
                !err.to_string().contains('\u{1b}'),
                "the value is shown escaped: {err}"
            );
        }
    }

    #[test]
    fn equal_values_are_equal_prices_whatever_their_spelling() {
        let a = Price::parse("19.9", "EUR").unwrap();
        let b = Price::parse("19.900", "EUR").unwrap();
        assert_eq!(a, b);
        let state = std::hash::RandomState::new();
        assert_eq!(
            std::hash::BuildHasher::hash_one(&state, a),
            std::hash::BuildHasher::hash_one(&state, b),
            "equal prices hash alike"
        );
        assert_eq!(a.amount_text(), "19.9", "kept as written");
        assert_eq!(b.amount_text(), "19.90", "zeros beyond the minor units go");
        assert_eq!(a.with_minor_units().amount_text(), "19.90");
        assert_eq!(a.minor_units(), 1990);
        assert_ne!(a, Price::parse("19.9", "USD").unwrap());
        assert_ne!(a, Price::parse("19.91", "EUR").unwrap());
    }

    #[test]
    fn minor_units_round_trip_for_every_exponent() {
        for code in ["USD", "JPY", "BHD"] {
            let currency = Currency::from_code(code).unwrap();
            for minor in [0, 1, 9, 10, 99, 100, 101, 123_456, 2_147_483_647] {
                let price = Price::from_minor_units(minor, currency).unwrap();
                assert_eq!(price.minor_units(), minor, "{price}");
                assert_eq!(
                    Price::parse(&price.amount_text(), code),
                    Ok(price),
                    "{price}"
                );
            }
        }
        assert_eq!(
            Price::from_minor_units(1999, eur()).unwrap().amount_text(),
            "19.99"
        );
        assert_eq!(
            Price::from_minor_units(5, Currency::from_code("BHD").unwrap())
                .unwrap()
                .amount_text(),
            "0.005"
        );
        assert!(matches!(
            Price::from_minor_units(-250, eur()),
            Err(PriceError::Negative(text)) if text == "-2.50"
        ));
    }

    #[test]
    fn decimals_from_anywhere_pass_the_same_rule() {
        let d = |text: &str| text.parse::<Decimal>().unwrap();
        assert_eq!(
            Price::new(d("19.900"), eur()).map(|p| p.amount_text()),
            Ok("19.90".to_string())
        );
        assert!(matches!(
            Price::new(d("19.999"), eur()),
            Err(PriceError::TooPrecise { minor_units: 2, .. })
        ));
        assert!(matches!(
            Price::new(d("-0.5"), eur()),
            Err(PriceError::Negative(_))
        ));
        assert!(matches!(
            Price::new(d("1000000000000000"), eur()),
            Err(PriceError::TooLarge(_))
        ));
        assert_eq!(
            Price::new(d("-0"), eur()).map(|p| p.amount_text()),
            Ok("0".to_string())
        );
    }

    #[test]
    fn currencies_serialize_as_their_codes_and_sort_by_them() {
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(serde_json::to_string(&jpy).unwrap(), "\"JPY\"");
        assert_eq!(
            serde_json::from_str::<Currency>("\"BHD\"")
                .unwrap()
                .minor_units(),
            3
        );
        assert!(serde_json::from_str::<Currency>("\"XTS\"").is_err());
        let mut codes = [jpy, eur(), Currency::from_code("AUD").unwrap()];
        codes.sort();
        assert_eq!(
            codes.iter().map(|c| c.code()).collect::<Vec<_>>(),
            ["AUD", "EUR", "JPY"]
        );
    }
}
