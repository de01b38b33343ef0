//! The crate's error type (`ServerError`, for starting a server) and the API's error
//! registry (`ErrorCode`): every error a client can see, with its stable code string and
//! HTTP status, rendered as one JSON shape `{"error": {"code", "message", "field"?}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Why a server could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] klartext_store::StoreError),

    /// A use case's model artifact could not be loaded.
    #[error("use case `{usecase}`: model {version} cannot be loaded: {source}")]
    Model {
        usecase: String,
        version: String,
        source: klartext_train::TrainError,
    },

    #[error("no randomness for a new key: {0}")]
    Random(String),

    /// Monitoring cannot judge this model version (no reference profile, unreadable data).
    #[error("use case `{usecase}`: model {version} cannot be monitored: {message}")]
    Monitoring {
        usecase: String,
        version: String,
        message: String,
    },
}

/// Every error the API answers with. Codes are a stable promise to clients; add new
/// variants, never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No or an unknown `Authorization: Bearer` key.
    Unauthorized,
    /// A revoked key.
    KeyRevoked,
    /// The key's role may not do this.
    Forbidden,
    /// No such route.
    NotFound,
    MethodNotAllowed,
    UnknownUseCase,
    /// The use case exists but has no servable model version.
    NoModel,
    UnknownPrediction,
    /// The body is not valid JSON (or NDJSON), or not the expected shape.
    MalformedJson,
    UnsupportedMediaType,
    PayloadTooLarge,
    /// Well-formed, but a feature is unknown or of the wrong type.
    InvalidFeatures,
    /// A query parameter or other part of the request is wrong.
    InvalidRequest,
    /// The prediction log could not be written: nothing was answered as done.
    LogUnavailable,
    /// The server is shutting down.
    ShuttingDown,
    /// Nothing is queued for review for this prediction.
    UnknownReview,
    /// The review was decided already (a contest reopens it).
    ReviewClosed,
    /// A subject's data cannot all be found (a dataset's use-case file is missing).
    SubjectDataUnavailable,
    /// The served model version cannot be monitored (e.g. it has no reference profile).
    MonitoringUnavailable,
    /// A bug; details are in the server's log, not in the answer.
    Internal,
}

impl ErrorCode {
    /// Every variant, for documentation and metrics.
    pub const ALL: [ErrorCode; 20] = [
        ErrorCode::Unauthorized,
        ErrorCode::KeyRevoked,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UnknownUseCase,
        ErrorCode::NoModel,
        ErrorCode::UnknownPrediction,
        ErrorCode::MalformedJson,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::PayloadTooLarge,
        ErrorCode::InvalidFeatures,
        ErrorCode::InvalidRequest,
        ErrorCode::LogUnavailable,
        ErrorCode::ShuttingDown,
        ErrorCode::UnknownReview,
        ErrorCode::ReviewClosed,
        ErrorCode::SubjectDataUnavailable,
        ErrorCode::MonitoringUnavailable,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::KeyRevoked => "key_revoked",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::UnknownUseCase => "unknown_use_case",
            ErrorCode::NoModel => "no_model",
            ErrorCode::UnknownPrediction => "unknown_prediction",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::InvalidFeatures => "invalid_features",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::LogUnavailable => "log_unavailable",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::UnknownReview => "unknown_review",
            ErrorCode::ReviewClosed => "review_closed",
            ErrorCode::SubjectDataUnavailable => "subject_data_unavailable",
            ErrorCode::MonitoringUnavailable => "monitoring_unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized | ErrorCode::KeyRevoked => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound
            | ErrorCode::UnknownUseCase
            | ErrorCode::UnknownPrediction
            | ErrorCode::UnknownReview => StatusCode::NOT_FOUND,
            ErrorCode::ReviewClosed | ErrorCode::SubjectDataUnavailable => StatusCode::CONFLICT,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::NoModel | ErrorCode::MonitoringUnavailable => StatusCode::CONFLICT,
            ErrorCode::MalformedJson | ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidFeatures => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::LogUnavailable | ErrorCode::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) fn index(self) -> usize {
        ErrorCode::ALL
            .iter()
            .position(|&c| c == self)
            .expect("ALL lists every variant")
    }
}

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

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

    /// A 422 naming each bad field (the first one also as `field`).
    pub fn invalid_features(problems: Vec<FieldProblem>) -> ApiError {
        let message = problems
            .iter()
            .map(|p| format!("`{}`: {}", p.field, p.message))
            .collect::<Vec<_>>()
            .join("; ");
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.code.status(), axum::Json(self.body())).into_response();
        // Lets the metrics layer count errors by code without parsing bodies.
        r.extensions_mut().insert(self.code);
        r
    }
}
