//! The kinds of use case klartext answers, one module each, behind one registry
//! ([`KINDS`]). A kind owns everything that differs between kinds: its section of the
//! use-case file, what it trains from, its artifact payload, its metrics and gates, its
//! model card, how it answers a decision, what it logs, what feedback means for it and
//! what monitoring means for it (see [`Kind`]). Adding a kind is a new module (heavy
//! learners in their own crate) and one line in [`KINDS`].
//!
//! No I/O: callers load data and store what comes back. Every artifact shares one
//! envelope ([`artifact`]); every training report shares a head ([`report`]).

pub mod artifact;
pub mod classification;
pub mod docs;
pub mod error;
pub mod gates;
pub mod kind;
pub mod regression;
pub mod report;
pub mod supervised;
pub mod usecase;

pub use artifact::{Artifact, ArtifactHeader, Lineage};
pub use error::{KindError, Result};
pub use kind::{
    answer_body, Answer, AnswerBody, DatasetInput, FallbackAnswer, Figures, Kind, Model,
    MonitorInput, MonitorSource, Operation, Problem, Refusal, TrainInput, TrainOptions, Trained,
    TrainsFrom,
};
pub use report::ReportHead;

use klartext_core::UseCaseKind;

/// Every kind this build answers. A kind of the use-case file without an entry here
/// loads and is listed, but cannot be trained or answered yet.
pub static KINDS: &[&dyn Kind] = &[&classification::Classification, &regression::Regression];

/// The module of a kind, if this build has one.
pub fn kind_of(kind: UseCaseKind) -> Result<&'static dyn Kind> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.kind() == kind)
        .ok_or(KindError::NotAvailable(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_kind_is_a_kind_of_the_use_case_file_once() {
        for k in KINDS {
            assert!(UseCaseKind::ALL.contains(&k.kind()));
            assert_eq!(KINDS.iter().filter(|o| o.kind() == k.kind()).count(), 1);
            assert!(!k.operations().is_empty(), "{} answers nothing", k.kind());
        }
        assert!(kind_of(UseCaseKind::Content).is_err());
    }

    #[test]
    fn gate_keys_are_unique_per_kind() {
        for k in KINDS {
            let g = k.gates();
            for (i, a) in g.iter().enumerate() {
                assert!(
                    g[i + 1..].iter().all(|b| b.key != a.key),
                    "{}: {}",
                    k.kind(),
                    a.key
                );
            }
        }
    }
}
