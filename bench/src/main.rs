//! `polytls-bench`: polytls side by side with OpenSSL and rustls used directly.
//!
//! ```text
//! polytls-bench [--quick] [--json] [--check] [--only TEXT] [--cost] [--wall-clock]
//! polytls-bench cost --workload handshake|bulk|dtls-handshake|dtls-datagrams
//!               --via polytls|direct --backend openssl|rustls
//!               [--handshakes N] [--bulk-bytes N] [--datagrams N]
//! polytls-bench serve --server blocking|tokio|direct --backend openssl|rustls
//!               [--clients N] [--handshakes N]
//! polytls-bench connect --via polytls|direct --backend openssl|rustls [--handshakes N]
//! ```
//!
//! `--quick` runs small sizes (about a minute on 2 cores); the default full run takes a few
//! minutes. Each timed row runs paired rounds until its floor is decided (met, missed) or a
//! cap is reached. `--json` prints the report as JSON instead of a table. `--check` exits with
//! 1 when a floor is missed (undecided rows do not fail). `--cost` adds instruction counts
//! under callgrind. The `cost` subcommand runs one fixed workload once (what `--cost` counts).
//! The `serve` subcommand runs one server under concurrent clients once, and `connect` the
//! tokio handshake row once (to count their system calls with `strace -c -f`).

use std::process::ExitCode;

use polytls_bench::alloc::{hook_openssl, live_bytes, CountingAlloc};
use polytls_bench::async_tls::handshakes_per_second;
use polytls_bench::cost::{run_workload, Sizes, Workload};
use polytls_bench::inmem::{Backend, Via};
use polytls_bench::measure::Clock;
use polytls_bench::run::{run, CostOptions, Options};
use polytls_bench::server::{concurrent_handshakes_per_second, ServerKind};
use polytls_bench::setup::{KeyKind, Params, Setup, Version};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const USAGE: &str =
    "usage: polytls-bench [--quick] [--json] [--check] [--only TEXT] [--cost] [--wall-clock]
       polytls-bench cost --workload W --via V --backend B [--handshakes N] [--bulk-bytes N]
                          [--datagrams N]
       polytls-bench serve --server S --backend B [--clients N] [--handshakes N]
       polytls-bench connect --via V --backend B [--handshakes N]

  --quick   small sizes: about a minute on a 2-core machine
  --json    print the report as JSON (for CI) instead of a table
  --check   exit with status 1 when a floor is missed (undecided rows pass)
  --only T  run only the rows whose \"scenario backend\" contains T (for profiling)
  --cost    count instructions under valgrind's callgrind too, for fixed workloads
            (100 TLS and DTLS handshakes, 64 MiB of bulk data, 20000 DTLS
            datagrams); several minutes; skipped with a
            warning when valgrind is not installed
  --wall-clock  time the in-memory rows by the wall clock instead of the thread's
            CPU time (loopback TCP rows always use the wall clock)
  --help    print this help

  cost      run one fixed workload once, natively (what --cost counts under callgrind):
            W is handshake, bulk, dtls-handshake or dtls-datagrams (the DTLS ones
            on openssl only), V polytls or direct, B openssl or rustls; sizes default
            to 100 handshakes, 67108864 bytes and 20000 datagrams
  serve     run one server once under concurrent clients, as the server rows do (for
            `strace -c -f`): S is blocking, blocking-served, tokio or direct, B openssl or rustls;
            32 clients and 640 handshakes unless told; prints handshakes per second
  connect   run the tokio handshake row once (for `strace -c -f`): handshakes one after
            the other over loopback, 500 unless told; prints handshakes per second";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("cost") => return cost_command(&args[1..]),
        Some("serve") => return serve_command(&args[1..]),
        Some("connect") => return connect_command(&args[1..]),
        _ => {}
    }
    // Before anything touches OpenSSL, so that its allocations are counted too.
    let openssl_counted = hook_openssl();
    let (mut quick, mut json, mut check, mut only) = (false, false, false, None);
    let (mut cost, mut wall) = (false, false);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--only" => match args.next() {
                Some(text) => only = Some(text),
                None => return usage_error("--only needs a text"),
            },
            "--quick" => quick = true,
            "--json" => json = true,
            "--check" => check = true,
            "--cost" => cost = true,
            "--wall-clock" => wall = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage_error(&format!("unknown argument '{other}'")),
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
    if wall {
        options.clock = Clock::Wall;
    }
    if cost {
        match std::env::current_exe() {
            Ok(exe) => options.cost = Some(CostOptions::new(exe, Sizes::REPORT)),
            Err(e) => {
                eprintln!("polytls-bench: cannot find this program for --cost: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
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

fn usage_error(message: &str) -> ExitCode {
    eprintln!("polytls-bench: {message}\n{USAGE}");
    ExitCode::from(2)
}

/// Reads the `--flag value` pairs of subcommand `command`, handing each to `take`, which
/// returns `None` for a flag it does not know and `Some(false)` for a value the flag does
/// not take.
///
/// Fails with the usage error (exit code 2) naming the argument at fault.
fn flag_pairs(
    command: &str,
    args: &[String],
    mut take: impl FnMut(&str, &str) -> Option<bool>,
) -> Result<(), ExitCode> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let Some(value) = args.next() else {
            return Err(usage_error(&format!("{command}: {arg} needs a value")));
        };
        match take(arg, value) {
            None => return Err(usage_error(&format!("{command}: unknown argument '{arg}'"))),
            Some(false) => {
                return Err(usage_error(&format!(
                    "{command}: {arg} does not take '{value}'"
                )))
            }
            Some(true) => {}
        }
    }
    Ok(())
}

/// Stores `parsed` in `slot`; whether there was a value to store.
fn set<T>(slot: &mut T, parsed: Option<T>) -> bool {
    parsed.map(|value| *slot = value).is_some()
}

/// The set-up the `serve` and `connect` rows use: TLS 1.3, ECDSA P-256, for the whole run.
///
/// Fails with a message when the certificates or configurations cannot be made.
fn tls13_ecdsa_setup() -> Result<&'static Setup, String> {
    let setup = Setup::new(Params {
        key: KeyKind::EcdsaP256,
        version: Version::Tls13,
        cipher: None,
    })?;
    Ok(Box::leak(Box::new(setup)))
}

/// Prints `what: N handshakes/s`, or the error of subcommand `command`.
fn print_rate(command: &str, what: &str, rate: Result<f64, String>) -> ExitCode {
    match rate {
        Ok(rate) => {
            println!("{what}: {rate:.0} handshakes/s");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("polytls-bench {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `polytls-bench cost ...`: one workload, once. OpenSSL allocates with its own allocator
/// here, as in any program.
fn cost_command(args: &[String]) -> ExitCode {
    let (mut workload, mut via, mut backend, mut sizes) = (None, None, None, Sizes::REPORT);
    let parsed = flag_pairs("cost", args, |arg, value| match arg {
        "--workload" => Some(set(&mut workload, Workload::from_name(value).map(Some))),
        "--via" => Some(set(&mut via, Via::from_name(value).map(Some))),
        "--backend" => Some(set(&mut backend, Backend::from_name(value).map(Some))),
        "--handshakes" => Some(set(&mut sizes.handshakes, value.parse().ok())),
        "--bulk-bytes" => Some(set(&mut sizes.bulk_bytes, value.parse().ok())),
        "--datagrams" => Some(set(&mut sizes.datagrams, value.parse().ok())),
        _ => None,
    });
    if let Err(code) = parsed {
        return code;
    }
    let (Some(workload), Some(via), Some(backend)) = (workload, via, backend) else {
        return usage_error("cost needs --workload, --via and --backend");
    };
    match run_workload(workload, backend, via, sizes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("polytls-bench cost: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `polytls-bench serve ...`: one server, once, under concurrent clients (TLS 1.3, ECDSA
/// P-256), after one untimed handshake. Prints the handshakes per second.
fn serve_command(args: &[String]) -> ExitCode {
    let (mut kind, mut backend, mut clients, mut handshakes) = (None, None, 32, 640);
    let parsed = flag_pairs("serve", args, |arg, value| match arg {
        "--server" => Some(set(
            &mut kind,
            ServerKind::from_command_name(value).map(Some),
        )),
        "--backend" => Some(set(&mut backend, Backend::from_name(value).map(Some))),
        "--clients" => Some(set(&mut clients, value.parse().ok())),
        "--handshakes" => Some(set(&mut handshakes, value.parse().ok())),
        _ => None,
    });
    if let Err(code) = parsed {
        return code;
    }
    let (Some(kind), Some(backend)) = (kind, backend) else {
        return usage_error("serve needs --server and --backend");
    };
    let rate = tls13_ecdsa_setup().and_then(|setup| {
        concurrent_handshakes_per_second(setup, backend, kind, clients, handshakes)
    });
    print_rate(
        "serve",
        &format!("{} {}", kind.name(), backend.name()),
        rate,
    )
}

/// `polytls-bench connect ...`: the tokio handshake row, once, through polytls or the
/// backend's own tokio adapter (TLS 1.3, ECDSA P-256). Prints the handshakes per second.
fn connect_command(args: &[String]) -> ExitCode {
    let (mut via, mut backend, mut handshakes) = (None, None, 500);
    let parsed = flag_pairs("connect", args, |arg, value| match arg {
        "--via" => Some(set(&mut via, Via::from_name(value).map(Some))),
        "--backend" => Some(set(&mut backend, Backend::from_name(value).map(Some))),
        "--handshakes" => Some(set(&mut handshakes, value.parse().ok())),
        _ => None,
    });
    if let Err(code) = parsed {
        return code;
    }
    let (Some(via), Some(backend)) = (via, backend) else {
        return usage_error("connect needs --via and --backend");
    };
    let rate = tls13_ecdsa_setup()
        .and_then(|setup| handshakes_per_second(setup, backend, via, handshakes));
    print_rate(
        "connect",
        &format!("{} {}", via.name(), backend.name()),
        rate,
    )
}
