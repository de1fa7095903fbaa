//! An account's idle stamp: "nothing of this account is due before
//! `next_due`, for these inputs", so that cron's idle call can say so
//! without opening the store or parsing the account file.
//!
//! It is kept exact by construction, not by each writer remembering to: every
//! write transaction removes it after taking the account's write lock and
//! before it commits (each engine's `begin`), and a stamp is only recorded
//! inside a write transaction whose planner read the store's truth under
//! that lock ([`super::Store::try_stamp_idle`]). A crash between a write's
//! removal and its commit leaves no stamp: "maybe due", and the next call
//! plans from the store.

use jiff::Timestamp;

/// Until when nothing of an account can be due, for one set of inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdleStamp {
    /// A digest of everything the plan was made from besides the store: the
    /// account file, the capability list, this binary's version.
    pub inputs: u64,
    /// The first instant something may be due; `None`: nothing is
    /// scheduled at all (every period `none`, or no channel).
    pub next_due: Option<Timestamp>,
}

impl IdleStamp {
    /// Whether the stamp says that nothing is due at `now` for `inputs`.
    pub fn holds(&self, inputs: u64, now: Timestamp) -> bool {
        self.inputs == inputs && self.next_due.is_none_or(|due| now < due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_holds_before_its_due_time_for_its_inputs_only() {
        let due: Timestamp = "2026-12-07T10:15:00Z".parse().unwrap();
        let stamp = IdleStamp {
            inputs: 7,
            next_due: Some(due),
        };
        let before = due
            .checked_sub(jiff::SignedDuration::from_millis(1))
            .unwrap();
        assert!(stamp.holds(7, before));
        assert!(!stamp.holds(7, due), "due at its instant");
        assert!(!stamp.holds(8, before), "other inputs");
        let never = IdleStamp {
            inputs: 7,
            next_due: None,
        };
        assert!(never.holds(7, due));
        assert!(!never.holds(6, due));
    }
}
