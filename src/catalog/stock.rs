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

/// A channel's stock settings: what it holds back (`stock-buffer`) and
/// the most it lists (`max-listed`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StockPolicy {
    pub buffer: i64,
    pub max_listed: Option<i64>,
}

impl StockPolicy {
    /// What the channel may sell of a level under this policy.
    pub fn available(&self, on_hand: i64, reserved: i64) -> i64 {
        available(on_hand, reserved, self.buffer, self.max_listed)
    }
}

/// A level export-stock owes the channel: what it may sell now differs
/// from what the channel last accepted (or nothing was accepted yet).
pub fn owed(available: i64, last_sent: Option<i64>) -> bool {
    last_sent != Some(available)
}

/// Whether a reconcile is due at `now`: never when `every` is `None`
/// (`stock-reconcile = "none"`), at once when none ran yet, else once
/// `every` has passed since the last one.
pub fn reconcile_due(
    last: Option<jiff::Timestamp>,
    every: Option<std::time::Duration>,
    now: jiff::Timestamp,
) -> bool {
    let Some(every) = every else { return false };
    let Some(last) = last else { return true };
    let Ok(every) = jiff::SignedDuration::try_from(every) else {
        return false;
    };
    last.checked_add(every).is_ok_and(|due| now >= due)
}

/// One level as the tool last sent it and as the channel holds it now
/// (`None`: the channel has no reading for it, e.g. the variant is gone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub sku: String,
    pub location: String,
    pub sent: i64,
    pub on_channel: Option<i64>,
}

/// The levels whose channel value drifted from what was sent: someone
/// edited them on the shop, or a write was lost. A level the channel has
/// no reading for is not drift the tool can repair (stock export never
/// creates variants), so it is left out.
pub fn drifted(held: &[Held]) -> Vec<&Held> {
    held.iter()
        .filter(|h| h.on_channel.is_some_and(|q| q != h.sent))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_level_is_owed_when_never_sent_or_when_its_value_moved() {
        assert!(owed(5, None));
        assert!(owed(0, None));
        assert!(owed(4, Some(5)));
        assert!(!owed(5, Some(5)));
        let policy = StockPolicy {
            buffer: 2,
            max_listed: Some(10),
        };
        // on hand 20 -> 21 moves nothing past the cap: nothing to send.
        assert!(!owed(
            policy.available(21, 0),
            Some(policy.available(20, 0))
        ));
        assert!(owed(policy.available(11, 0), Some(policy.available(20, 0))));
    }

    #[test]
    fn reconcile_is_due_once_per_period_and_never_when_off() {
        let day = std::time::Duration::from_secs(86_400);
        let now = ts("2026-12-08T10:00:00Z");
        assert!(reconcile_due(None, Some(day), now));
        assert!(!reconcile_due(None, None, now));
        assert!(!reconcile_due(
            Some(ts("2026-12-07T10:00:01Z")),
            Some(day),
            now
        ));
        assert!(reconcile_due(
            Some(ts("2026-12-07T10:00:00Z")),
            Some(day),
            now
        ));
        assert!(!reconcile_due(Some(ts("2026-12-01T00:00:00Z")), None, now));
    }

    #[test]
    fn drift_counts_levels_the_channel_holds_differently() {
        let held = |sku: &str, sent, on_channel| Held {
            sku: sku.into(),
            location: "default".into(),
            sent,
            on_channel,
        };
        let levels = [
            held("a", 5, Some(5)),
            held("b", 5, Some(7)),
            held("c", 0, Some(3)),
            held("d", 4, None),
            held("e", 9, Some(0)),
        ];
        let skus: Vec<&str> = drifted(&levels).iter().map(|h| h.sku.as_str()).collect();
        assert_eq!(skus, ["b", "c", "e"]);
    }

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
