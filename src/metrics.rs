//! Prometheus metrics (`/metrics`): requests by endpoint and status, validations by method
//! and result, orders by status (read from storage at scrape time), issuance latency.
//! Owns: metric definitions. Must not touch: anything it measures.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ValidationLabels {
    pub method: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    /// `lint` (prepare + lint certificate + linter), `sign` (precertificate or certificate
    /// in the HSM), `ct` (SCTs until the policy is met), `sign_final`, `record`.
    pub step: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

/// A CRL shard (CP 4.9.7).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShardLabels {
    pub shard: String,
}

/// A validation perspective (BR 3.2.2.9): `local` for the primary, else the configured id.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PerspectiveLabels {
    pub perspective: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

pub struct Metrics {
    registry: Registry,
    /// Seconds since each CRL shard's thisUpdate, refreshed by the CRL publisher's poll.
    pub crl_age_seconds: Family<ShardLabels, Gauge>,
    /// Entries on each CRL shard's last CRL.
    pub crl_entries: Family<ShardLabels, Gauge>,
    /// OCSP requests by result: good, revoked, unauthorized, malformed, other_issuer,
    /// busy, error.
    pub ocsp_requests: Family<ResultLabels, Counter>,
    /// OCSP requests for serials this CA never issued (CP 4.9.9).
    pub ocsp_unknown_serial_requests: Counter,
    /// Age (now − producedAt) of each OCSP response served.
    pub ocsp_served_age_seconds: Histogram,
    /// Age of the oldest stored OCSP response (CP 4.9.10 refresh schedule).
    pub ocsp_oldest_response_age_seconds: Gauge,
    pub requests: Family<RequestLabels, Counter>,
    pub validations: Family<ValidationLabels, Counter>,
    pub orders: Family<StatusLabels, Gauge>,
    pub issuance_seconds: Histogram,
    pub issuance_step_seconds: Family<StepLabels, Histogram>,
    /// Validation requests per perspective, their failures (including non-answers) and
    /// latency (BR 3.2.2.9 operations).
    pub perspective_requests: Family<PerspectiveLabels, Counter>,
    pub perspective_failures: Family<PerspectiveLabels, Counter>,
    pub perspective_seconds: Family<PerspectiveLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("hanko");
        let requests = Family::<RequestLabels, Counter>::default();
        let validations = Family::<ValidationLabels, Counter>::default();
        let orders = Family::<StatusLabels, Gauge>::default();
        // 5 ms … ~40 s: finalize-to-certificate, including future lint and CT steps.
        let issuance_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "http_requests",
            "ACME requests by endpoint and status",
            requests.clone(),
        );
        registry.register(
            "validations",
            "Validation attempts by method and result",
            validations.clone(),
        );
        registry.register("orders", "Orders by status", orders.clone());
        registry.register(
            "issuance_seconds",
            "Time from finalize to stored certificate",
            issuance_seconds.clone(),
        );
        // 0.5 ms … ~4 s: one step of the issuance cycle.
        let issuance_step_seconds = Family::<StepLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register(
            "issuance_step_seconds",
            "Time of each issuance step (lint, sign, ct, sign_final, record)",
            issuance_step_seconds.clone(),
        );
        let crl_age_seconds = Family::<ShardLabels, Gauge>::default();
        let crl_entries = Family::<ShardLabels, Gauge>::default();
        registry.register(
            "crl_age_seconds",
            "Seconds since the thisUpdate of each CRL shard",
            crl_age_seconds.clone(),
        );
        registry.register(
            "crl_entries",
            "Entries on the last CRL of each shard",
            crl_entries.clone(),
        );
        let ocsp_requests = Family::<ResultLabels, Counter>::default();
        registry.register(
            "ocsp_requests",
            "OCSP requests by result",
            ocsp_requests.clone(),
        );
        let ocsp_unknown_serial_requests = Counter::default();
        registry.register(
            "ocsp_unknown_serial_requests",
            "OCSP requests for serials this CA never issued",
            ocsp_unknown_serial_requests.clone(),
        );
        // 1 min … ~6 days.
        let ocsp_served_age_seconds = Histogram::new(exponential_buckets(60.0, 2.0, 14));
        registry.register(
            "ocsp_served_age_seconds",
            "Age (now - producedAt) of OCSP responses served",
            ocsp_served_age_seconds.clone(),
        );
        let ocsp_oldest_response_age_seconds = Gauge::default();
        registry.register(
            "ocsp_oldest_response_age_seconds",
            "Age of the oldest stored OCSP response",
            ocsp_oldest_response_age_seconds.clone(),
        );
        let perspective_requests = Family::<PerspectiveLabels, Counter>::default();
        let perspective_failures = Family::<PerspectiveLabels, Counter>::default();
        // 1 ms … ~16 s: one perspective's answer, remote ones included.
        let perspective_seconds =
            Family::<PerspectiveLabels, Histogram>::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 2.0, 15))
            });
        registry.register(
            "perspective_requests",
            "Validation requests by perspective",
            perspective_requests.clone(),
        );
        registry.register(
            "perspective_failures",
            "Validation requests by perspective that did not pass (or got no answer)",
            perspective_failures.clone(),
        );
        registry.register(
            "perspective_seconds",
            "Time of one validation by perspective",
            perspective_seconds.clone(),
        );
        Metrics {
            registry,
            perspective_requests,
            perspective_failures,
            perspective_seconds,
            crl_age_seconds,
            crl_entries,
            ocsp_requests,
            ocsp_unknown_serial_requests,
            ocsp_served_age_seconds,
            ocsp_oldest_response_age_seconds,
            requests,
            validations,
            orders,
            issuance_seconds,
            issuance_step_seconds,
        }
    }

    /// Record how long one issuance step took.
    pub fn step(&self, step: &str, started: std::time::Instant) {
        self.issuance_step_seconds
            .get_or_create(&StepLabels {
                step: step.to_string(),
            })
            .observe(started.elapsed().as_secs_f64());
    }

    /// Record one perspective's validation: its latency and whether it passed.
    pub fn perspective(&self, id: &str, passed: bool, elapsed: std::time::Duration) {
        let labels = PerspectiveLabels {
            perspective: id.to_string(),
        };
        self.perspective_requests.get_or_create(&labels).inc();
        if !passed {
            self.perspective_failures.get_or_create(&labels).inc();
        }
        self.perspective_seconds
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Count one OCSP request by its result.
    pub fn ocsp_request(&self, result: &str) {
        self.ocsp_requests
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
    }

    /// Text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
