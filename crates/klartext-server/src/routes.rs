//! The route table: every route of the API with its handler and its documentation. The
//! router ([`crate::router`]) and the OpenAPI document (`/openapi.json`) are both built
//! from [`ROUTES`], so what is served and what is documented cannot drift apart.

use crate::api;
use crate::error::ErrorCode;
use crate::AppState;
use axum::routing::{delete, get, post, MethodRouter};
use klartext_kinds::Operation;
use klartext_store::KeyRole;

/// A request body a route accepts: media type and the schema (a name under
/// `components.schemas`).
#[derive(Debug, Clone, Copy)]
pub struct Body {
    pub media_type: &'static str,
    pub schema: &'static str,
    /// `true` when the schema describes one line of an NDJSON stream.
    pub per_line: bool,
}

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    /// JSON-schema type: `boolean`, `string`, ...
    pub ty: &'static str,
    pub description: &'static str,
}

/// What serves a route.
pub enum Handler {
    /// A handler of its own: not a decision.
    Plain(fn() -> MethodRouter<AppState>),
    /// A decision route: the router builds its handler from the mark (see
    /// `crate::decision`), so that every decision goes through the governance layer
    /// (kill switch and fallback, objections, review, the log) and is counted in the
    /// metrics, whatever the route.
    Decision(Decision),
}

/// A decision route's mark.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub op: Operation,
    pub shape: Shape,
}

/// How many decisions one request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One request object, one answer.
    One,
    /// A JSON array (answered as one, all or nothing) or an NDJSON stream (answered line
    /// by line as it arrives).
    Batch,
}

/// One route: method, path (axum's `{param}` syntax, which is also OpenAPI's), handler,
/// who may call it and what it takes and answers.
pub struct Route {
    /// Lower-case HTTP method, as OpenAPI spells it.
    pub method: &'static str,
    pub path: &'static str,
    pub handler: Handler,
    /// The least role a key needs; `None`: no key (health, metrics, the document).
    pub role: Option<KeyRole>,
    /// The role the route needs instead when the server keeps it private
    /// (`ServerConfig::private_metrics`, for `/metrics`).
    pub private_role: Option<KeyRole>,
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub params: &'static [Param],
    pub request: &'static [Body],
    /// The success status and what it carries.
    pub ok_status: u16,
    /// Other success statuses carrying the same (a repeated objection answers 200).
    pub also_ok: &'static [u16],
    pub ok: &'static [Body],
    /// Errors this route answers besides those every route or every `/v1` route can
    /// (see [`Route::errors`]).
    pub errors: &'static [ErrorCode],
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method.to_uppercase(), self.path)
    }
}

impl Route {
    /// The least role a key needs on this server (`None`: no key).
    pub fn role_on(&self, config: &crate::ServerConfig) -> Option<KeyRole> {
        match self.private_role {
            Some(r) if config.private_metrics => Some(r),
            _ => self.role,
        }
    }

    /// The decision mark, for decision routes.
    pub fn decision(&self) -> Option<Decision> {
        match self.handler {
            Handler::Decision(d) => Some(d),
            Handler::Plain(_) => None,
        }
    }

    /// Every error code this route can answer with.
    pub fn errors(&self) -> Vec<ErrorCode> {
        let mut all = Vec::new();
        if self.role.is_some() {
            all.extend([ErrorCode::Unauthorized, ErrorCode::KeyRevoked]);
            if self.role > Some(KeyRole::Scorer) {
                all.push(ErrorCode::Forbidden);
            }
        }
        if self.decision().is_some() {
            // What governance can answer for any decision.
            all.extend([
                ErrorCode::UnknownUseCase,
                ErrorCode::NoModel,
                ErrorCode::WrongDecision,
                ErrorCode::KindNotAvailable,
                ErrorCode::LogUnavailable,
                ErrorCode::ShuttingDown,
            ]);
        }
        all.extend_from_slice(self.errors);
        // What the accept loop and the router's limits answer for any route.
        all.extend([
            ErrorCode::UriTooLong,
            ErrorCode::HeadersTooLarge,
            ErrorCode::TooManyConnections,
        ]);
        if !self.request.is_empty() {
            all.push(ErrorCode::RequestTimeout);
        }
        all.push(ErrorCode::Internal);
        let mut seen = std::collections::HashSet::new();
        all.retain(|c| seen.insert(*c));
        all
    }
}

const JSON: &str = "application/json";
const NDJSON: &str = "application/x-ndjson";

const EXPLAIN: Param = Param {
    name: "explain",
    ty: "boolean",
    description: "`false` skips the per-feature explanation (faster); the default is `true`.",
};

/// The whole API.
pub static ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/healthz",
        handler: Handler::Plain(|| get(api::healthz)),
        role: None,
        private_role: None,
        operation_id: "healthz",
        summary: "Liveness: the process answers.",
        description: "Always 200 while the process runs.",
        params: &[],
        request: &[],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "Health", per_line: false }],
        errors: &[],
    },
    Route {
        method: "get",
        path: "/readyz",
        handler: Handler::Plain(|| get(api::readyz)),
        role: None,
        private_role: None,
        operation_id: "readyz",
        summary: "Readiness: the model served for each use case.",
        description: "503 `shutting_down` once a graceful shutdown has begun, so that load balancers stop sending.",
        params: &[],
        request: &[],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "Ready", per_line: false }],
        errors: &[ErrorCode::ShuttingDown],
    },
    Route {
        method: "get",
        path: "/metrics",
        handler: Handler::Plain(|| get(api::metrics)),
        role: None,
        private_role: Some(KeyRole::Operator),
        operation_id: "metrics",
        summary: "Prometheus metrics.",
        description: "Requests, rows, latency histograms per use case and model version, fallbacks, errors by code, the prediction log writer and connections. No key by default; a server started with `--private-metrics` takes operators' and admins' keys only.",
        params: &[],
        request: &[],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: "text/plain", schema: "PrometheusText", per_line: false }],
        errors: &[],
    },
    Route {
        method: "get",
        path: "/openapi.json",
        handler: Handler::Plain(|| get(crate::openapi::serve_document)),
        role: None,
        private_role: None,
        operation_id: "openapi",
        summary: "This document.",
        description: "The OpenAPI 3.1 description of the API, generated from the server's route table and error registry.",
        params: &[],
        request: &[],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "OpenApiDocument", per_line: false }],
        errors: &[],
    },
    Route {
        method: "get",
        path: "/v1/usecases",
        handler: Handler::Plain(|| get(api::list_usecases)),
        role: Some(KeyRole::Operator),
        private_role: None,
        operation_id: "listUseCases",
        summary: "The use cases served and their model versions.",
        description: "Operators and admins only.",
        params: &[],
        request: &[],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "UseCaseList", per_line: false }],
        errors: &[],
    },
    Route {
        method: "post",
        path: "/v1/usecases/{id}/predict",
        handler: Handler::Decision(Decision {
            op: Operation::Predict,
            shape: Shape::One,
        }),
        role: Some(KeyRole::Scorer),
        private_role: None,
        operation_id: "predict",
        summary: "Score one subject, with its reasons.",
        description: "Features are checked against the model's schema: unknown or mistyped ones answer 422 naming each field; missing ones are allowed; values outside what training saw are answered with `warnings`. The prediction is in the durable log before the answer goes out.",
        params: &[EXPLAIN],
        request: &[Body { media_type: JSON, schema: "PredictRequest", per_line: false }],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "Prediction", per_line: false }],
        errors: &[
            ErrorCode::UnknownUseCase,
            ErrorCode::NoModel,
            ErrorCode::MalformedJson,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::PayloadTooLarge,
            ErrorCode::InvalidFeatures,
            ErrorCode::InvalidRequest,
            ErrorCode::LogUnavailable,
            ErrorCode::ShuttingDown,
        ],
    },
    Route {
        method: "post",
        path: "/v1/usecases/{id}/predict:batch",
        handler: Handler::Decision(Decision {
            op: Operation::Predict,
            shape: Shape::Batch,
        }),
        role: Some(KeyRole::Scorer),
        private_role: None,
        operation_id: "predictBatch",
        summary: "Score many subjects: a JSON array, or an NDJSON stream.",
        description: "`application/json`: an array of requests (at most the server's `max_batch_rows`, within its body limit); one bad row refuses the whole batch with a 422 naming `[i].field`, and nothing is logged.\n\n`application/x-ndjson`: one request per line, answered as a stream of one object per line, in order, each with its 1-based input `line`. The body has no total size limit (each line is limited to the server's body limit) and memory stays flat however many lines are sent; read the answers while sending. A bad line (malformed JSON, too long, invalid features) is answered by an error object `{\"line\", \"error\": {...}}` for that line and the stream goes on. Lines are scored in small blocks and each block is in the durable log before its answers are written: every answered line is logged exactly once; if the client goes away, lines not yet answered may be logged (once) or not at all. Blank lines are skipped. If the log fails or the server begins shutting down, a last error object (`log_unavailable`, `shutting_down`) names the first line not answered and the stream ends.",
        params: &[EXPLAIN],
        request: &[
            Body { media_type: JSON, schema: "BatchRequest", per_line: false },
            Body { media_type: NDJSON, schema: "PredictRequest", per_line: true },
        ],
        ok_status: 200,
        also_ok: &[],
        ok: &[
            Body { media_type: JSON, schema: "BatchAnswer", per_line: false },
            Body { media_type: NDJSON, schema: "StreamLine", per_line: true },
        ],
        errors: &[
            ErrorCode::UnknownUseCase,
            ErrorCode::NoModel,
            ErrorCode::MalformedJson,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::PayloadTooLarge,
            ErrorCode::InvalidFeatures,
            ErrorCode::InvalidRequest,
            ErrorCode::LogUnavailable,
            ErrorCode::ShuttingDown,
        ],
    },
    Route {
        method: "get",
        path: "/v1/predictions/{id}",
        handler: Handler::Plain(|| get(api::get_prediction)),
        role: Some(KeyRole::Operator),
        private_role: None,
        operation_id: "getPrediction",
        summary: "A logged prediction and the feedback attached to it.",
        description: "Operators and admins only.",
        params: &[],
        request: &[],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "LoggedPrediction", per_line: false }],
        errors: &[ErrorCode::UnknownPrediction],
    },
    Route {
        method: "post",
        path: "/v1/predictions/{id}/feedback",
        handler: Handler::Plain(|| post(api::feedback)),
        role: Some(KeyRole::Scorer),
        private_role: None,
        operation_id: "feedback",
        summary: "Attach the real outcome to a served prediction.",
        description: "Stored durably and linked to the prediction, for live performance. The use case's kind reads the outcome (classification: yes/no, the class, or an object holding the target; regression: the real value) and answers it as `outcome`; one it cannot read (or larger than 1 KiB) is refused with 422 `invalid_outcome`. A later outcome for the same prediction corrects the earlier one: the latest counts for live performance, earlier ones stay as history (`replaces_earlier: true`), at most 10 per prediction (then 409 `feedback_limit`).",
        params: &[],
        request: &[Body { media_type: JSON, schema: "FeedbackRequest", per_line: false }],
        ok_status: 201,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "FeedbackStored", per_line: false }],
        errors: &[
            ErrorCode::UnknownPrediction,
            ErrorCode::MalformedJson,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::PayloadTooLarge,
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidOutcome,
            ErrorCode::FeedbackLimit,
            ErrorCode::KindNotAvailable,
        ],
    },
    Route {
        method: "post",
        path: "/v1/usecases/{id}/switch",
        handler: Handler::Plain(|| post(crate::switch::switch)),
        role: Some(KeyRole::Operator),
        private_role: None,
        operation_id: "switchUseCase",
        summary: "Kill switch: switch a use case off (it answers its fallback) or on.",
        description: "Operators and admins only. Switching off needs a `reason`; actor and reason go into the audit trail. While off, predict calls answer the use case's documented fallback with `\"fallback\": true` (logged as fallbacks), on every server sharing the store within one second.",
        params: &[],
        request: &[Body { media_type: JSON, schema: "SwitchRequest", per_line: false }],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "SwitchState", per_line: false }],
        errors: &[
            ErrorCode::UnknownUseCase,
            ErrorCode::MalformedJson,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::PayloadTooLarge,
            ErrorCode::InvalidRequest,
        ],
    },
    Route {
        method: "get",
        path: "/v1/audit",
        handler: Handler::Plain(|| get(crate::switch::audit)),
        role: Some(KeyRole::Operator),
        private_role: None,
        operation_id: "auditLog",
        summary: "The hash-chained audit trail, after a sequence number.",
        description: "Operators and admins only. `since` (default 0) returns the events with a larger sequence number, oldest first.",
        params: &[Param {
            name: "since",
            ty: "integer",
            description: "Only events after this sequence number.",
        }],
        request: &[],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "AuditEvents", per_line: false }],
        errors: &[ErrorCode::InvalidRequest],
    },
    Route {
        method: "get",
        path: "/v1/usecases/{id}/monitoring",
        handler: Handler::Plain(|| get(crate::monitoring::get_report)),
        role: Some(KeyRole::Operator),
        private_role: None,
        operation_id: "monitoringReport",
        summary: "Drift and live performance of the served model, with findings in plain words.",
        description: "Operators and admins only. Compares the logged traffic of the use case's window (`monitoring.window_days`) with the reference profile kept at training: per feature and for the score a KS or chi-square test (references of at most 1,000 rows; drift when p < `monitoring.p_value`) or the normalised Wasserstein or Jensen-Shannon distance (drift at or above `monitoring.distance`), PSI for every column, new categories and out-of-range values; the data set drifts when at least `monitoring.drift_share` of its features do. Live performance per window from feedback against the model card. `format=html` answers a page with charts. Reading raises no alert; the server checks every use case on a schedule and raises `drift.detected` / `performance.degraded` at most once per window.",
        params: &[Param {
            name: "format",
            ty: "string",
            description: "`json` (default) or `html`.",
        }],
        request: &[],
        ok_status: 200,
        also_ok: &[],
        ok: &[
            Body { media_type: JSON, schema: "MonitoringReport", per_line: false },
            Body { media_type: "text/html", schema: "MonitoringPage", per_line: false },
        ],
        errors: &[
            ErrorCode::UnknownUseCase,
            ErrorCode::NoModel,
            ErrorCode::MonitoringUnavailable,
            ErrorCode::InvalidRequest,
        ],
    },
    // --- Data-subject rights (GDPR Art. 15, 17, 21, 22). ---
    Route {
        method: "get",
        path: "/v1/subjects/{id}",
        handler: Handler::Plain(|| get(crate::subjects::export)),
        role: Some(KeyRole::Operator),
        private_role: None,
        operation_id: "exportSubject",
        summary: "Everything kept about a subject (GDPR Art. 15): data rows, decisions with their reasons, feedback, objection, reviews.",
        description: "Operators and admins only. Every stored row of the subject in every registered dataset (matched on each use case's `data.id` column), every logged prediction with its time, use case, model version, score, label and reasons in words, feedback, the objection and review items, and what each use case involved is for (Art. 15(1)(h)). `format=html` answers a self-contained page to hand to the subject. A subject with nothing kept answers `\"found\": false`.",
        params: &[Param {
            name: "format",
            ty: "string",
            description: "`json` (default) or `html`.",
        }],
        request: &[],
        ok_status: 200,
        also_ok: &[],
        ok: &[
            Body { media_type: JSON, schema: "SubjectExport", per_line: false },
            Body { media_type: "text/html", schema: "SubjectExportPage", per_line: false },
        ],
        errors: &[ErrorCode::InvalidRequest, ErrorCode::SubjectDataUnavailable],
    },
    Route {
        method: "delete",
        path: "/v1/subjects/{id}",
        handler: Handler::Plain(|| delete(crate::subjects::erase)),
        role: Some(KeyRole::Admin),
        private_role: None,
        operation_id: "eraseSubject",
        summary: "Erase a subject (GDPR Art. 17).",
        description: "Admins only. Removes the subject's rows from every dataset snapshot (the dataset keeps its id and gets a new snapshot and content hash), pseudonymises its prediction-log rows (irreversible marker, no features, no reasons), deletes its feedback and objection, in one transaction with a `subject.erased` audit event that holds counts and hashes only. Models already trained on the data are not retrained.",
        params: &[],
        request: &[],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "SubjectErased", per_line: false }],
        errors: &[ErrorCode::InvalidRequest, ErrorCode::SubjectDataUnavailable],
    },
    Route {
        method: "post",
        path: "/v1/subjects/{id}/objection",
        handler: Handler::Plain(|| post(crate::subjects::object)),
        role: Some(KeyRole::Scorer),
        private_role: None,
        operation_id: "objectSubject",
        summary: "Record a subject's objection to profiling (GDPR Art. 21).",
        description: "From then on predict answers no score for the subject (`\"objected\": true`, still logged, without features) in every use case, on every server sharing the store within a second; training leaves the subject's rows out. Optional body `{\"reason\"}`. 201 for a new objection, 200 when it was recorded before.",
        params: &[],
        request: &[Body { media_type: JSON, schema: "ObjectionRequest", per_line: false }],
        ok_status: 201,
        also_ok: &[200],
        ok: &[Body { media_type: JSON, schema: "Objection", per_line: false }],
        errors: &[
            ErrorCode::MalformedJson,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::PayloadTooLarge,
            ErrorCode::InvalidRequest,
        ],
    },
    Route {
        method: "delete",
        path: "/v1/subjects/{id}/objection",
        handler: Handler::Plain(|| delete(crate::subjects::withdraw_objection)),
        role: Some(KeyRole::Operator),
        private_role: None,
        operation_id: "withdrawObjection",
        summary: "Withdraw a subject's objection to profiling, at the subject's wish.",
        description: "Operators and admins only. Removes the objection (also the keyed hash kept of it when the subject was erased since) with a `subject.objection_withdrawn` audit event; every server sharing the store scores the subject again within a second, and training uses its rows again. `withdrawn: false` when the subject had no objection.",
        params: &[],
        request: &[],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "ObjectionWithdrawn", per_line: false }],
        errors: &[ErrorCode::InvalidRequest],
    },
    Route {
        method: "post",
        path: "/v1/predictions/{id}/contest",
        handler: Handler::Plain(|| post(crate::subjects::contest)),
        role: Some(KeyRole::Scorer),
        private_role: None,
        operation_id: "contestPrediction",
        summary: "A subject contests a decision (GDPR Art. 22(3)): it is queued for a person.",
        description: "Body `{\"reason\"}`. A decided review is reopened.",
        params: &[],
        request: &[Body { media_type: JSON, schema: "ContestRequest", per_line: false }],
        ok_status: 201,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "Review", per_line: false }],
        errors: &[
            ErrorCode::UnknownPrediction,
            ErrorCode::MalformedJson,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::PayloadTooLarge,
            ErrorCode::InvalidRequest,
        ],
    },
    Route {
        method: "get",
        path: "/v1/reviews",
        handler: Handler::Plain(|| get(crate::subjects::list_reviews)),
        role: Some(KeyRole::Operator),
        private_role: None,
        operation_id: "listReviews",
        summary: "The human review queue.",
        description: "Operators and admins only. Decisions of use cases with `significant_effect = true` and contested decisions, with the score kept for the reviewer.",
        params: &[
            Param { name: "status", ty: "string", description: "`pending`, `approved`, `rejected` or `all` (default)." },
            Param { name: "usecase", ty: "string", description: "Only this use case." },
        ],
        request: &[],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "Reviews", per_line: false }],
        errors: &[ErrorCode::InvalidRequest],
    },
    Route {
        method: "post",
        path: "/v1/reviews/{id}/approve",
        handler: Handler::Plain(|| post(crate::subjects::approve)),
        role: Some(KeyRole::Operator),
        private_role: None,
        operation_id: "approveReview",
        summary: "Approve a queued decision (audited as `review.approved`).",
        description: "Operators and admins only. Optional body `{\"reason\"}`. `{id}` is the prediction id.",
        params: &[],
        request: &[Body { media_type: JSON, schema: "ReviewDecision", per_line: false }],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "Review", per_line: false }],
        errors: &[
            ErrorCode::UnknownReview,
            ErrorCode::ReviewClosed,
            ErrorCode::MalformedJson,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::PayloadTooLarge,
            ErrorCode::InvalidRequest,
        ],
    },
    Route {
        method: "post",
        path: "/v1/reviews/{id}/reject",
        handler: Handler::Plain(|| post(crate::subjects::reject)),
        role: Some(KeyRole::Operator),
        private_role: None,
        operation_id: "rejectReview",
        summary: "Reject a queued decision (audited as `review.rejected`).",
        description: "Operators and admins only. Body `{\"reason\"}` (required). `{id}` is the prediction id.",
        params: &[],
        request: &[Body { media_type: JSON, schema: "ReviewDecision", per_line: false }],
        ok_status: 200,
        also_ok: &[],
        ok: &[Body { media_type: JSON, schema: "Review", per_line: false }],
        errors: &[
            ErrorCode::UnknownReview,
            ErrorCode::ReviewClosed,
            ErrorCode::MalformedJson,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::PayloadTooLarge,
            ErrorCode::InvalidRequest,
        ],
    },
];
