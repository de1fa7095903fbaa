//! Figures against real commerce platforms on loopback, the test peers of
//! `tests/it/support` (Vendure 3.7 and Medusa 2.21 on a throwaway
//! PostgreSQL): a full import through the real binary against a bare client
//! paging the same query in the same run. The tool's time is the whole
//! process (start, auth from the store, parse, check, durable page commits);
//! the bare client's is only its requests, with the bodies thrown away.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use serde_json::{Value, json};

use super::{Env, SECRET_ENV, Table, median, runtime, thousands};
use test_support::peer::medusa::{MedusaPeer, sample_products};
use test_support::peer::vendure::{NewVariant, SUPERADMIN, SUPERADMIN_PASSWORD, VendurePeer};

/// How many timed imports each figure takes the median of.
const ROUNDS: usize = 3;

/// Import `variants` variants from a Vendure peer vs a bare GraphQL client.
pub fn vendure(variants: u32, table: &mut Table) -> Result<()> {
    let peer = VendurePeer::start();
    let new: Vec<NewVariant> = (1..=variants).map(NewVariant::numbered).collect();
    peer.create_variants(&new);
    let env = Env::for_peer(SUPERADMIN_PASSWORD)?;
    master_channel(
        &env,
        &[
            "--type",
            "vendure",
            "--base-url",
            &peer.admin_api_url(),
            "--username",
            SUPERADMIN,
            "--password-env",
            SECRET_ENV,
        ],
    )?;
    let (token, _) = peer.login_as(SUPERADMIN, SUPERADMIN_PASSWORD);
    let token = token.context("the Vendure peer gave no session token")?;
    let page_size = page_size("vendure");
    let (tool, bare) = rounds(&env, u64::from(variants), || {
        bare_vendure(&peer.admin_api_url(), &token, page_size, variants as usize)
    })?;
    table.ratio(
        format!(
            "import {} variants from Vendure (wall)",
            thousands(variants.into())
        ),
        tool,
        &format!("bare GraphQL client, pages of {page_size}"),
        bare,
        // Issue 20: faster than a bare sequential client.
        0.75,
    );
    Ok(())
}

/// Import `products` products from a Medusa peer vs a bare REST client.
pub fn medusa(products: usize, table: &mut Table) -> Result<()> {
    let rt = runtime()?;
    let peer = rt.block_on(MedusaPeer::start());
    let admin = rt.block_on(peer.admin());
    rt.block_on(admin.create_products(&sample_products("BENCH", products)));
    let key = rt.block_on(admin.create_secret_key());
    let env = Env::for_peer(&key)?;
    master_channel(
        &env,
        &[
            "--type",
            "medusa",
            "--base-url",
            &peer.base_url,
            "--api-key-env",
            SECRET_ENV,
        ],
    )?;
    let page_size = page_size("medusa");
    let (tool, bare) = rounds(&env, products as u64, || {
        bare_medusa(&peer.base_url, &key, page_size, products)
    })?;
    table.ratio(
        format!(
            "import {} products from Medusa (wall)",
            thousands(products as u64)
        ),
        tool,
        &format!("bare REST client, pages of {page_size}"),
        bare,
        // Issue 20: faster than a bare sequential client.
        0.75,
    );
    Ok(())
}

/// The built-in type's `page-size`: the bare clients page like the tool.
fn page_size(channel_type: &str) -> usize {
    oms_channels::capabilities::Capabilities::built_in()
        .get(channel_type)
        .expect("a built-in type")
        .limits()
        .page_size
}

/// An account `bench` whose master is channel `store`, added with `flags`,
/// importing hourly.
fn master_channel(env: &Env, flags: &[&str]) -> Result<()> {
    env.run(&["account", "add", "bench"])?;
    let add: Vec<&str> = ["--account", "bench", "channel", "add", "store"]
        .into_iter()
        .chain(flags.iter().copied())
        .collect();
    env.run(&add)?;
    for (job, period) in [("auth-refresh", "1h"), ("import-products", "1h")] {
        env.run(&[
            "--account",
            "bench",
            "channel",
            "set-period",
            "store",
            job,
            period,
        ])?;
    }
    env.run(&[
        "--account",
        "bench",
        "account",
        "set-master-source",
        "store",
    ])?;
    Ok(())
}

/// A first run (auth and the first import), then `ROUNDS` full imports, each
/// followed by a bare fetch of the same pages; the medians of both.
fn rounds(
    env: &Env,
    expected: u64,
    mut bare: impl FnMut() -> Result<Duration>,
) -> Result<(Duration, Duration)> {
    let first = env.run(&["--account", "bench", "run-once", "--json"])?;
    ensure!(
        first.job_items("store", "import-products")? == expected,
        "the first import read a different number of products: {}",
        first.stdout
    );
    let (mut tool, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let run = env.run(&[
            "--account",
            "bench",
            "run-once",
            "--json",
            "--force",
            "--full",
            "--job",
            "import-products",
        ])?;
        ensure!(
            run.job_items("store", "import-products")? == expected,
            "a full import read a different number of products: {}",
            run.stdout
        );
        tool.push(run.wall);
        floor.push(bare()?);
    }
    Ok((median(tool), median(floor)))
}

/// Pages `productVariants` with the fields the connector reads, sorted the
/// same way, `page_size` at a time; counts the items, keeps nothing.
fn bare_vendure(url: &str, token: &str, page_size: usize, expected: usize) -> Result<Duration> {
    const QUERY: &str = "query($options: ProductVariantListOptions) { productVariants(options: $options) \
                         { items { id sku name price currencyCode stockOnHand updatedAt } } }";
    runtime()?.block_on(async {
        let http = reqwest::Client::new();
        let start = Instant::now();
        let mut seen = 0;
        loop {
            let options = json!({
                "take": page_size,
                "skip": seen,
                "sort": {"updatedAt": "ASC", "id": "ASC"},
            });
            let page: Value = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({"query": QUERY, "variables": {"options": options}}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let items = page["data"]["productVariants"]["items"]
                .as_array()
                .with_context(|| format!("not a variants page: {page}"))?
                .len();
            seen += items;
            if items < page_size {
                break;
            }
        }
        ensure!(
            seen == expected,
            "the bare client read {seen} variants, expected {expected}"
        );
        Ok(start.elapsed())
    })
}

/// Pages `/admin/products` in Medusa's default order with the connector's
/// `fields`, `page_size` at a time; counts the products, keeps nothing.
fn bare_medusa(base: &str, key: &str, page_size: usize, expected: usize) -> Result<Duration> {
    runtime()?.block_on(async {
        let http = reqwest::Client::new();
        let url = format!("{}/admin/products", base.trim_end_matches('/'));
        let limit = page_size.to_string();
        let start = Instant::now();
        let mut seen = 0;
        loop {
            let offset = seen.to_string();
            let page: Value = http
                .get(&url)
                .basic_auth(key, Some(""))
                .query(&[
                    ("limit", limit.as_str()),
                    ("offset", offset.as_str()),
                    ("fields", oms_channels::connector::medusa::PRODUCT_FIELDS),
                ])
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let products = page["products"]
                .as_array()
                .with_context(|| format!("not a products page: {page}"))?
                .len();
            seen += products;
            if products < page_size {
                break;
            }
        }
        ensure!(
            seen == expected,
            "the bare client read {seen} products, expected {expected}"
        );
        Ok(start.elapsed())
    })
}
