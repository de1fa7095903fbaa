//! Seeded products: every field is a pure function of the index, so a
//! catalog of a million costs nothing until a product changes.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;

use crate::Product;

/// Seeded product `i` has `updated_at` = this instant + `i` seconds
/// (2025-01-01T00:00:00Z), so seeded products sort by index.
const SEED_BASE_SECOND: i64 = 1_735_689_600;
pub(crate) const NANOS_PER_SECOND: i128 = 1_000_000_000;

const COLORS: [&str; 6] = ["red", "green", "blue", "black", "white", "yellow"];
const SIZES: [&str; 4] = ["S", "M", "L", "XL"];

fn mix(i: u64) -> u64 {
    // splitmix64: cheap, deterministic, well spread.
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn seed_sku(i: u64) -> String {
    format!("SKU-{i:07}")
}

pub(crate) fn seed_nanos(i: u64) -> i128 {
    (i128::from(SEED_BASE_SECOND) + i128::from(i)) * NANOS_PER_SECOND
}

fn seed_quantity(i: u64) -> i64 {
    ((mix(i) >> 24) % 250) as i64
}

fn seed_color(i: u64) -> &'static str {
    COLORS[((mix(i) >> 32) % COLORS.len() as u64) as usize]
}

fn seed_size(i: u64) -> Option<&'static str> {
    i.is_multiple_of(3)
        .then(|| SIZES[((mix(i) >> 48) % SIZES.len() as u64) as usize])
}

/// The currency of seeded product `i`: prices with three decimals are in
/// Kuwaiti dinar, which has them (ISO 4217), so every seeded price passes the
/// price rule (a third decimal in EUR would not).
fn seed_currency(i: u64) -> &'static str {
    if i % 6 == 5 { "KWD" } else { "EUR" }
}

/// Prices with 0 to 3 decimals, from `0.05` to seven-digit amounts.
struct SeedPrice(u64);

impl fmt::Display for SeedPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = self.0;
        let h = mix(i);
        match i % 6 {
            0 => write!(f, "{}.{:02}", h % 1000, (h >> 16) % 100),
            1 => write!(f, "0.{:02}", (h >> 16) % 99 + 1),
            2 => write!(f, "{}.{:02}", 1_000_000 + h % 9_000_000, (h >> 40) % 100),
            3 => write!(f, "{}", h % 100 + 1),
            4 => write!(f, "{}.{}", h % 500, (h >> 16) % 10),
            _ => write!(f, "{}.{:03}", h % 50, (h >> 16) % 1000),
        }
    }
}

/// Every tenth title has a non-ASCII letter and quotes, so clients must
/// really parse JSON strings.
struct SeedTitle {
    i: u64,
    json_escaped: bool,
}

impl fmt::Display for SeedTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.i % 10 == 7, self.json_escaped) {
            (true, true) => write!(f, "Café \\\"Deluxe\\\" {}", self.i),
            (true, false) => write!(f, "Café \"Deluxe\" {}", self.i),
            (false, _) => write!(f, "Sandbox product {}", self.i),
        }
    }
}

pub(crate) fn seeded_product(i: u64) -> Product {
    let mut attributes = BTreeMap::from([("color".to_string(), seed_color(i).to_string())]);
    if let Some(size) = seed_size(i) {
        attributes.insert("size".into(), size.into());
    }
    Product {
        sku: seed_sku(i),
        title: SeedTitle {
            i,
            json_escaped: false,
        }
        .to_string(),
        price: SeedPrice(i).to_string(),
        currency: seed_currency(i).into(),
        quantity: seed_quantity(i),
        attributes,
        updated_at: timestamp(seed_nanos(i)),
        id: Some(format!("p-{i}")),
    }
}

/// Writes seeded product `i` as JSON without building it (the hot path of a
/// page); must match `serde_json::to_string(&seeded_product(i))`.
pub(crate) fn write_seeded(buf: &mut Vec<u8>, i: u64) {
    let updated_at = jiff::Timestamp::from_second(SEED_BASE_SECOND + i as i64)
        .expect("seeded timestamps are in range");
    let title = SeedTitle {
        i,
        json_escaped: true,
    };
    let _ = write!(
        buf,
        "{{\"sku\":\"SKU-{i:07}\",\"title\":\"{title}\",\"price\":\"{}\",\"currency\":\"{}\",\"quantity\":{},\"attributes\":{{\"color\":\"{}\"",
        SeedPrice(i),
        seed_currency(i),
        seed_quantity(i),
        seed_color(i),
    );
    if let Some(size) = seed_size(i) {
        let _ = write!(buf, ",\"size\":\"{size}\"");
    }
    // Real channels send fields beyond the protocol's; clients must ignore them.
    let _ = write!(
        buf,
        "}},\"updated_at\":\"{updated_at}\",\"id\":\"p-{i}\",\"brand\":\"Acme\",\"channel_meta\":{{\"listed\":true,\"images\":[]}}}}"
    );
}

pub(crate) fn timestamp(nanos: i128) -> String {
    jiff::Timestamp::from_nanosecond(nanos)
        .expect("sandbox timestamps are in range")
        .to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::batch::is_decimal;
    use crate::catalog::Catalog;

    #[test]
    fn seeded_json_matches_the_product_it_stands_for() {
        let catalog = Catalog::new(40);
        for i in 1..=40 {
            let mut buf = Vec::new();
            write_seeded(&mut buf, i);
            // The protocol's fields, then the extras a real channel adds.
            let mut value: Value = serde_json::from_slice(&buf).unwrap();
            let extras = value.as_object_mut().unwrap();
            assert_eq!(extras.remove("brand"), Some(Value::from("Acme")));
            assert!(extras.remove("channel_meta").is_some());
            let parsed: Product = serde_json::from_value(value).unwrap();
            assert_eq!(
                parsed,
                seeded_product(i),
                "{}",
                String::from_utf8_lossy(&buf)
            );
            assert!(is_decimal(&parsed.price), "{}", parsed.price);
            assert_eq!(catalog.seed_index(&parsed.sku), Some(i));
        }
        assert_eq!(seeded_product(1).updated_at, "2025-01-01T00:00:01Z");
        assert_eq!(seeded_product(7).title, "Café \"Deluxe\" 7");
        for sku in [
            "SKU-0000000",
            "SKU-0000041",
            "SKU-00000001",
            "SKU-1",
            "sku-0000001",
        ] {
            assert_eq!(catalog.seed_index(sku), None, "{sku}");
        }
    }
}
