//! Compile-time layouts: why a future is as large as it is. `build` runs cargo with the
//! compiler's type-size report captured per crate (`wrapper` is the `RUSTC_WRAPPER` side),
//! `report` parses that text, `model` is what it says (futures, their states, the fields held
//! across each await, the awaitee tree, the futures that reach a tokio spawn and their task
//! cells), `awaits` maps each suspend state to its `.await` in the source, `explain` says in one
//! line what dominates, and the layout file is `model::Layout` as JSON (`schema`).

pub mod model;
