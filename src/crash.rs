//! Named crash points for the crash-safety tests: when
//! `OMS_CHANNELS_TEST_CRASH_AT` names a point, the process kills itself there
//! with SIGKILL, exactly as an OOM killer or a power cut would stop it.

use std::sync::OnceLock;

pub const ENV: &str = "OMS_CHANNELS_TEST_CRASH_AT";

/// Dies here if the crash-test variable names `point`. Costs one comparison otherwise.
pub fn point(point: &str) {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    let target = TARGET.get_or_init(|| std::env::var(ENV).ok().filter(|v| !v.is_empty()));
    if target.as_deref() == Some(point) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}
