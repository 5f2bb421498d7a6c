//! `asyncmem layout`: the table a person reads (each spawned future, largest first: its size,
//! its task cell, its largest state and that state's await, the biggest fields held there and a
//! one-line reason when one thing dominates; then the largest futures that are not spawned
//! themselves, which are the awaitees the spawned ones hold), and the layout file as JSON.

use std::io::{self, Write};

use crate::layout::explain;
use crate::layout::link::largest_state;
use crate::layout::model::{Field, FieldKind, FutureId, Layout};
use crate::present::escape::escape;
use crate::present::layout::{await_text, field_text, short_type, TYPE_WIDTH};

/// How many of the biggest fields of a state the table lists.
pub const TOP_FIELDS: usize = 3;
/// Future type names longer than this are shortened in the table (the JSON has them whole).
const NAME_WIDTH: usize = 120;

/// The layout file: [`Layout`] as pretty JSON (its schema is the model's field names).
pub fn write_json(out: &mut impl Write, layout: &Layout) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, layout).map_err(io::Error::other)?;
    writeln!(out)
}

/// The table. `others`: how many of the largest not-spawned futures to list after the spawned
/// ones (`usize::MAX` for all of them).
pub fn write_table(out: &mut impl Write, layout: &Layout, others: usize) -> io::Result<()> {
    let mut spawns: Vec<_> = layout.spawns.iter().collect();
    spawns.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.ty.cmp(&b.ty)));
    writeln!(
        out,
        "{} spawned future type(s), largest first (sizes in bytes; cell = tokio's task allocation)",
        spawns.len()
    )?;
    if !spawns.is_empty() {
        writeln!(out, "{:>8} {:>8}  FUTURE", "SIZE", "CELL")?;
    }
    for s in &spawns {
        let cell = s
            .cells
            .iter()
            .map(|c| c.size)
            .max()
            .map_or("-".to_string(), |c| c.to_string());
        let boxed = if s.boxed_by_tokio {
            format!(
                " (boxed by tokio: the {} B future is a heap allocation of its own)",
                s.size
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "{:>8} {:>8}  {}{boxed}",
            s.size,
            cell,
            escape(&short_type(&s.ty, NAME_WIDTH))
        )?;
        match s.future {
            Some(id) => details(out, layout, id)?,
            None => writeln!(out, "{:19}(not a coroutine of this build's report)", "")?,
        }
    }
    let spawned: Vec<FutureId> = spawns.iter().filter_map(|s| s.future).collect();
    let mut rest: Vec<FutureId> = (0..layout.futures.len())
        .filter(|id| !spawned.contains(id))
        .collect();
    rest.sort_by(|&a, &b| {
        let (fa, fb) = (&layout.futures[a], &layout.futures[b]);
        fb.size.cmp(&fa.size).then_with(|| fa.name.cmp(&fb.name))
    });
    let shown = rest.len().min(others);
    if shown > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "{} other future type(s) (awaited, not spawned themselves); the {shown} largest:",
            rest.len()
        )?;
        writeln!(out, "{:>8} {:>8}  FUTURE", "SIZE", "")?;
        for &id in &rest[..shown] {
            let f = &layout.futures[id];
            writeln!(
                out,
                "{:>8} {:>8}  {}",
                f.size,
                "",
                escape(&short_type(&f.name, NAME_WIDTH))
            )?;
            details(out, layout, id)?;
        }
    }
    Ok(())
}

/// The largest state, its await, its biggest fields and the reason, indented under a row.
fn details(out: &mut impl Write, layout: &Layout, id: FutureId) -> io::Result<()> {
    let pad = "";
    let f = &layout.futures[id];
    let Some(i) = largest_state(layout, id) else {
        return writeln!(out, "{pad:19}(no states printed)");
    };
    let state = &f.states[i];
    let at = await_text(state).unwrap_or_else(|| "not suspended at an await".into());
    writeln!(
        out,
        "{pad:19}largest state {} ({} B), {at}",
        escape(&state.name),
        state.size
    )?;
    let mut fields: Vec<&Field> = state
        .fields
        .iter()
        .filter(|x| x.kind != FieldKind::Padding && x.size > 0)
        .collect();
    fields.sort_by_key(|x| std::cmp::Reverse(x.size));
    if !fields.is_empty() {
        let held: Vec<String> = fields
            .iter()
            .take(TOP_FIELDS)
            .map(|x| field_text(layout, x, |n| format!("{n} B"), TYPE_WIDTH))
            .collect();
        writeln!(out, "{pad:19}holds {}", held.join(", "))?;
    }
    if let Some(r) = explain::reason(layout, id) {
        writeln!(out, "{pad:19}why: {}", escape(&r.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::model::AwaitPoint;
    use crate::layout::report::one_crate as layout;

    const FAT_VS_SLIM: &str = include_str!("../../tests/fixtures/layout/fat-vs-slim.debug.types");
    const CORPUS: &str = include_str!("../../tests/fixtures/layout/corpus.debug.types");

    fn table(l: &Layout, others: usize) -> String {
        let mut out = Vec::new();
        write_table(&mut out, l, others).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table_of_fat_vs_slim() {
        insta::assert_snapshot!(table(&layout(FAT_VS_SLIM), 3));
    }

    #[test]
    fn table_of_the_corpus() {
        insta::assert_snapshot!(table(&layout(CORPUS), 5));
    }

    #[test]
    fn spawned_largest_first_with_cells_and_await_lines() {
        let mut l = layout(FAT_VS_SLIM);
        let t = table(&l, 0);
        let fat = t.find("{async fn body of fat()}").unwrap();
        let boxed = t.find("{async fn body of boxed()}").unwrap();
        let slim = t.find("{async fn body of slim()}").unwrap();
        assert!(fat < boxed && boxed < slim, "{t}");
        assert!(!t.contains("other future type"), "{t}");
        assert!(
            t.contains("largest state Suspend0 (16632 B), await not mapped"),
            "{t}"
        );
        // The await line, mapped or not, as the mapper left it; target text escaped.
        let fat_id = l.spawns[0].future.unwrap();
        l.futures[fat_id].states[1].await_point = Some(AwaitPoint::Unmapped {
            reason: "inside a macro".into(),
        });
        let slim_id = l.spawns[2].future.unwrap();
        l.futures[slim_id].states[1].await_point = Some(AwaitPoint::Mapped {
            file: "demos/src/bin/fat-vs-slim.rs".into(),
            line: 40,
            col: 29,
            text: "sleep(nap).await; \u{1b}[2J".into(),
        });
        let t = table(&l, 0);
        assert!(t.contains("await not mapped: inside a macro"), "{t}");
        assert!(
            t.contains("at demos/src/bin/fat-vs-slim.rs:40:29  sleep(nap).await; \\e[2J"),
            "{t}"
        );
        assert!(!t.contains('\u{1b}'));
    }

    #[test]
    fn json_round_trips() {
        let l = layout(CORPUS);
        let mut out = Vec::new();
        write_json(&mut out, &l).unwrap();
        let back: Layout = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, l);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["futures"][0]["origin"]["kind"], "path");
        assert!(v["spawns"][0]["cells"][0]["header"].is_u64());
    }
}
