//! Each `SuspendN` state mapped to its `.await` in the source, or marked unmapped with the
//! reason; never guessed.
//!
//! Method: the coroutine's body is found in the source (`source`: an async fn by its path, an
//! async block by its span or by its item and closure index), its awaits are listed in the
//! order rustc numbers suspend states (`walk`: source order of the `await` keywords, with the
//! exceptions measured on the corpus `tests/corpus/layout/awaits`), and the list is checked
//! against the report: as many awaits as suspend states, and each state's `__awaitee` type
//! consistent with its await (`{async fn body of read_frame()}` for `self.read_frame().await`,
//! `Sleep` for `sleep(..).await`, the select!'s `PollFn` for a `select!`). When a count
//! differs or a check fails, every state of that coroutine is unmapped with the reason.

mod names;
mod source;
mod walk;

#[cfg(test)]
mod tests;

use names::Awaitee;
use source::{Index, Located};
use walk::{Point, Site};

use super::model::{AwaitPoint, Future, Layout, Origin, State};
use super::Sources;

/// Fills [`super::model::State::await_point`] of every suspend state.
pub fn map(layout: &mut Layout, sources: &Sources) {
    let mut index = Index::new(sources);
    for future in &mut layout.futures {
        map_future(future, &mut index);
    }
}

/// `SuspendN` -> N.
fn suspend_number(state: &State) -> Option<usize> {
    state.name.strip_prefix("Suspend")?.parse().ok()
}

fn map_future(future: &mut Future, index: &mut Index<'_>) {
    let numbers: Vec<Option<usize>> = future.states.iter().map(suspend_number).collect();
    let count = numbers.iter().flatten().count();
    if count == 0 {
        return;
    }
    let points = match locate(future, index).and_then(|located| check(future, located, count)) {
        Ok(points) => points,
        Err(reason) => {
            for (state, n) in future.states.iter_mut().zip(&numbers) {
                if n.is_some() {
                    state.await_point = Some(AwaitPoint::Unmapped {
                        reason: reason.clone(),
                    });
                }
            }
            return;
        }
    };
    for (state, n) in future.states.iter_mut().zip(numbers) {
        if let Some(n) = n {
            state.await_point = points.get(n).cloned();
        }
    }
}

fn locate(future: &Future, index: &mut Index<'_>) -> Result<Located, String> {
    match &future.origin {
        Origin::Path { path } => index.locate_async_fn(&future.crate_name, path),
        Origin::Span {
            file, line, col, ..
        } => index.locate_span(&future.crate_name, file, *line, *col),
        Origin::Item { path } => index.locate_item(&future.crate_name, path),
    }
}

/// The mapped point of each suspend state, by number, once the source agrees with the report.
fn check(future: &Future, located: Located, count: usize) -> Result<Vec<AwaitPoint>, String> {
    if let Some(why) = located.generated {
        return Err(why);
    }
    let shown = &located.file.shown;
    let points = located.points.map_err(|why| format!("{shown}: {why}"))?;
    let mut by_number: Vec<Option<&State>> = vec![None; count];
    for state in &future.states {
        if let Some(n) = suspend_number(state) {
            match by_number.get_mut(n) {
                Some(slot @ None) => *slot = Some(state),
                _ => {
                    return Err(format!(
                        "the report's suspend states are not numbered 0..{count}"
                    ))
                }
            }
        }
    }
    if points.len() != count {
        let at = points
            .first()
            .map(|p| format!(" (from {shown}:{})", p.line))
            .unwrap_or_default();
        return Err(format!(
            "the source shows {} awaits{at} where the report has {count} suspend states",
            points.len()
        ));
    }
    for (n, (point, state)) in points.iter().zip(&by_number).enumerate() {
        let awaitee = state.and_then(|s| {
            s.fields
                .iter()
                .find(|f| f.name == "__awaitee")
                .and_then(|f| f.ty.as_deref())
        });
        if let Some(awaitee) = awaitee {
            if let Err(why) = agrees(&point.site, &names::classify_awaitee(awaitee)) {
                return Err(format!(
                    "Suspend{n} awaits `{awaitee}`, but await #{n} in the source ({shown}:{}:{}) {why}",
                    point.line, point.col
                ));
            }
        }
    }
    Ok(points
        .iter()
        .map(|p: &Point| AwaitPoint::Mapped {
            file: shown.clone(),
            line: p.line,
            col: p.col,
            text: located.file.line(p.line),
        })
        .collect())
}

/// Whether an await in the source can have made a state with this awaitee: `Err` says why
/// not. Where the source says too little (awaiting a variable), the awaitee cannot disagree.
fn agrees(site: &Site, awaitee: &Awaitee) -> Result<(), String> {
    match (site, awaitee) {
        (Site::Macro { name }, Awaitee::TokioMacro(m)) if name == m => Ok(()),
        (Site::Macro { .. }, Awaitee::PollFnByItem) => Ok(()),
        (Site::Macro { name }, _) => Err(format!("is a `{name}!`")),
        (Site::Await { .. }, Awaitee::TokioMacro(m)) => Err(format!("is not a `{m}!`")),
        (Site::Await { callee, block_at }, Awaitee::AsyncFn(name)) => match (callee, block_at) {
            (Some(c), _) if c == name => Ok(()),
            (Some(c), _) => Err(format!("calls `{c}`")),
            (None, Some(_)) => Err("awaits an async block".into()),
            (None, None) => Ok(()),
        },
        (Site::Await { block_at, .. }, Awaitee::AsyncBlockAt(line, col)) => match block_at {
            Some(at) if *at == (*line, *col) => Ok(()),
            Some((l, c)) => Err(format!("awaits the async block at {l}:{c}")),
            None => Ok(()),
        },
        (
            Site::Await {
                block_at: Some(_), ..
            },
            Awaitee::Named(_),
        ) => Err("awaits an async block".into()),
        (Site::Await { .. }, Awaitee::Named(_) | Awaitee::Opaque | Awaitee::PollFnByItem) => Ok(()),
    }
}
