//! The outcome of a watched call, from how it ended and how long it took.

use steadycart_protocol::Outcome;

/// How a call ended, as the wrappers saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A response arrived with this status (0 for opaque responses).
    Response(u16),
    /// A 2xx response whose (small JSON) body reported an application error.
    AppError(u16),
    /// The request failed at the network level.
    NetworkError,
    /// The page aborted it.
    Aborted,
}

/// Classify a finished call. `error_statuses` are 4xx statuses the site
/// counts as errors (5xx always are).
pub fn classify(
    ending: Ending,
    duration_ms: u32,
    slow_after_ms: u32,
    error_statuses: &[u16],
) -> Outcome {
    match ending {
        Ending::Response(s) if s >= 500 || error_statuses.contains(&s) => Outcome::HttpError,
        Ending::Response(_) if duration_ms > slow_after_ms => Outcome::Slow,
        Ending::Response(_) => Outcome::Ok,
        Ending::AppError(_) => Outcome::AppError,
        Ending::NetworkError => Outcome::NetworkError,
        Ending::Aborted => Outcome::Aborted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        assert_eq!(classify(Ending::Response(200), 10, 3000, &[]), Outcome::Ok);
        assert_eq!(
            classify(Ending::Response(503), 10, 3000, &[]),
            Outcome::HttpError
        );
        assert_eq!(classify(Ending::Response(409), 10, 3000, &[]), Outcome::Ok);
        assert_eq!(
            classify(Ending::Response(409), 10, 3000, &[409, 429]),
            Outcome::HttpError
        );
        assert_eq!(
            classify(Ending::Response(200), 3500, 3000, &[]),
            Outcome::Slow
        );
        assert_eq!(classify(Ending::Response(0), 10, 3000, &[]), Outcome::Ok);
        assert_eq!(
            classify(Ending::NetworkError, 10, 3000, &[]),
            Outcome::NetworkError
        );
        assert_eq!(classify(Ending::Aborted, 10, 3000, &[]), Outcome::Aborted);
        assert_eq!(
            classify(Ending::AppError(200), 3500, 3000, &[]),
            Outcome::AppError
        );
    }
}
