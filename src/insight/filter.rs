//! The task filter language of the TUI's `/`: space-separated terms, all of which must match,
//! as a pure function of a task (and the model's names).

use crate::model::{Model, Sym, Task};

/// One condition of a filter; a task must meet all of them.
#[derive(Clone, Debug, PartialEq)]
enum Cond {
    Text(String),
    Name(String),
    Location(String),
    State(String),
    Kind(String),
    Boxed,
    Num(NumField, std::cmp::Ordering, bool, u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumField {
    Size,
    Polls,
    Wakes,
    Id,
    TaskId,
}

/// A parsed filter: space-separated terms, all of which must match. `name:x`, `loc:x`,
/// `state:idle`, `kind:blocking`, `boxed`, `size>4k`, `polls>=2`, `wakes=0`, `id=5`, `tid<9`;
/// anything else is a case-insensitive substring of the name, location or state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    conds: Vec<Cond>,
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
    pub fn parse(text: &str) -> Filter {
        use std::cmp::Ordering::*;
        let mut conds = Vec::new();
        for term in text.split_whitespace() {
            let lower = term.to_lowercase();
            if lower == "boxed" {
                conds.push(Cond::Boxed);
                continue;
            }
            if let Some((k, v)) = lower.split_once(':') {
                let v = v.to_string();
                match k {
                    "name" => conds.push(Cond::Name(v)),
                    "loc" | "location" => conds.push(Cond::Location(v)),
                    "state" => conds.push(Cond::State(v)),
                    "kind" => conds.push(Cond::Kind(v)),
                    _ => conds.push(Cond::Text(lower.clone())),
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
                    "polls" => NumField::Polls,
                    "wakes" => NumField::Wakes,
                    "id" => NumField::Id,
                    "tid" => NumField::TaskId,
                    _ => return None,
                };
                Some(Cond::Num(field, *ord, *eq, parse_num(v)?))
            });
            conds.push(numeric.unwrap_or(Cond::Text(lower)));
        }
        Filter { conds }
    }

    pub fn is_empty(&self) -> bool {
        self.conds.is_empty()
    }

    pub fn matches(&self, model: &Model, t: &Task) -> bool {
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
                Cond::Boxed => t.boxed,
                Cond::Num(field, ord, eq, n) => {
                    let v = match field {
                        NumField::Size => t.size_bytes,
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

    #[test]
    fn filter_terms() {
        let f = Filter::parse("size>=4k state:idle boxed foo");
        assert_eq!(f.conds.len(), 4);
        assert_eq!(f.conds[3], Cond::Text("foo".into()));
        assert!(Filter::parse("   ").is_empty());
        // An unknown numeric field is plain text, never an error.
        assert_eq!(
            Filter::parse("weird>3").conds,
            vec![Cond::Text("weird>3".into())]
        );
    }
}
