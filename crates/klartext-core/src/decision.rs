//! The vocabulary of decisions that every kind and every caller shares: how a logged
//! decision was answered, and what a real outcome reported later means.

use serde::{Deserialize, Serialize};

/// How a decision was answered. Governance sets it; the kind's output says the rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionStatus {
    /// The model answered.
    #[default]
    Answered,
    /// The use case was switched off: its documented fallback answered.
    Fallback,
    /// The subject objected to profiling (GDPR Art. 21): nothing was computed.
    Objected,
    /// The decision has a significant effect (GDPR Art. 22): scored, kept, and held for
    /// a person; the caller was told it is pending.
    HeldForReview,
}

impl DecisionStatus {
    pub const ALL: [DecisionStatus; 4] = [
        DecisionStatus::Answered,
        DecisionStatus::Fallback,
        DecisionStatus::Objected,
        DecisionStatus::HeldForReview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DecisionStatus::Answered => "answered",
            DecisionStatus::Fallback => "fallback",
            DecisionStatus::Objected => "objected",
            DecisionStatus::HeldForReview => "held_for_review",
        }
    }

    pub fn parse(s: &str) -> Option<DecisionStatus> {
        DecisionStatus::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// A real outcome attached to a decision, as the decision's kind reads what the caller
/// sent. Kinds that need another shape of outcome add a variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outcome {
    /// Yes or no: the positive class happened (classification).
    Binary { positive: bool },
    /// A number: the real value (regression).
    Value { value: f64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_by_name() {
        for s in DecisionStatus::ALL {
            assert_eq!(DecisionStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn outcomes_are_tagged() {
        let o = Outcome::Binary { positive: true };
        let v = serde_json::to_value(o).unwrap();
        assert_eq!(v, serde_json::json!({"type": "binary", "positive": true}));
        assert_eq!(serde_json::from_value::<Outcome>(v).unwrap(), o);
    }
}
