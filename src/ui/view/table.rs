//! What the tasks and locations views share: a sortable table whose header marks the sorted
//! column, fixed-width columns, and a location column that takes what is left.

use ratatui::layout::Constraint;
use ratatui::widgets::{Cell, Row, Table};

use super::super::app::LocColumn;
use super::super::theme::Theme;
use crate::present::Column;

/// A column of a sortable table.
pub trait SortColumn: Copy + PartialEq {
    /// The column that takes the width the others leave.
    const LOCATION: Self;
    fn title(self) -> &'static str;
}

impl SortColumn for Column {
    const LOCATION: Self = Column::Location;
    fn title(self) -> &'static str {
        Column::title(self)
    }
}

impl SortColumn for LocColumn {
    const LOCATION: Self = LocColumn::Location;
    fn title(self) -> &'static str {
        LocColumn::title(self)
    }
}

/// The characters left for the location column of `cols` in `width`.
pub fn location_width<C: SortColumn>(cols: &[(C, u16)], width: u16) -> usize {
    let fixed: u16 = cols
        .iter()
        .filter(|(c, _)| *c != C::LOCATION)
        .map(|(_, w)| w + 1)
        .sum();
    usize::from(width.saturating_sub(fixed))
}

/// What the location column's title says of the `hidden` columns that did not fit, in the
/// longest form that fits after its title in `width` (sorting by a column shows it: the sorted
/// column is always kept).
pub fn hidden_note(hidden: usize, title_width: usize, width: usize) -> String {
    if hidden == 0 {
        return String::new();
    }
    let s = if hidden == 1 { "" } else { "s" };
    [
        format!("  +{hidden} column{s} hidden: ←→ sorts by one and shows it, or widen"),
        format!("  +{hidden} column{s}: ←→ or widen"),
        format!("  +{hidden} cols: ←→/widen"),
        format!(" +{hidden} cols: ←→"),
        format!(" +{hidden}"),
    ]
    .into_iter()
    .find(|n| title_width + n.chars().count() <= width)
    .unwrap_or_default()
}

/// `rows` under a header that marks the `sort` column with its direction; `note` follows the
/// location column's title.
pub fn sorted<'a, C: SortColumn>(
    rows: impl IntoIterator<Item = Row<'a>>,
    cols: &[(C, u16)],
    sort: C,
    descending: bool,
    note: &str,
    theme: Theme,
) -> Table<'a> {
    let arrow = if descending { "▼" } else { "▲" };
    let header = Row::new(cols.iter().map(|(c, _)| {
        let mut title = if *c == sort {
            format!("{}{arrow}", c.title())
        } else {
            c.title().to_string()
        };
        if *c == C::LOCATION {
            title.push_str(note);
        }
        Cell::from(title)
    }))
    .style(theme.header_row());
    let widths = cols.iter().map(|(c, w)| {
        if *c == C::LOCATION {
            Constraint::Min(*w)
        } else {
            Constraint::Length(*w)
        }
    });
    Table::new(rows, widths).header(header).column_spacing(1)
}
