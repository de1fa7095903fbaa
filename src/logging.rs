//! Logs go to stderr through `tracing`; `-v` shows debug, `-vv` trace, `-q`
//! errors only, and `RUST_LOG` overrides all. Secrets are never logged.

use tracing_subscriber::EnvFilter;

pub fn init(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "oms_channels=debug,warn",
        (false, _) => "oms_channels=trace,debug",
    };
    let filter = crate::paths::env_value("RUST_LOG")
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let ansi = crate::paths::env_value("NO_COLOR").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}
