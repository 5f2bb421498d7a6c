//! The task filter language of the TUI's `/`: space-separated terms, all of which must match,
//! as a pure function of a task (and the model's names).

use std::fmt;

use super::lints::{lints, Lint, LintConfig};
use super::locations::origin;
use crate::model::{Model, Sym, Task};

/// One condition of a filter; a task must meet all of them.
#[derive(Clone, Debug, PartialEq)]
enum Cond {
    Text(String),
    Name(String),
    Location(String),
    State(String),
    Kind(String),
    Lint(Lint),
    /// Spawned in a dependency's code (`code:dep`) or in the user's own (`code:own`).
    Dependency(bool),
    Boxed,
    Num(NumField, std::cmp::Ordering, bool, u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumField {
    Size,
    /// The heap a task holds (unknown where the target's allocator does not count it).
    Heap,
    Polls,
    Wakes,
    Id,
    TaskId,
}

/// A parsed filter: space-separated terms, all of which must match. `name:x`, `loc:x`,
/// `state:idle`, `kind:blocking`, `lint:L` (a lint's letter or name), `code:dep`/`code:own`,
/// `boxed`, `size>4k`, `heap>1m`, `polls>=2`, `wakes=0`, `id=5`, `tid<9`; any other word is a
/// case-insensitive substring of the name, location or state. A `key:` term with a key it does
/// not know, or a value a key cannot take, is an error ([`FilterError`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    conds: Vec<Cond>,
}

/// The keys of `key:value` terms, as the error lists them.
pub const KEYS: &str = "name: loc: state: kind: lint: code:";

/// The numeric fields of `field>n` terms.
pub const NUMERIC: &str = "size heap polls wakes id tid";

/// Why a filter's text does not parse: shown in the filter prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterError {
    UnknownKey(String),
    BadValue {
        key: &'static str,
        value: String,
        expected: String,
    },
    BadNumber {
        term: String,
    },
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::UnknownKey(k) => write!(
                f,
                "unknown key {k:?}: the keys are {KEYS} and {NUMERIC} with > < = (boxed alone)"
            ),
            FilterError::BadValue {
                key,
                value,
                expected,
            } => write!(f, "{key}:{value}: expected {expected}"),
            FilterError::BadNumber { term } => {
                write!(f, "{term:?}: expected a number (4096, 4k, 1m, 2g)")
            }
        }
    }
}

impl std::error::Error for FilterError {}

/// The lint named by `v`: its letter (`y`) or its name or a prefix of it (`never`,
/// `never_yielded`, `never-yielded`).
fn parse_lint(v: &str) -> Option<Lint> {
    let v = v.replace('-', "_");
    let mut chars = v.chars();
    if let (Some(letter), None) = (chars.next(), chars.next()) {
        return Lint::ALL
            .into_iter()
            .find(|l| l.letter().eq_ignore_ascii_case(&letter));
    }
    let mut found = Lint::ALL.into_iter().filter(|l| l.as_str().starts_with(&v));
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// Whether `k` reads as a key (`word:`), not as text with a colon (`main.rs:10`).
fn is_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
}

fn parse_num(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let (digits, mult) = match s.trim_end_matches(['b', 'i']).chars().last()? {
        'k' => (&s[..s.find('k')?], 1024),
        'm' => (&s[..s.find('m')?], 1024 * 1024),
        'g' => (&s[..s.find('g')?], 1024 * 1024 * 1024),
        _ => (s.trim_end_matches('b'), 1),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(mult)
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        use std::cmp::Ordering::*;
        let mut conds = Vec::new();
        for term in text.split_whitespace() {
            let lower = term.to_lowercase();
            if lower == "boxed" {
                conds.push(Cond::Boxed);
                continue;
            }
            if let Some((k, v)) = lower.split_once(':').filter(|(k, _)| is_key(k)) {
                let v = v.to_string();
                let bad = |key: &'static str, expected: &str| FilterError::BadValue {
                    key,
                    value: v.clone(),
                    expected: expected.to_string(),
                };
                match k {
                    "name" => conds.push(Cond::Name(v)),
                    "loc" | "location" => conds.push(Cond::Location(v)),
                    "state" => conds.push(Cond::State(v)),
                    "kind" => conds.push(Cond::Kind(v)),
                    "lint" => {
                        let names: Vec<String> = Lint::ALL
                            .iter()
                            .map(|l| format!("{} ({})", l.letter(), l.as_str()))
                            .collect();
                        let lint = parse_lint(&v)
                            .ok_or_else(|| bad("lint", &format!("one of {}", names.join(", "))))?;
                        conds.push(Cond::Lint(lint));
                    }
                    "code" => match v.as_str() {
                        "dep" | "dependency" | "deps" => conds.push(Cond::Dependency(true)),
                        "own" | "mine" => conds.push(Cond::Dependency(false)),
                        _ => return Err(bad("code", "dep or own")),
                    },
                    _ => return Err(FilterError::UnknownKey(k.to_string())),
                }
                continue;
            }
            let ops: [(&str, std::cmp::Ordering, bool); 5] = [
                (">=", Greater, true),
                ("<=", Less, true),
                (">", Greater, false),
                ("<", Less, false),
                ("=", Equal, true),
            ];
            let numeric = ops.iter().find_map(|(op, ord, eq)| {
                let (k, v) = lower.split_once(op)?;
                let field = match k {
                    "size" => NumField::Size,
                    "heap" => NumField::Heap,
                    "polls" => NumField::Polls,
                    "wakes" => NumField::Wakes,
                    "id" => NumField::Id,
                    "tid" => NumField::TaskId,
                    _ => return None,
                };
                Some(match parse_num(v) {
                    Some(n) => Ok(Cond::Num(field, *ord, *eq, n)),
                    None => Err(FilterError::BadNumber {
                        term: term.to_string(),
                    }),
                })
            });
            conds.push(numeric.transpose()?.unwrap_or(Cond::Text(lower)));
        }
        Ok(Filter { conds })
    }

    pub fn is_empty(&self) -> bool {
        self.conds.is_empty()
    }

    /// Whether `t` meets every condition; lints are those at the model's time under `cfg`.
    pub fn matches(&self, model: &Model, t: &Task, cfg: &LintConfig) -> bool {
        self.conds.iter().all(|c| {
            let has = |sym: Sym, needle: &str| model.resolve(sym).to_lowercase().contains(needle);
            match c {
                Cond::Text(s) => {
                    has(t.name, s) || has(t.location, s) || t.state().as_str().contains(s.as_str())
                }
                Cond::Name(s) => has(t.name, s),
                Cond::Location(s) => has(t.location, s),
                Cond::State(s) => t.state().as_str().starts_with(s.as_str()),
                Cond::Kind(s) => t.kind.as_str().starts_with(s.as_str()),
                Cond::Lint(l) => lints(t, model.now(), cfg) & (1 << (*l as u8)) != 0,
                Cond::Dependency(dep) => origin(model.resolve(t.location)).is_dependency() == *dep,
                Cond::Boxed => t.boxed,
                Cond::Num(field, ord, eq, n) => {
                    let v = match field {
                        NumField::Size => t.size_bytes,
                        NumField::Heap => model.heap_of(t).map(|h| h.bytes),
                        NumField::Polls => Some(t.stats.polls),
                        NumField::Wakes => Some(t.stats.wakes),
                        NumField::Id => Some(t.console_id),
                        NumField::TaskId => t.task_id,
                    };
                    v.is_some_and(|v| {
                        let o = v.cmp(n);
                        o == *ord || (*eq && o == std::cmp::Ordering::Equal)
                    })
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_units() {
        assert_eq!(parse_num("4k"), Some(4096));
        assert_eq!(parse_num("4KiB"), Some(4096));
        assert_eq!(parse_num("1m"), Some(1 << 20));
        assert_eq!(parse_num("100"), Some(100));
        assert_eq!(parse_num("12b"), Some(12));
        assert_eq!(parse_num("x"), None);
        assert_eq!(parse_num(""), None);
    }

    fn parse(s: &str) -> Filter {
        Filter::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn filter_terms() {
        let f = parse("size>=4k state:idle boxed foo");
        assert_eq!(f.conds.len(), 4);
        assert_eq!(f.conds[3], Cond::Text("foo".into()));
        assert!(parse("   ").is_empty());
        // A word that is no numeric field is plain text.
        assert_eq!(parse("weird>3").conds, vec![Cond::Text("weird>3".into())]);
        // Text with a colon that is no key: a location's file and line.
        assert_eq!(
            parse("main.rs:10").conds,
            vec![Cond::Text("main.rs:10".into())]
        );
        assert_eq!(parse(":x").conds, vec![Cond::Text(":x".into())]);
    }

    #[test]
    fn lints_by_letter_or_name() {
        for (text, lint) in [
            ("lint:W", Lint::LostWaker),
            ("lint:y", Lint::NeverYielded),
            ("LINT:never_yielded", Lint::NeverYielded),
            ("lint:never-yielded", Lint::NeverYielded),
            ("lint:large", Lint::LargeFuture),
            ("lint:auto", Lint::AutoBoxed),
        ] {
            assert_eq!(parse(text).conds, vec![Cond::Lint(lint)], "{text}");
        }
        assert_eq!(parse("code:dep").conds, vec![Cond::Dependency(true)]);
        assert_eq!(parse("code:own").conds, vec![Cond::Dependency(false)]);
    }

    #[test]
    fn unknown_keys_and_values_are_errors_naming_what_is_known() {
        let e = Filter::parse("state:idle colour:red").unwrap_err();
        assert_eq!(e, FilterError::UnknownKey("colour".into()));
        let msg = e.to_string();
        for key in ["name:", "loc:", "state:", "kind:", "lint:", "code:", "size"] {
            assert!(msg.contains(key), "{msg}");
        }
        let e = Filter::parse("lint:Q").unwrap_err().to_string();
        assert!(e.contains("lint:q") && e.contains("W (lost_waker)"), "{e}");
        // `s` is both self_wakes' letter and never a prefix question; `l` a letter, not a prefix.
        assert_eq!(parse("lint:s").conds, vec![Cond::Lint(Lint::SelfWakes)]);
        let e = Filter::parse("code:theirs").unwrap_err().to_string();
        assert!(e.contains("dep or own"), "{e}");
        let e = Filter::parse("size>lots").unwrap_err().to_string();
        assert!(e.contains("size>lots") && e.contains("number"), "{e}");
    }

    #[test]
    fn lint_and_code_terms_match_the_tasks_they_name() {
        use crate::model::synth::*;
        const SEC: i64 = 1_000_000_000;
        let mut dep = ptask(1, 1, 4096, None, "\"conn\"");
        if let Some(l) = dep.location.as_mut() {
            l.file = Some(
                "/h/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/axum-0.8.9/src/serve/mod.rs"
                    .into(),
            );
        }
        let own = ptask(2, 2, 8, None, "\"tick\"");
        let mut model = Model::default();
        model.apply_update(&update(
            2 * SEC,
            true,
            vec![dep, own],
            vec![(1, stats(SEC)), (2, stats(SEC))],
        ));
        let cfg = LintConfig::default();
        let names = |f: &str| -> Vec<String> {
            let f = parse(f);
            model
                .tasks()
                .filter(|t| f.matches(&model, t, &cfg))
                .map(|t| model.resolve(t.name).to_string())
                .collect()
        };
        assert_eq!(names("lint:L"), ["conn"]);
        assert_eq!(names("code:dep"), ["conn"]);
        assert_eq!(names("code:own"), ["tick"]);
        assert_eq!(names("lint:L code:own"), Vec::<String>::new());
    }

    #[test]
    fn heap_terms_match_known_heap_only() {
        use crate::model::synth::*;
        let mut model = Model::default();
        model.apply_update(&update(
            SEC,
            true,
            vec![
                ptask(1, 1, 64, None, "\"big\""),
                ptask(2, 2, 64, None, "\"small\""),
            ],
            vec![(1, stats(SEC)), (2, stats(SEC))],
        ));
        let cfg = LintConfig::default();
        let names = |model: &Model, f: &str| -> Vec<String> {
            let f = parse(f);
            let mut v: Vec<String> = model
                .tasks()
                .filter(|t| f.matches(model, t, &cfg))
                .map(|t| model.resolve(t.name).to_string())
                .collect();
            v.sort();
            v
        };
        // No heap figures: no task has a heap to compare, not even heap=0.
        assert!(names(&model, "heap>=0").is_empty());
        model.apply(crate::model::heap::synth_event(
            2 * SEC,
            true,
            &[(1, 2 << 20)],
            0,
        ));
        assert_eq!(names(&model, "heap>1m"), ["big"]);
        assert_eq!(names(&model, "heap=0"), ["small"]);
        assert_eq!(names(&model, "heap>=0"), ["big", "small"]);
        assert!(Filter::parse("heap>lots").is_err());
    }
}
