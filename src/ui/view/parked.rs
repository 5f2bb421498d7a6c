//! Where tasks wait (`d`): the last task dump's tasks grouped by the await they are parked at,
//! most tasks first, with their share of the live tasks, their futures' bytes and, with
//! `--layout`, the slack those futures pay; `Enter` shows the selected point's chain (one
//! task's trace, innermost first) and its tasks.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::super::app::{App, ParkedSort};
use super::super::theme::Theme;
use crate::insight::dump::{parked_at, shown_file, Group};
use crate::model::Model;
use crate::present::units::{bytes, duration_ns};
use crate::present::{escape, location};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, model: &Model, theme: Theme) {
    let block = Block::bordered().title(Span::styled(
        " where tasks wait (d: dump again, ←→ sort, Enter: a point's chain, Esc back) ",
        theme.title(),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let view = &app.parked;
    let head = match (model.dump(), view.waiting_since) {
        (_, Some(_)) => Line::from(Span::styled(
            "taking a task dump… (at most 2 s on the target's side)",
            theme.label(),
        )),
        (None, None) => Line::from(Span::styled(
            "no task dump yet: d takes one (a replay shows the recorded one)",
            theme.label(),
        )),
        (Some(d), None) => match &d.outcome {
            Err(why) => Line::from(Span::styled(
                format!("no task dump: {}", escape(why)),
                theme.bad(),
            )),
            Ok(dump) => {
                let s = &dump.summary;
                let ago = duration_ns(u64::try_from(model.now().saturating_sub(d.at)).unwrap_or(0));
                let leaf = view
                    .groups
                    .iter()
                    .filter(|g| g.parked_at.kind != crate::insight::dump::Kind::Own)
                    .map(|g| g.tasks)
                    .sum::<u64>();
                let mut text = format!(
                    "{} tasks, {} ago: the dump held the target's workers {:.1} ms",
                    s.tasks,
                    ago,
                    s.pause_us as f64 / 1000.0
                );
                if leaf > 0 {
                    text.push_str(&format!(
                        "; {leaf} show only tokio's leaf (no frame of your code: a release build inlines them)"
                    ));
                }
                for note in &s.notes {
                    text.push_str(&format!("; {}", escape(note)));
                }
                Line::from(Span::styled(text, theme.label()))
            }
        },
    };
    // A refusal gets the room to say all of why (the table is empty then); a dump, two lines.
    let failed = view.waiting_since.is_none() && model.dump().is_some_and(|d| d.outcome.is_err());
    let head_rows = if failed { 6 } else { 2 };
    let [head_area, rest] =
        Layout::vertical([Constraint::Length(head_rows), Constraint::Fill(1)]).areas(inner);
    frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: true }), head_area);
    let (table_area, chain_area) = if view.open {
        let [a, b] = Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(rest);
        (a, Some(b))
    } else {
        (rest, None)
    };
    table(frame, table_area, app, theme);
    if let (Some(area), Some(g)) = (chain_area, view.groups.get(view.selected)) {
        chain(frame, area, model, g, theme);
    }
}

fn slack_text(g: &Group) -> String {
    g.slack.as_ref().map_or(String::new(), |s| {
        let e = &s.example;
        format!("{} {} of {} alive", e.state, bytes(e.alive), bytes(e.size))
    })
}

fn table(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let view = &app.parked;
    let width = usize::from(area.width);
    let with_slack = view.groups.iter().any(|g| g.slack.is_some());
    let slack_width = if with_slack { 36 } else { 0 };
    let at_width = width.saturating_sub(30 + slack_width).max(10);
    let mark = |s: ParkedSort, title: &str| {
        if view.sort == s {
            format!("{title}▼")
        } else {
            title.to_string()
        }
    };
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{:>7} {:>6} {:>9}  {:<slack_width$}{}",
            mark(ParkedSort::Tasks, "Tasks"),
            "Share",
            mark(ParkedSort::Futures, "Futures"),
            if with_slack {
                mark(ParkedSort::Slack, "Where parked (layout)")
            } else {
                String::new()
            },
            mark(ParkedSort::Point, "Parked at")
        ),
        theme.title(),
    ))];
    let rows = usize::from(area.height.saturating_sub(1));
    for (i, g) in view.groups.iter().enumerate().skip(view.offset).take(rows) {
        let slack = if with_slack {
            // Cut to leave one blank before the point (`Suspend1 295 B of 4.3 KiB alive`).
            let text = slack_text(g);
            let room = slack_width - 1;
            let text = if text.chars().count() > room {
                let cut: String = text.chars().take(room - 1).collect();
                format!("{cut}…")
            } else {
                text
            };
            format!("{text:<slack_width$}")
        } else {
            String::new()
        };
        let text = format!(
            "{:>7} {:>5.1}% {:>9}  {slack}{}",
            g.tasks,
            g.share * 100.0,
            bytes(g.future_bytes),
            location::fit(&escape(&g.parked_at.text()), at_width)
        );
        let style = if i == view.selected {
            theme.selected()
        } else {
            Style::new()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The selected point: the first of its tasks' trace (innermost first) and its tasks.
fn chain(frame: &mut Frame, area: Rect, model: &Model, g: &Group, theme: Theme) {
    let Some(dump) = model.dump().and_then(|d| d.outcome.as_ref().ok()) else {
        return;
    };
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{} task(s) parked at {}; tokio ids {}{}",
            g.tasks,
            escape(&g.parked_at.text()),
            g.task_ids
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            if g.tasks as usize > g.task_ids.len() {
                " …"
            } else {
                ""
            }
        ),
        theme.label(),
    ))];
    if let Some(t) = dump
        .tasks
        .iter()
        .find(|t| g.task_ids.first() == Some(&t.task_id) && parked_at(t) == g.parked_at)
    {
        for f in t.backtraces.first().map_or(&[][..], |b| &b.frames) {
            let at = if f.file.is_empty() {
                String::new()
            } else {
                format!(
                    "  {}:{}:{}",
                    shown_file(&f.file, g.parked_at.root()),
                    f.line,
                    f.col
                )
            };
            lines.push(Line::from(format!(
                "  {}{}",
                escape(&f.function),
                escape(&at)
            )));
        }
    }
    frame.render_widget(Paragraph::new(lines).block(Block::new()), area);
}
