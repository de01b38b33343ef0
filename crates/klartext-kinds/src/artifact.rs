//! The artifact envelope every kind's model version is stored in: magic, envelope
//! version, kind, the kind's payload format and the lineage all kinds share, then the
//! kind's payload. Deterministic bytes: their SHA-256 names the model version.
//!
//! Layout (envelope version 2): `MAGIC`, envelope version (u32 LE), header length (u64
//! LE), header JSON ([`ArtifactHeader`]), payload. Version 1 (written before kinds had a
//! module each) was classification and regression only: `MAGIC`, 1 (u32 LE), then what
//! is now the supervised payload (its header JSON carried the lineage); it still loads.

use crate::error::{KindError, Result};
use klartext_core::UseCaseKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// First bytes of every artifact.
pub const MAGIC: &[u8; 8] = b"KLTXART\0";
/// The envelope version this build writes and the newest it reads.
pub const ENVELOPE_VERSION: u32 = 2;

/// Where a model version comes from, whatever its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    pub usecase: String,
    pub dataset_id: String,
    pub seed: u64,
    /// The learner chosen (e.g. by cross-validation).
    pub learner: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactHeader {
    pub kind: UseCaseKind,
    /// The format of the kind's payload; the kind refuses one newer than it reads.
    pub payload_format: u32,
    #[serde(flatten)]
    pub lineage: Lineage,
}

/// An artifact: its envelope header and the kind's payload bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub header: ArtifactHeader,
    pub payload: Vec<u8>,
    /// The envelope version the bytes were written with.
    pub envelope_version: u32,
}

impl Artifact {
    pub fn new(header: ArtifactHeader, payload: Vec<u8>) -> Artifact {
        Artifact {
            header,
            payload,
            envelope_version: ENVELOPE_VERSION,
        }
    }

    /// The bytes of the current envelope version.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("headers serialise");
        let mut out = Vec::with_capacity(20 + header.len() + self.payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&ENVELOPE_VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.payload);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Artifact> {
        if bytes.len() < 20 || &bytes[..8] != MAGIC {
            return Err(KindError::Artifact("not a klartext model artifact".into()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        match version {
            1 => from_v1(bytes),
            2 => {
                let (header, rest) = length_prefixed(&bytes[12..])?;
                let header: ArtifactHeader = serde_json::from_slice(header)
                    .map_err(|e| KindError::Artifact(format!("header: {e}")))?;
                Ok(Artifact {
                    header,
                    payload: rest.to_vec(),
                    envelope_version: 2,
                })
            }
            v if v > ENVELOPE_VERSION => Err(KindError::Artifact(format!(
                "format version {v} is newer than this klartext reads ({ENVELOPE_VERSION}); upgrade klartext"
            ))),
            v => Err(KindError::Artifact(format!("unknown format version {v}"))),
        }
    }

    /// The version id and the SHA-256 of artifact bytes: the first 12 hex digits of it.
    pub fn version_of(bytes: &[u8]) -> (String, String) {
        let sha = hex::encode(Sha256::digest(bytes));
        (sha[..12].to_owned(), sha)
    }
}

/// A `u64 LE` length, that many bytes, and the rest.
pub(crate) fn length_prefixed(bytes: &[u8]) -> Result<(&[u8], &[u8])> {
    if bytes.len() < 8 {
        return Err(KindError::Artifact("truncated header".into()));
    }
    let len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let end = 8usize
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| KindError::Artifact("truncated header".into()))?;
    Ok((&bytes[8..end], &bytes[end..]))
}

/// A version-1 artifact: its header held the lineage and the task beside the
/// supervised fields; the bytes after the version are the supervised payload, format 1.
fn from_v1(bytes: &[u8]) -> Result<Artifact> {
    #[derive(Deserialize)]
    struct V1 {
        usecase: String,
        task: klartext_learn::Task,
        dataset_id: String,
        seed: u64,
        learner: String,
    }
    let payload = &bytes[12..];
    let (header, _) = length_prefixed(payload)?;
    let v1: V1 =
        serde_json::from_slice(header).map_err(|e| KindError::Artifact(format!("header: {e}")))?;
    Ok(Artifact {
        header: ArtifactHeader {
            kind: match v1.task {
                klartext_learn::Task::BinaryClassification => UseCaseKind::Classification,
                klartext_learn::Task::Regression => UseCaseKind::Regression,
            },
            payload_format: 1,
            lineage: Lineage {
                usecase: v1.usecase,
                dataset_id: v1.dataset_id,
                seed: v1.seed,
                learner: v1.learner,
            },
        },
        payload: payload.to_vec(),
        envelope_version: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Artifact {
        Artifact::new(
            ArtifactHeader {
                kind: UseCaseKind::Regression,
                payload_format: 3,
                lineage: Lineage {
                    usecase: "value".into(),
                    dataset_id: "ds_1".into(),
                    seed: 7,
                    learner: "ridge".into(),
                },
            },
            b"payload".to_vec(),
        )
    }

    #[test]
    fn envelope_round_trips() {
        let a = sample();
        assert_eq!(Artifact::from_bytes(&a.to_bytes()).unwrap(), a);
    }

    #[test]
    fn a_newer_envelope_is_refused_naming_the_versions() {
        let mut b = sample().to_bytes();
        b[8..12].copy_from_slice(&99u32.to_le_bytes());
        let e = Artifact::from_bytes(&b).unwrap_err().to_string();
        assert!(e.contains("99") && e.contains("upgrade klartext"), "{e}");
    }

    #[test]
    fn garbage_and_truncation_are_errors_not_panics() {
        assert!(Artifact::from_bytes(b"not an artifact at all").is_err());
        let b = sample().to_bytes();
        for cut in [12, 19, 25] {
            assert!(Artifact::from_bytes(&b[..cut]).is_err(), "cut {cut}");
        }
    }
}
