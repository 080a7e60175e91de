//! The `poolguard` binary: arguments → `cli::run` → exit code.

/// glibc's malloc serialises the parse threads on its arena locks and returns pages to the
/// kernel eagerly; mimalloc's per-thread heaps cut the s2000 benchmark's wall time (README,
/// Performance).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    poolguard::cli::run()
}
