//! The asyncmem binary: parse the command line, run the command, print its failure and exit
//! with its code (the commands are in `asyncmem::cmd`).

use std::process::ExitCode;

use asyncmem::cli::{Cli, Command};
use asyncmem::cmd;
use asyncmem::error::{exit, Failure};

fn main() -> ExitCode {
    // `asyncmem layout` runs cargo with asyncmem as its RUSTC_WRAPPER: that is this mode.
    if let Some(store) = std::env::var_os(asyncmem::layout::wrapper::DIR_VAR) {
        return asyncmem::layout::wrapper::run(store.into());
    }
    let cli = Cli::parse_checked();
    asyncmem::malloc::keep_freed_memory_returned();
    let result = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => {
            let result = runtime.block_on(async {
                match cli.command {
                    Command::Snapshot(args) => cmd::snapshot::run(args).await,
                    Command::Top(args) => cmd::top::run(args).await,
                    Command::Record(args) => cmd::record::run(args).await,
                    Command::Replay(args) => cmd::replay::run(args).await,
                    Command::Export(args) => cmd::export::run(args).await,
                    Command::Lesson(args) => cmd::lesson::run(args).await,
                    Command::Layout(args) => cmd::layout::run(args).await,
                }
            });
            // Do not wait for sources blocked on a dead target.
            runtime.shutdown_background();
            result
        }
        Err(e) => Err(Failure::new(
            exit::OTHER,
            format_args!("cannot start the async runtime: {e}"),
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprint!("{}", asyncmem::present::escape_lines(&failure.to_string()));
            ExitCode::from(failure.exit_code().clamp(0, 255) as u8)
        }
    }
}
