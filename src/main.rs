//! Thin binary: all behaviour lives in the library (`hanko::cli`).
fn main() -> std::process::ExitCode {
    hanko::cli::main()
}
