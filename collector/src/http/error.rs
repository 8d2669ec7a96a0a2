//! The one error type of the HTTP layer. Every error answers with the JSON
//! body `{"error": …, "field": …}` ([`steadycart_protocol::api::ApiError`]);
//! 5xx details are logged, never sent (database text stays inside).

use std::time::Duration;

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

use crate::{ingest::writer::WriteError, store::StoreError};

/// An HTTP-level failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; `field` names the culprit when known.
    #[error("{message}")]
    BadRequest {
        /// What is wrong.
        message: String,
        /// JSON path of the offending field.
        field: Option<String>,
    },
    /// Missing or unknown credentials (site key or admin token).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The origin (or token) is not allowed here.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such resource.
    #[error("not found")]
    NotFound,
    /// The body is larger than this route accepts.
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body did not arrive within the deadline (slow client).
    #[error("request body not received in time")]
    RequestTimeout,
    /// The content type is not one this route reads.
    #[error("unsupported content type; send application/json or text/plain")]
    UnsupportedMediaType,
    /// Too many requests; retry after the given time.
    #[error("too many requests")]
    TooManyRequests(Duration),
    /// Overloaded or a dependency is down; retry after the given time.
    #[error("temporarily unavailable")]
    Unavailable(Duration),
    /// A bug or an unexpected failure; logged, not shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A 400 naming `field`.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// The status this error answers with.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // The database being down is a dependency fault, not our bug.
            StoreError::Database(ref db) if is_unavailable(db) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::Unavailable(Duration::from_secs(5))
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

/// Whether a database error means "the database is unreachable, down or
/// overloaded right now" (so clients should retry) rather than a bug.
/// PostgreSQL SQLSTATE classes: 08 connection exception, 53 insufficient
/// resources, 57 operator intervention (shutdown, terminated sessions,
/// cannot connect now), and 55000 for a database that is not accepting
/// connections; SQLite: busy, locked, I/O error, full, cannot open.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let code: &str = &code;
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57")
                || code == "55000"
                // SQLite primary result codes (extended codes keep the low byte).
                || code
                    .parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13 | 14))
        }
        _ => false,
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::QueueFull | WriteError::TimedOut => {
                ApiError::Unavailable(Duration::from_secs(2))
            }
            WriteError::Refused => ApiError::field(
                "events",
                "refused by the database (a value it cannot store); sending it again will not help",
            ),
            WriteError::Stopped | WriteError::Database => {
                ApiError::Unavailable(Duration::from_secs(5))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "internal error");
        }
        let field = match &self {
            ApiError::BadRequest { field, .. } => field.clone(),
            _ => None,
        };
        let body = steadycart_protocol::api::ApiError {
            error: self.to_string(),
            field,
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests(after) | ApiError::Unavailable(after) = &self {
            let secs = after.as_secs().max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
