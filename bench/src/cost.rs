//! Instructions instead of time: a fixed workload counted under callgrind, through polytls and
//! with the backend used directly, whose ratio does not depend on the machine's load.
//!
//! [`run_workload`] runs one workload once, natively (the `polytls-bench cost ...`
//! subcommand). [`count_instructions`] re-executes the benchmark binary with that subcommand
//! under `valgrind --tool=callgrind`, collecting only inside the workload itself (certificate
//! generation, settings and a warm-up session run before it, uncounted), and reads the total
//! callgrind prints. [`cost_rows`] does that for every workload, backend and side.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::dtls::{self, DtlsSetup, Engine};
use crate::inmem::{new_pair, Backend, Via};
use crate::setup::{KeyKind, Params, Setup, Version};

/// The function callgrind collects in: everything a workload counts runs inside it.
pub const MEASURED_SYMBOL: &str = "polytls_bench_measured";

/// The suite of the bulk workload.
pub const BULK_SUITE: &str = "TLS_AES_128_GCM_SHA256";

/// A fixed amount of work whose instructions are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Full TLS 1.3 handshakes (ECDSA P-256, X25519) in memory, each with new sessions and a
    /// new transport, as in the timed handshake rows.
    Handshake,
    /// Bulk transfer client to server over one established TLS 1.3 session in memory
    /// (TLS_AES_128_GCM_SHA256, 16 KiB writes), as in the timed bulk rows.
    Bulk,
    /// Full DTLS 1.2 handshakes over loopback UDP, each on new sockets, as in the timed DTLS
    /// handshake rows (OpenSSL only: the row with a floor).
    DtlsHandshake,
    /// 1200-byte application datagrams client to server over one DTLS 1.2 association on
    /// loopback UDP, as in the timed DTLS datagram rows (OpenSSL only).
    DtlsDatagrams,
}

impl Workload {
    /// Every workload, in table order.
    pub const ALL: [Workload; 4] = [
        Workload::Handshake,
        Workload::Bulk,
        Workload::DtlsHandshake,
        Workload::DtlsDatagrams,
    ];

    /// The name on the command line: `handshake`, `bulk`, `dtls-handshake` or
    /// `dtls-datagrams`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Handshake => "handshake",
            Workload::Bulk => "bulk",
            Workload::DtlsHandshake => "dtls-handshake",
            Workload::DtlsDatagrams => "dtls-datagrams",
        }
    }

    /// Whether the workload runs on `backend`: the TLS ones on every backend, the DTLS ones
    /// on OpenSSL (rustls has no DTLS).
    pub fn runs_on(self, backend: Backend) -> bool {
        match self {
            Workload::Handshake | Workload::Bulk => true,
            Workload::DtlsHandshake | Workload::DtlsDatagrams => backend == Backend::OpenSsl,
        }
    }

    /// The workload of a command-line name.
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// How much work each workload does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Handshakes in the handshake workload.
    pub handshakes: usize,
    /// Bytes in the bulk workload.
    pub bulk_bytes: usize,
    /// Application datagrams in the DTLS datagram workload.
    pub datagrams: usize,
}

impl Sizes {
    /// What the report counts: 100 handshakes (TLS and DTLS), 64 MiB of bulk data, 20,000
    /// datagrams (23 MiB).
    pub const REPORT: Sizes = Sizes {
        handshakes: 100,
        bulk_bytes: 64 << 20,
        datagrams: 20_000,
    };
}

/// The scenario's settings: TLS 1.3 with an ECDSA P-256 certificate, and for bulk the suite
/// pinned to [`BULK_SUITE`].
fn setup_for(workload: Workload) -> Result<Setup, String> {
    Setup::new(Params {
        key: KeyKind::EcdsaP256,
        version: Version::Tls13,
        cipher: match workload {
            Workload::Bulk => Some(BULK_SUITE),
            _ => None,
        },
    })
}

/// Everything that is counted runs inside this function, which callgrind is told to collect
/// in (`--toggle-collect`); it must keep its unmangled name and never be inlined.
#[no_mangle]
#[inline(never)]
fn polytls_bench_measured(work: &mut dyn FnMut() -> Result<(), String>) -> Result<(), String> {
    work()
}

/// Runs `workload` once on `backend` through `via`: settings and one warm-up session (so that
/// one-time initialisation is not counted), then the counted work.
///
/// Fails with a message when the settings cannot be built or a session fails.
pub fn run_workload(
    workload: Workload,
    backend: Backend,
    via: Via,
    sizes: Sizes,
) -> Result<(), String> {
    let setup = setup_for(workload)?;
    match workload {
        Workload::Handshake | Workload::Bulk => {
            run_tls_workload(workload == Workload::Bulk, &setup, backend, via, sizes)
        }
        Workload::DtlsHandshake | Workload::DtlsDatagrams => {
            run_dtls_workload(workload, &setup, backend, via, sizes)
        }
    }
}

/// [`run_workload`] for the TLS workloads (`bulk`, or handshakes), in memory.
fn run_tls_workload(
    bulk: bool,
    setup: &Setup,
    backend: Backend,
    via: Via,
    sizes: Sizes,
) -> Result<(), String> {
    let mut warm = new_pair(setup, backend, via)?;
    warm.handshake()?;
    warm.settle()?;
    if bulk {
        // The warm-up session carries the data: buffers at their steady-state size.
        warm.bulk(1 << 20)?;
        return polytls_bench_measured(&mut || warm.bulk(sizes.bulk_bytes));
    }
    drop(warm);
    polytls_bench_measured(&mut || {
        for _ in 0..sizes.handshakes {
            let mut pair = new_pair(setup, backend, via)?;
            pair.handshake()?;
        }
        Ok(())
    })
}

/// [`run_workload`] for the DTLS workloads: one warm-up association (which, for the datagram
/// workload, carries the counted datagrams after 1,000 uncounted ones).
fn run_dtls_workload(
    workload: Workload,
    setup: &Setup,
    backend: Backend,
    via: Via,
    sizes: Sizes,
) -> Result<(), String> {
    if !workload.runs_on(backend) {
        return Err(format!(
            "the {} workload runs on OpenSSL only",
            workload.name()
        ));
    }
    let setup = DtlsSetup::new(setup)?;
    let polytls = via == Via::Polytls;
    let (mut client, mut server) = dtls::handshake(&setup, Engine::OpenSsl, polytls)?;
    dtls::exchange(client.as_mut(), server.as_mut(), 1_000)?;
    if workload == Workload::DtlsHandshake {
        drop((client, server));
        return polytls_bench_measured(&mut || {
            for _ in 0..sizes.handshakes {
                dtls::handshake(&setup, Engine::OpenSsl, polytls)?;
            }
            Ok(())
        });
    }
    polytls_bench_measured(&mut || {
        dtls::exchange(client.as_mut(), server.as_mut(), sizes.datagrams)
    })
}

/// The first file called `name` in the directories of `path` (a `PATH`-style list).
pub fn find_program(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The instruction total in callgrind's closing lines (`==123== Collected : 4520166`).
pub fn parse_collected(stderr: &str) -> Option<u64> {
    stderr.lines().find_map(|line| {
        let (_, rest) = line.split_once("Collected :")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The instructions `exe cost --workload ... --via ... --backend ...` executes inside the
/// workload, counted by `valgrind --tool=callgrind` (its output file is `/dev/null`; only the
/// total it prints is read).
///
/// Fails with a message when valgrind or the workload fails, or prints no total.
pub fn count_instructions(
    valgrind: &Path,
    exe: &Path,
    workload: Workload,
    backend: Backend,
    via: Via,
    sizes: Sizes,
) -> Result<u64, String> {
    let out = Command::new(valgrind)
        .args([
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            "--collect-atstart=no",
        ])
        .arg(format!("--toggle-collect={MEASURED_SYMBOL}"))
        .arg(exe)
        .args(cost_args(workload, backend, via, sizes))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", valgrind.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "callgrind run failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ));
    }
    match parse_collected(&stderr) {
        Some(0) => Err(format!("callgrind counted nothing in {MEASURED_SYMBOL}")),
        Some(n) => Ok(n),
        None => Err("no \"Collected\" total in callgrind's output".into()),
    }
}

/// The subcommand's arguments for one workload.
pub fn cost_args(workload: Workload, backend: Backend, via: Via, sizes: Sizes) -> Vec<String> {
    [
        "cost",
        "--workload",
        workload.name(),
        "--via",
        via.name(),
        "--backend",
        backend.name(),
        "--handshakes",
        &sizes.handshakes.to_string(),
        "--bulk-bytes",
        &sizes.bulk_bytes.to_string(),
        "--datagrams",
        &sizes.datagrams.to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The instruction counts of one workload on one backend.
#[derive(Clone, Debug)]
pub struct CostRow {
    /// What was counted.
    pub workload: Workload,
    /// On which backend.
    pub backend: Backend,
    /// Through polytls: instructions, or why they are missing.
    pub polytls: Result<u64, String>,
    /// The backend used directly: instructions, or why they are missing.
    pub direct: Result<u64, String>,
}

impl CostRow {
    /// polytls' instructions over direct's, when both were counted.
    pub fn ratio(&self) -> Option<f64> {
        match (&self.polytls, &self.direct) {
            (Ok(p), Ok(d)) if *d > 0 => Some(*p as f64 / *d as f64),
            _ => None,
        }
    }
}

/// Counts every workload on every backend, both sides, with `exe` (the benchmark binary)
/// under `valgrind`; `keep` chooses the rows (by workload and backend) and `say` hears
/// progress.
pub fn cost_rows(
    valgrind: &Path,
    exe: &Path,
    sizes: Sizes,
    keep: impl Fn(Workload, Backend) -> bool,
    say: impl Fn(String),
) -> Vec<CostRow> {
    let mut rows = Vec::new();
    for backend in Backend::ALL {
        let runs = Workload::ALL
            .into_iter()
            .filter(|w| w.runs_on(backend) && keep(*w, backend));
        for workload in runs {
            let count = |via: Via| {
                say(format!(
                    "callgrind: {} on {} via {} ...",
                    workload.name(),
                    backend.name(),
                    via.name()
                ));
                count_instructions(valgrind, exe, workload, backend, via, sizes)
            };
            let polytls = count(Via::Polytls);
            let direct = count(Via::Direct);
            rows.push(CostRow {
                workload,
                backend,
                polytls,
                direct,
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_callgrind_totals() {
        let stderr = "==41== Callgrind, a call-graph generating cache profiler\n\
                      ==41== Events    : Ir\n==41== Collected : 4520166\n==41== \n\
                      ==41== I   refs:      4,520,166\n";
        assert_eq!(parse_collected(stderr), Some(4_520_166));
        assert_eq!(parse_collected("==41== I   refs: 1"), None);
    }

    #[test]
    fn names_round_trip() {
        for w in Workload::ALL {
            assert_eq!(Workload::from_name(w.name()), Some(w));
        }
        assert_eq!(Workload::from_name("resume"), None);
        let args = cost_args(Workload::Bulk, Backend::Rustls, Via::Direct, Sizes::REPORT);
        assert_eq!(
            args[..7],
            [
                "cost",
                "--workload",
                "bulk",
                "--via",
                "direct",
                "--backend",
                "rustls"
            ]
        );
    }

    #[test]
    fn finds_programs_on_a_path() {
        let dir = std::env::temp_dir();
        let path = std::env::join_paths([Path::new("/nonexistent-polytls-bench"), &dir]).unwrap();
        let file = dir.join(format!("polytls-bench-probe-{}", std::process::id()));
        std::fs::write(&file, b"").unwrap();
        let name = file.file_name().unwrap().to_str().unwrap();
        assert_eq!(find_program(name, Some(&path)), Some(file.clone()));
        assert_eq!(find_program(name, None), None);
        std::fs::remove_file(&file).unwrap();
        assert_eq!(find_program(name, Some(&path)), None);
    }

    #[test]
    fn workloads_run_natively() {
        let tiny = Sizes {
            handshakes: 2,
            bulk_bytes: 100_000,
            datagrams: 100,
        };
        for backend in Backend::ALL {
            for via in [Via::Polytls, Via::Direct] {
                for workload in Workload::ALL {
                    let run = run_workload(workload, backend, via, tiny);
                    if workload.runs_on(backend) {
                        run.unwrap();
                    } else {
                        assert!(run.unwrap_err().contains("OpenSSL only"));
                    }
                }
            }
        }
    }
}
