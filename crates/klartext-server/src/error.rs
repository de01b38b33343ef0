//! The crate's error type (`ServerError`, for starting a server) and the API's error
//! registry (`ErrorCode`): every error a client can see, declared once with its stable
//! code string, HTTP status and meaning; the list, the metrics, the OpenAPI document and
//! `docs/errors.md` are built from that one declaration. Errors leave as one JSON shape,
//! `{"error": {"code", "message", "field"?, "details"?}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use klartext_govern::GovernError;
use klartext_kinds::Problem;

/// Why a server could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] klartext_store::StoreError),

    #[error(transparent)]
    Govern(#[from] GovernError),

    /// The system gave no randomness for a secret.
    #[error("no randomness: {0}")]
    Random(String),
}

macro_rules! error_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = ($code:literal, $status:ident);)+) => {
        /// Every error the API answers with. Codes are a stable promise to clients: add
        /// new ones, never rename one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code string clients match on.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)+
                }
            }

            /// What it means, in a sentence (for the docs).
            pub fn description(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => concat!($($doc),+).trim_ascii(),)+
                }
            }
        }
    };
}

error_codes! {
    /// No `Authorization: Bearer` key, or an unknown one.
    Unauthorized = ("unauthorized", UNAUTHORIZED);
    /// The key was revoked.
    KeyRevoked = ("key_revoked", UNAUTHORIZED);
    /// The key's role may not call this route.
    Forbidden = ("forbidden", FORBIDDEN);
    /// No such route.
    NotFound = ("not_found", NOT_FOUND);
    /// The route does not take this method.
    MethodNotAllowed = ("method_not_allowed", METHOD_NOT_ALLOWED);
    /// No use case with this id is loaded.
    UnknownUseCase = ("unknown_use_case", NOT_FOUND);
    /// The use case has no model version that may answer.
    NoModel = ("no_model", CONFLICT);
    /// No prediction with this id is logged.
    UnknownPrediction = ("unknown_prediction", NOT_FOUND);
    /// The body is not valid JSON (or NDJSON), or not the expected shape.
    MalformedJson = ("malformed_json", BAD_REQUEST);
    /// The body's content type is not one the route takes.
    UnsupportedMediaType = ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE);
    /// The body, a line of it, or a batch is larger than the server takes.
    PayloadTooLarge = ("payload_too_large", PAYLOAD_TOO_LARGE);
    /// Well-formed, but a feature is unknown or of the wrong type; each is named.
    InvalidFeatures = ("invalid_features", UNPROCESSABLE_ENTITY);
    /// A query parameter or another part of the request is wrong.
    InvalidRequest = ("invalid_request", BAD_REQUEST);
    /// The prediction log could not be written: nothing was answered as done; retry.
    LogUnavailable = ("log_unavailable", SERVICE_UNAVAILABLE);
    /// The server is shutting down; retry on another replica.
    ShuttingDown = ("shutting_down", SERVICE_UNAVAILABLE);
    /// Nothing is queued for review for this prediction.
    UnknownReview = ("unknown_review", NOT_FOUND);
    /// The review was decided already (a contest reopens it).
    ReviewClosed = ("review_closed", CONFLICT);
    /// A subject's data cannot all be found (a dataset's use-case file is missing).
    SubjectDataUnavailable = ("subject_data_unavailable", CONFLICT);
    /// The served model version cannot be monitored (e.g. it has no reference profile).
    MonitoringUnavailable = ("monitoring_unavailable", CONFLICT);
    /// The use case's kind does not answer this decision; the message names the ones it answers.
    WrongDecision = ("wrong_decision", CONFLICT);
    /// The decision has as many outcomes as are kept; the latest counts.
    FeedbackLimit = ("feedback_limit", CONFLICT);
    /// This version of klartext cannot answer use cases of this kind yet.
    KindNotAvailable = ("kind_not_available", CONFLICT);
    /// A reported outcome does not read as the use case expects (a yes/no, a value).
    InvalidOutcome = ("invalid_outcome", UNPROCESSABLE_ENTITY);
    /// The request's URI is longer than the server takes.
    UriTooLong = ("uri_too_long", URI_TOO_LONG);
    /// The request's headers are larger than the server takes.
    HeadersTooLarge = ("headers_too_large", REQUEST_HEADER_FIELDS_TOO_LARGE);
    /// No part of the request body arrived for the server's body timeout.
    RequestTimeout = ("request_timeout", REQUEST_TIMEOUT);
    /// The server has as many connections open as it takes; retry in a moment.
    TooManyConnections = ("too_many_connections", SERVICE_UNAVAILABLE);
    /// A bug; the details are in the server's log, not in the answer.
    Internal = ("internal", INTERNAL_SERVER_ERROR);
}

impl ErrorCode {
    /// Its place in [`ErrorCode::ALL`] (for per-code counters).
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Most problems one error answer lists.
pub const MAX_DETAILS: usize = 20;

/// One problem with one field of a request.
pub type FieldProblem = Problem;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// Every bad field, when there is more than one thing to say.
    pub details: Vec<FieldProblem>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            field: None,
            details: Vec::new(),
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    /// A 422 naming each bad field (the first one also as `field`): at most
    /// [`MAX_DETAILS`] of them in `details` and three in `message`, each said once, so
    /// that an answer stays small whatever the request.
    pub fn invalid_features(mut problems: Vec<FieldProblem>) -> ApiError {
        let total = problems.len();
        let mut message = problems
            .iter()
            .take(3)
            .map(|p| format!("`{}`: {}", p.field, p.message))
            .collect::<Vec<_>>()
            .join("; ");
        if total > 3 {
            message.push_str(&format!("; and {} more problems", total - 3));
        }
        if total > MAX_DETAILS {
            problems.truncate(MAX_DETAILS);
            message.push_str(&format!(" (the first {MAX_DETAILS} are in `details`)"));
        }
        ApiError {
            code: ErrorCode::InvalidFeatures,
            message,
            field: problems.first().map(|p| p.field.clone()),
            details: problems,
        }
    }

    /// A query string that does not parse, naming the parameter it is about.
    pub(crate) fn bad_query(e: &axum::extract::rejection::QueryRejection, field: &str) -> ApiError {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("bad query string: {}", e.body_text()),
        )
        .field(field)
    }

    /// An internal failure: log what happened, answer without the details.
    pub fn internal(context: &str, err: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %err, "{context}");
        ApiError::new(
            ErrorCode::Internal,
            "internal error; the server log has the details",
        )
    }

    pub fn body(&self) -> serde_json::Value {
        let mut e = serde_json::json!({ "code": self.code.as_str(), "message": self.message });
        if let Some(f) = &self.field {
            e["field"] = f.clone().into();
        }
        if !self.details.is_empty() {
            e["details"] = serde_json::to_value(&self.details).expect("problems serialise");
        }
        serde_json::json!({ "error": e })
    }
}

impl From<GovernError> for ApiError {
    /// What each governance error answers; every variant is named, so a new one cannot
    /// slip through as a 500 unseen.
    fn from(e: GovernError) -> ApiError {
        let code = match &e {
            GovernError::UnknownUseCase { .. } => ErrorCode::UnknownUseCase,
            GovernError::KindNotAvailable { .. } => ErrorCode::KindNotAvailable,
            GovernError::WrongOperation { .. } => ErrorCode::WrongDecision,
            GovernError::NoModel { .. } => ErrorCode::NoModel,
            GovernError::ShuttingDown => {
                return ApiError::new(
                    ErrorCode::ShuttingDown,
                    "the server is shutting down; retry on another replica",
                )
            }
            GovernError::LogUnavailable => {
                return ApiError::new(
                    ErrorCode::LogUnavailable,
                    "the prediction could not be recorded, so it is not answered; retry",
                )
            }
            GovernError::UnknownPrediction(_) => ErrorCode::UnknownPrediction,
            GovernError::FeedbackLimit { .. } => ErrorCode::FeedbackLimit,
            GovernError::InvalidOutcome(_) => {
                return ApiError::new(ErrorCode::InvalidOutcome, e.to_string()).field("outcome")
            }
            GovernError::BadSubject(_) => {
                return ApiError::new(ErrorCode::InvalidRequest, e.to_string()).field("id")
            }
            GovernError::SubjectDataUnavailable { .. } => ErrorCode::SubjectDataUnavailable,
            GovernError::Unmonitorable { .. } => ErrorCode::MonitoringUnavailable,
            GovernError::Model { .. }
            | GovernError::Data { .. }
            | GovernError::Kind(_)
            | GovernError::Store(_)
            | GovernError::Random(_) => return ApiError::internal("governance failed", &e),
        };
        ApiError::new(code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.code.status(), axum::Json(self.body())).into_response();
        // Lets the metrics layer count errors by code without parsing bodies.
        r.extensions_mut().insert(self.code);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn codes_are_unique_and_indexed_in_order() {
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
            assert!(!c.description().is_empty(), "{c:?}");
            assert_eq!(
                ErrorCode::ALL
                    .iter()
                    .filter(|o| o.as_str() == c.as_str())
                    .count(),
                1
            );
        }
    }
}
