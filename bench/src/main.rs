//! `polytls-bench`: polytls side by side with OpenSSL and rustls used directly.
//!
//! ```text
//! polytls-bench [--quick] [--json] [--check] [--only TEXT]
//! ```
//!
//! `--quick` runs small sizes (under a minute on 2 cores); the default full run takes a few
//! minutes. `--json` prints the report as JSON instead of a table. `--check` exits with 1 when
//! a floor (polytls at least 0.97 of direct; memory at most direct + max(5%, 4 KiB)) is missed.

use std::process::ExitCode;

use polytls_bench::alloc::{hook_openssl, live_bytes, CountingAlloc};
use polytls_bench::run::{run, Options};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const USAGE: &str = "usage: polytls-bench [--quick] [--json] [--check] [--only TEXT]

  --quick   small sizes: finishes in under a minute on a 2-core machine
  --json    print the report as JSON (for CI) instead of a table
  --check   exit with status 1 when a floor is missed
  --only T  run only the cells whose \"scenario backend\" contains T (for profiling)
  --help    print this help";

fn main() -> ExitCode {
    // Before anything touches OpenSSL, so that its allocations are counted too.
    let openssl_counted = hook_openssl();
    let (mut quick, mut json, mut check, mut only) = (false, false, false, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--only" => match args.next() {
                Some(text) => only = Some(text),
                None => {
                    eprintln!("polytls-bench: --only needs a text\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--quick" => quick = true,
            "--json" => json = true,
            "--check" => check = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("polytls-bench: unknown argument '{other}'\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if !openssl_counted {
        eprintln!("polytls-bench: note: OpenSSL's own allocations are not counted");
    }
    let mut options = if quick {
        Options::quick()
    } else {
        Options::full()
    };
    options.only = only;
    let report = match run(&options, live_bytes, true) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("polytls-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        println!("{:#}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if check && !report.floors_met() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
