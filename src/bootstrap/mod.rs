//! Process wiring of each role (the entry layer of issue #12).

pub mod perspective;
