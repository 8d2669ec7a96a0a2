//! This page's localStorage record of undelivered events, and adoption of
//! records left by closed or dead pages (format and rules: [`crate::persist`]).
//! localStorage may be missing or throw (privacy modes, quota): then the
//! snippet simply keeps events in memory.

use crate::persist::{self, Record};

/// The page's record in localStorage.
pub(super) struct PageStore {
    storage: web_sys::Storage,
    key: String,
    /// We wrote a non-empty record: if it vanishes, another page adopted it.
    wrote: bool,
    budget: usize,
}

/// What [`PageStore::save`] found.
#[derive(Debug, PartialEq)]
pub(super) enum Saved {
    /// Written (or removed when empty); `u32` events dropped to fit the budget.
    Ok(u32),
    /// Our record had been adopted by another page: its events are no
    /// longer ours to send.
    TakenOver,
}

impl PageStore {
    /// The store of this page (a fresh random key), if localStorage works.
    pub(super) fn open(budget: usize) -> Option<PageStore> {
        let storage = web_sys::window()?.local_storage().ok().flatten()?;
        Some(PageStore {
            storage,
            key: [persist::KEY_PREFIX, &super::page::random_hex(8)].concat(),
            wrote: false,
            budget,
        })
    }

    /// Take every orphaned record (ours too, after a back/forward restore):
    /// read, then remove, so no other page sends them.
    pub(super) fn adopt_orphans(&mut self, now: f64) -> Vec<Record> {
        let len = self.storage.length().unwrap_or(0);
        let keys: Vec<String> = (0..len)
            .filter_map(|i| self.storage.key(i).ok().flatten())
            .filter(|k| k.starts_with(persist::KEY_PREFIX))
            .collect();
        let mut out = Vec::new();
        for key in keys {
            let Some(text) = self.storage.get_item(&key).ok().flatten() else {
                continue;
            };
            match persist::decode(&text) {
                Some(r) if r.is_orphan(now) || key == self.key => {
                    let _ = self.storage.remove_item(&key);
                    if key == self.key {
                        self.wrote = false;
                    }
                    out.push(r);
                }
                Some(_) => {}
                None => {
                    let _ = self.storage.remove_item(&key);
                }
            }
        }
        out
    }

    /// Write the record (or remove it when there is nothing to keep).
    pub(super) fn save<'a>(
        &mut self,
        now: f64,
        closed: bool,
        dropped: u32,
        sent: &'a [String],
        pending: impl Iterator<Item = &'a String>,
    ) -> Saved {
        if self.wrote && self.storage.get_item(&self.key).ok().flatten().is_none() {
            self.wrote = false;
            return Saved::TakenOver;
        }
        let mut pending = pending.peekable();
        if pending.peek().is_none() && sent.is_empty() && dropped == 0 {
            if self.wrote {
                let _ = self.storage.remove_item(&self.key);
                self.wrote = false;
            }
            return Saved::Ok(0);
        }
        let (text, lost) = persist::encode(now, closed, dropped, sent, pending, self.budget);
        self.wrote = self.storage.set_item(&self.key, &text).is_ok();
        Saved::Ok(lost)
    }
}
