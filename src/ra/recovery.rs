//! Start-up recovery: work interrupted by a crash or restart is finished or failed cleanly,
//! never left hanging (DESIGN invariant 1).

use super::{Ra, RaResult};
use crate::storage::queries as q;
use std::sync::Arc;

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
            // finalize stores the order's `processing` status and its reserved serial in one
            // transaction, so every processing order has one.
            let serials = q::serials_for_order(c, &order.id).await?;
            for s in serials.iter().filter(|s| s.status == "reserved") {
                self.fail_interrupted_issuance(&order.id, &s.serial).await?;
            }
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
}
