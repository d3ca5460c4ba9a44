//! The router of `hanko perspective`: `GET /health` and `POST /v1/validate`. The listener
//! (mutual TLS) is set up by `bootstrap::perspective`; by the time a request gets here its
//! caller has presented a certificate from the configured client CA.

use super::protocol::{WireRequest, WireResponse};
use super::{MAX_BODY_BYTES, VALIDATE_PATH};
use crate::validation::Perspective;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;

struct Role {
    id: String,
    rir: String,
    perspective: Arc<dyn Perspective>,
}

/// The perspective's routes; `perspective` runs every check (a `LocalPerspective` with the
/// role's own resolver and settings).
pub fn router(id: &str, rir: &str, perspective: Arc<dyn Perspective>) -> Router {
    let role = Arc::new(Role {
        id: id.to_string(),
        rir: rir.to_string(),
        perspective,
    });
    Router::new()
        .route("/health", get(health))
        .route(VALIDATE_PATH, post(validate))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(role)
}

async fn health(State(role): State<Arc<Role>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "id": role.id, "rir": role.rir}))
}

async fn validate(
    State(role): State<Arc<Role>>,
    Json(request): Json<WireRequest>,
) -> Result<Json<WireResponse>, (StatusCode, String)> {
    let request = request
        .into_request()
        .map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    let outcome = role.perspective.validate(&request).await;
    tracing::info!(
        identifier = %request.identifier.value,
        result = if outcome.result.is_ok() { "valid" } else { "invalid" },
        "validation for the primary"
    );
    Ok(Json(WireResponse::from_outcome(
        &role.id, &role.rir, outcome,
    )))
}
