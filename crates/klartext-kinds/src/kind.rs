//! What a kind of use case is: the one trait every kind implements (its file section,
//! what it trains from, its artifact payload, metrics and gates, card, how it answers a
//! decision, what it logs, what feedback means, what monitoring means), and the types
//! it speaks with the layers above.

use crate::artifact::Artifact;
use crate::error::Result;
use crate::gates::GateSpec;
use klartext_core::{Frame, Outcome, QualityReport, Schema, UseCase, UseCaseError, UseCaseKind};
use klartext_learn::select::Progress;
use klartext_monitor::report::MonitoringReport;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;

/// A decision a caller can ask of a use case. The server's route table names one per
/// decision route; a kind lists the ones it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Score (or value) one subject from its features, with reasons.
    Predict,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Predict => "predict",
        }
    }
}

/// What a kind learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainsFrom {
    /// A registered dataset with a target column (`data.target`).
    TargetColumn,
}

/// One registered dataset, loaded, as training sees it.
#[derive(Debug, Clone, Copy)]
pub struct DatasetInput<'a> {
    pub id: &'a str,
    pub frame: &'a Frame,
    pub schema: &'a Schema,
    /// The dataset's quality report (for the data gates).
    pub quality: Option<&'a QualityReport>,
}

/// Everything a kind trains from.
#[derive(Debug, Clone, Copy)]
pub struct TrainInput<'a> {
    pub usecase: &'a UseCase,
    pub dataset: DatasetInput<'a>,
}

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub seed: u64,
    /// Share of rows held out for the final report.
    pub test_fraction: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            seed: 42,
            test_fraction: 0.25,
        }
    }
}

/// A trained model version, ready to be stored.
pub struct Trained {
    /// The artifact bytes; their SHA-256 is the version.
    pub bytes: Vec<u8>,
    /// Short version id and full SHA-256 of `bytes`.
    pub version: String,
    pub sha256: String,
    /// The kind's training report (stored with the version; its common fields read as
    /// [`crate::report::ReportHead`]).
    pub report: Value,
    pub head: crate::report::ReportHead,
    /// The reference profile drift monitoring compares traffic with (JSON owned by the
    /// monitoring crate), when the kind monitors drift.
    pub reference: Option<String>,
}

impl std::fmt::Debug for Trained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trained")
            .field("version", &self.version)
            .finish()
    }
}

/// One problem with one field of a decision request (`features.age`, `[3].features.plan`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The fields a kind answers a decision with (score, label, reasons, ...): the kind's
/// own typed struct, serialised once by the kind as a JSON object, which the caller
/// writes beside its own fields (the prediction id, the version). Serialised here
/// rather than handed over as a trait object: a dynamic serialiser costs a virtual call
/// per field of a long explanation.
pub type AnswerBody = Box<serde_json::value::RawValue>;

/// The answer fields of a typed struct (which must serialise as a JSON object).
pub fn answer_body<T: Serialize>(fields: &T) -> AnswerBody {
    let raw = serde_json::value::to_raw_value(fields).expect("answer fields serialise");
    debug_assert!(
        raw.get().starts_with('{'),
        "answer fields are a JSON object"
    );
    raw
}

/// A kind's answer to one decision request.
pub struct Answer {
    pub body: AnswerBody,
    /// What the prediction log keeps of it: the kind's output, typed by the kind.
    pub output: Value,
    /// The score monitoring follows (probability, value), when the kind has one.
    pub score: Option<f64>,
    /// Things worth knowing about the input that did not stop the answer.
    pub warnings: Vec<Problem>,
    /// The input's feature values in the kind's compact log encoding, for drift.
    pub features: Option<Vec<u8>>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("output", &self.output)
            .field("score", &self.score)
            .finish()
    }
}

/// A model version loaded for answering decisions.
pub trait Model: Send + Sync {
    /// The input fields a decision takes, in the model's order.
    fn inputs(&self) -> Vec<&str>;

    /// Answer `op` for one subject from `input` (the request's input object, e.g. the
    /// features of a predict call). `prefix` names the input's place in errors
    /// (`features.`, `[3].features.`). `explain: false` skips explaining (faster; no
    /// reasons either).
    fn decide(
        &self,
        op: Operation,
        input: &Map<String, Value>,
        explain: bool,
        prefix: &str,
    ) -> std::result::Result<Answer, Refusal>;
}

/// Why a model did not answer.
#[derive(Debug)]
pub enum Refusal {
    /// The input is wrong: each problem names its field.
    Invalid(Vec<Problem>),
    /// The model failed on a valid input: not the caller's fault.
    Failed(crate::error::KindError),
}

/// A version's figures, read from its report by its kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// The one figure a list of versions shows (`auc 0.8123`).
    pub headline: String,
    /// The held-out metrics by name.
    pub metrics: Value,
}

/// The answer of a switched-off use case: what its `[fallback]` says, in the kind's terms.
pub struct FallbackAnswer {
    pub body: AnswerBody,
    pub output: Value,
    pub score: Option<f64>,
    /// Whether the fallback makes a decision at all (`none = true` makes none).
    pub decides: bool,
    pub warnings: Vec<String>,
}

/// One logged decision as monitoring reads it: time, score, logged feature bytes.
pub type VisitLogged<'a> = dyn FnMut(i64, Option<f64>, Option<&[u8]>) + 'a;

/// One decision with feedback: its time, its score, and its latest outcome as the kind
/// reads it (`None` when it does not read).
pub type LoggedOutcome = (i64, Option<f64>, Option<Outcome>);

/// What monitoring reads of a model version's traffic; the governance layer implements
/// it over the store, so that the kind computes without doing I/O.
pub trait MonitorSource {
    /// Call `f` with time, score and logged feature bytes of every answered, scored
    /// decision of the version in `[from_ms, to_ms)`, oldest first; returns how many.
    fn visit(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut VisitLogged<'_>,
    ) -> std::result::Result<usize, String>;

    /// Answered decisions since `since_ms` that have feedback, oldest first, with their
    /// time, score and latest outcome (`None` when it does not read as this kind's).
    fn outcomes(&self, since_ms: i64) -> std::result::Result<Vec<LoggedOutcome>, String>;
}

/// What monitoring a version needs besides the traffic.
pub struct MonitorInput<'a> {
    pub usecase: &'a UseCase,
    pub version: &'a str,
    pub artifact: &'a Artifact,
    /// The stored training report.
    pub report: &'a Value,
    /// The stored reference profile, when the version has one.
    pub reference: Option<&'a str>,
    pub now_ms: i64,
}

/// One kind of use case. Every kind is a unit struct registered once in
/// [`crate::KINDS`]; everything kind-specific is asked of it.
pub trait Kind: Send + Sync {
    fn kind(&self) -> UseCaseKind;

    /// What it learns from.
    fn trains_from(&self) -> TrainsFrom;

    /// The decisions it answers.
    fn operations(&self) -> &'static [Operation];

    /// The gates it measures, in the order reports list them.
    fn gates(&self) -> &'static [GateSpec];

    /// Its checks of a use-case file beyond what every kind shares: its gates, its
    /// `[<kind>]` table and its data roles. `file` and `text` place errors.
    fn check(&self, uc: &UseCase, file: &str, text: &str) -> std::result::Result<(), UseCaseError>;

    /// Train a model version.
    fn train(
        &self,
        input: &TrainInput<'_>,
        opts: &TrainOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Trained>;

    /// Load an artifact's payload for answering decisions.
    fn load(&self, artifact: &Artifact) -> Result<Arc<dyn Model>>;

    /// The training result as a person reads it (the CLI prints it).
    fn summary(&self, report: &Value) -> Result<String>;

    /// The figures a version is judged by, from its stored report: one for a list of
    /// versions, and the held-out metrics.
    fn figures(&self, report: &Value) -> Result<Figures>;

    /// The model card (Markdown) of a version from its stored report.
    fn card(
        &self,
        uc: &UseCase,
        version: &str,
        report: &Value,
        trained_at: &str,
        trained_by: &str,
    ) -> Result<String>;

    /// What a switched-off use case answers.
    fn fallback(&self, uc: &UseCase) -> FallbackAnswer;

    /// What feedback means: read the outcome a caller reports for a decision, or say
    /// what was expected.
    fn outcome(&self, uc: &UseCase, raw: &Value) -> std::result::Result<Outcome, String>;

    /// Monitoring of a served version on its logged traffic and feedback.
    fn monitor(
        &self,
        input: &MonitorInput<'_>,
        source: &dyn MonitorSource,
    ) -> Result<MonitoringReport>;

    /// The same drift check on a file's rows instead of the log (no feedback, no alerts).
    fn drift_on(
        &self,
        input: &MonitorInput<'_>,
        frame: &Frame,
        source_name: &str,
    ) -> Result<MonitoringReport>;
}
