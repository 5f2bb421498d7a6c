//! The popups over the screen: the keys (from the keymap's table) and the warnings.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::super::keymap;
use super::super::theme::Theme;
use crate::model::Model;
use crate::present::escape;

fn popup(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Width of the help's key column, with the two spaces after it.
const KEYS_WIDTH: usize = 16;

pub fn help(frame: &mut Frame, area: Rect, theme: Theme) {
    // What a key does wraps under itself where the popup is narrower than the text.
    let text_width = usize::from(area.width.min(96).saturating_sub(2)).saturating_sub(KEYS_WIDTH);
    let lines: Vec<Line> = keymap::BINDINGS
        .iter()
        .flat_map(|b| {
            wrap_words(b.what, text_width.max(1))
                .into_iter()
                .enumerate()
                .map(|(i, part)| {
                    let keys = if i == 0 { b.keys } else { "" };
                    Line::from(vec![
                        Span::styled(format!("{keys:>14}  "), theme.value()),
                        Span::raw(part),
                    ])
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let r = popup(area, 96, lines.len() as u16 + 2);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(Span::styled(" keys (Esc closes) ", theme.title()))),
        r,
    );
}

pub fn warnings(frame: &mut Frame, area: Rect, model: &Model, theme: Theme) {
    let lines: Vec<Line> = if model.warnings().is_empty() {
        vec![Line::from(
            "no warnings: the picture is complete as far as asyncmem can tell",
        )]
    } else {
        model
            .warnings()
            .iter()
            .map(|w| Line::from(format!("• {}", escape(&w.message()))))
            .collect()
    };
    let r = popup(area, 90, 14);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(Span::styled(" warnings (Esc closes) ", theme.warn()))),
        r,
    );
}

/// `text` in rows of at most `width` columns, broken between words (a longer word has a row of
/// its own).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut rows = vec![String::new()];
    for word in text.split(' ') {
        let Some(row) = rows.last_mut() else { break };
        let used = Span::raw(row.as_str()).width();
        if used > 0 && used + 1 + Span::raw(word).width() > width {
            rows.push(word.to_string());
        } else {
            if used > 0 {
                row.push(' ');
            }
            row.push_str(word);
        }
    }
    rows
}

/// Before a task dump: what it does to the target, and how to go on.
pub fn confirm_dump(frame: &mut Frame, area: Rect, model: &Model, theme: Theme) {
    let live = model.counts().live();
    let text = format!(
        "Take a task dump of the target's {live} live tasks?\n\n\
         tokio pauses the target's workers while it re-polls every task in a tracing mode \
         (a few ms for thousands of tasks; a worker blocked in a poll makes it time out after \
         2 s, and the target goes on when that worker returns). Needs asyncmem-probe with its \
         `taskdump` feature.\n\n\
         y: take it      any other key: cancel"
    );
    let r = popup(area, 72, 12);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(Span::styled(" task dump? ", theme.warn()))),
        r,
    );
}
