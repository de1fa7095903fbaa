//! Pacing against a channel that enforces a request rate (the sandbox's
//! `rate_per_second`, answering 429 past it): a channel whose `rate-limit`
//! keeps below that rate, or one that reads the channel's rate headers, is
//! refused for rate not once; one that does neither is refused.

use std::time::{Duration, Instant};

use sandbox::{RateHeaders, Switches};
use test_support::output::describe;
use test_support::peer::SandboxPeer;
use test_support::{Backend, CHANNEL, TestEnv};

const PRODUCTS: u64 = 60;
/// Small pages, so that an import is many requests: 12, and the token's.
const PAGE_SIZE: u64 = 5;

fn enforcing(per_second: f64, burst: u32, headers: RateHeaders) -> SandboxPeer {
    SandboxPeer::with(
        PRODUCTS,
        Switches {
            rate_per_second: Some(per_second),
            rate_burst: burst,
            rate_headers: headers,
            ..Switches::default()
        },
    )
}

/// Imports everything from `shop` (with `extra` in the channel's table);
/// returns how long the run took.
fn import(shop: &SandboxPeer, extra: &[&str]) -> Duration {
    let mut env = TestEnv::builder()
        .backend(Backend::Sqlite)
        .channel(
            CHANNEL,
            shop,
            &[("auth-refresh", "50m"), ("import-products", "1h")],
        )
        .master(CHANNEL)
        .build();
    // The binary's own Retry-After cap (a minute), not the tests' short one:
    // it also caps how long the channel's headers may hold a request.
    env.remove_var("OMS_CHANNELS_RETRY_BASE_MS");
    env.set_channel_key(CHANNEL, &format!("page-size = {PAGE_SIZE}"));
    for line in extra {
        env.set_channel_key(CHANNEL, line);
    }
    let started = Instant::now();
    let out = env.run(["--json", "run-once"]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", describe(&out));
    let rows = test_support::Rows::of(&test_support::output::parse(&String::from_utf8_lossy(
        &out.stdout,
    )));
    let import = rows.get(CHANNEL, "import-products");
    assert_eq!((import.outcome.as_str(), import.items), ("ran", PRODUCTS));
    took
}

#[test]
fn a_rate_limit_below_the_channels_rate_is_never_refused() {
    // The channel allows 10 a second, 2 at once; the account file says 8.
    let shop = enforcing(10.0, 2, RateHeaders::None);
    let took = import(&shop, &["rate-limit = { per-second = 8, burst = 2 }"]);
    assert_eq!(shop.refused_for_rate(), 0, "{:?}", shop.log());
    // 13 requests, 2 at once and then one every 125 ms: paced, not slowed.
    assert!(took >= Duration::from_millis(1300), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");

    // The same channel without a rate-limit is refused, and the run only
    // gets through on Retry-After.
    let unpaced = enforcing(10.0, 2, RateHeaders::None);
    import(&unpaced, &[]);
    assert!(unpaced.refused_for_rate() > 0, "{:?}", unpaced.log());
}

#[test]
fn a_rate_limit_equal_to_the_channels_is_never_refused() {
    // What a user writes who read "10 requests a second, 2 at once" in the
    // channel's documentation. The first request (a new connection) reaches
    // the channel later after its send than the next ones do: a bucket that
    // only counted sends would run ahead of the channel's and be refused.
    for burst in [1, 2] {
        let shop = enforcing(10.0, burst, RateHeaders::None);
        let limit = format!("rate-limit = {{ per-second = 10, burst = {burst} }}");
        let took = import(&shop, &[&limit]);
        assert_eq!(
            shop.refused_for_rate(),
            0,
            "burst {burst}: {:?}",
            shop.log()
        );
        // 13 requests, `burst` at once, then one every 100 ms (or a little
        // more: each waits for the last reply's latency).
        let paced = Duration::from_millis(100 * (13 - u64::from(burst)));
        assert!(took >= paced, "burst {burst}: {took:?}");
        assert!(took < Duration::from_secs(10), "burst {burst}: {took:?}");
    }
}

#[test]
fn the_channels_rate_headers_pace_a_channel_without_a_rate_limit() {
    for style in [
        RateHeaders::Ietf,
        RateHeaders::RatelimitFields,
        RateHeaders::XRatelimit,
        RateHeaders::XRatelimitEpoch,
        RateHeaders::Shopify,
    ] {
        let shop = enforcing(10.0, 5, style);
        let took = import(&shop, &[]);
        assert_eq!(
            shop.refused_for_rate(),
            0,
            "{style:?}: refused for rate: {:?}",
            shop.log()
        );
        // It did wait: 13 requests do not fit in one burst of 5.
        assert!(took >= Duration::from_millis(700), "{style:?}: {took:?}");
    }
}
