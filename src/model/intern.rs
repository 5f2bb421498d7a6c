//! String interning: thousands of tasks share a handful of spawn locations and names, so a task
//! stores a 4-byte symbol instead of its own copy of the string.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// Longest name or location kept, in bytes: a target that sends megabyte strings must not make
/// every frame, row and snapshot handle megabytes. Longer strings are cut (see [`clip`]).
pub const MAX_STRING_BYTES: usize = 4096;

/// `s` cut to [`MAX_STRING_BYTES`] at a character boundary, with a marker saying how much was
/// left out; `s` itself when it fits.
pub fn clip(s: &str) -> Cow<'_, str> {
    if s.len() <= MAX_STRING_BYTES {
        return Cow::Borrowed(s);
    }
    let mut end = MAX_STRING_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…[{} more bytes]", &s[..end], s.len() - end))
}

/// A handle to an interned string. `Sym::NONE` stands for "absent".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(u32);

impl Sym {
    pub const NONE: Sym = Sym(0);

    pub fn is_none(self) -> bool {
        self == Sym::NONE
    }
}

/// Interned strings, bounded: past `max_entries` distinct strings, new ones map to one overflow
/// symbol so that a target sending endless distinct names cannot grow asyncmem without bound.
#[derive(Debug)]
pub struct Interner {
    strings: Vec<Arc<str>>,
    index: HashMap<Arc<str>, Sym>,
    max_entries: usize,
}

pub const OVERFLOW: &str = "<too many distinct strings>";

impl Interner {
    /// The symbol that stands for every string past the limit.
    pub const OVERFLOW_SYM: Sym = Sym(1);

    pub fn new(max_entries: usize) -> Self {
        Interner {
            // Slot 0 is Sym::NONE, slot 1 the overflow bucket.
            strings: vec![Arc::from(""), Arc::from(OVERFLOW)],
            index: HashMap::new(),
            max_entries: max_entries.max(2),
        }
    }

    pub fn intern(&mut self, s: &str) -> Sym {
        if s.is_empty() {
            return Sym::NONE;
        }
        let s = &*clip(s);
        if let Some(&sym) = self.index.get(s) {
            return sym;
        }
        if self.strings.len() >= self.max_entries {
            return Self::OVERFLOW_SYM;
        }
        let sym = Sym(self.strings.len() as u32);
        let arc: Arc<str> = Arc::from(s);
        self.strings.push(arc.clone());
        self.index.insert(arc, sym);
        sym
    }

    /// The string of a symbol; "" for `Sym::NONE` or an unknown symbol.
    pub fn resolve(&self, sym: Sym) -> &str {
        self.strings.get(sym.0 as usize).map_or("", |s| s)
    }

    pub fn len(&self) -> usize {
        self.strings.len() - 2
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the interned strings (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.strings.iter().map(|s| s.len() + 16).sum::<usize>() * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_string_same_symbol() {
        let mut i = Interner::new(100);
        let a = i.intern("src/main.rs:1:1");
        let b = i.intern("src/main.rs:1:1");
        let c = i.intern("src/lib.rs:2:2");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(i.resolve(c), "src/lib.rs:2:2");
        assert_eq!(i.intern(""), Sym::NONE);
        assert_eq!(i.len(), 2);
    }

    #[test]
    fn long_strings_are_cut_at_a_character_boundary() {
        let mut i = Interner::new(100);
        let long = "é".repeat(MAX_STRING_BYTES); // 2 bytes each
        let sym = i.intern(&long);
        let kept = i.resolve(sym);
        assert!(kept.len() < MAX_STRING_BYTES + 32, "{}", kept.len());
        assert!(kept.ends_with(&format!("…[{} more bytes]", MAX_STRING_BYTES)));
        // The same long string is the same symbol.
        assert_eq!(i.intern(&long), sym);
        assert_eq!(clip("short"), "short");
    }

    #[test]
    fn bounded() {
        let mut i = Interner::new(4);
        let [a, b, c] = ["a", "b", "c"].map(|s| i.intern(s));
        assert_ne!(a, b);
        assert_eq!(i.resolve(c), OVERFLOW);
        assert_eq!(i.intern("a"), a);
    }
}
