//! The model artifact: encoder, learner and decision threshold in one versioned,
//! deterministic byte string. Its SHA-256 names the model version.

use crate::encode::Encoder;
use crate::error::{Result, TrainError};
use klartext_learn::{Model, Task};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// First bytes of every artifact.
pub const MAGIC: &[u8; 8] = b"KLTXART\0";
/// The artifact format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// Everything needed to score a row, plus the lineage that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub usecase: String,
    pub task: Task,
    pub target: String,
    /// The positive class (classification).
    pub positive: Option<String>,
    /// The label answered below the threshold (classification).
    pub negative: Option<String>,
    /// Scores at or above this are labelled positive (classification).
    pub threshold: Option<f64>,
    pub encoder: Encoder,
    pub dataset_id: String,
    pub seed: u64,
    /// The learner chosen by cross-validation.
    pub learner: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub header: Header,
    pub model: Model,
}

impl Artifact {
    /// `MAGIC`, format version (u32 LE), header length (u64 LE), header JSON, model bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("headers serialise");
        let model = self.model.to_bytes();
        let mut out = Vec::with_capacity(24 + header.len() + model.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&model);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Artifact> {
        if bytes.len() < 20 || &bytes[..8] != MAGIC {
            return Err(TrainError::Artifact("not a klartext model artifact".into()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version > FORMAT_VERSION {
            return Err(TrainError::Artifact(format!(
                "format version {version} is newer than this klartext reads ({FORMAT_VERSION}); upgrade klartext"
            )));
        }
        let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes")) as usize;
        let end = 20usize
            .checked_add(len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| TrainError::Artifact("truncated header".into()))?;
        let header: Header = serde_json::from_slice(&bytes[20..end])
            .map_err(|e| TrainError::Artifact(format!("header: {e}")))?;
        let model = Model::from_bytes(&bytes[end..])?;
        Ok(Artifact { header, model })
    }

    /// The version id: the first 12 hex digits of the artifact's SHA-256.
    pub fn version_of(bytes: &[u8]) -> (String, String) {
        let sha = hex::encode(Sha256::digest(bytes));
        (sha[..12].to_owned(), sha)
    }
}
