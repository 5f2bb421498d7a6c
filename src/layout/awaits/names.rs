//! Reading the names a type-size report prints: item paths (`conn::Session::serve`,
//! `<S as Handler>::serve`, `f<u32>`, `run<..>::{closure#0}`) split into what the source index
//! looks up, and `__awaitee` types classified into what an `.await` in the source can confirm.

/// Splits at `::` outside of `<..>`, `(..)`, `[..]` and `{..}`.
pub(crate) fn split_path(s: &str) -> Vec<&str> {
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' | b'(' | b'[' | b'{' => depth += 1,
            // `->` in a fn pointer type is not a closing bracket.
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' | b')' | b']' | b'}' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                parts.push(&s[start..i]);
                i += 2;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

/// `run<{async block@..}>` -> `run`; `&mut Foo` -> `Foo`.
pub(crate) fn strip_generics(seg: &str) -> &str {
    let seg = seg.trim();
    let seg = seg.trim_start_matches('&').trim_start();
    let seg = seg.strip_prefix("mut ").unwrap_or(seg).trim_start();
    match seg.find('<') {
        Some(0) | None => seg,
        Some(i) => &seg[..i],
    }
}

/// A path as printed, split into what the source index looks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemPath {
    /// Segments without generic arguments; for a qualified path, the segments after `<T as Tr>`.
    pub segs: Vec<String>,
    /// `<T as Trait>`: the type's and the trait's segments.
    pub qself: Option<(Vec<String>, Vec<String>)>,
    /// Trailing `{closure#N}` indices, outermost first.
    pub closures: Vec<u32>,
}

fn plain_segs(path: &str) -> Vec<String> {
    split_path(path)
        .into_iter()
        .map(|s| strip_generics(s).to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Parses `a::B<T>::m`, `<a::S as b::Tr>::m`, `f::{closure#0}::{closure#2}`.
pub(crate) fn parse_item_path(path: &str) -> Result<ItemPath, String> {
    let mut parts = split_path(path.trim());
    let mut closures = Vec::new();
    while let Some(last) = parts.last() {
        let Some(inner) = last.strip_prefix('{').and_then(|l| l.strip_suffix('}')) else {
            break;
        };
        let Some(n) = inner
            .strip_prefix("closure#")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            return Err(format!(
                "the path `{path}` names `{last}`, which the source index does not find"
            ));
        };
        closures.insert(0, n);
        parts.pop();
    }
    if parts.iter().any(|p| p.starts_with('{')) {
        return Err(format!(
            "the path `{path}` has a segment the source index does not find"
        ));
    }
    let mut qself = None;
    if let Some(first) = parts.first() {
        if let Some(inner) = first.strip_prefix('<').and_then(|f| f.strip_suffix('>')) {
            let (ty, tr) = split_as(inner)
                .ok_or_else(|| format!("the path `{path}` is qualified without `as Trait`"))?;
            qself = Some((plain_segs(ty), plain_segs(tr)));
            parts.remove(0);
        }
    }
    let segs: Vec<String> = parts
        .into_iter()
        .map(|s| strip_generics(s).to_string())
        .collect();
    if segs.is_empty() || segs.iter().any(String::is_empty) {
        return Err(format!("the path `{path}` has an empty segment"));
    }
    Ok(ItemPath {
        segs,
        qself,
        closures,
    })
}

/// `S<T> as a::Tr` at the top level -> (`S<T>`, `a::Tr`).
fn split_as(inner: &str) -> Option<(&str, &str)> {
    let bytes = inner.as_bytes();
    let mut depth = 0i32;
    for i in 0..bytes.len() {
        match bytes[i] {
            b'<' | b'(' | b'[' | b'{' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' | b')' | b']' | b'}' => depth -= 1,
            b' ' if depth == 0 && inner[i..].starts_with(" as ") => {
                return Some((&inner[..i], &inner[i + 4..]));
            }
            _ => {}
        }
    }
    None
}

/// What a suspend state's `__awaitee` type says about the `.await` that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Awaitee {
    /// `{async fn body of path::f<..>()}`: the fn's name (last segment, no generics).
    AsyncFn(String),
    /// `{async block@FILE:L:C: L:C}`: where its `async` starts.
    AsyncBlockAt(u32, u32),
    /// `PollFn<{closure@.../tokio-X/src/macros/select.rs:..}>`: the one await of a tokio
    /// `select!` / `join!` / `try_join!`, by macro name.
    TokioMacro(String),
    /// `PollFn<{closure@path::f::{closure#0}::{closure#1}}>`: a closure named by item, as a
    /// tokio macro's is when its report is another crate's: a `select!` or a `poll_fn`.
    PollFnByItem,
    /// Any other type: its last path segment without generics (`Sleep`, `Timeout`, `Pin`).
    Named(String),
    /// Nothing to compare (an async block named by item, an async closure body, no type).
    Opaque,
}

pub(crate) fn classify_awaitee(ty: &str) -> Awaitee {
    let ty = ty.trim();
    if let Some(rest) = ty.strip_prefix("{async fn body of ") {
        let path = rest.strip_suffix("()}").unwrap_or(rest);
        return match split_path(path).last() {
            Some(last) => Awaitee::AsyncFn(strip_generics(last).to_string()),
            None => Awaitee::Opaque,
        };
    }
    if let Some(rest) = ty.strip_prefix("{async block@") {
        return match span_start(rest.strip_suffix('}').unwrap_or(rest)) {
            Some((line, col)) => Awaitee::AsyncBlockAt(line, col),
            None => Awaitee::Opaque,
        };
    }
    if ty.starts_with('{') {
        return Awaitee::Opaque;
    }
    if ty.starts_with("PollFn<{closure@") {
        for mac in ["select", "try_join", "join"] {
            if ty.contains(&format!("/src/macros/{mac}.rs:")) && ty.contains("tokio") {
                return Awaitee::TokioMacro(mac.to_string());
            }
        }
        let inner = ty.trim_start_matches("PollFn<{closure@");
        let inner = inner.strip_suffix("}>").unwrap_or(inner);
        if span_start(inner).is_none() {
            return Awaitee::PollFnByItem;
        }
    }
    let head = match ty.find('<') {
        Some(i) => &ty[..i],
        None => ty,
    };
    match split_path(head).last() {
        Some(last) if !last.is_empty() => Awaitee::Named(last.trim().to_string()),
        _ => Awaitee::Opaque,
    }
}

/// `FILE:L:C: L2:C2` -> (L, C), parsed from the right (the file may hold `:`).
pub(crate) fn span_start(span: &str) -> Option<(u32, u32)> {
    let (head, end) = span.rsplit_once(": ")?;
    // The item form (`run<{async block@f.rs:1:2: 1:3}>::{closure#0}`) holds a span inside.
    let (end_line, end_col) = end.split_once(':')?;
    end_line.parse::<u32>().ok()?;
    end_col.parse::<u32>().ok()?;
    let (head, col) = head.rsplit_once(':')?;
    let (_file, line) = head.rsplit_once(':')?;
    Some((line.parse().ok()?, col.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_outside_brackets() {
        assert_eq!(
            split_path("asyncmem_demos::Common::run<{async block@demos/src/bin/fat-vs-slim.rs:95:21: 95:31}>::{closure#0}"),
            vec!["asyncmem_demos", "Common", "run<{async block@demos/src/bin/fat-vs-slim.rs:95:21: 95:31}>", "{closure#0}"]
        );
        assert_eq!(split_path("f<fn() -> u32>::g"), vec!["f<fn() -> u32>", "g"]);
    }

    #[test]
    fn item_paths_parse() {
        let p = parse_item_path("asyncmem_corpus_awaits::lib_async_spawn<{async fn body of c()}>::{closure#0}::{closure#2}").unwrap();
        assert_eq!(p.segs, vec!["asyncmem_corpus_awaits", "lib_async_spawn"]);
        assert_eq!(p.closures, vec![0, 2]);
        assert_eq!(p.qself, None);
        let p = parse_item_path("<conn::S<u8> as proto::Handler>::serve").unwrap();
        assert_eq!(p.segs, vec!["serve"]);
        assert_eq!(
            p.qself,
            Some((
                vec!["conn".into(), "S".into()],
                vec!["proto".into(), "Handler".into()]
            ))
        );
        assert_eq!(parse_item_path("f<u32>").unwrap().segs, vec!["f"]);
        assert!(parse_item_path("f::{constant#0}").is_err());
        assert!(parse_item_path("<S>::f").is_err());
    }

    #[test]
    fn awaitees_classify() {
        assert_eq!(
            classify_awaitee("{async fn body of tokio::sync::mpsc::Receiver<u32>::recv()}"),
            Awaitee::AsyncFn("recv".into())
        );
        assert_eq!(
            classify_awaitee("{async fn body of <S as Handler>::serve()}"),
            Awaitee::AsyncFn("serve".into())
        );
        assert_eq!(
            classify_awaitee("{async fn body of lib_wrap<{async fn body of c()}>()}"),
            Awaitee::AsyncFn("lib_wrap".into())
        );
        assert_eq!(
            classify_awaitee("{async block@src/bin/awaits.rs:167:15: 167:20}"),
            Awaitee::AsyncBlockAt(167, 15)
        );
        assert_eq!(
            classify_awaitee(
                "{async block@lib_async_spawn<{async fn body of c()}>::{closure#0}::{closure#2}}"
            ),
            Awaitee::Opaque
        );
        assert_eq!(
            classify_awaitee("PollFn<{closure@/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.54.1/src/macros/select.rs:664:46: 664:50}>"),
            Awaitee::TokioMacro("select".into())
        );
        assert_eq!(
            classify_awaitee(
                "PollFn<{closure@asyncmem_demos::wait_for_end::{closure#0}::{closure#1}}>"
            ),
            Awaitee::PollFnByItem
        );
        assert_eq!(
            classify_awaitee("PollFn<{closure@src/x.rs:1:2: 1:3}>"),
            Awaitee::Named("PollFn".into())
        );
        assert_eq!(
            classify_awaitee("{async block@asyncmem_demos::Common::run<{async block@demos/src/bin/fat-vs-slim.rs:95:21: 95:31}>::{closure#0}}"),
            Awaitee::Opaque
        );
        assert_eq!(classify_awaitee("Sleep"), Awaitee::Named("Sleep".into()));
        assert_eq!(
            classify_awaitee("tokio::time::Timeout<{async fn body of a()}>"),
            Awaitee::Named("Timeout".into())
        );
        assert_eq!(
            classify_awaitee("Pin<Box<dyn Future<Output = u32> + Send>>"),
            Awaitee::Named("Pin".into())
        );
    }
}
