//! Prediction ids: `pr_` and 24 hex digits, the time in milliseconds (48 bits) then 48
//! random bits. Ids sort by time, so the log's primary-key index grows at its end
//! instead of touching a random page per row (a commit writes several times fewer
//! pages). Batch ids (`klartext score`) have the same shape with `batch_`.

use crate::error::{GovernError, Result};

fn time_ordered(prefix: &str) -> Result<String> {
    let mut b = [0u8; 12];
    b[..6].copy_from_slice(&klartext_store::now_ms().to_be_bytes()[2..]);
    getrandom::fill(&mut b[6..]).map_err(|e| GovernError::Random(e.to_string()))?;
    Ok(format!("{prefix}{}", hex::encode(b)))
}

/// A new prediction id.
pub fn prediction_id() -> Result<String> {
    time_ordered("pr_")
}

/// A new id for one offline scoring run.
pub fn batch_id() -> Result<String> {
    time_ordered("batch_")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_distinct_and_sort_by_time() {
        let a = super::prediction_id().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = super::prediction_id().unwrap();
        assert!(a.starts_with("pr_") && a.len() == 27, "{a}");
        assert!(a < b, "{a} {b}");
        assert!(super::batch_id().unwrap().starts_with("batch_"));
    }
}
