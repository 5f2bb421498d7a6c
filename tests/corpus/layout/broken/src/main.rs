//! Does not build: `asyncmem layout -p broken` shows the compiler's error and exits 15.

fn main() {
    let port: u16 = "not a number";
    println!("{port}");
}
