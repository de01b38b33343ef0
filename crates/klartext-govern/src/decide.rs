//! The one path every decision takes, whoever asks (the server's decision routes,
//! `klartext score`): request → governance (is the use case switched off, did the
//! subject object, which version answers) → the kind's answer → the review hold and a
//! shadow challenger → the log records → the answer. The caller commits the records
//! before it hands the answer out ([`crate::Governor::commit`]).

use crate::digest::input_digest;
use crate::ids::prediction_id;
use crate::objections::ObjectedSet;
use crate::serving::{Live, Served};
use klartext_core::{DecisionStatus, UseCase};
use klartext_kinds::{AnswerBody, Kind, Operation, Problem, Refusal};
use klartext_store::{PredictionRecord, PredictionRole, Switch};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Instant;

/// Why a decision is not made, in the words every caller shows.
pub const OBJECTED: &str = "the subject objected to profiling (GDPR Art. 21): no score is computed";
pub const SWITCHED_OFF: &str = "the use case is switched off; this is its documented fallback";
pub const SWITCHED_OFF_OBJECTED: &str =
    "the use case is switched off, and the subject objected to profiling (GDPR Art. 21): no score";
pub const HELD_FOR_REVIEW: &str =
    "this decision has a significant effect (GDPR Art. 22): a person reviews it before it is made";

/// What answers one request (or one block of a stream) of one use case, read once so
/// that a promotion or a switch in between never splits it across states.
pub struct Route {
    pub usecase: Arc<UseCase>,
    pub(crate) kind: &'static dyn Kind,
    pub(crate) op: Operation,
    pub(crate) live: Live,
    pub(crate) objected: Arc<ObjectedSet>,
}

/// One decision request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub subject_id: Option<&'a str>,
    /// The operation's input object (the features of a predict call).
    pub input: &'a Map<String, Value>,
    /// Where the input sits, for error fields (`features.`, `[3].features.`).
    pub prefix: &'a str,
    /// `false` skips the explanation (faster; no reasons either).
    pub explain: bool,
}

/// Who asks, and for what run.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The API key id, or `cli:<user>` for the command line.
    pub caller: &'a str,
    /// The offline scoring run the decision belongs to.
    pub batch_id: Option<&'a str>,
    /// When the request arrived (the log's latency).
    pub started: Instant,
}

/// How a decision was answered, with what the caller shows of it.
pub enum Given {
    /// The model answered: the kind's fields.
    Answered {
        body: AnswerBody,
        warnings: Vec<Problem>,
    },
    /// Scored and kept for a person (`significant_effect`); the caller is told it is
    /// pending.
    HeldForReview { warnings: Vec<Problem> },
    /// The subject objected: nothing was computed.
    Objected,
    /// The use case is switched off: its fallback answered (nothing for a subject who
    /// objected).
    Fallback {
        /// The fallback's fields; `None` for a subject who objected.
        body: Option<AnswerBody>,
        /// Whether the fallback makes a decision (`none = true` makes none).
        decides: bool,
        warnings: Vec<String>,
        off: Switch,
        objected: bool,
    },
}

impl Given {
    pub fn status(&self) -> DecisionStatus {
        match self {
            Given::Answered { .. } => DecisionStatus::Answered,
            Given::HeldForReview { .. } => DecisionStatus::HeldForReview,
            Given::Objected | Given::Fallback { objected: true, .. } => DecisionStatus::Objected,
            Given::Fallback { .. } => DecisionStatus::Fallback,
        }
    }

    /// Governance's reason when the model did not answer (the kind's reasons otherwise).
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Given::Answered { .. } => None,
            Given::HeldForReview { .. } => Some(HELD_FOR_REVIEW),
            Given::Objected => Some(OBJECTED),
            Given::Fallback { objected: true, .. } => Some(SWITCHED_OFF_OBJECTED),
            Given::Fallback { .. } => Some(SWITCHED_OFF),
        }
    }
}

/// What a decision answers.
pub struct Answered {
    pub prediction_id: String,
    pub usecase: String,
    /// The version that answered; `None` for a fallback or an objection.
    pub model_version: Option<String>,
    pub given: Given,
}

impl Answered {
    pub fn is_fallback(&self) -> bool {
        matches!(self.given, Given::Fallback { .. })
    }
}

/// A decision made: what to answer, and what to log before answering.
pub struct Decision {
    pub answer: Answered,
    /// The answered decision's log row.
    pub record: PredictionRecord,
    /// A shadow challenger's row for the same request: logged, never answered.
    pub shadow: Option<PredictionRecord>,
    /// The version whose metrics count the decision (the champion for a fallback).
    pub by: Option<Arc<Served>>,
}

/// Why a request got no decision.
#[derive(Debug)]
pub enum Refused {
    /// The input is wrong: each problem names its field.
    Invalid(Vec<Problem>),
    /// Something failed that is not the caller's fault (already logged).
    Failed(String),
}

/// `output` with governance's reasons in it.
fn with_reasons(output: Value, reason: &str) -> Value {
    let mut m = match output {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.insert("reasons".into(), Value::from(vec![reason]));
    Value::Object(m)
}

impl Route {
    pub fn usecase_id(&self) -> &str {
        &self.usecase.id
    }

    pub fn operation(&self) -> Operation {
        self.op
    }

    /// The input fields of the version that answers (none while switched off without
    /// a model).
    pub fn inputs(&self) -> Vec<String> {
        self.live
            .champion
            .as_ref()
            .map(|s| s.model.inputs().into_iter().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The version that answers subjects outside a canary (the champion).
    pub fn answering_version(&self) -> Option<&str> {
        self.live.champion.as_ref().map(|s| s.version.as_str())
    }

    /// Decide one request.
    pub fn decide(&self, req: Request<'_>, ctx: &Context<'_>) -> Result<Decision, Refused> {
        let failed = |e: crate::GovernError| {
            tracing::error!(error = %e, "a decision failed");
            Refused::Failed(e.to_string())
        };
        let uc = &self.usecase;
        let objects = req.subject_id.is_some_and(|s| self.objected.contains(s));
        let id = prediction_id().map_err(failed)?;
        let record = |version: &str, status, output, score, features| PredictionRecord {
            prediction_id: id.clone(),
            at_ms: klartext_store::now_ms(),
            usecase_id: uc.id.clone(),
            kind: Some(uc.kind),
            model_version: version.to_owned(),
            subject_id: req.subject_id.map(str::to_owned),
            input_digest: input_digest(req.subject_id, req.input),
            status,
            output,
            latency_us: ctx.started.elapsed().as_micros() as i64,
            caller: ctx.caller.to_owned(),
            fallback: false,
            role: PredictionRole::Served,
            score,
            features,
            shadow_of: None,
            batch_id: ctx.batch_id.map(str::to_owned),
        };
        let champion = self.live.champion.clone();

        if let Some(off) = &self.live.switched_off {
            let (given, output, score) = if objects {
                let given = Given::Fallback {
                    body: None,
                    decides: false,
                    warnings: Vec::new(),
                    off: off.clone(),
                    objected: true,
                };
                (given, Value::Object(Map::new()), None)
            } else {
                let fb = self.kind.fallback(uc);
                let output = fb.output;
                let given = Given::Fallback {
                    body: Some(fb.body),
                    decides: fb.decides,
                    warnings: fb.warnings,
                    off: off.clone(),
                    objected: false,
                };
                (given, output, fb.score)
            };
            let reason = given.reason().expect("a fallback has a reason");
            let mut r = record(
                "fallback",
                given.status(),
                with_reasons(output, reason),
                score,
                None,
            );
            r.fallback = true;
            return Ok(Decision {
                answer: Answered {
                    prediction_id: id,
                    usecase: uc.id.clone(),
                    model_version: None,
                    given,
                },
                record: r,
                shadow: None,
                by: champion,
            });
        }

        if objects {
            let r = record(
                "objected",
                DecisionStatus::Objected,
                with_reasons(Value::Object(Map::new()), OBJECTED),
                None,
                None,
            );
            return Ok(Decision {
                answer: Answered {
                    prediction_id: id,
                    usecase: uc.id.clone(),
                    model_version: None,
                    given: Given::Objected,
                },
                record: r,
                shadow: None,
                by: champion,
            });
        }

        let Some((answering, shadow)) = self.live.pick(&uc.id, req.subject_id) else {
            return Err(failed(crate::GovernError::NoModel {
                usecase: uc.id.clone(),
            }));
        };
        let answer = answering
            .model
            .decide(self.op, req.input, req.explain, req.prefix)
            .map_err(|r| match r {
                Refusal::Invalid(p) => Refused::Invalid(p),
                Refusal::Failed(e) => {
                    tracing::error!(use_case = %uc.id, version = %answering.version, error = %e, "the model could not decide a valid request");
                    Refused::Failed(e.to_string())
                }
            })?;
        let status = if uc.significant_effect {
            DecisionStatus::HeldForReview
        } else {
            DecisionStatus::Answered
        };
        let r = record(
            &answering.version,
            status,
            answer.output,
            answer.score,
            answer.features,
        );
        let given = if uc.significant_effect {
            Given::HeldForReview {
                warnings: answer.warnings,
            }
        } else {
            Given::Answered {
                body: answer.body,
                warnings: answer.warnings,
            }
        };
        // A shadow challenger that cannot decide the request changes nothing about the
        // answer; it is a server event.
        let shadow = shadow.and_then(|sh| {
            match sh.model.decide(self.op, req.input, false, req.prefix) {
                Ok(a) => {
                    let mut s = record(&sh.version, DecisionStatus::Answered, a.output, a.score, a.features);
                    s.prediction_id = prediction_id().ok()?;
                    s.role = PredictionRole::Shadow;
                    s.shadow_of = Some(id.clone());
                    Some(s)
                }
                Err(e) => {
                    tracing::warn!(use_case = %uc.id, shadow = %sh.version, problem = ?e, "the shadow challenger could not decide a request");
                    None
                }
            }
        });
        Ok(Decision {
            answer: Answered {
                prediction_id: id,
                usecase: uc.id.clone(),
                model_version: Some(answering.version.clone()),
                given,
            },
            record: r,
            shadow,
            by: Some(answering.clone()),
        })
    }
}

/// Count decided rows on the metrics of the version that answered each.
pub fn observe(decisions: &[(Option<Arc<Served>>, bool)], latency_us: u64) {
    let mut counts: Vec<(&Arc<Served>, bool, u64)> = Vec::new();
    for (s, fallback) in decisions {
        let Some(s) = s else { continue };
        match counts
            .iter_mut()
            .find(|(c, f, _)| Arc::ptr_eq(c, s) && f == fallback)
        {
            Some((_, _, n)) => *n += 1,
            None => counts.push((s, *fallback, 1)),
        }
    }
    for (s, fallback, n) in counts {
        s.metrics.observe(n, latency_us, fallback);
    }
}
