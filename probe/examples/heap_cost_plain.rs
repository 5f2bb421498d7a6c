//! `heap_cost` with the system allocator: see `heap_cost/body.rs`.

#[path = "heap_cost/body.rs"]
mod body;

fn main() {
    body::main();
}
