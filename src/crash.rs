//! Named crash points for the crash-safety tests: when
//! `OMS_CHANNELS_TEST_CRASH_AT` names a point, the process kills itself there
//! with SIGKILL, exactly as an OOM killer or a power cut would stop it. With
//! `<point>:term` it sends itself SIGTERM there instead, once, and carries on,
//! as when `systemctl stop` or a deadline lands right after that step.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

pub const ENV: &str = "OMS_CHANNELS_TEST_CRASH_AT";

/// Dies here if the crash-test variable names `point`. Costs one comparison otherwise.
pub fn point(point: &str) {
    static TARGET: OnceLock<Option<(String, rustix::process::Signal)>> = OnceLock::new();
    static SENT: AtomicBool = AtomicBool::new(false);
    let target = TARGET.get_or_init(|| {
        let value = std::env::var(ENV).ok().filter(|v| !v.is_empty())?;
        Some(match value.strip_suffix(":term") {
            Some(name) => (name.to_string(), rustix::process::Signal::TERM),
            None => (value, rustix::process::Signal::KILL),
        })
    });
    if let Some((name, signal)) = target
        && name == point
        && !SENT.swap(true, Ordering::SeqCst)
    {
        let _ = rustix::process::kill_process(rustix::process::getpid(), *signal);
    }
}
