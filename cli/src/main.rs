//! The `greenlight` command: everything is in the library, so tests drive it in-process.

use std::process::ExitCode;

fn main() -> ExitCode {
    let exit = greenlight_cli::run(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    exit.into()
}
