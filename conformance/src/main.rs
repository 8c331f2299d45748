//! `polytls-conformance`: runs the conformance suite against every available backend and
//! every client x server pair, and prints the verified matrix (`--json` for CI).
//!
//! Exits with status 1 when any case fails or any claim is not verified, 2 on bad usage.

use std::process::ExitCode;

const USAGE: &str = "\
usage: polytls-conformance [--json] [--backend NAME]... [--jobs N] [--list-backends]

Runs the polytls conformance suite against every available TLS backend and every
client x server pair, and prints the matrix of backends x (classes, features,
protocols): verified, claimed-but-failing, or not claimed.

  --json            print the matrix as JSON (for CI)
  --backend NAME    limit the run to this backend (repeatable)
  --jobs N          run N cases at a time (default 2)
  --list-backends   print the available backends, the active one first, and exit
";

fn main() -> ExitCode {
    let mut json = false;
    let mut only: Vec<String> = Vec::new();
    let mut jobs = 2;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--backend" => match args.next() {
                Some(name) => only.push(name),
                None => return usage("--backend needs a name"),
            },
            "--jobs" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => jobs = n,
                _ => return usage("--jobs needs a positive number"),
            },
            "--list-backends" => {
                println!(
                    "active: {}",
                    polytls::active_backend().unwrap_or_else(|| "none".into())
                );
                for name in polytls::available_backends() {
                    println!(
                        "{name}: {}",
                        polytls::tls_library_version_string(Some(&name))
                    );
                }
                return ExitCode::SUCCESS;
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument '{other}'")),
        }
    }
    let available = polytls::available_backends();
    if let Some(unknown) = only.iter().find(|name| !available.contains(name)) {
        return usage(&format!(
            "no available backend named '{unknown}' (available: {})",
            available.join(", ")
        ));
    }
    let backends = if only.is_empty() { available } else { only };
    let plan = polytls_conformance::Plan::full(&backends);
    let results = polytls_conformance::run(&plan, jobs);
    let report = polytls_conformance::matrix::Report::build(&backends, &results);
    if json {
        println!("{:#}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if !report.skipped_external.is_empty() {
        eprintln!(
            "WARNING: {} external-peer case(s) were SKIPPED: install `openssl` and `gnutls-bin` to run them (the gnutls-serv DTLS cases also need root or CAP_SYS_ADMIN for a private network namespace)",
            report.skipped_external.len()
        );
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("polytls-conformance: {problem}\n\n{USAGE}");
    ExitCode::from(2)
}
