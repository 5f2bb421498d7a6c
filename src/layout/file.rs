//! The layout file (`asyncmem layout --format json -o FILE`): read back for `--layout FILE`,
//! with a message that names what is wrong with a file that is not one.

use std::path::{Path, PathBuf};

use super::model::{Layout, SCHEMA};

/// Layout files larger than this are refused: a real build's layout is a few MB.
pub const MAX_LAYOUT_FILE_BYTES: u64 = 512 << 20;

#[derive(Debug, thiserror::Error)]
pub enum LayoutFileError {
    #[error("cannot read layout file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("layout file {} is {size} bytes, over the {MAX_LAYOUT_FILE_BYTES}-byte limit: not a layout file", path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{} is not an asyncmem layout file (make one with `asyncmem layout --format json -o FILE`): {reason}", path.display())]
    NotLayout { path: PathBuf, reason: String },
    #[error("layout file {} has schema {found}, newer than this asyncmem reads ({SCHEMA}): update asyncmem or remake the file", path.display())]
    Newer { path: PathBuf, found: u32 },
}

pub fn load(path: &Path) -> Result<Layout, LayoutFileError> {
    let io = |source| LayoutFileError::Io {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_LAYOUT_FILE_BYTES {
        return Err(LayoutFileError::TooLarge {
            path: path.to_owned(),
            size,
        });
    }
    let text = std::fs::read(path).map_err(io)?;
    parse(&text).map_err(|e| match e {
        ParseError::Newer(found) => LayoutFileError::Newer {
            path: path.to_owned(),
            found,
        },
        ParseError::Invalid(reason) => LayoutFileError::NotLayout {
            path: path.to_owned(),
            reason,
        },
    })
}

enum ParseError {
    Newer(u32),
    Invalid(String),
}

fn parse(bytes: &[u8]) -> Result<Layout, ParseError> {
    // The schema first, so that a newer file is named as such rather than as corrupt.
    #[derive(serde::Deserialize)]
    struct Head {
        schema: u32,
    }
    let head: Head = serde_json::from_slice(bytes).map_err(|e| {
        ParseError::Invalid(match e.classify() {
            serde_json::error::Category::Data
                if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() =>
            {
                format!(
                    "it has no `schema` number (line {} column {})",
                    e.line(),
                    e.column()
                )
            }
            _ => format!("it is not JSON ({e})"),
        })
    })?;
    if head.schema > SCHEMA {
        return Err(ParseError::Newer(head.schema));
    }
    if head.schema == 0 {
        return Err(ParseError::Invalid("schema 0".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| ParseError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("asyncmem-layout-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn round_trip() {
        let layout = Layout {
            schema: SCHEMA,
            toolchain: "rustc 1.95.0".into(),
            ..Default::default()
        };
        let p = write("ok.json", &serde_json::to_vec(&layout).unwrap());
        assert_eq!(load(&p).unwrap(), layout);
    }

    #[test]
    fn bad_files_are_named() {
        let missing = std::env::temp_dir().join("asyncmem-no-such-layout.json");
        assert!(matches!(load(&missing), Err(LayoutFileError::Io { .. })));
        let p = write("garbage.json", b"\x00\x01 not json");
        let e = load(&p).unwrap_err();
        assert!(matches!(e, LayoutFileError::NotLayout { .. }), "{e}");
        assert!(
            e.to_string().contains("asyncmem layout --format json"),
            "{e}"
        );
        let p = write("truncated.json", br#"{"schema": 1, "toolchain": "x", "fut"#);
        assert!(matches!(load(&p), Err(LayoutFileError::NotLayout { .. })));
        let p = write("other.json", br#"{"name": "a recording?"}"#);
        assert!(matches!(load(&p), Err(LayoutFileError::NotLayout { .. })));
        // The table format written to a file by mistake: named as not JSON at all.
        let p = write("table.json", b"16 spawned future type(s), largest first\n");
        let e = load(&p).unwrap_err();
        assert!(e.to_string().contains("it is not JSON"), "{e}");
        let p = write("nohead.json", br#"{"futures": []}"#);
        let e = load(&p).unwrap_err();
        assert!(e.to_string().contains("no `schema` number"), "{e}");
        let p = write("newer.json", br#"{"schema": 99}"#);
        let e = load(&p).unwrap_err();
        assert!(matches!(e, LayoutFileError::Newer { found: 99, .. }), "{e}");
    }
}
