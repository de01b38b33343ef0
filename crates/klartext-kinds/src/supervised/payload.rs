//! The supervised payload inside the artifact envelope: encoder, decision threshold and
//! learner. Layout (payload format 1): header length (u64 LE), header JSON, model bytes
//! (klartext-learn's own versioned format). Version-1 artifacts carried exactly these
//! bytes after their format version, so they read here unchanged.

use crate::artifact::{length_prefixed, Artifact, ArtifactHeader, Lineage};
use crate::error::{KindError, Result};
use crate::supervised::encode::Encoder;
use klartext_core::UseCaseKind;
use klartext_learn::{Model, Task};
use serde::{Deserialize, Serialize};

/// The supervised payload format this build writes and the newest it reads.
pub const PAYLOAD_FORMAT: u32 = 1;

/// Everything needed to score a row besides the learner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub task: Task,
    pub target: String,
    /// The positive class (classification).
    pub positive: Option<String>,
    /// The label answered below the threshold (classification).
    pub negative: Option<String>,
    /// Scores at or above this are labelled positive (classification).
    pub threshold: Option<f64>,
    pub encoder: Encoder,
}

/// A supervised model version: its lineage, header and learner.
#[derive(Debug, Clone, PartialEq)]
pub struct Supervised {
    pub lineage: Lineage,
    pub header: Header,
    pub model: Model,
}

impl Supervised {
    pub fn kind(&self) -> UseCaseKind {
        match self.header.task {
            Task::BinaryClassification => UseCaseKind::Classification,
            Task::Regression => UseCaseKind::Regression,
        }
    }

    /// The artifact bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("headers serialise");
        let model = self.model.to_bytes();
        let mut payload = Vec::with_capacity(8 + header.len() + model.len());
        payload.extend_from_slice(&(header.len() as u64).to_le_bytes());
        payload.extend_from_slice(&header);
        payload.extend_from_slice(&model);
        Artifact::new(
            ArtifactHeader {
                kind: self.kind(),
                payload_format: PAYLOAD_FORMAT,
                lineage: self.lineage.clone(),
            },
            payload,
        )
        .to_bytes()
    }

    /// Read the payload of an artifact of `kind`.
    pub fn from_artifact(a: &Artifact, kind: UseCaseKind) -> Result<Supervised> {
        if a.header.kind != kind {
            return Err(KindError::Artifact(format!(
                "the artifact holds a {} model, not a {kind} one",
                a.header.kind
            )));
        }
        if a.header.payload_format > PAYLOAD_FORMAT {
            return Err(KindError::Artifact(format!(
                "payload format {} is newer than this klartext reads ({PAYLOAD_FORMAT}); upgrade klartext",
                a.header.payload_format
            )));
        }
        let (header, model) = length_prefixed(&a.payload)?;
        let header: Header = serde_json::from_slice(header)
            .map_err(|e| KindError::Artifact(format!("header: {e}")))?;
        let model = Model::from_bytes(model)?;
        let s = Supervised {
            lineage: a.header.lineage.clone(),
            header,
            model,
        };
        if s.kind() != kind {
            return Err(KindError::Artifact(format!(
                "the payload holds a {} model, not a {kind} one",
                s.kind()
            )));
        }
        Ok(s)
    }

    /// Read artifact bytes of either kind (tests and tools that hold bytes only).
    pub fn from_bytes(bytes: &[u8]) -> Result<Supervised> {
        let a = Artifact::from_bytes(bytes)?;
        Supervised::from_artifact(&a, a.header.kind)
    }
}
