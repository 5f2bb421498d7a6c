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

pub fn help(frame: &mut Frame, area: Rect, theme: Theme) {
    let lines: Vec<Line> = keymap::BINDINGS
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!("{:>14}  ", b.keys), theme.value()),
                Span::raw(b.what),
            ])
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
