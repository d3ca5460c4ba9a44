//! Policy decisions, never writes: identifier rules (CP 3.1, 3.2.2, 4.2.2, 7.1.4), key
//! quality (CPS 6.1.5/6.1.6, BR 6.1.1.3), and the dated BR table.
//! Owns: yes/no answers with reasons. Must not touch: storage, network, clocks (callers pass
//! the date).

pub mod caa;
pub mod dated;
pub mod fermat;
pub mod keys;
pub mod mpic;
pub mod names;
pub mod roca;
