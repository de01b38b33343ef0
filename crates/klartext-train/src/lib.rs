//! The training step: a registered frame and its use case in; a content-addressed model
//! artifact, its training report (metrics, fairness, gates) and model card out.
//!
//! No I/O: the caller loads the data and stores what comes back. Scoring helpers
//! (encoding a row, wording reasons) live here too, so training and serving encode
//! rows the same way.

pub mod artifact;
pub mod card;
pub mod docs;
pub mod encode;
pub mod error;
pub mod gates;
pub mod logrow;
pub mod reasons;
pub mod score;
pub mod train;

pub use artifact::Artifact;
pub use error::{Result, TrainError};
pub use train::{train, TrainOptions, Trained, TrainingReport};
