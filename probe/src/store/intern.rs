//! Interning: strings (names, files, kinds) and spawn sites are stored once and referenced from
//! each record by a 1-based index, 0 meaning absent (or a full table).

use std::collections::HashMap;

/// Most distinct strings, and most distinct sites, kept: a target spawning from millions of
/// distinct names would grow the tables without bound.
const MAX_ENTRIES: usize = 1 << 20;

/// What tasks spawned at one place share: stored once, referenced by index from each record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Site {
    /// The `runtime.spawn` callsite's address (console's metadata id).
    pub meta_id: u64,
    /// Interned strings (0 = absent).
    pub kind: u32,
    pub file: u32,
    /// The `fn` field of blocking tasks.
    pub fn_name: u32,
    pub line: u32,
    pub col: u32,
}

#[derive(Default)]
pub(super) struct Interner {
    ids: HashMap<Box<str>, u32>,
    strings: Vec<Box<str>>,
}

impl Interner {
    /// The index of `s`, interning it on first sight (0 when the table is full).
    pub(super) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        if self.strings.len() >= MAX_ENTRIES {
            return 0;
        }
        self.strings.push(s.into());
        let id = self.strings.len() as u32;
        self.ids.insert(s.into(), id);
        id
    }

    pub(super) fn get(&self, id: u32) -> Option<String> {
        if id == 0 {
            return None;
        }
        self.strings.get(id as usize - 1).map(|s| s.to_string())
    }
}

/// The spawn sites seen, by index.
#[derive(Default)]
pub(super) struct Sites {
    ids: HashMap<Site, u32>,
    sites: Vec<Site>,
}

impl Sites {
    /// The index of `site`, interning it on first sight (0 when the table is full).
    pub(super) fn id(&mut self, site: Site) -> u32 {
        if let Some(&id) = self.ids.get(&site) {
            return id;
        }
        if self.sites.len() >= MAX_ENTRIES {
            return 0;
        }
        self.sites.push(site);
        let id = self.sites.len() as u32;
        self.ids.insert(site, id);
        id
    }

    pub(super) fn get(&self, id: u32) -> Site {
        if id == 0 {
            return Site::default();
        }
        self.sites.get(id as usize - 1).copied().unwrap_or_default()
    }
}
