//! `cfg(dumps)`: this build can take task dumps (the `taskdump` feature, `--cfg
//! tokio_unstable`, and a platform tokio dumps on), so the code says it once.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(dumps)");
    let on = |var: &str| std::env::var_os(var).is_some();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if on("CARGO_FEATURE_TASKDUMP")
        && on("CARGO_CFG_TOKIO_UNSTABLE")
        && os == "linux"
        && ["aarch64", "x86", "x86_64", "s390x"].contains(&arch.as_str())
    {
        println!("cargo::rustc-cfg=dumps");
    }
}
