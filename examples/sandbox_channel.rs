//! The sandbox beta-rest channel as a process, for the quick start and the
//! benchmarks: prints one JSON line with its URLs and credentials on stdout,
//! then serves on loopback until SIGTERM or SIGINT.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

use sandbox::{RateHeaders, Sandbox, SandboxConfig, Switches};

/// A strict beta-rest channel on 127.0.0.1 with seeded products and fault switches.
#[derive(Parser, Debug)]
#[command(name = "sandbox_channel")]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Number of seeded products (`SKU-0000001` ..., or `prod-0000001` ... with variants).
    #[arg(long, default_value_t = 1000)]
    products: u64,
    /// Variants of each seeded product (`SKU-0000001-1` ...); 0 seeds flat products.
    #[arg(long, default_value_t = 0)]
    variants_per_product: u32,
    /// Delay before every protocol reply.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fraction (0 to 1) of product requests answered 500.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Answer every Nth product request with 429.
    #[arg(long)]
    rate_limit_every: Option<u32>,
    /// `Retry-After` seconds sent with 429 and 503.
    #[arg(long, default_value_t = 1)]
    retry_after_secs: u64,
    /// Enforce a rate: requests per second (a token bucket over every
    /// protocol request); a request past it is answered 429 with Retry-After.
    #[arg(long)]
    rate_per_second: Option<f64>,
    /// Requests the enforced rate lets through at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rate_burst: u32,
    /// Rate headers sent while a rate is enforced: none, ietf,
    /// ratelimit-fields, x-ratelimit, x-ratelimit-epoch or shopify.
    #[arg(long, default_value = "none")]
    rate_headers: RateHeaders,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: u64,
    /// Issue a new refresh token on every refresh (the default).
    #[arg(long, overrides_with = "no_rotate")]
    rotate: bool,
    /// Keep the same refresh token across refreshes.
    #[arg(long, overrides_with = "rotate")]
    no_rotate: bool,
    /// Revoke the grant when a rotated-out refresh token is replayed.
    #[arg(long)]
    reuse_detection: bool,
    /// Allow `grant_type=client_credentials`.
    #[arg(long)]
    client_credentials: bool,
    #[arg(long, default_value = "demo-client")]
    client_id: String,
    #[arg(long, default_value = "demo-secret")]
    client_secret: String,
    /// Largest `limit` accepted by `GET /products`.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    max_page_size: u32,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let switches = Switches {
        latency_ms: args.latency_ms,
        error_rate: args.error_rate,
        rate_limit_every: args.rate_limit_every,
        rate_per_second: args.rate_per_second,
        rate_burst: args.rate_burst,
        rate_headers: args.rate_headers,
        retry_after_secs: args.retry_after_secs,
        token_lifetime_secs: args.token_lifetime,
        rotate_refresh_tokens: !args.no_rotate,
        reuse_detection: args.reuse_detection,
        client_credentials: args.client_credentials,
        ..Switches::default()
    };
    if let Err(msg) = switches.check() {
        eprintln!("sandbox_channel: {msg}");
        return ExitCode::from(2);
    }
    let config = SandboxConfig {
        port: args.port,
        products: args.products,
        variants_per_product: args.variants_per_product,
        client_id: args.client_id,
        client_secret: args.client_secret,
        max_page_size: args.max_page_size,
        refresh_token: None,
        switches,
        ..SandboxConfig::default()
    };
    // Installed before the ready line, so a stop right after it is still clean.
    let stop = match StopSignals::install() {
        Ok(stop) => stop,
        Err(err) => {
            eprintln!("sandbox_channel: cannot install signal handlers: {err}");
            return ExitCode::from(1);
        }
    };
    let sandbox = match Sandbox::try_start(config).await {
        Ok(sandbox) => sandbox,
        Err(err) => {
            eprintln!(
                "sandbox_channel: cannot listen on 127.0.0.1:{}: {err}",
                args.port
            );
            return ExitCode::from(1);
        }
    };
    let ready = serde_json::json!({
        "base_url": sandbox.base_url(),
        "token_url": sandbox.token_url(),
        "client_id": sandbox.client_id(),
        "client_secret": sandbox.client_secret(),
        "refresh_token": sandbox.current_refresh_token(),
    });
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{ready}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        // Whoever started us is gone; nobody can use the server.
        return ExitCode::from(1);
    }
    drop(stdout);

    stop.wait().await;
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}

/// SIGTERM (from a supervisor) and SIGINT (Ctrl-C) both stop the server.
struct StopSignals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}
