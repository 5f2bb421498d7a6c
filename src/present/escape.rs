//! Target-chosen text made safe for a terminal: task names, spawn locations, field values,
//! endpoints and messages pass through [`escape`] (one line) or [`escape_lines`] (keeps line
//! breaks) before any human-facing output (the table output, the TUI, stderr). Control
//! characters (C0, DEL, C1) and the bidirectional overrides and isolates that reorder what
//! follows are written as visible escapes (`\e`, `\n`, `\x07`, `\u{202e}`), so that a name can
//! neither move the cursor, set the window title, ring the bell nor split a row. JSON and CSV
//! keep the exact strings: their formats escape them.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as it is.
fn unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'          // C0: ESC, BEL, CR, LF, TAB, BS...
        | '\u{7f}'                  // DEL
        | '\u{80}'..='\u{9f}'       // C1: CSI, OSC, ST...
        | '\u{61c}'                 // arabic letter mark
        | '\u{200e}' | '\u{200f}'   // LRM, RLM
        | '\u{202a}'..='\u{202e}'   // LRE, RLE, PDF, LRO, RLO
        | '\u{2066}'..='\u{2069}'   // LRI, RLI, FSI, PDI
        | '\u{2028}' | '\u{2029}'   // line and paragraph separators
    )
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{1b}' => out.push_str("\\e"),
        c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// `s` on one line with every control character made visible; borrowed when there is none
/// (the common case costs no allocation).
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_keeping(s, false)
}

/// As [`escape`], but line breaks stay line breaks: for multi-line messages (errors with a
/// hint on the next line).
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    escape_keeping(s, true)
}

fn escape_keeping(s: &str, newlines: bool) -> Cow<'_, str> {
    let bad = |c: char| unsafe_char(c) && !(newlines && c == '\n');
    let Some(first) = s.find(bad) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if bad(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in [
            "",
            "worker",
            "src/main.rs:10:5",
            "naïve ünïcode ✓ 名前",
            "a\\nb",
        ] {
            assert!(matches!(escape(s), Cow::Borrowed(b) if b == s), "{s:?}");
        }
    }

    #[test]
    fn controls_become_visible() {
        assert_eq!(escape("clear\x1b[2Jscreen"), "clear\\e[2Jscreen");
        assert_eq!(
            escape("title\x1b]0;pwned\x07set"),
            "title\\e]0;pwned\\x07set"
        );
        assert_eq!(escape("two\nlines"), "two\\nlines");
        assert_eq!(escape("carriage\rreturn\ttab"), "carriage\\rreturn\\ttab");
        assert_eq!(escape("del\x7f nul\0"), "del\\x7f nul\\x00");
        assert_eq!(escape("c1 \u{9b}2J"), "c1 \\x9b2J");
        assert_eq!(escape("rlo\u{202e}txt.exe"), "rlo\\u{202e}txt.exe");
        assert_eq!(
            escape("isolate\u{2067}x\u{2069}"),
            "isolate\\u{2067}x\\u{2069}"
        );
        assert_eq!(escape("ls\u{2028}ps"), "ls\\u{2028}ps");
    }

    #[test]
    fn no_escaped_text_holds_a_control_character() {
        // Every code point up to the supplementary planes, alone and between letters.
        for cp in (0u32..0x3000).chain(0xfe00..0x10000) {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let s = format!("a{c}b");
            let e = escape(&s);
            assert!(!e.chars().any(unsafe_char), "{cp:#x} -> {e:?}");
            let l = escape_lines(&s);
            assert!(!l.chars().any(|c| unsafe_char(c) && c != '\n'), "{cp:#x}");
        }
    }

    #[test]
    fn lines_keep_their_breaks_only() {
        assert_eq!(
            escape_lines("error: bad \x1b[31mname\nhint: try again\n"),
            "error: bad \\e[31mname\nhint: try again\n"
        );
        assert_eq!(escape_lines("cr\r\n"), "cr\\r\n");
    }
}
