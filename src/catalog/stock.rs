//! Stock as the OMS holds it: per SKU and location, what is on hand and
//! what is reserved for orders not yet shipped; and what a channel may sell
//! of it.

use serde::Serialize;

/// One SKU's stock at one catalog location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StockLevel {
    pub sku: String,
    pub location: String,
    pub on_hand: i64,
    /// Held for orders not yet shipped: not for sale, still on hand.
    pub reserved: i64,
}

impl StockLevel {
    pub fn new(sku: &str, location: &str, on_hand: i64, reserved: i64) -> StockLevel {
        StockLevel {
            sku: sku.to_string(),
            location: location.to_string(),
            on_hand,
            reserved,
        }
    }
}

/// What a channel may sell of a level: on hand less reserved less the
/// channel's safety `buffer`, never below 0, and at most `max_listed` when
/// the channel caps what it shows. Saturating, so no stored value can
/// overflow it.
pub fn available(on_hand: i64, reserved: i64, buffer: i64, max_listed: Option<i64>) -> i64 {
    let free = on_hand
        .saturating_sub(reserved)
        .saturating_sub(buffer)
        .max(0);
    match max_listed {
        Some(cap) => free.min(cap.max(0)),
        None => free,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_is_on_hand_less_reserved_less_buffer_clamped_then_capped() {
        for (on_hand, reserved, buffer, max_listed, expected) in [
            (10, 0, 0, None, 10),
            (10, 3, 0, None, 7),
            (10, 3, 2, None, 5),
            (10, 8, 2, None, 0),
            (10, 12, 0, None, 0),
            (10, 0, 15, None, 0),
            (10, 3, 2, Some(4), 4),
            (10, 3, 2, Some(50), 5),
            (0, 0, 0, Some(0), 0),
            (i64::MAX, -1, 0, None, i64::MAX),
            (i64::MIN, i64::MAX, 0, None, 0),
        ] {
            assert_eq!(
                available(on_hand, reserved, buffer, max_listed),
                expected,
                "{on_hand} - {reserved} - {buffer}, cap {max_listed:?}"
            );
        }
    }
}
