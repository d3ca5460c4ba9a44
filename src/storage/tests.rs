//! Storage battery: see storage_battery.rs
