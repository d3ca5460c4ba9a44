//! `hanko perspective`: a remote perspective of multi-perspective issuance corroboration
//! (BR 3.2.2.9). It serves `POST /v1/validate` and `GET /health` over HTTPS with mutual TLS
//! (callers without a certificate from `perspective.client_ca` are refused in the
//! handshake) and validates with its own `LocalPerspective`: its own resolver
//! (`validation.dns_resolvers`), no cache shared with any other perspective, and its own
//! address policy (`validation.allow_private_addresses`, off by default exactly as on the
//! primary: a perspective must not become a way into private networks).
//! No storage: the primary records every outcome.

use crate::config::Config;
use crate::core::{Clock, SystemClock};
use crate::validation::remote::{router, server_tls};
use crate::validation::LocalPerspective;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let Some(role) = config.perspective.clone() else {
        anyhow::bail!(
            "[perspective] section missing: hanko perspective needs listen, id, rir, \
             tls_cert, tls_key and client_ca"
        );
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tls = server_tls(&role, clock.now()).context("perspective mTLS credentials")?;
    let local = LocalPerspective::new(&config.validation, clock)
        .context("validation setup ([validation])")?
        .with_id(&role.id);
    let app = router(&role.id, &role.rir, Arc::new(local));
    let handle = axum_server::Handle::new();
    tokio::spawn(stop_on_signal(handle.clone()));
    tracing::info!(
        id = %role.id,
        rir = %role.rir,
        listen = %role.listen,
        allow_private_addresses = config.validation.allow_private_addresses,
        "Hanko remote perspective ready"
    );
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls));
    axum_server::bind_rustls(role.listen, tls)
        .handle(handle)
        .serve(app.into_make_service())
        .await
        .with_context(|| format!("serving on {} (perspective.listen)", role.listen))?;
    tracing::info!("perspective shut down");
    Ok(())
}

/// SIGTERM or SIGINT: stop accepting, give in-flight validations their attempt timeout.
async fn stop_on_signal(handle: axum_server::Handle) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    handle.graceful_shutdown(Some(Duration::from_secs(10)));
}
