//! A total deadline for reading a request body (slow-loris defence).
//!
//! Body limits alone don't stop a client that sends a valid header and then
//! trickles its body a byte at a time, holding a connection and a task for as
//! long as it likes. An idle timeout between frames (tower-http's
//! `RequestBodyTimeout`) doesn't either: one byte every few seconds resets it.
//! So every request body gets one deadline counted from the moment the
//! request reached the router; past it the body yields [`BodyDeadlineExceeded`]
//! and the handler answers 408 (see [`is_deadline`]).

use std::time::Duration;

use axum::{
    body::Body,
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use futures_util::StreamExt;

/// The error a body yields once its deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within the deadline")]
pub struct BodyDeadlineExceeded;

/// Middleware: give the request's body a total read deadline of `limit`.
pub async fn limit_body(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let deadline = tokio::time::Instant::now() + limit;
    let (parts, body) = req.into_parts();
    let stream =
        futures_util::stream::unfold(Some(body.into_data_stream()), move |stream| async move {
            let mut stream = stream?;
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(item)) => Some((item, Some(stream))),
                Ok(None) => None,
                // Yield the error once, then end (dropping the inner body).
                Err(_) => Some((Err(axum::Error::new(BodyDeadlineExceeded)), None)),
            }
        });
    next.run(Request::from_parts(parts, Body::from_stream(stream)))
        .await
}

/// Whether `err` (from reading a body) is a passed deadline.
pub fn is_deadline(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.is::<BodyDeadlineExceeded>() {
            return true;
        }
        cur = e.source();
    }
    false
}
