//! What a type-size report says about the async code of one build, as plain data: every
//! coroutine (async fn body, async block, async closure) with its states and the fields each
//! holds, each awaitee linked to the awaited coroutine where that is one, and the futures that
//! reach a tokio spawn with the task cell that wraps each. This is also the layout file
//! (`asyncmem layout --format json`): field names are the file's stable schema, versioned by
//! [`SCHEMA`].

use serde::{Deserialize, Serialize};

/// The layout file's schema version; a reader refuses a newer one.
pub const SCHEMA: u32 = 1;

/// One build's layouts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub schema: u32,
    /// `rustc -vV`'s first line, as the build used it.
    pub toolchain: String,
    /// What was built: package, target (bin/example name), profile, features.
    pub target: BuildTarget,
    /// The built workspace's root: relative paths of spans, await points and spawn locations
    /// start here.
    #[serde(default)]
    pub workspace_root: Option<String>,
    /// Every coroutine of every crate's report, each printed type once (deduplicated by name).
    pub futures: Vec<Future>,
    /// Futures that reach a tokio spawn, with the cell tokio allocates for each.
    pub spawns: Vec<Spawn>,
    /// Futures given to a runtime's `block_on` (`#[tokio::main]`'s body, for one): with
    /// tokio's tracing, the console shows each as a task of its own (named `block_on`) whose
    /// `size.bytes` is this future's size, though it is no spawned task (no task cell). Absent
    /// in files written before it was added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_on: Vec<FutureId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildTarget {
    pub package: String,
    /// `bin:NAME`, `example:NAME`, `lib`, or empty for the package's default.
    pub target: String,
    pub profile: String,
    pub features: Vec<String>,
}

/// Index of a future in [`Layout::futures`].
pub type FutureId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FutureKind {
    /// `{async fn body of path::to::f()}`
    AsyncFn,
    /// `{async block@src/x.rs:1:2: 3:4}` or `{async block@path::f::{closure#0}}`
    AsyncBlock,
    /// `{async closure body@...}`
    AsyncClosure,
}

/// Where a coroutine is in the source, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// An async fn: its path (`conn::Session::serve`, `<conn::S as Handler>::serve`,
    /// `f<u32>`), without the `{async fn body of ...()}` wrapping.
    Path { path: String },
    /// An async block or closure named by its span: the file as rustc printed it (relative to
    /// the crate's workspace root, or absolute for registry crates) and the span, 1-based
    /// lines and columns as rustc prints them.
    Span {
        file: String,
        line: u32,
        col: u32,
        end_line: u32,
        end_col: u32,
    },
    /// An async block named by the item it is in (`asyncmem_demos::Common::run::{closure#0}`),
    /// which is how a crate prints a block of another crate.
    Item { path: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Future {
    /// The type's name exactly as printed (without the backticks).
    pub name: String,
    pub kind: FutureKind,
    pub origin: Origin,
    /// The crate whose report printed it (the crate that instantiated it).
    pub crate_name: String,
    pub size: u64,
    pub align: u64,
    /// Discriminant bytes.
    pub discriminant: u64,
    pub end_padding: u64,
    /// In report order: `Unresumed`, `Suspend0..N`, `Returned`, `Panicked`.
    pub states: Vec<State>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// `Unresumed`, `Suspend0`, ..., `Returned`, `Panicked`.
    pub name: String,
    /// The state's size as printed (its fields and inner padding, without the discriminant).
    pub size: u64,
    pub fields: Vec<Field>,
    /// For `SuspendN`: where its `.await` is in the source (filled by `awaits`); `None` for
    /// the other states.
    pub await_point: Option<AwaitPoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// An argument or a capture (`upvar` in the report).
    Upvar,
    /// Kept across this await (`local`).
    Local,
    /// Older compilers' `field` (neither said).
    Field,
    /// `padding: N bytes` between fields.
    Padding,
}

impl FieldKind {
    /// As the report (and the layout file) names it.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Upvar => "upvar",
            FieldKind::Local => "local",
            FieldKind::Field => "field",
            FieldKind::Padding => "padding",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub kind: FieldKind,
    /// `arg`, `__awaitee`, `..coroutine_field3` (without the leading `.`); empty for padding.
    pub name: String,
    pub size: u64,
    pub offset: Option<u64>,
    pub align: Option<u64>,
    /// The type where the report prints it (`__awaitee` and unnamed temporaries).
    pub ty: Option<String>,
    /// The coroutine this field holds (an awaitee, directly or through wrappers such as
    /// `Instrumented<..>`, `Pin<Box<..>>`, `MaybeDone<..>`), when it is one of `futures`.
    pub future: Option<FutureId>,
    /// True when the coroutine is behind a pointer (`Pin<Box<..>>`): its bytes are on the heap,
    /// not in this state.
    pub boxed: bool,
}

/// Where a suspend state's `.await` is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AwaitPoint {
    /// `file` as rustc prints paths (see [`Origin::Span`]); 1-based line and column of the
    /// `.await`'s `await` keyword; `text` is the source line, trimmed.
    Mapped {
        file: String,
        line: u32,
        col: u32,
        text: String,
    },
    /// Not mapped, and why (the awaits are in a macro, the source is not found, the number of
    /// awaits in the source differs from the number of suspend states, ...).
    Unmapped { reason: String },
}

/// A future type that reaches a tokio spawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spawn {
    /// The type given to `spawn_inner<F>` (or `spawn_local_inner`, `Builder::spawn*`,
    /// `JoinSet::spawn*`) as printed: the figure tokio reports as `size.bytes` is its size.
    pub ty: String,
    pub size: u64,
    /// The coroutine it is or wraps (through `Instrumented<..>` and the like).
    pub future: Option<FutureId>,
    /// True when tokio boxes it (larger than its threshold: the cell holds a `Pin<Box<F>>`).
    pub boxed_by_tokio: bool,
    /// `tokio::runtime::task::core::Cell<F, S>` for this future, one per scheduler seen.
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// The scheduler type `S` (`Arc<multi_thread::Handle>`, ...), as printed.
    pub scheduler: String,
    pub size: u64,
    pub header: u64,
    pub core: u64,
    pub trailer: u64,
    pub end_padding: u64,
}
