//! Colours and emphasis in one place; with `NO_COLOR` only bold, dim and reverse remain.

use ratatui::style::{Color, Modifier, Style};

#[derive(Clone, Copy, Debug)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn title(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn label(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }
    pub fn value(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn bad(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn rss(self) -> Style {
        self.fg(Color::Magenta)
    }
    pub fn tasks(self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn header_row(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn done(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }
    pub fn boxed(self) -> Style {
        self.fg(Color::Yellow)
    }
}
