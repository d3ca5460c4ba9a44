//! Development-only software keys (CPS 6.2: a publicly-trusted CA key lives in an HSM).
