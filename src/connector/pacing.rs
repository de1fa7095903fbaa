//! Pacing: keeping a channel's requests within its rate limit, so that a
//! well-paced run is never refused for rate (HTTP 429). Two sources, both
//! applied by [`super::http::HttpClient`] before every attempt:
//!
//! - **The capability list**: a type's `rate-limit` (requests per second and
//!   a burst), lowered per channel, enforced by a token [`Bucket`] that every
//!   request of the channel's client draws from, whichever job sends it.
//! - **The channel's own answers**: its rate headers ([`budget`]) say how
//!   much of its budget is left and when it is restored; once it is spent, no
//!   request goes out before the reset. A 429's `Retry-After` holds back the
//!   channel's other requests too, not only the refused one.
//!
//! Pure: the header parsers take text and "now" (Unix seconds), the bucket
//! and [`PacerState`] take [`Instant`]s, so tests need no clock.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize};

/// A channel's request budget: `rate-limit = { per-second = 10, burst = 20 }`
/// in the capability list (a type's) or the account file (a channel's, which
/// may only lower its type's).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RateLimit {
    /// Requests per second, sustained (`0.5` is one request every two seconds).
    pub per_second: f64,
    /// Requests that may go out at once after a quiet spell (at least 1).
    pub burst: u32,
}

/// Slowest rate a file may ask for: one request in 1000 seconds.
const MIN_PER_SECOND: f64 = 0.001;

impl RateLimit {
    /// The sustained gap between two requests.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }

    /// This limit lowered by `other`, part by part (a channel's own limit
    /// never raises its type's).
    pub fn lowered_by(self, other: RateLimit) -> RateLimit {
        RateLimit {
            per_second: self.per_second.min(other.per_second),
            burst: self.burst.min(other.burst),
        }
    }

    /// Whether any part of `self` is above `limit`'s.
    pub fn exceeds(&self, limit: &RateLimit) -> bool {
        self.per_second > limit.per_second || self.burst > limit.burst
    }
}

impl fmt::Display for RateLimit {
    /// `10/s, burst 20`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s, burst {}", self.per_second, self.burst)
    }
}

impl<'de> Deserialize<'de> for RateLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;

        #[derive(Deserialize)]
        #[serde(rename_all = "kebab-case", deny_unknown_fields)]
        struct Raw {
            per_second: f64,
            #[serde(default)]
            burst: Option<i64>,
        }
        let raw = Raw::deserialize(deserializer)?;
        if !(raw.per_second.is_finite() && raw.per_second >= MIN_PER_SECOND) {
            return Err(D::Error::custom(format!(
                "invalid `per-second` {}: expected a number of requests per second of at least {MIN_PER_SECOND} (one request in 1000 s)",
                raw.per_second
            )));
        }
        let burst = match raw.burst {
            // One request at a time: the safe reading when a channel names
            // only its sustained rate.
            None => 1,
            Some(b) => u32::try_from(b).ok().filter(|b| *b >= 1).ok_or_else(|| {
                D::Error::custom(format!(
                    "invalid `burst` {b}: expected a whole number of requests of at least 1"
                ))
            })?,
        };
        Ok(RateLimit {
            per_second: raw.per_second,
            burst,
        })
    }
}

// ---------------------------------------------------------------- the bucket

/// A token bucket (as GCRA: one "theoretical arrival time" instead of a
/// token count): `burst` requests at once, then one per interval.
///
/// The channel's own bucket counts a request when it arrives, which the
/// client cannot see: somewhere between sending it and its reply. A bucket
/// that only counted sends would run ahead of the channel's whenever the
/// first request of a burst took longer to arrive than the later ones (a
/// new connection, a TLS handshake), and a client at exactly the channel's
/// rate would be refused. So each answered request counts again as if it
/// had arrived when its reply came ([`Bucket::answered`]): the bucket stays
/// at or behind the channel's whatever the latency. That costs nothing
/// while replies come faster than the burst's window, `burst - 1`
/// intervals; with a burst of 1 each request waits an interval after the
/// last reply.
#[derive(Clone, Debug)]
pub struct Bucket {
    interval: Duration,
    /// How far ahead of the arrival time a request may go: `burst - 1` intervals.
    tolerance: Duration,
    /// When the bucket would be empty again if no request came.
    arrival: Option<Instant>,
}

impl Bucket {
    pub fn new(limit: RateLimit) -> Bucket {
        let interval = limit.interval();
        Bucket {
            interval,
            tolerance: interval.saturating_mul(limit.burst.saturating_sub(1)),
            arrival: None,
        }
    }

    /// Takes the next request's place: when it may be sent, not before
    /// `now`. Places are handed out in order, so requests that wait
    /// together leave one interval apart.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let arrival = self.arrival.map_or(now, |a| a.max(now));
        let allowed = arrival.checked_sub(self.tolerance).unwrap_or(now).max(now);
        self.arrival = Some(arrival + self.interval);
        allowed
    }

    /// A request's reply came at `at`: the channel counted the request at
    /// the latest then (see [`Bucket`]).
    pub fn answered(&mut self, at: Instant) {
        let counted = at + self.interval;
        if self.arrival.is_none_or(|arrival| arrival < counted) {
            self.arrival = Some(counted);
        }
    }
}

// ---------------------------------------------------------------- rate headers

/// What a channel's rate headers said about its budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Requests left in the current window.
    pub remaining: u64,
    /// When the budget is restored, counted from the reply; `None` when the
    /// headers do not say.
    pub reset: Option<Duration>,
    /// The header it was read from, for logs and messages.
    pub header: &'static str,
}

/// A value of `X-RateLimit-Reset` at or above this is a Unix time, not a
/// number of seconds: 10^9 s is 31 years, no API's window; as a date it is
/// 2001-09-09. (GitHub and Twitter send epochs; most others send seconds.)
const EPOCH_SECONDS_FROM: f64 = 1e9;
/// ...and at or above this, a Unix time in milliseconds.
const EPOCH_MILLIS_FROM: f64 = 1e12;

/// The most restrictive budget a reply's rate headers state, by any of the
/// conventions in use:
///
/// - IETF draft structured fields: `RateLimit: "default";r=0;t=30` (with
///   `RateLimit-Policy: "default";q=100;w=60` giving the window when `t` is
///   missing), and the earlier drafts' `RateLimit: limit=100, remaining=0,
///   reset=30` and `RateLimit-Remaining` / `RateLimit-Reset` (seconds);
/// - `X-RateLimit-Remaining` with `X-RateLimit-Reset` (seconds, or a Unix
///   time in seconds or milliseconds: told apart by size) or
///   `X-RateLimit-Reset-After` (seconds);
/// - Shopify's `X-Shopify-Shop-Api-Call-Limit: 32/40` (used/limit; no reset).
///
/// `header(name)` looks a header up (any case); `now_unix` is the current
/// Unix time in seconds, for resets given as dates. Unreadable headers are
/// ignored.
pub fn budget<'h>(header: impl Fn(&str) -> Option<&'h str>, now_unix: f64) -> Option<Budget> {
    let mut found: Vec<Budget> = Vec::new();
    if let Some(value) = header("ratelimit") {
        let policies = header("ratelimit-policy")
            .and_then(parse_policies)
            .unwrap_or_default();
        found.extend(ietf_budget(value, &policies));
    }
    if let Some(left) = header("ratelimit-remaining").and_then(parse_count) {
        found.push(Budget {
            remaining: left,
            // The drafts that had this field gave its reset in seconds.
            reset: header("ratelimit-reset").and_then(parse_seconds),
            header: "RateLimit-Remaining",
        });
    }
    if let Some(left) = header("x-ratelimit-remaining").and_then(parse_count) {
        let reset = header("x-ratelimit-reset")
            .and_then(|v| parse_reset(v, now_unix))
            .or_else(|| header("x-ratelimit-reset-after").and_then(parse_seconds));
        found.push(Budget {
            remaining: left,
            reset,
            header: "X-RateLimit-Remaining",
        });
    }
    if let Some(used_of) = header("x-shopify-shop-api-call-limit")
        && let Some((used, limit)) = used_of.split_once('/')
        && let (Some(used), Some(limit)) = (parse_count(used), parse_count(limit))
    {
        found.push(Budget {
            remaining: limit.saturating_sub(used),
            reset: None,
            header: "X-Shopify-Shop-Api-Call-Limit",
        });
    }
    // The fewest requests left wins; among equals, the latest reset.
    found
        .into_iter()
        .min_by(|a, b| a.remaining.cmp(&b.remaining).then(b.reset.cmp(&a.reset)))
}

/// A whole number of requests (a decimal is rounded down: a budget is never
/// read as larger than stated).
fn parse_count(value: &str) -> Option<u64> {
    let value = value.trim();
    let whole = value.split_once('.').map_or(value, |(w, _)| w);
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(whole.parse().unwrap_or(u64::MAX))
}

/// Non-negative seconds, whole or decimal (`30`, `0.5`).
fn parse_seconds(value: &str) -> Option<Duration> {
    let seconds = parse_decimal(value)?;
    Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

fn parse_decimal(value: &str) -> Option<f64> {
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    value.parse().ok()
}

/// `X-RateLimit-Reset`: seconds until the reset, or the reset's Unix time
/// in seconds or milliseconds (see [`EPOCH_SECONDS_FROM`]). A time already
/// past means "now".
fn parse_reset(value: &str, now_unix: f64) -> Option<Duration> {
    let number = parse_decimal(value)?;
    let seconds = if number >= EPOCH_MILLIS_FROM {
        number / 1000.0 - now_unix
    } else if number >= EPOCH_SECONDS_FROM {
        number - now_unix
    } else {
        number
    };
    Some(Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX))
}

/// One member of a structured-field list (RFC 8941) or dictionary: a name
/// (the item's string or token, or the dictionary key), its value when it
/// is a dictionary member, and its parameters.
#[derive(Clone, Debug, PartialEq)]
struct Member {
    name: String,
    value: Option<Item>,
    params: Vec<(String, Item)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Item {
    Number(f64),
    Text(String),
    Bool(bool),
}

impl Member {
    fn param(&self, key: &str) -> Option<f64> {
        self.params.iter().find_map(|(k, v)| match v {
            Item::Number(n) if k == key => Some(*n),
            _ => None,
        })
    }
}

/// A policy of `RateLimit-Policy`: its quota `q` per window `w` seconds.
#[derive(Clone, Debug, PartialEq)]
struct Policy {
    name: String,
    window: Option<f64>,
}

fn parse_policies(value: &str) -> Option<Vec<Policy>> {
    Some(
        parse_members(value)?
            .into_iter()
            .map(|m| Policy {
                window: m.param("w"),
                name: m.name,
            })
            .collect(),
    )
}

/// The budgets of a `RateLimit` field: each policy's `r` (remaining) and
/// `t` (seconds to reset; when missing, its policy's window `w`), or the
/// earlier drafts' dictionary `limit=.., remaining=.., reset=..`.
fn ietf_budget(value: &str, policies: &[Policy]) -> Vec<Budget> {
    let Some(members) = parse_members(value) else {
        return Vec::new();
    };
    let number = |m: &Member| match m.value {
        Some(Item::Number(n)) => Some(n),
        _ => None,
    };
    let dictionary = |key: &str| members.iter().find(|m| m.name == key).and_then(number);
    if let Some(remaining) = dictionary("remaining") {
        return vec![Budget {
            remaining: remaining.max(0.0) as u64,
            reset: dictionary("reset").map(seconds),
            header: "RateLimit",
        }];
    }
    members
        .iter()
        .filter(|m| m.value.is_none())
        .filter_map(|m| {
            let remaining = m.param("r")?;
            let reset = m.param("t").or_else(|| {
                policies
                    .iter()
                    .find(|p| p.name == m.name)
                    .and_then(|p| p.window)
            });
            Some(Budget {
                remaining: remaining.max(0.0) as u64,
                reset: reset.map(seconds),
                header: "RateLimit",
            })
        })
        .collect()
}

fn seconds(n: f64) -> Duration {
    Duration::try_from_secs_f64(n.max(0.0)).unwrap_or(Duration::MAX)
}

/// Parses a structured-field list or dictionary (RFC 8941 §3.1, §3.2) of
/// items with parameters; inner lists and byte sequences are skipped over.
/// `None` when the text is not one.
fn parse_members(text: &str) -> Option<Vec<Member>> {
    let mut parser = SfParser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut members = Vec::new();
    parser.spaces();
    if parser.done() {
        return Some(members);
    }
    loop {
        members.push(parser.member()?);
        parser.spaces();
        if parser.done() {
            return Some(members);
        }
        parser.expect(b',')?;
        parser.spaces();
        if parser.done() {
            // A trailing comma is not a list.
            return None;
        }
    }
}

struct SfParser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl SfParser<'_> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.at += 1)
    }

    fn member(&mut self) -> Option<Member> {
        let (name, value) = match self.peek()? {
            b'"' => (self.string()?, None),
            b'(' => {
                self.inner_list()?;
                (String::new(), None)
            }
            c if c.is_ascii_alphabetic() || c == b'*' => {
                let token = self.token();
                if self.peek() == Some(b'=') {
                    // A dictionary member: `key=value`.
                    self.at += 1;
                    (token, Some(self.bare_item()?))
                } else {
                    (token, None)
                }
            }
            _ => {
                self.bare_item()?;
                (String::new(), None)
            }
        };
        Some(Member {
            name,
            value,
            params: self.params()?,
        })
    }

    fn inner_list(&mut self) -> Option<()> {
        self.expect(b'(')?;
        loop {
            self.spaces();
            if self.expect(b')').is_some() {
                return self.params().map(|_| ());
            }
            self.bare_item()?;
            self.params()?;
        }
    }

    fn params(&mut self) -> Option<Vec<(String, Item)>> {
        let mut params = Vec::new();
        while self.expect(b';').is_some() {
            self.spaces();
            let key = self.key()?;
            let value = if self.expect(b'=').is_some() {
                self.bare_item()?
            } else {
                Item::Bool(true)
            };
            params.push((key, value));
        }
        Some(params)
    }

    fn key(&mut self) -> Option<String> {
        let start = self.at;
        match self.peek()? {
            c if c.is_ascii_lowercase() || c == b'*' => self.at += 1,
            _ => return None,
        }
        while matches!(self.peek(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-.*".contains(&c))
        {
            self.at += 1;
        }
        Some(String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned())
    }

    fn token(&mut self) -> String {
        let start = self.at;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c))
        {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned()
    }

    fn string(&mut self) -> Option<String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return String::from_utf8(out).ok();
                }
                b'\\' => {
                    self.at += 1;
                    let escaped = self.peek().filter(|c| matches!(c, b'"' | b'\\'))?;
                    out.push(escaped);
                    self.at += 1;
                }
                c if (0x20..0x7f).contains(&c) => {
                    out.push(c);
                    self.at += 1;
                }
                _ => return None,
            }
        }
    }

    fn bare_item(&mut self) -> Option<Item> {
        match self.peek()? {
            b'"' => self.string().map(Item::Text),
            b'?' => {
                self.at += 1;
                let value = match self.peek()? {
                    b'0' => false,
                    b'1' => true,
                    _ => return None,
                };
                self.at += 1;
                Some(Item::Bool(value))
            }
            b':' => {
                self.at += 1;
                while self.peek()? != b':' {
                    self.at += 1;
                }
                self.at += 1;
                Some(Item::Text(String::new()))
            }
            c if c == b'-' || c.is_ascii_digit() => self.number(),
            c if c.is_ascii_alphabetic() || c == b'*' => Some(Item::Text(self.token())),
            _ => None,
        }
    }

    fn number(&mut self) -> Option<Item> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        while matches!(self.peek(), Some(c) if c.is_ascii_digit() || c == b'.') {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
        if text.is_empty() || text == "-" || text.ends_with('.') || text.matches('.').count() > 1 {
            return None;
        }
        text.parse().ok().map(Item::Number)
    }
}

// ---------------------------------------------------------------- the pacer

/// Why a request must wait, when the wait is the channel's to ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpentUntil {
    pub until: Instant,
    /// The header that said so (`Retry-After`, `X-RateLimit-Remaining`, ...).
    pub header: &'static str,
}

/// The pacing state of one channel's client: its bucket (from the
/// capability list) and the instant before which the channel asked for no
/// request (from its headers).
#[derive(Clone, Debug, Default)]
pub struct PacerState {
    bucket: Option<Bucket>,
    spent: Option<SpentUntil>,
    /// The longest hold a channel can ask for (the client's `Retry-After`
    /// cap), so that a server cannot park a cron run for hours.
    longest_hold: Duration,
    /// How long to wait when a budget is spent and the channel does not
    /// say until when: one interval of the configured rate, else a second.
    unknown_reset: Duration,
}

/// When the channel's budget is spent and it does not say until when, and
/// no rate is configured: a second (Shopify's bucket leaks 2 a second).
const UNKNOWN_RESET: Duration = Duration::from_secs(1);

impl PacerState {
    pub fn new(limit: Option<RateLimit>, longest_hold: Duration) -> PacerState {
        PacerState {
            bucket: limit.map(Bucket::new),
            spent: None,
            longest_hold,
            unknown_reset: limit.map_or(UNKNOWN_RESET, |l| l.interval().min(UNKNOWN_RESET)),
        }
    }

    /// When the next request may go (at `now` or later), and the channel's
    /// own hold when that is what sets the time. Headers only hold back
    /// calls under the channel's base URL (`obeys_headers`).
    pub fn reserve(&mut self, now: Instant, obeys_headers: bool) -> (Instant, Option<SpentUntil>) {
        if self.spent.is_some_and(|s| s.until <= now) {
            self.spent = None;
        }
        let held = self.spent.filter(|_| obeys_headers);
        let start = held.map_or(now, |s| s.until);
        let at = match &mut self.bucket {
            Some(bucket) => bucket.reserve(start),
            None => start,
        };
        (at, held)
    }

    /// A request's attempt ended at `at` (a reply, or an error that may
    /// have reached the channel): see [`Bucket::answered`].
    pub fn answered(&mut self, at: Instant) {
        if let Some(bucket) = &mut self.bucket {
            bucket.answered(at);
        }
    }

    /// Takes in what a reply said: its budget from the rate headers, and a
    /// refusal's `Retry-After`. A spent budget holds every request of the
    /// channel until its reset.
    pub fn observe(&mut self, now: Instant, budget: Option<Budget>, retry_after: Option<Duration>) {
        if let Some(wait) = retry_after {
            self.hold(now, wait, "Retry-After");
        }
        if let Some(budget) = budget.filter(|b| b.remaining == 0) {
            self.hold(
                now,
                budget.reset.unwrap_or(self.unknown_reset),
                budget.header,
            );
        }
    }

    fn hold(&mut self, now: Instant, wait: Duration, header: &'static str) {
        let until = now + wait.min(self.longest_hold);
        if self.spent.is_none_or(|s| s.until < until) {
            self.spent = Some(SpentUntil { until, header });
        }
    }
}

/// A [`PacerState`] shared by the clones of one client.
#[derive(Clone, Debug)]
pub struct Pacer(Arc<Mutex<PacerState>>);

impl Pacer {
    pub fn new(limit: Option<RateLimit>, longest_hold: Duration) -> Pacer {
        Pacer(Arc::new(Mutex::new(PacerState::new(limit, longest_hold))))
    }

    /// See [`PacerState::reserve`].
    pub fn reserve(&self, now: Instant, obeys_headers: bool) -> (Instant, Option<SpentUntil>) {
        self.state().reserve(now, obeys_headers)
    }

    /// See [`PacerState::answered`].
    pub fn answered(&self, at: Instant) {
        self.state().answered(at);
    }

    /// See [`PacerState::observe`].
    pub fn observe(&self, now: Instant, budget: Option<Budget>, retry_after: Option<Duration>) {
        self.state().observe(now, budget, retry_after);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PacerState> {
        // Never held across an await or a panic-prone call: a poisoned lock
        // still holds a sound state.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const NOW_UNIX: f64 = 1_800_000_000.0;
    const HOLD_CAP: Duration = Duration::from_secs(60);

    fn limit(per_second: f64, burst: u32) -> RateLimit {
        RateLimit { per_second, burst }
    }

    fn budget_of(headers: &[(&str, &str)]) -> Option<Budget> {
        budget(
            |name| {
                headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            },
            NOW_UNIX,
        )
    }

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn reads_every_rate_header_convention() {
        let b = |remaining, reset: Option<Duration>, header| {
            Some(Budget {
                remaining,
                reset,
                header,
            })
        };
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let cases: Vec<(Headers, Option<Budget>)> = vec![
            (&[], None),
            // IETF draft: the policy's name, r and t.
            (
                &[("RateLimit", "\"default\";r=50;t=30")],
                b(50, secs(30), "RateLimit"),
            ),
            (
                &[("RateLimit", "\"burst\";r=0;t=1, \"daily\";r=900;t=3600")],
                b(0, secs(1), "RateLimit"),
            ),
            // t missing: the policy's window.
            (
                &[
                    ("RateLimit", "\"default\";r=0"),
                    ("RateLimit-Policy", "\"default\";q=100;w=60"),
                ],
                b(0, secs(60), "RateLimit"),
            ),
            (
                &[("RateLimit", "default;r=3;t=2;pk=:cHJvamVjdDEyMw==:")],
                b(3, secs(2), "RateLimit"),
            ),
            // The earlier drafts' dictionary and separate fields.
            (
                &[("RateLimit", "limit=100, remaining=0, reset=7")],
                b(0, secs(7), "RateLimit"),
            ),
            (
                &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "12")],
                b(0, secs(12), "RateLimit-Remaining"),
            ),
            // X-RateLimit-Reset: seconds, a Unix time, or Unix milliseconds.
            (
                &[("X-RateLimit-Remaining", "4"), ("X-RateLimit-Reset", "20")],
                b(4, secs(20), "X-RateLimit-Remaining"),
            ),
            (
                &[
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "1800000042"),
                ],
                b(0, secs(42), "X-RateLimit-Remaining"),
            ),
            (
                &[
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "1800000001500"),
                ],
                b(0, Some(1500 * MS), "X-RateLimit-Remaining"),
            ),
            // A reset already past is now.
            (
                &[
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "1700000000"),
                ],
                b(0, secs(0), "X-RateLimit-Remaining"),
            ),
            (
                &[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset-after", "0.25"),
                ],
                b(0, Some(250 * MS), "X-RateLimit-Remaining"),
            ),
            (
                &[("X-RateLimit-Remaining", "7")],
                b(7, None, "X-RateLimit-Remaining"),
            ),
            // Shopify: used/limit.
            (
                &[("X-Shopify-Shop-Api-Call-Limit", "32/40")],
                b(8, None, "X-Shopify-Shop-Api-Call-Limit"),
            ),
            (
                &[("X-Shopify-Shop-Api-Call-Limit", "40/40")],
                b(0, None, "X-Shopify-Shop-Api-Call-Limit"),
            ),
            // Several: the fewest left wins.
            (
                &[
                    ("X-RateLimit-Remaining", "9"),
                    ("X-RateLimit-Reset", "5"),
                    ("RateLimit", "\"a\";r=2;t=3"),
                ],
                b(2, secs(3), "RateLimit"),
            ),
            // Unreadable values are ignored, never guessed.
            (&[("X-RateLimit-Remaining", "-1")], None),
            (&[("X-RateLimit-Remaining", "lots")], None),
            (&[("X-Shopify-Shop-Api-Call-Limit", "40")], None),
            (&[("RateLimit", "\"a\";r=1;t=2,")], None),
            (&[("RateLimit", "\"unterminated;r=0")], None),
            (
                &[
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "soon"),
                ],
                b(0, None, "X-RateLimit-Remaining"),
            ),
        ];
        for (headers, expected) in cases {
            assert_eq!(budget_of(headers), expected, "{headers:?}");
        }
    }

    #[test]
    fn rate_limits_read_from_files() {
        let parse = |text: &str| toml::from_str::<RateLimit>(text).map_err(|e| e.to_string());
        assert_eq!(parse("per-second = 10\nburst = 20"), Ok(limit(10.0, 20)));
        assert_eq!(parse("per-second = 0.5"), Ok(limit(0.5, 1)));
        for (text, said) in [
            ("per-second = 0\nburst = 1", "invalid `per-second` 0"),
            ("per-second = -2", "invalid `per-second` -2"),
            ("per-second = 5\nburst = 0", "invalid `burst` 0"),
            ("per-second = 5\nburst = -3", "invalid `burst` -3"),
            ("burst = 3", "missing field `per-second`"),
            ("per-second = 5\nrate = 3", "unknown field `rate`"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(said), "{text}: {err}");
        }
        assert_eq!(limit(10.0, 20).lowered_by(limit(4.0, 50)), limit(4.0, 20));
        assert!(limit(10.0, 5).exceeds(&limit(8.0, 20)));
        assert!(limit(1.0, 21).exceeds(&limit(8.0, 20)));
        assert!(!limit(8.0, 20).exceeds(&limit(8.0, 20)));
    }

    #[test]
    fn the_bucket_lets_a_burst_through_then_one_per_interval() {
        let start = Instant::now();
        let mut bucket = Bucket::new(limit(10.0, 3));
        let at: Vec<Duration> = (0..6).map(|_| bucket.reserve(start) - start).collect();
        assert_eq!(at, [0, 0, 0, 100, 200, 300].map(|ms| ms * MS));
        // A quiet spell refills it, up to the burst and no further.
        let later = start + Duration::from_secs(10);
        let at: Vec<Duration> = (0..5).map(|_| bucket.reserve(later) - later).collect();
        assert_eq!(at, [0, 0, 0, 100, 200].map(|ms| ms * MS));
        // Requests sent as soon as allowed keep to the rate.
        let mut bucket = Bucket::new(limit(4.0, 1));
        let mut now = start;
        for i in 0..8 {
            now = bucket.reserve(now);
            assert_eq!(now - start, 250 * MS * i);
        }
    }

    #[test]
    fn the_bucket_counts_a_request_as_arriving_when_its_reply_came() {
        let start = Instant::now();
        // The first request of a burst answered 30 ms after it went (a new
        // connection): the channel may have counted it that late, so the
        // requests after it go up to 30 ms later, and then at the rate.
        let mut bucket = Bucket::new(limit(10.0, 3));
        assert_eq!(bucket.reserve(start), start);
        bucket.answered(start + 30 * MS);
        let at: Vec<Duration> = (0..4).map(|_| bucket.reserve(start) - start).collect();
        assert_eq!(at, [0, 30, 130, 230].map(|ms| ms * MS));
        // Replies faster than the burst's window cost the first reply's
        // latency once, and nothing after: a client that sends each request
        // when the last is answered (5 ms later) and the bucket allows.
        let mut bucket = Bucket::new(limit(10.0, 3));
        let mut sent = Vec::new();
        let mut ready = start;
        for _ in 0..8 {
            let at = bucket.reserve(ready);
            sent.push(at - start);
            ready = at + 5 * MS;
            bucket.answered(ready);
        }
        assert_eq!(sent, [0, 5, 10, 105, 205, 305, 405, 505].map(|ms| ms * MS));
        // With a burst of one, each request waits an interval after the
        // last reply.
        let mut bucket = Bucket::new(limit(10.0, 1));
        let mut now = start;
        for i in 0..4 {
            now = bucket.reserve(now);
            assert_eq!(now - start, 105 * MS * i);
            bucket.answered(now + 5 * MS);
        }
    }

    #[test]
    fn a_spent_budget_holds_requests_until_its_reset() {
        let start = Instant::now();
        let mut pacer = PacerState::new(None, HOLD_CAP);
        assert_eq!(pacer.reserve(start, true), (start, None));
        let spent = Budget {
            remaining: 0,
            reset: secs(2),
            header: "RateLimit",
        };
        // Budget left: no hold.
        pacer.observe(
            start,
            Some(Budget {
                remaining: 1,
                ..spent
            }),
            None,
        );
        assert_eq!(pacer.reserve(start, true).0, start);
        pacer.observe(start, Some(spent), None);
        let (at, why) = pacer.reserve(start + 500 * MS, true);
        assert_eq!(at, start + 2000 * MS);
        assert_eq!(why.map(|w| w.header), Some("RateLimit"));
        // A call the headers do not concern (the token endpoint) goes now.
        assert_eq!(pacer.reserve(start + 500 * MS, false).0, start + 500 * MS);
        // After the reset, no hold.
        assert_eq!(
            pacer.reserve(start + 3000 * MS, true),
            (start + 3000 * MS, None)
        );
        // Spent with no reset stated: a second, or the configured interval.
        pacer.observe(
            start,
            Some(Budget {
                reset: None,
                ..spent
            }),
            None,
        );
        assert_eq!(pacer.reserve(start, true).0, start + 1000 * MS);
        let mut paced = PacerState::new(Some(limit(4.0, 1)), HOLD_CAP);
        paced.observe(
            start,
            Some(Budget {
                reset: None,
                ..spent
            }),
            None,
        );
        assert_eq!(paced.reserve(start, true).0, start + 250 * MS);
        // Retry-After holds the channel's other requests too; the later hold wins.
        let mut pacer = PacerState::new(None, HOLD_CAP);
        pacer.observe(start, None, secs(3));
        pacer.observe(start, Some(spent), None);
        let (at, why) = pacer.reserve(start, true);
        assert_eq!(
            (at, why.map(|w| w.header)),
            (start + 3000 * MS, Some("Retry-After"))
        );
        // However long a channel asks for, the hold is capped.
        pacer.observe(start, None, secs(3600));
        assert_eq!(pacer.reserve(start, true).0, start + HOLD_CAP);
    }

    #[test]
    fn the_bucket_paces_after_a_hold() {
        let start = Instant::now();
        let mut pacer = PacerState::new(Some(limit(10.0, 1)), HOLD_CAP);
        assert_eq!(pacer.reserve(start, true).0, start);
        pacer.observe(start, None, secs(1));
        let (at, why) = pacer.reserve(start, true);
        assert_eq!(at, start + 1000 * MS);
        assert!(why.is_some());
        // The next one: one interval after the held one, the bucket's doing.
        assert_eq!(pacer.reserve(start, true).0, start + 1100 * MS);
    }
}
