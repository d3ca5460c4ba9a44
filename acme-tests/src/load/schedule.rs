//! When subscribers may start an issuance: the ramp, the optional target rate, and the end
//! of the run. Pure functions of elapsed time so they can be unit-tested.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Closed loop: subscriber `i` of `n` starts `ramp * i / n` after the run begins, so the
/// concurrency climbs linearly to `n` over the ramp.
pub fn subscriber_start_delay(i: usize, n: usize, ramp: Duration) -> Duration {
    if n == 0 {
        return Duration::ZERO;
    }
    ramp.mul_f64(i as f64 / n as f64)
}

/// Open loop: how many issuances should have been started `t` seconds into the run when
/// the rate climbs linearly from 0 to `rate`/s over `ramp` seconds and then holds (the
/// integral of the rate curve).
pub fn starts_due(t: f64, rate: f64, ramp: f64) -> f64 {
    if t <= 0.0 || rate <= 0.0 {
        return 0.0;
    }
    if ramp <= 0.0 {
        return rate * t;
    }
    if t <= ramp {
        rate * t * t / (2.0 * ramp)
    } else {
        rate * ramp / 2.0 + rate * (t - ramp)
    }
}

/// The end of the run: a deadline, a number of issuance attempts, or both.
pub struct Budget {
    deadline: Option<Instant>,
    attempts: Option<usize>,
    started: AtomicUsize,
}

impl Budget {
    pub fn new(deadline: Option<Instant>, attempts: Option<usize>) -> Budget {
        Budget {
            deadline,
            attempts,
            started: AtomicUsize::new(0),
        }
    }

    /// Claim one more attempt: its index, or `None` when the run is over.
    pub fn take(&self, now: Instant) -> Option<usize> {
        if self.deadline.is_some_and(|d| now >= d) {
            return None;
        }
        let i = self.started.fetch_add(1, Ordering::Relaxed);
        match self.attempts {
            Some(max) if i >= max => None,
            _ => Some(i),
        }
    }

    /// Whether no further attempt will be granted (without claiming one).
    pub fn exhausted(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d)
            || self
                .attempts
                .is_some_and(|max| self.started.load(Ordering::Relaxed) >= max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_loop_ramp_spreads_starts() {
        let ramp = Duration::from_secs(10);
        assert_eq!(subscriber_start_delay(0, 4, ramp), Duration::ZERO);
        assert_eq!(subscriber_start_delay(2, 4, ramp), Duration::from_secs(5));
        assert_eq!(subscriber_start_delay(3, 4, Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn open_loop_integral_of_ramp_then_hold() {
        // 10/s after a 4 s ramp: 20 starts during the ramp, then 10 per second.
        assert_eq!(starts_due(0.0, 10.0, 4.0), 0.0);
        assert!((starts_due(2.0, 10.0, 4.0) - 5.0).abs() < 1e-9);
        assert!((starts_due(4.0, 10.0, 4.0) - 20.0).abs() < 1e-9);
        assert!((starts_due(6.0, 10.0, 4.0) - 40.0).abs() < 1e-9);
        assert!((starts_due(3.0, 10.0, 0.0) - 30.0).abs() < 1e-9);
    }

    #[test]
    fn budget_counts_attempts_and_deadline() {
        let now = Instant::now();
        let b = Budget::new(None, Some(2));
        assert_eq!(b.take(now), Some(0));
        assert_eq!(b.take(now), Some(1));
        assert!(b.exhausted(now));
        assert_eq!(b.take(now), None);
        let b = Budget::new(Some(now), None);
        assert_eq!(b.take(now), None);
    }
}
