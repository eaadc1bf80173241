//! The HTTP API: toxiproxy 2.x routes, status codes and JSON shapes.
//!
//! | route | methods | success |
//! |---|---|---|
//! | `/version` | GET | 200 `{"version": ...}` |
//! | `/reset` | POST | 204 |
//! | `/proxies` | GET, POST | 200 `{name: proxy}`, 201 proxy |
//! | `/populate` | POST | 201 `{"proxies": [...]}` |
//! | `/proxies/{proxy}` | GET, PATCH/POST, DELETE | 200, 200, 204 |
//! | `/proxies/{proxy}/toxics` | GET, POST | 200 `[toxic]`, 200 toxic |
//! | `/proxies/{proxy}/toxics/{toxic}` | GET, PATCH/POST, DELETE | 200, 200, 204 |
//!
//! Errors are `{"error": message, "status": code}` (api.go `ApiError`, written by
//! `ApiServer.apiError`): 400 bad body or missing field, 404 unknown proxy or toxic, 409 duplicate
//! name, 500 a listener that cannot bind. As toxiproxy does, requests from browsers
//! (`User-Agent: Mozilla/...`) are refused with 403, since the API has no authentication.
//!
//! Every other error is in the same JSON shape too: an unknown route (404), a wrong method (405),
//! a body over the size limit (413), a path that is not UTF-8 once decoded (400). toxiproxy answers
//! those from gorilla/mux and net/http with plain text or an empty body (and its 403 is plain
//! text); electune answers JSON so that a client can always read `error` and `status`.

use std::sync::Arc;

use axum::body::{to_bytes, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::registry::{ApiError, Registry};
use crate::toxiproxy::Version;

type Reg = State<Arc<Registry>>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.message, "status": self.status.as_u16()})),
        )
            .into_response()
    }
}

/// Builds the API router over a registry.
pub(crate) fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/reset", post(reset))
        .route("/proxies", get(proxy_index).post(proxy_create))
        .route("/populate", post(populate))
        .route(
            "/proxies/{proxy}",
            get(proxy_show)
                .post(proxy_update)
                .patch(proxy_update)
                .delete(proxy_delete),
        )
        .route(
            "/proxies/{proxy}/toxics",
            get(toxic_index).post(toxic_create),
        )
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(toxic_show)
                .post(toxic_update)
                .patch(toxic_update)
                .delete(toxic_delete),
        )
        .fallback(unknown_route)
        .layer(middleware::from_fn(stop_browsers))
        .layer(middleware::from_fn(json_errors))
        .with_state(registry)
}

async fn stop_browsers(req: Request, next: Next) -> Response {
    let browser = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("Mozilla/"));
    if browser {
        return ApiError::new(StatusCode::FORBIDDEN, "User agent not allowed").into_response();
    }
    next.run(req).await
}

async fn unknown_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "page not found")
}

/// The most of an error body kept as its message.
const ERROR_BODY_LIMIT: usize = 4096;

/// Rewrites every error answer that is not already `{"error", "status"}` JSON (axum's own
/// rejections: 405, 413, a bad path) into that shape, keeping the status and the text.
async fn json_errors(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let status = resp.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was never read: the connection cannot carry another request, so
        // say so rather than let a keep-alive client send one into a socket about to close.
        resp.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (_, body) = resp.into_parts();
    let text = match to_bytes(body, ERROR_BODY_LIMIT).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let mut out = ApiError::new(status, message).into_response();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        out.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    out
}

async fn version(State(r): Reg) -> Json<Version> {
    Json(Version {
        version: format!("electune-{}", env!("CARGO_PKG_VERSION")),
        // A strict server takes what toxiproxy 2.x takes, so it advertises no extension.
        capabilities: if r.strict() {
            Vec::new()
        } else {
            vec![Version::FRACTIONAL_MS.to_owned()]
        },
    })
}

async fn reset(State(r): Reg) -> Result<StatusCode, ApiError> {
    r.reset().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn proxy_index(State(r): Reg) -> Response {
    Json(r.list().await).into_response()
}

async fn proxy_create(State(r): Reg, body: Bytes) -> Result<Response, ApiError> {
    let p = r.create(&body).await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

async fn populate(State(r): Reg, body: Bytes) -> Result<Response, ApiError> {
    let proxies = r.populate(&body).await?;
    Ok((StatusCode::CREATED, Json(json!({ "proxies": proxies }))).into_response())
}

async fn proxy_show(State(r): Reg, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(r.get(&name).await?).into_response())
}

async fn proxy_update(
    State(r): Reg,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    Ok(Json(r.update(&name, &body).await?).into_response())
}

async fn proxy_delete(State(r): Reg, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    r.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn toxic_index(State(r): Reg, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(r.toxics(&name).await?).into_response())
}

async fn toxic_create(
    State(r): Reg,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // toxiproxy answers 200 (not 201) to a toxic creation.
    Ok(Json(r.add_toxic(&name, &body).await?).into_response())
}

async fn toxic_show(
    State(r): Reg,
    Path((proxy, toxic)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(Json(r.get_toxic(&proxy, &toxic).await?).into_response())
}

async fn toxic_update(
    State(r): Reg,
    Path((proxy, toxic)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    Ok(Json(r.update_toxic(&proxy, &toxic, &body).await?).into_response())
}

async fn toxic_delete(
    State(r): Reg,
    Path((proxy, toxic)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    r.remove_toxic(&proxy, &toxic).await?;
    Ok(StatusCode::NO_CONTENT)
}
