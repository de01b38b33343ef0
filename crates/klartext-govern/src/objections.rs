//! The subjects who objected to profiling (GDPR Art. 21), as this process last read
//! them: their ids, and the keyed hashes of those erased since. Every decision asks
//! this before anything is computed; it is reloaded whenever the governance version
//! moves, so an objection reaches every process sharing the store within a poll.

use klartext_store::{Store, StoreError};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};

#[derive(Debug, Default)]
pub struct Objected {
    set: RwLock<Arc<ObjectedSet>>,
}

#[derive(Debug, Default)]
pub struct ObjectedSet {
    ids: HashSet<String>,
    erased: klartext_store::Suppression,
}

impl ObjectedSet {
    pub fn contains(&self, subject: &str) -> bool {
        self.ids.contains(subject) || self.erased.contains(subject)
    }
}

impl Objected {
    pub fn current(&self) -> Arc<ObjectedSet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-read from the store (at start, and whenever the governance version moves).
    pub fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let ids: HashSet<String> = store
            .objections()?
            .into_iter()
            .map(|o| o.subject_id)
            .collect();
        let erased = store.suppression()?;
        *self.set.write().unwrap_or_else(|e| e.into_inner()) =
            Arc::new(ObjectedSet { ids, erased });
        Ok(())
    }
}
