//! No async code at all: `asyncmem layout -p noasync` says so and exits 0.

fn main() {
    println!("{}", std::env::args().count());
}
