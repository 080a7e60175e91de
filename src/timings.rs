//! `POOLGUARD_TIMINGS=1`: each phase's wall time on stderr, for finding where a slow run
//! spends its time (README, Performance). Off, it costs one environment lookup per run.

use std::time::Instant;

/// Marks the end of successive phases of a run.
pub struct Phases {
    last: Option<Instant>,
}

impl Phases {
    /// Starts timing when `POOLGUARD_TIMINGS` is set (to anything but `0`).
    pub fn start() -> Phases {
        let on = std::env::var_os("POOLGUARD_TIMINGS").is_some_and(|v| v != "0");
        Phases {
            last: on.then(Instant::now),
        }
    }

    /// Ends the phase called `name`: prints its duration when timing is on.
    pub fn mark(&mut self, name: &str) {
        if let Some(last) = self.last {
            let now = Instant::now();
            eprintln!(
                "poolguard: timing: {name:<22} {:>8.1} ms",
                (now - last).as_secs_f64() * 1000.0
            );
            self.last = Some(now);
        }
    }
}
