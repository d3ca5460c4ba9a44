//! The `hanko serve` role: wires configuration, storage, the CA, validation, the RA and the
//! ACME router together and serves HTTPS until SIGTERM/SIGINT, then shuts down gracefully.
//! Owns: process lifecycle. Must not touch: protocol or workflow rules.

use super::{audit_key_activation, issuer_pipeline, issuer_setup};
use crate::acme::{nonce::NonceService, render::Urls, router, AppState};
use crate::config::Config;
use crate::core::SystemClock;
use crate::issuance::devca;
use crate::metrics::Metrics;
use crate::ra::Ra;
use crate::validation::Validator;
use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

#[derive(Clone, Default)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        axum::http::HeaderValue::from_str(&crate::core::random_id())
            .ok()
            .map(RequestId::new)
    }
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let clock: Arc<dyn crate::core::Clock> = Arc::new(SystemClock);
    // Configuration-only gates first: an operator sees every missing piece before any HSM,
    // database or resolver is touched.
    crate::validation::check_publicly_trusted(&config, clock.now()).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&config.storage.data_dir).with_context(|| {
        format!(
            "creating data directory {}",
            config.storage.data_dir.display()
        )
    })?;
    let setup = issuer_setup(&config).await?;
    let storage = super::open(&config).await?;
    audit_key_activation(&storage, &setup).await?;
    let metrics = Arc::new(Metrics::new());
    // The resolvers must prove they validate (AD=1 on the probe name) before any validation.
    crate::validation::check_start(&config, clock.now()).await?;
    let validator = Arc::new(
        Validator::new(&config.validation, clock.clone())
            .context("validation setup")?
            .with_metrics(metrics.clone())
            .enforce_dated_minimum(config.has_publicly_trusted_profile(), clock.clone()),
    );
    let (listener_chain, listener_key) = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => (
            std::fs::read_to_string(cert).with_context(|| format!("reading {}", cert.display()))?,
            std::fs::read_to_string(key).with_context(|| format!("reading {}", key.display()))?,
        ),
        _ => match &setup.hierarchy {
            Some(hierarchy) => devca::listener_certificate(hierarchy)
                .context("issuing the listener certificate")?,
            // An HSM-backed CA key signs subscriber certificates only; the listener's
            // certificate comes from the operator.
            None => anyhow::bail!(
                "server.tls_cert and server.tls_key are required when ca.dev_hierarchy = false \
                 (there is no development hierarchy to issue the listener certificate)"
            ),
        },
    };
    let ocsp = crate::revocation::ocsp::Ocsp::new(
        storage.clone(),
        config.clone(),
        setup.issuer.clone(),
        clock.clone(),
        metrics.clone(),
    )?;
    let ca = Arc::new(issuer_pipeline(&config, setup.issuer)?);
    let ra = Ra::new(
        storage.clone(),
        config.clone(),
        clock.clone(),
        validator,
        ca,
        metrics.clone(),
    );
    ra.sync_profiles()
        .await
        .context("reconciling certificate profiles (ca.profiles)")?;
    ra.recover().await.context("recovering interrupted work")?;
    let state = Arc::new(AppState {
        ra: ra.clone(),
        config: config.clone(),
        nonces: NonceService::new(Duration::from_secs(config.acme.nonce_lifetime_seconds)),
        urls: Urls {
            base: config.base_url(),
        },
        metrics,
    });
    spawn_nonce_pruning(state.clone());
    let app = router(state.clone())
        .layer(DefaultBodyLimit::max(config.server.max_body_bytes))

        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId));
    let tls = tls_config(&listener_chain, &listener_key)?;
    let handle = axum_server::Handle::new();
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    let stopping = tokio_util::sync::CancellationToken::new();
    tokio::spawn(shutdown_on_signal(handle.clone(), grace, stopping.clone()));
    let status = spawn_status_listener(&config, &ra, &ocsp, stopping.clone())?;
    let presigner =
        crate::revocation::ocsp::presign::spawn(ocsp, ra.revocation_signal(), stopping.clone());
    let bad_keys = crate::revocation::bad_key::spawn(
        storage.clone(),
        clock,
        &config.revocation,
        stopping.clone(),
    );
    spawn_crl_publisher(&config, &ra, stopping.clone())?;
    // Work whose task could not record its end (database unreachable) is recovered while
    // the server runs, not only at the next start (DESIGN invariant 1).
    ra.spawn_sweeper(stopping.clone());
    tracing::info!(
        directory = %format!("{}/directory", config.base_url()),
        issuer = %setup.description,
        listen = %config.server.listen,
        database = %redact(&config.database_url()),
        "Hanko ACME server ready"
    );
    // TCP_NODELAY on every accepted connection: with Nagle on, a small TLS record written
    // after another (the TLS 1.3 session tickets after the handshake, a response split into
    // records) waits for the client's delayed ACK, ~40 ms on Linux — measured as 46 ms
    // new-account p50 by hanko-load (docs/PEERS.md) before this.
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls)
        .acceptor(axum_server::accept::NoDelayAcceptor::new());
    let mut server = axum_server::bind(config.server.listen)
        .acceptor(acceptor)
        .handle(handle);
    // A client that sends half a request head and stalls never reaches the router's
    // timeout; hyper drops it after header_read_timeout, which needs a timer to work.
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(config.server.request_timeout_seconds));
    server
        .serve(app.into_make_service())
        .await
        .with_context(|| format!("serving on {}", config.server.listen))?;
    stopping.cancel();
    let _ = tokio::time::timeout(grace, bad_keys).await;
    if let Some(status) = status {
        let _ = tokio::time::timeout(grace, status).await;
    }
    let _ = tokio::time::timeout(grace, presigner).await;
    ra.shutdown(grace).await;
    storage.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
}

fn tls_config(
    chain_pem: &str,
    key_pem: &str,
) -> anyhow::Result<axum_server::tls_rustls::RustlsConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("listener certificate PEM")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).context("listener key PEM")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("listener certificate and key")?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(server),
    ))
}

fn spawn_nonce_pruning(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            state.nonces.prune();
        }
    });
}

/// The plain-HTTP listener for CRLs, OCSP and the CA certificate (`server.http_listen`).
fn spawn_status_listener(
    config: &Arc<Config>,
    ra: &Arc<Ra>,
    ocsp: &Arc<crate::revocation::ocsp::Ocsp>,
    stopping: tokio_util::sync::CancellationToken,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    use crate::revocation::http;
    let Some(addr) = config.server.http_listen else {
        tracing::warn!("server.http_listen is unset: CRLs and OCSP are not served");
        return Ok(None);
    };
    let crl_path = http::url_path(&config.ca.crl_base_url)
        .map_err(|e| anyhow::anyhow!("ca.crl_base_url: {e}"))?;
    let ocsp_path =
        http::url_path(&config.ca.ocsp_url).map_err(|e| anyhow::anyhow!("ca.ocsp_url: {e}"))?;
    let router = http::ca_certificate_route(
        &config.ca.ca_issuers_url,
        ra.ca().issuer().certificate_der.clone(),
    )
    .map_err(|e| anyhow::anyhow!("ca.ca_issuers_url: {e}"))?
    .merge(crate::revocation::crl::http::routes(
        &http::crl_mount(&crl_path, &ocsp_path),
        ra.storage().clone(),
        ra.issuer_id().to_string(),
        config.crl.publish_delay_seconds,
        ra.clock.clone(),
    ))
    .merge(
        crate::revocation::ocsp::http::routes(&config.ca.ocsp_url, ocsp.clone())
            .map_err(|e| anyhow::anyhow!("ca.ocsp_url: {e}"))?,
    );
    let shared_crl_path = (crl_path == ocsp_path).then_some(crl_path);
    // Bind before reporting ready, so a port in use stops the start with its reason.
    let listener = std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .and_then(tokio::net::TcpListener::from_std)
        .with_context(|| format!("binding server.http_listen {addr}"))?;
    tracing::info!(listen = %addr, "status listener (CRLs, OCSP, CA certificate) ready");
    Ok(Some(tokio::spawn(async move {
        let shutdown = async move { stopping.cancelled().await };
        if let Err(e) = http::serve(listener, router, shared_crl_path, shutdown).await {
            tracing::error!(listen = %addr, error = %e, "status listener failed");
        }
    })))
}

/// The CRL publisher (revocation::crl::publisher): signs due shards every crl.poll_seconds.
fn spawn_crl_publisher(
    config: &Arc<Config>,
    ra: &Arc<Ra>,
    stopping: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    use crate::revocation::crl;
    let signer = crl::CrlSigner::new(
        ra.storage().clone(),
        config,
        ra.ca().issuer(),
        ra.clock.clone(),
    )
    .context("setting up CRL signing")?;
    let poll = Duration::from_secs(config.crl.poll_seconds);
    tokio::spawn(crl::publisher::run(
        Arc::new(signer),
        ra.metrics.clone(),
        poll,
        stopping,
    ));
    Ok(())
}

async fn shutdown_on_signal(
    handle: axum_server::Handle,
    grace: Duration,
    stopping: tokio_util::sync::CancellationToken,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down gracefully"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down gracefully"),
    }
    stopping.cancel();
    handle.graceful_shutdown(Some(grace));
}

/// Hide a password in a database URL for logging.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
