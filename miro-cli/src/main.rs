//! `miro`: a command line for the Miro REST API v2 (see the `miro_cli` library docs).

fn main() -> std::process::ExitCode {
    miro_cli::main_entry()
}
