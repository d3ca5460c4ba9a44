//! In-memory cache of stored responses, so the fast path is usually no database read.
//! Correctness: this process's pre-signer replaces an entry when it stores a new response;
//! every second, `sync` drops the entries of every response stored since (a 30 s window
//! before) the previous sync, by any process, so a response re-signed elsewhere (another
//! `hanko serve`, `hanko admin ocsp refresh`) is served within about a second. Entries
//! past their nextUpdate are never served.

use crate::storage::entities::ocsp_response;
use chrono::{DateTime, Duration, Utc};
use dashmap::DashMap;
use std::sync::Arc;

/// Responses stored this long before the previous sync are looked at again: a row's
/// producedAt is taken before its transaction commits, and a request may put a row it
/// read just before the sync.
pub const SYNC_OVERLAP: Duration = Duration::seconds(30);

pub struct ResponseCache {
    map: DashMap<String, Arc<ocsp_response::Model>>,
    capacity: usize,
    synced_at: std::sync::Mutex<Option<DateTime<Utc>>>,
}

impl ResponseCache {
    pub fn new(capacity: usize) -> ResponseCache {
        ResponseCache {
            map: DashMap::new(),
            capacity,
            synced_at: std::sync::Mutex::new(None),
        }
    }

    /// The cached response of `serial` if it is still within its validity.
    pub fn get(&self, serial: &str, now: DateTime<Utc>) -> Option<Arc<ocsp_response::Model>> {
        self.map
            .get(serial)
            .map(|e| e.value().clone())
            .filter(|m| m.next_update > now)
    }

    pub fn put(&self, model: Arc<ocsp_response::Model>) {
        if self.capacity == 0 {
            return;
        }
        if self.map.len() >= self.capacity {
            // Drop about a tenth, whichever entries come first: cheap, and a dropped entry
            // costs one database read.
            let mut budget = (self.capacity / 10).max(1);
            self.map.retain(|_, _| {
                if budget == 0 {
                    return true;
                }
                budget -= 1;
                false
            });
        }
        self.map.insert(model.serial.clone(), model);
    }

    pub fn forget(&self, serial: &str) {
        self.map.remove(serial);
    }

    /// The lower bound for the next sync query, and records `now` as this sync's time.
    pub fn begin_sync(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut guard = match self.synced_at.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.replace(now).map(|last| last - SYNC_OVERLAP)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(serial: &str, next_update: DateTime<Utc>) -> Arc<ocsp_response::Model> {
        Arc::new(ocsp_response::Model {
            serial: serial.into(),
            der: vec![1],
            cert_status: "good".into(),
            this_update: next_update - Duration::days(7),
            next_update,
            produced_at: next_update - Duration::days(7),
            responder_id: "issuer".into(),
        })
    }

    #[test]
    fn expired_entries_are_not_served_and_capacity_is_kept() {
        let now = Utc::now();
        let cache = ResponseCache::new(10);
        cache.put(model("a", now + Duration::hours(1)));
        cache.put(model("b", now - Duration::seconds(1)));
        assert!(cache.get("a", now).is_some());
        assert!(cache.get("b", now).is_none());
        cache.forget("a");
        assert!(cache.get("a", now).is_none());
        for i in 0..100 {
            cache.put(model(&i.to_string(), now + Duration::hours(1)));
        }
        assert!(cache.len() <= 10);
        assert!(cache.get("99", now).is_some(), "the newest entry is kept");
    }

    #[test]
    fn sync_windows_overlap() {
        let cache = ResponseCache::new(10);
        let t = Utc::now();
        assert_eq!(cache.begin_sync(t), None);
        assert_eq!(
            cache.begin_sync(t + Duration::seconds(1)),
            Some(t - SYNC_OVERLAP)
        );
    }
}
