//! The `poolguard` binary: arguments → `cli::run` → exit code.

fn main() -> std::process::ExitCode {
    poolguard::cli::run()
}
