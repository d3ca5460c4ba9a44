//! Revocation status: sharded CRLs and their publisher, the OCSP pre-signer and responder,
//! and the bad-key revoker (CP 4.9, 4.10, 7.2, 7.3). Revocation *requests* are workflow and
//! live in `ra::revoke`; this module turns the `revoked_certificates` rows they write into
//! signed CRLs and OCSP responses.
//! Owns: CRL and OCSP bytes, their schedules and the plain-HTTP status listener. Must not
//! touch: CA keys except through `issuance::signer`; order or account state.

pub mod bad_key;
pub mod crl;
pub mod http;
pub mod ocsp;
