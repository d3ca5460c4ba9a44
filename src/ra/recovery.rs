//! Recovery of interrupted work, so nothing is left hanging (DESIGN invariant 1): at start-up
//! (`recover`, after a crash or restart) and, while the server runs, a periodic sweep
//! (`spawn_sweeper`) for work whose task ended without recording its result — typically
//! because the database was unreachable at that moment (docs/FAULTS.md found orders left
//! `processing` until the next restart after a PostgreSQL outage during finalize).
//!
//! The sweep only touches work no task of THIS process is doing (`InFlight`); hanko runs one
//! serving process per database today (nonces are per process, ARCHITECTURE "Concurrency"),
//! so that is all the work there is. Scale-out roles will need a lease per order instead.

use super::{Ra, RaResult};
use crate::storage::queries as q;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the running server looks for stale work.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// An order `processing` for this long with no issuance task of ours on it is failed: a
/// margin over the instant between finalize's commit and its task registering (microseconds).
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// Ids of orders being issued and challenges being validated by tasks of this process. A
/// guard removes its id when the task ends in any way, panics included.
#[derive(Default, Clone)]
pub(crate) struct InFlight(Arc<Mutex<HashSet<String>>>);

pub(crate) struct InFlightGuard {
    set: InFlight,
    id: String,
}

impl InFlight {
    pub(crate) fn enter(&self, id: &str) -> InFlightGuard {
        self.lock().insert(id.to_string());
        InFlightGuard {
            set: self.clone(),
            id: id.to_string(),
        }
    }

    fn snapshot(&self) -> HashSet<String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.set.lock().remove(&self.id);
    }
}

/// An order left `processing`: no task of ours issues it and it has not changed for
/// `STALE_AFTER`.
pub(crate) fn order_is_stale(now: DateTime<Utc>, updated_at: DateTime<Utc>, ours: bool) -> bool {
    let age = now.signed_duration_since(updated_at);
    !ours && age.to_std().is_ok_and(|a| a >= STALE_AFTER)
}

/// Challenges have no change time: one is re-validated when two consecutive sweeps (at least
/// `SWEEP_EVERY` apart) saw it `processing` with no task of ours on it. Returns (to
/// revalidate, suspects for the next sweep).
pub(crate) fn challenges_to_revalidate(
    processing: &[String],
    suspects: &HashSet<String>,
    ours: &HashSet<String>,
) -> (Vec<String>, HashSet<String>) {
    let mut due = Vec::new();
    let mut next = HashSet::new();
    for id in processing.iter().filter(|id| !ours.contains(*id)) {
        if suspects.contains(id) {
            due.push(id.clone());
        } else {
            next.insert(id.clone());
        }
    }
    (due, next)
}

impl Ra {
    /// Re-run validations left `processing`, and fail orders whose issuance was interrupted
    /// (their serial stays reserved and is never reused).
    pub async fn recover(self: &Arc<Self>) -> RaResult<()> {
        let c = self.storage.reader();
        let challenges = q::challenges_with_status(c, "processing").await?;
        for chall in &challenges {
            self.spawn_validation(chall.id.clone());
        }
        let orders = q::orders_with_status(c, "processing").await?;
        for order in &orders {
            self.fail_stale_order(&order.id).await?;
        }
        if !challenges.is_empty() || !orders.is_empty() {
            tracing::warn!(
                validations = challenges.len(),
                orders = orders.len(),
                "recovered interrupted work"
            );
        }
        Ok(())
    }

    async fn fail_stale_order(&self, order_id: &str) -> RaResult<()> {
        // finalize stores the order's `processing` status and its reserved serial in one
        // transaction, so every processing order has one.
        let serials = q::serials_for_order(self.storage.reader(), order_id).await?;
        for s in serials.iter().filter(|s| s.status == "reserved") {
            self.fail_interrupted_issuance(order_id, &s.serial).await?;
        }
        Ok(())
    }

    /// One sweep of the running server: fail stale `processing` orders, re-validate stale
    /// `processing` challenges. Returns (orders failed, challenges re-validated, suspects).
    pub(crate) async fn sweep(
        self: &Arc<Self>,
        suspects: &HashSet<String>,
    ) -> RaResult<(usize, usize, HashSet<String>)> {
        let c = self.storage.reader();
        let now = self.clock.now();
        let ours = self.in_flight.snapshot();
        let mut failed = 0;
        for order in q::orders_with_status(c, "processing").await? {
            if order_is_stale(now, order.updated_at, ours.contains(&order.id)) {
                self.fail_stale_order(&order.id).await?;
                failed += 1;
            }
        }
        let processing: Vec<String> = q::challenges_with_status(c, "processing")
            .await?
            .into_iter()
            .map(|ch| ch.id)
            .collect();
        let (due, next) = challenges_to_revalidate(&processing, suspects, &ours);
        for id in &due {
            self.spawn_validation(id.clone());
        }
        Ok((failed, due.len(), next))
    }

    /// Sweep every `SWEEP_EVERY` until `stopping`; a failed sweep (database unreachable) is
    /// logged and tried again next time.
    pub fn spawn_sweeper(
        self: &Arc<Self>,
        stopping: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let ra = Arc::clone(self);
        tokio::spawn(async move {
            let mut suspects = HashSet::new();
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stopping.cancelled() => return,
                    _ = tick.tick() => {}
                }
                match ra.sweep(&suspects).await {
                    Ok((orders, challenges, next)) => {
                        if orders > 0 || challenges > 0 {
                            tracing::warn!(
                                orders,
                                challenges,
                                "recovered work left unfinished in the running server"
                            );
                        }
                        suspects = next;
                    }
                    Err(e) => tracing::warn!(error = %e, "recovery sweep failed; retrying"),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_stale_only_when_nobody_here_issues_it_and_it_is_old() {
        let now = Utc::now();
        let old = now - chrono::Duration::seconds(11);
        let fresh = now - chrono::Duration::seconds(9);
        assert!(order_is_stale(now, old, false));
        assert!(
            !order_is_stale(now, old, true),
            "our task still works on it"
        );
        assert!(
            !order_is_stale(now, fresh, false),
            "finalize just committed it"
        );
        assert!(!order_is_stale(
            now,
            now + chrono::Duration::seconds(30),
            false
        ));
        assert!(order_is_stale(
            now,
            now - chrono::Duration::seconds(10),
            false
        ));
    }

    #[test]
    fn a_challenge_is_revalidated_on_its_second_sighting_without_a_task() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        // First sweep: both are suspects, nothing is due.
        let (due, next) = challenges_to_revalidate(&ids(&["a", "b"]), &set(&[]), &set(&["b"]));
        assert!(due.is_empty());
        assert_eq!(next, set(&["a"]));
        // Second sweep: "a" is still processing with no task: due; "c" is new: suspect.
        let (due, next) = challenges_to_revalidate(&ids(&["a", "c"]), &next, &set(&[]));
        assert_eq!(due, ids(&["a"]));
        assert_eq!(next, set(&["c"]));
        // A suspect that finished meanwhile is forgotten.
        let (due, next) = challenges_to_revalidate(&ids(&[]), &next, &set(&[]));
        assert!(due.is_empty() && next.is_empty());
    }
}
