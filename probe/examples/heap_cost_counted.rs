//! `heap_cost` with `asyncmem_probe::Allocator` over the system allocator: see
//! `heap_cost/body.rs`.

#[global_allocator]
static A: asyncmem_probe::Allocator = asyncmem_probe::Allocator::system();

#[path = "heap_cost/body.rs"]
mod body;

fn main() {
    body::main();
    // The counted build: the heap left to no task, to show the counters were live.
    eprintln!(
        "heap outside tasks: {:?}",
        asyncmem_probe::heap::outside_tasks()
    );
}
