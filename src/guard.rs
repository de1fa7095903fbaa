//! The guard against mass removal (`max-removal`): a complete import of the
//! master that would remove more of the catalog than the master channel's
//! limit removes nothing, and an export that would delete more of what a
//! channel holds than that channel's limit deletes nothing. Both fail their
//! job naming the counts; `run-once --allow-removal` lets one run through.
//!
//! Why a guard at all: a master pointed at the wrong server (a staging shop
//! listing 3 products) reads as a catalog of 3, and a complete import
//! removes everything else, then every export deletes it from every shop.
//! A share of what is held catches that whatever the catalog's size; the
//! floor keeps small catalogs from tripping on everyday removals.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The most one complete import (or one export) may remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxRemoval {
    /// At most this many products.
    Count(u64),
    /// At most this percentage of what is held, and always at least
    /// [`SHARE_FLOOR`] products.
    Share(Decimal),
    /// No limit (`"none"`).
    Unlimited,
}

/// Under a share, removing this many products or fewer always passes, so
/// that a catalog of 30 can lose 3 products without anyone's say-so.
pub const SHARE_FLOOR: u64 = 10;

/// `10%`: a wrong master lists far fewer than 90% of the catalog; a real
/// season change that removes more is a decision someone should take once.
pub const DEFAULT: MaxRemoval = MaxRemoval::Share(Decimal::from_parts(10, 0, 0, false, 0));

impl Default for MaxRemoval {
    fn default() -> MaxRemoval {
        DEFAULT
    }
}

impl MaxRemoval {
    /// The most that may be removed of `held` products.
    pub fn limit(self, held: u64) -> u64 {
        match self {
            MaxRemoval::Count(n) => n,
            MaxRemoval::Share(percent) => {
                let share = Decimal::from(held) * percent / Decimal::ONE_HUNDRED;
                u64::try_from(share.floor())
                    .unwrap_or(u64::MAX)
                    .max(SHARE_FLOOR)
            }
            MaxRemoval::Unlimited => u64::MAX,
        }
    }

    /// `None` when removing `removing` of `held` is within the limit;
    /// otherwise the counts, for the job's failure message.
    pub fn check(self, removing: u64, held: u64) -> Option<Exceeded> {
        let limit = self.limit(held);
        (removing > limit).then_some(Exceeded {
            removing,
            held,
            limit,
            setting: self,
        })
    }
}

/// A removal over the limit: what it would have removed, of how many, and
/// what the setting allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exceeded {
    pub removing: u64,
    pub held: u64,
    pub limit: u64,
    pub setting: MaxRemoval,
}

impl Exceeded {
    /// The job's failure (refused: nothing was removed), saying `what` was
    /// held back, with the way to allow it once and `otherwise`, what else
    /// may be wrong.
    pub fn refusal(&self, what: String, account: &str, otherwise: &str) -> anyhow::Error {
        use crate::error::{ErrorKind, Failure, Hint as _};
        anyhow::Error::new(Failure::new(ErrorKind::Refused, what)).hint(format!(
            "if that is right, run `oms-channels --account {account} run-once --allow-removal` once; {otherwise}"
        ))
    }

    /// `max-removal "10%" allows 1000`: the setting and what it allows here.
    pub fn allowance(&self) -> String {
        format!("max-removal {} allows {}", self.setting, self.limit)
    }
}

impl fmt::Display for MaxRemoval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxRemoval::Count(n) => write!(f, "{n}"),
            MaxRemoval::Share(p) => write!(f, "\"{}%\"", p.normalize()),
            MaxRemoval::Unlimited => f.write_str("\"none\""),
        }
    }
}

/// What `max-removal` takes, for messages.
const EXPECTED: &str = "a count (25), a share of what is held (\"10%\") or \"none\"";

impl FromStr for MaxRemoval {
    type Err = String;

    fn from_str(text: &str) -> Result<MaxRemoval, String> {
        let bad = || format!("`{text}` is not {EXPECTED}");
        let text_trimmed = text.trim();
        if text_trimmed == "none" {
            return Ok(MaxRemoval::Unlimited);
        }
        if let Some(number) = text_trimmed.strip_suffix('%') {
            let percent = Decimal::from_str_exact(number.trim()).map_err(|_| bad())?;
            if percent.is_sign_negative() || percent > Decimal::ONE_HUNDRED {
                return Err(format!("`{text}`: a share is from 0% to 100%"));
            }
            return Ok(MaxRemoval::Share(percent));
        }
        text_trimmed
            .parse::<u64>()
            .map(MaxRemoval::Count)
            .map_err(|_| bad())
    }
}

impl<'de> Deserialize<'de> for MaxRemoval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MaxRemoval, D::Error> {
        struct Expect;
        impl Visitor<'_> for Expect {
            type Value = MaxRemoval;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MaxRemoval, E> {
                u64::try_from(v)
                    .map(MaxRemoval::Count)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MaxRemoval, E> {
                Ok(MaxRemoval::Count(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MaxRemoval, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Expect)
    }
}

impl Serialize for MaxRemoval {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            MaxRemoval::Count(n) => serializer.serialize_u64(*n),
            MaxRemoval::Share(p) => serializer.serialize_str(&format!("{}%", p.normalize())),
            MaxRemoval::Unlimited => serializer.serialize_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MaxRemoval, String> {
        text.parse()
    }

    #[test]
    fn the_default_share_stops_a_master_that_shrank_to_three() {
        let exceeded = DEFAULT.check(9_997, 10_000).expect("over the limit");
        assert_eq!(exceeded.limit, 1_000);
        assert_eq!(exceeded.allowance(), "max-removal \"10%\" allows 1000");
        assert_eq!(DEFAULT.check(1_000, 10_000), None);
    }

    #[test]
    fn a_share_never_blocks_removing_up_to_the_floor() {
        assert_eq!(DEFAULT.check(SHARE_FLOOR, 12), None);
        assert!(DEFAULT.check(SHARE_FLOOR + 1, 12).is_some());
        assert_eq!(parse("0%").unwrap().limit(1_000_000), SHARE_FLOOR);
    }

    #[test]
    fn counts_shares_and_none_parse_and_print_back() {
        assert_eq!(parse("25"), Ok(MaxRemoval::Count(25)));
        assert_eq!(parse("2.5%").unwrap().limit(10_000), 250);
        assert_eq!(parse("none"), Ok(MaxRemoval::Unlimited));
        assert_eq!(MaxRemoval::Unlimited.check(u64::MAX, 1), None);
        assert_eq!(MaxRemoval::Count(0).check(1, 1_000).unwrap().limit, 0);
        for text in ["25", "\"2.5%\"", "\"none\""] {
            let toml = format!("m = {text}");
            let parsed: toml::Table = toml::from_str(&toml).unwrap();
            let value: MaxRemoval = parsed["m"].clone().try_into().unwrap();
            assert_eq!(value.to_string(), text);
        }
    }

    #[test]
    fn bad_values_name_what_is_allowed() {
        assert_eq!(
            parse("ten").unwrap_err(),
            "`ten` is not a count (25), a share of what is held (\"10%\") or \"none\""
        );
        assert_eq!(
            parse("150%").unwrap_err(),
            "`150%`: a share is from 0% to 100%"
        );
        assert!(parse("-1").is_err());
        assert!(parse("-5%").is_err());
        let negative: Result<MaxRemoval, _> = toml::Value::Integer(-3).try_into();
        assert!(negative.is_err());
    }
}
