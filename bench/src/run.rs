//! The benchmark plan: which scenarios, how big, how many rounds; the paired, adaptive run;
//! and the report (a text table, or JSON for CI) with the floors of issue 4 decided.
//!
//! Every cell of the table is one scenario on one backend, measured through polytls and
//! directly. A round measures each cell's two sides back to back, alternating which goes
//! first from round to round, so that a slow drift of the machine (frequency, other load)
//! hits both alike; the round's ratio is polytls' figure over direct's. After every round
//! past the minimum, each cell's [`stats::Interval`] (90%, Student's t on the log-ratios) is
//! set against its floor; a cell stops once the floor is met or missed, or at the cap on
//! rounds or time. The figures shown for each side are medians of its rounds.
//!
//! With [`Options::cost`], the report also counts instructions under callgrind for fixed
//! workloads (see [`crate::cost`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use polytls::SupportedFeature;
use serde_json::{json, Value};

use crate::cost::{self, Sizes, Workload};
use crate::dtls::{self, DtlsSetup, Engine, Hello};
use crate::inmem::{Backend, Via};
use crate::measure::Clock;
use crate::server::{self, ServerKind};
use crate::setup::{KeyKind, Params, Setup, Version};
use crate::stats::{self, Floor, Interval, Verdict};
use crate::{async_tls, measure, speed, tcp};

/// The TLS 1.3 suites measured for bulk throughput.
pub const BULK_SUITES: [&str; 3] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// The floor of every rate (polytls' throughput or handshake rate over direct's).
pub const RATE_FLOOR: f64 = 0.97;

/// The floor of every instruction count (polytls' instructions over direct's).
pub const COST_FLOOR: f64 = 1.02;

/// The ceiling of the idle tokio connections' memory (polytls' bytes over direct's): direct
/// plus 5%.
pub const IDLE_MEMORY_CEILING: f64 = 1.05;

/// The aim for the DTLS cookie verifier (issue 11): ClientHellos verified per second on one
/// core.
pub const COOKIE_AIM: f64 = 500_000.0;

/// The aim for OpenSSL's idle memory through polytls (issue 10): at most this fraction of
/// OpenSSL used directly. Reported in the note of the OpenSSL memory rows.
pub const OPENSSL_IDLE_AIM: f64 = 0.6;

/// How much a good client's handshake latency may grow, in milliseconds, while silent
/// clients hold connections to the server.
pub const LATENCY_INCREASE_FLOOR_MS: f64 = 10.0;

/// What the instruction counts need: valgrind, the benchmark binary to run under it, and the
/// workloads' sizes.
#[derive(Clone, Debug)]
pub struct CostOptions {
    /// The `valgrind` program (`None`: not installed; the rows say they are skipped).
    pub valgrind: Option<PathBuf>,
    /// The `polytls-bench` binary (it runs `polytls-bench cost ...` under callgrind).
    pub exe: PathBuf,
    /// The workloads' sizes.
    pub sizes: Sizes,
}

impl CostOptions {
    /// Counting with `exe`, valgrind looked up on `PATH`.
    pub fn new(exe: PathBuf, sizes: Sizes) -> CostOptions {
        CostOptions {
            valgrind: cost::find_program("valgrind", std::env::var_os("PATH").as_deref()),
            exe,
            sizes,
        }
    }
}

/// Sizes and repetitions of one run.
#[derive(Clone, Debug)]
pub struct Options {
    /// `"quick"` or `"full"`, for the report.
    pub mode: &'static str,
    /// Rounds every timed cell runs before its floor is judged.
    pub min_rounds: usize,
    /// Rounds after which an undecided timed cell stops.
    pub max_rounds: usize,
    /// Wall-clock time after which no new round starts (past `min_rounds`).
    pub time_cap: Duration,
    /// Rounds of the memory cells (their figure hardly varies): always this many.
    pub memory_rounds: usize,
    /// What times the in-memory rates (loopback TCP is always timed by the wall clock).
    pub clock: Clock,
    /// Time per in-memory handshake measurement.
    pub handshake_budget: Duration,
    /// Bytes per in-memory bulk measurement.
    pub bulk_bytes: usize,
    /// Pairs held open for the memory measurement.
    pub memory_pairs: usize,
    /// Connections per loopback TCP handshake measurement.
    pub tcp_handshakes: usize,
    /// Bytes per loopback TCP throughput measurement.
    pub tcp_bytes: usize,
    /// Established tokio connections held open for the idle-memory measurement.
    pub idle_connections: usize,
    /// Rounds of the idle-memory cells (always this many).
    pub idle_rounds: usize,
    /// Client threads connecting at once to a server in the concurrent-handshake rows.
    pub server_clients: usize,
    /// Handshakes per concurrent-handshake measurement, spread over the client threads.
    pub server_handshakes: usize,
    /// Connections that never send a byte, in the latency rows.
    pub silent_clients: usize,
    /// A good client's handshakes per latency measurement.
    pub latency_handshakes: usize,
    /// DTLS handshakes per measurement.
    pub dtls_handshakes: usize,
    /// Bytes of 1200-byte DTLS datagrams per throughput measurement.
    pub dtls_bytes: usize,
    /// Time the cookie verifier is timed for, per measurement.
    pub cookie_budget: Duration,
    /// Unverified clients whose ClientHellos the cookie verifier answers in the memory row.
    pub cookie_clients: usize,
    /// Seconds per `openssl speed` run; 0 skips it.
    pub speed_seconds: u32,
    /// Only the cells whose "scenario backend" text contains this (for profiling one cell).
    pub only: Option<String>,
    /// Count instructions under callgrind too (`None`: timing only).
    pub cost: Option<CostOptions>,
}

impl Options {
    /// A few minutes at most on a 2-core machine: short measurements, many rounds (the noise
    /// of this kind of machine shifts from second to second, so short pairs see less of it).
    pub fn full() -> Options {
        Options {
            mode: "full",
            min_rounds: 15,
            max_rounds: 200,
            time_cap: Duration::from_secs(200),
            memory_rounds: 3,
            clock: Clock::best(),
            handshake_budget: Duration::from_millis(50),
            bulk_bytes: 32 << 20,
            memory_pairs: 1000,
            tcp_handshakes: 50,
            tcp_bytes: 32 << 20,
            idle_connections: 10_000,
            idle_rounds: 2,
            server_clients: 32,
            server_handshakes: 128,
            silent_clients: 50,
            latency_handshakes: 20,
            dtls_handshakes: 50,
            dtls_bytes: 16 << 20,
            cookie_budget: Duration::from_millis(50),
            cookie_clients: 10_000,
            speed_seconds: 3,
            only: None,
            cost: None,
        }
    }

    /// About a minute on a 2-core machine: the full plan with smaller measurements and caps.
    pub fn quick() -> Options {
        Options {
            mode: "quick",
            min_rounds: 15,
            max_rounds: 60,
            time_cap: Duration::from_secs(45),
            memory_rounds: 2,
            handshake_budget: Duration::from_millis(30),
            bulk_bytes: 16 << 20,
            memory_pairs: 500,
            tcp_handshakes: 30,
            tcp_bytes: 16 << 20,
            idle_connections: 2_000,
            server_handshakes: 64,
            latency_handshakes: 10,
            dtls_handshakes: 30,
            dtls_bytes: 8 << 20,
            cookie_budget: Duration::from_millis(30),
            speed_seconds: 1,
            ..Options::full()
        }
    }

    /// Tiny sizes, for the smoke test: checks the drivers work, measures nothing useful.
    pub fn smoke() -> Options {
        Options {
            mode: "smoke",
            min_rounds: 2,
            max_rounds: 2,
            time_cap: Duration::ZERO,
            memory_rounds: 2,
            clock: Clock::best(),
            handshake_budget: Duration::ZERO,
            bulk_bytes: 1 << 20,
            memory_pairs: 3,
            tcp_handshakes: 2,
            tcp_bytes: 1 << 20,
            idle_connections: 4,
            idle_rounds: 2,
            server_clients: 2,
            server_handshakes: 4,
            silent_clients: 3,
            latency_handshakes: 2,
            dtls_handshakes: 2,
            dtls_bytes: 64 << 10,
            cookie_budget: Duration::ZERO,
            cookie_clients: 10,
            speed_seconds: 0,
            only: None,
            cost: None,
        }
    }
}

/// How a cell's two figures are compared.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CellFloor {
    /// Higher is better: polytls at least [`RATE_FLOOR`] of direct.
    Rate,
    /// Higher is better: the ratio at least this.
    AtLeast(f64),
    /// No floor: the figures are shown beside the others, for comparison.
    Figures,
    /// Lower is better: polytls at most direct plus 5% or 4 KiB, whichever is larger.
    Memory,
    /// Lower is better: the ratio at most this.
    Ceiling(f64),
    /// The first figure minus the second (not their ratio) at most this.
    Increase(f64),
}

/// How a row's two figures are set against each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// Their ratio, per round, with an interval from the log-ratios.
    Ratio,
    /// Their difference (first minus second), per round, with an interval from the
    /// differences.
    Difference,
}

impl Comparison {
    /// `"ratio"` or `"difference"`.
    pub fn name(self) -> &'static str {
        match self {
            Comparison::Ratio => "ratio",
            Comparison::Difference => "difference",
        }
    }
}

/// What the two columns of a row hold when they are polytls and the backend used directly
/// (a row that compares two conditions through polytls names those instead).
const VIA_SIDES: [&str; 2] = ["polytls", "direct"];

type Measure = Box<dyn Fn(Via) -> Result<f64, String>>;

struct Cell {
    scenario: String,
    /// The backend's registry name (`"core"` for what needs none).
    backend: &'static str,
    unit: &'static str,
    floor: CellFloor,
    min_rounds: usize,
    max_rounds: usize,
    measure: Measure,
    /// The suite of an in-memory bulk cell.
    suite: Option<&'static str>,
    /// Bytes per second of the suite's cipher (`openssl speed`), for bulk cells.
    cipher_speed: Option<f64>,
    /// What the two figures are, in the order of [`Via`].
    sides: [&'static str; 2],
    /// An aim for the ratio beyond the floor (lower is better), reported in the note.
    aim: Option<f64>,
    /// What else the row's reader should know.
    note: Option<&'static str>,
    polytls: Vec<f64>,
    direct: Vec<f64>,
    error: Option<String>,
}

/// One line of the report.
#[derive(Clone, Debug)]
pub struct Row {
    /// What was measured.
    pub scenario: String,
    /// The backend's registry name.
    pub backend: String,
    /// The unit of `polytls` and `direct`.
    pub unit: String,
    /// Whether `interval` is of the ratio polytls / direct or of the difference between them.
    pub comparison: Comparison,
    /// What `polytls` and `direct` hold: `["polytls", "direct"]`, or for a row that compares
    /// two conditions through polytls, those (as `["with the silent clients", "without"]`).
    pub sides: [String; 2],
    /// polytls' median over its rounds (or its instruction count), if measured.
    pub polytls: Option<f64>,
    /// The backend used directly, likewise.
    pub direct: Option<f64>,
    /// polytls / direct: the geometric mean of the per-round ratios, with its 90% interval
    /// (a point for instruction counts), if measured; for a [`Comparison::Difference`] row,
    /// the mean of the per-round differences polytls - direct and its interval.
    pub interval: Option<Interval>,
    /// The floor on the ratio, if the row has one.
    pub floor: Option<Floor>,
    /// What the interval says about the floor (`None`: not measured).
    pub verdict: Option<Verdict>,
    /// Anything else to know (an error, the fraction of the cipher's speed, "not claimed").
    pub note: String,
    /// The individual rounds: (polytls, direct), paired by index.
    pub samples: (Vec<f64>, Vec<f64>),
}

impl Row {
    /// The ratio polytls / direct, if measured (`None` for a difference row).
    pub fn ratio(&self) -> Option<f64> {
        match self.comparison {
            Comparison::Ratio => self.interval.map(|i| i.ratio),
            Comparison::Difference => None,
        }
    }

    /// The mean difference polytls - direct of a difference row, if measured.
    pub fn difference(&self) -> Option<f64> {
        match self.comparison {
            Comparison::Difference => self.interval.map(|i| i.ratio),
            Comparison::Ratio => None,
        }
    }

    /// The floor as the table prints it: a bound on the ratio, or on the difference with
    /// its unit.
    pub fn floor_text(&self) -> String {
        match (self.floor, self.comparison) {
            (None, _) => "-".into(),
            (Some(Floor::AtMost(f)), Comparison::Difference) => {
                format!("<= +{f} {}", self.unit)
            }
            (Some(Floor::AtLeast(f)), Comparison::Difference) => {
                format!(">= {f:+} {}", self.unit)
            }
            (Some(floor), Comparison::Ratio) => floor.describe(),
        }
    }
}

/// Everything a run found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The options used.
    pub options: Options,
    /// The table.
    pub rows: Vec<Row>,
    /// `openssl speed -evp` per suite, bytes per second, or why it is missing.
    pub cipher_speed: Vec<(String, Result<f64, String>)>,
    /// Facts about the machine and libraries, as (name, value).
    pub facts: Vec<(String, String)>,
    /// Rounds the timed cells ran in all, and whether the time cap stopped them.
    pub rounds_run: (usize, bool),
    /// Wall-clock time of the timed part.
    pub elapsed: Duration,
}

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

fn leak(setup: Setup) -> &'static Setup {
    Box::leak(Box::new(setup))
}

/// The machine's CPU model (from `/proc/cpuinfo`) and core count.
pub fn machine() -> (String, usize) {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (model, cores)
}

/// The load averages over 1, 5 and 15 minutes (from `/proc/loadavg`), if readable.
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(" "))
}

/// Runs the whole plan, reporting progress on standard error when `progress` is set.
///
/// `live_bytes` counts live heap bytes (see [`crate::alloc`]); without it the memory cells
/// report an error.
///
/// Fails with a message when the certificates or settings cannot be built; a failing
/// measurement is reported in its row instead.
pub fn run(
    options: &Options,
    live_bytes: fn() -> Option<isize>,
    progress: bool,
) -> Result<Report, String> {
    let say = |text: String| {
        if progress {
            eprintln!("{text}");
        }
    };
    let load_at_start = load_average();
    let tls13 = Params {
        key: KeyKind::EcdsaP256,
        version: Version::Tls13,
        cipher: None,
    };
    let ecdsa13 = leak(Setup::new(tls13.clone())?);
    let rsa12 = leak(Setup::new(Params {
        key: KeyKind::Rsa2048,
        version: Version::Tls12,
        cipher: None,
    })?);

    let mut cells = Vec::new();
    let o = options.clone();
    let timed = (o.min_rounds, o.max_rounds.max(o.min_rounds));
    let memory = (o.memory_rounds, o.memory_rounds);
    let clock = o.clock;
    for backend in Backend::ALL {
        for (scenario, setup) in [
            ("handshake TLS 1.3 ECDSA P-256, X25519 (in memory)", ecdsa13),
            ("handshake TLS 1.2 ECDHE-RSA-2048 (in memory)", rsa12),
        ] {
            let (budget, min) = (o.handshake_budget, 3);
            cells.push(cell(
                scenario,
                backend,
                ("hs/s", CellFloor::Rate),
                timed,
                move |via| {
                    measure::handshakes_per_second(setup, backend, via, (budget, min), clock)
                },
            ));
        }
        for suite in BULK_SUITES {
            let setup = leak(Setup::new(Params {
                cipher: Some(suite),
                ..tls13.clone()
            })?);
            let bytes = o.bulk_bytes;
            let mut c = cell(
                &format!("bulk {suite}, 16 KiB writes (in memory)"),
                backend,
                ("MB/s", CellFloor::Rate),
                timed,
                move |via| measure::bulk_mb_per_second(setup, backend, via, bytes, clock),
            );
            c.suite = Some(suite);
            cells.push(c);
        }
        let pairs = o.memory_pairs;
        let mut c = cell(
            &format!("memory per established pair, TLS 1.3 ECDSA, N={pairs}"),
            backend,
            ("KiB/pair", CellFloor::Memory),
            memory,
            move |via| {
                measure::bytes_per_pair(ecdsa13, backend, via, pairs, live_bytes)
                    .map(|b| b / 1024.0)
            },
        );
        if backend == Backend::OpenSsl {
            c.aim = Some(OPENSSL_IDLE_AIM);
        }
        cells.push(c);
        let count = o.tcp_handshakes;
        cells.push(cell(
            "handshake TLS 1.3 ECDSA P-256 (loopback TCP, blocking)",
            backend,
            ("hs/s", CellFloor::Rate),
            timed,
            move |via| tcp::handshakes_per_second(ecdsa13, backend, via, count),
        ));
        let bytes = o.tcp_bytes;
        cells.push(cell(
            "bulk TLS 1.3 default suite (loopback TCP, blocking)",
            backend,
            ("MB/s", CellFloor::Rate),
            timed,
            move |via| tcp::throughput(ecdsa13, backend, via, bytes),
        ));
        cells.push(cell(
            "handshake TLS 1.3 ECDSA P-256 (tokio, loopback TCP, one thread)",
            backend,
            ("hs/s", CellFloor::Rate),
            timed,
            move |via| async_tls::handshakes_per_second(ecdsa13, backend, via, count),
        ));
        cells.push(cell(
            "bulk TLS 1.3 default suite (tokio, loopback TCP, one thread)",
            backend,
            ("MB/s", CellFloor::Rate),
            timed,
            move |via| async_tls::throughput(ecdsa13, backend, via, bytes),
        ));
        let idle = o.idle_connections;
        let mut c = cell(
            &format!("memory per idle tokio connection, both ends, TLS 1.3 ECDSA, N={idle} (duplex in memory)"),
            backend,
            ("KiB/conn", CellFloor::Ceiling(IDLE_MEMORY_CEILING)),
            (o.idle_rounds, o.idle_rounds),
            move |via| {
                async_tls::bytes_per_idle_connection(ecdsa13, backend, via, idle, live_bytes)
                    .map(|b| b / 1024.0)
            },
        );
        if backend == Backend::OpenSsl {
            c.aim = Some(OPENSSL_IDLE_AIM);
        }
        cells.push(c);
        let (clients, total) = (o.server_clients, o.server_handshakes);
        for (kind, label) in [
            (ServerKind::Blocking, "blocking SslServer"),
            (
                ServerKind::BlockingServed,
                "blocking SslServer (on_connection)",
            ),
            (ServerKind::Tokio, "tokio SslServer"),
        ] {
            cells.push(cell(
                &format!(
                    "concurrent handshakes, {label} vs thread per connection, {clients} clients (loopback TCP)"
                ),
                backend,
                ("hs/s", CellFloor::Rate),
                timed,
                move |via| {
                    let kind = match via {
                        Via::Polytls => kind,
                        Via::Direct => ServerKind::Direct,
                    };
                    server::concurrent_handshakes_per_second(ecdsa13, backend, kind, clients, total)
                },
            ));
        }
        let (silent, good) = (o.silent_clients, o.latency_handshakes);
        for (kind, label) in [
            (ServerKind::Blocking, "blocking"),
            (ServerKind::Tokio, "tokio"),
        ] {
            let mut c = cell(
                &format!("handshake latency, {label} SslServer, {silent} silent clients vs none (loopback TCP)"),
                backend,
                ("ms", CellFloor::Increase(LATENCY_INCREASE_FLOOR_MS)),
                timed,
                move |via| {
                    let silent = match via {
                        Via::Polytls => silent,
                        Via::Direct => 0,
                    };
                    server::latency_ms_with_silent_clients(ecdsa13, backend, kind, silent, good)
                },
            );
            c.sides = ["with the silent clients", "without"];
            cells.push(c);
        }
    }

    let keep = |text: String| {
        o.only
            .as_ref()
            .map_or(true, |only| text.contains(only.as_str()))
    };
    dtls_cells(&mut cells, options, ecdsa13, live_bytes)?;

    cells.retain(|c| keep(format!("{} {}", c.scenario, c.backend)));

    // The cipher's own speed, for the bulk rows that run.
    let mut cipher_speed = Vec::new();
    for suite in BULK_SUITES {
        let figure = match speed::evp_name(suite) {
            _ if o.speed_seconds == 0 => Err("skipped".to_owned()),
            _ if !cells.iter().any(|c| c.suite == Some(suite)) => {
                Err("skipped: no bulk row of this suite runs".to_owned())
            }
            Some(evp) => {
                say(format!("openssl speed -evp {evp} ..."));
                speed::openssl_speed(evp, o.speed_seconds)
            }
            None => Err("no openssl speed name".to_owned()),
        };
        for c in cells.iter_mut().filter(|c| c.suite == Some(suite)) {
            c.cipher_speed = figure.as_ref().ok().copied();
        }
        cipher_speed.push((suite.to_owned(), figure));
    }
    let started = Instant::now();
    let (mut rounds, mut capped) = (0, false);
    loop {
        let active: Vec<&Cell> = cells.iter().filter(|c| c.wants_round()).collect();
        if active.is_empty() {
            break;
        }
        if active.iter().all(|c| c.polytls.len() >= c.min_rounds) && started.elapsed() >= o.time_cap
        {
            capped = true;
            break;
        }
        rounds += 1;
        say(format!(
            "round {rounds}: {} cells to measure ({:.0} s so far)",
            active.len(),
            started.elapsed().as_secs_f64()
        ));
        for c in cells.iter_mut().filter(|c| c.wants_round()) {
            c.measure_round();
        }
    }
    let elapsed = started.elapsed();

    let mut rows: Vec<Row> = cells.into_iter().map(|c| c.into_row(capped)).collect();
    let resumed = "resumed handshake (session tickets)";
    for backend in Backend::ALL
        .into_iter()
        .filter(|b| keep(format!("{resumed} {}", b.name())))
    {
        let claimed =
            polytls::is_feature_supported(SupportedFeature::SessionTicket, Some(backend.name()));
        rows.push(Row {
            scenario: resumed.into(),
            backend: backend.name().into(),
            unit: "hs/s".into(),
            comparison: Comparison::Ratio,
            sides: VIA_SIDES.map(String::from),
            polytls: None,
            direct: None,
            interval: None,
            floor: Some(Floor::AtLeast(RATE_FLOOR)),
            verdict: None,
            note: if claimed {
                "claimed by the backend; not measured by this version of the benchmark".into()
            } else {
                "not claimed (SessionTicket): not measured".into()
            },
            samples: (Vec::new(), Vec::new()),
        });
    }
    if let Some(cost) = &o.cost {
        rows.extend(cost_rows(
            cost,
            |w, b| keep(format!("{} {}", cost_scenario(w, cost.sizes), b.name())),
            &say,
        ));
    }
    // Group the table by scenario, backends side by side.
    rows.sort_by_key(|r| scenario_order(&r.scenario));

    let (cpu, cores) = machine();
    let mut facts = vec![
        ("cpu".to_owned(), cpu),
        ("cores".to_owned(), cores.to_string()),
    ];
    for backend in Backend::ALL {
        facts.push((
            format!("{} library", backend.name()),
            polytls::tls_library_version_string(Some(backend.name())),
        ));
    }
    facts.push((
        "key exchange".into(),
        format!(
            "each engine's default: X25519 first for both (rustls negotiated {})",
            crate::inmem::rustls_group(ecdsa13).unwrap_or_else(|e| format!("? ({e})"))
        ),
    ));
    facts.push((
        "load average (1, 5, 15 min), start and end".into(),
        format!(
            "{} / {}",
            load_at_start.unwrap_or_else(|| "?".into()),
            load_average().unwrap_or_else(|| "?".into())
        ),
    ));
    Ok(Report {
        options: options.clone(),
        rows,
        cipher_speed,
        facts,
        rounds_run: (rounds, capped),
        elapsed,
    })
}

/// The DTLS rows (issue 11): handshakes and datagram throughput through polytls' `Dtls` on
/// OpenSSL (floor [`RATE_FLOOR`]) and on dimpl (figures only) against the engine used
/// directly, the cookie verifier's rate against [`COOKIE_AIM`] and the heap it keeps per
/// unverified client (none).
///
/// Fails with a message when the DTLS settings cannot be built.
fn dtls_cells(
    cells: &mut Vec<Cell>,
    o: &Options,
    setup: &Setup,
    live_bytes: fn() -> Option<isize>,
) -> Result<(), String> {
    let setup: &'static DtlsSetup = Box::leak(Box::new(DtlsSetup::new(setup)?));
    let timed = (o.min_rounds, o.max_rounds.max(o.min_rounds));
    let clock = o.clock;
    for engine in Engine::ALL {
        let floor = match engine {
            Engine::OpenSsl => CellFloor::Rate,
            Engine::Dimpl => CellFloor::Figures,
        };
        // Rows without a floor run the minimum of rounds.
        let rounds = match floor {
            CellFloor::Figures => (o.min_rounds, o.min_rounds),
            _ => timed,
        };
        let count = o.dtls_handshakes;
        let mut c = dtls_cell(
            "DTLS 1.2 handshake ECDHE-ECDSA P-256, no cookie exchange (loopback UDP, one thread)",
            engine.name(),
            ("hs/s", floor),
            rounds,
            move |via| {
                dtls::handshakes_per_second(setup, engine, via == Via::Polytls, count, clock)
            },
        );
        if engine == Engine::Dimpl {
            c.note = Some("dimpl used directly verifies no certificate; polytls verifies the leaf");
        }
        cells.push(c);
        let bytes = o.dtls_bytes;
        let mut c = dtls_cell(
            &format!(
                "DTLS 1.2 datagrams of {} bytes, client to server (loopback UDP, one thread)",
                dtls::DATAGRAM
            ),
            engine.name(),
            ("MB/s", floor),
            rounds,
            move |via| dtls::throughput(setup, engine, via == Via::Polytls, bytes, clock),
        );
        if engine == Engine::Dimpl {
            c.note = Some("figures beside OpenSSL's, no floor");
        }
        cells.push(c);
    }
    for (hello, label) in [
        (Hello::WithCookie, "ClientHellos with a valid cookie"),
        (Hello::WithoutCookie, "ClientHellos without, each answered"),
    ] {
        let budget = o.cookie_budget;
        let mut c = dtls_cell(
            &format!("DTLS cookie verifier: {label}, one core"),
            "core",
            ("/s", CellFloor::AtLeast(1.0)),
            timed,
            move |via| match via {
                Via::Polytls => dtls::cookie_verifications_per_second(setup, hello, budget, clock),
                Via::Direct => Ok(COOKIE_AIM),
            },
        );
        c.sides = ["polytls", "aim"];
        cells.push(c);
    }
    // Most of an answered ClientHello is the kernel's `sendto`: this row tells how much of
    // what the kernel allows the verifier reaches, on the machine at hand.
    let budget = o.cookie_budget;
    let mut c = dtls_cell(
        "DTLS cookie verifier: ClientHellos without, each answered, against sending the answer alone",
        "core",
        ("/s", CellFloor::Figures),
        (o.min_rounds, o.min_rounds),
        move |via| match via {
            Via::Polytls => {
                dtls::cookie_verifications_per_second(setup, Hello::WithoutCookie, budget, clock)
            }
            Via::Direct => dtls::bare_answers_per_second(setup, budget, clock),
        },
    );
    c.sides = ["polytls", "send alone"];
    c.note = Some("the same HelloVerifyRequest sent with send_to alone, no floor");
    cells.push(c);
    let clients = o.cookie_clients;
    let mut c = dtls_cell(
        &format!("DTLS cookie verifier: heap kept per unverified client, N={clients}"),
        "core",
        ("bytes", CellFloor::Increase(0.0)),
        (o.memory_rounds, o.memory_rounds),
        move |via| match via {
            Via::Polytls => dtls::bytes_per_unverified_client(setup, clients, live_bytes),
            Via::Direct => Ok(0.0),
        },
    );
    c.sides = ["kept", "nothing"];
    cells.push(c);
    Ok(())
}

/// A cell of the DTLS rows, on the backend named `backend`.
fn dtls_cell(
    scenario: &str,
    backend: &'static str,
    floor: (&'static str, CellFloor),
    rounds: (usize, usize),
    measure: impl Fn(Via) -> Result<f64, String> + 'static,
) -> Cell {
    Cell {
        backend,
        ..cell(scenario, Backend::OpenSsl, floor, rounds, measure)
    }
}

/// The scenario text of an instruction-count row.
fn cost_scenario(workload: Workload, sizes: Sizes) -> String {
    match workload {
        Workload::Handshake => format!(
            "instructions: handshake TLS 1.3 ECDSA P-256, {} handshakes (in memory, callgrind)",
            sizes.handshakes
        ),
        Workload::Bulk => format!(
            "instructions: bulk {}, {} MiB (in memory, callgrind)",
            cost::BULK_SUITE,
            sizes.bulk_bytes >> 20
        ),
        Workload::DtlsHandshake => format!(
            "instructions: DTLS 1.2 handshake ECDHE-ECDSA P-256, {} handshakes (loopback UDP, callgrind)",
            sizes.handshakes
        ),
        Workload::DtlsDatagrams => format!(
            "instructions: DTLS 1.2 datagrams of {} bytes, {} datagrams (loopback UDP, callgrind)",
            crate::dtls::DATAGRAM,
            sizes.datagrams
        ),
    }
}

/// The instruction-count rows (every workload and backend `keep` allows), or, without
/// valgrind, the same rows marked as skipped after a warning on standard error.
fn cost_rows(
    options: &CostOptions,
    keep: impl Fn(Workload, Backend) -> bool,
    say: &dyn Fn(String),
) -> Vec<Row> {
    let row = |workload, backend: Backend, counts: Option<(u64, u64)>, note: String| {
        let interval =
            counts.and_then(|(p, d)| (d > 0).then(|| Interval::exact(p as f64 / d as f64)));
        let floor = Floor::AtMost(COST_FLOOR);
        Row {
            scenario: cost_scenario(workload, options.sizes),
            backend: backend.name().into(),
            unit: "M instr".into(),
            comparison: Comparison::Ratio,
            sides: VIA_SIDES.map(String::from),
            polytls: counts.map(|(p, _)| p as f64 / 1e6),
            direct: counts.map(|(_, d)| d as f64 / 1e6),
            interval,
            floor: Some(floor),
            verdict: interval.map(|i| i.verdict(floor)),
            note,
            samples: counts.map_or((Vec::new(), Vec::new()), |(p, d)| {
                (vec![p as f64], vec![d as f64])
            }),
        }
    };
    let Some(valgrind) = &options.valgrind else {
        eprintln!(
            "polytls-bench: WARNING: valgrind is not installed (not on PATH): \
             the instruction counts are SKIPPED"
        );
        let mut rows = Vec::new();
        for backend in Backend::ALL {
            let runs = Workload::ALL
                .into_iter()
                .filter(|w| w.runs_on(backend) && keep(*w, backend));
            for workload in runs {
                rows.push(row(
                    workload,
                    backend,
                    None,
                    "SKIPPED: valgrind not found".into(),
                ));
            }
        }
        return rows;
    };
    cost::cost_rows(valgrind, &options.exe, options.sizes, keep, say)
        .into_iter()
        .map(|r| match (&r.polytls, &r.direct) {
            (Ok(p), Ok(d)) => row(r.workload, r.backend, Some((*p, *d)), String::new()),
            (p, d) => {
                let errors = [("polytls", p), ("direct", d)]
                    .into_iter()
                    .filter_map(|(side, r)| r.as_ref().err().map(|e| format!("{side}: {e}")))
                    .collect::<Vec<_>>();
                row(
                    r.workload,
                    r.backend,
                    None,
                    format!("error: {}", errors.join("; ")),
                )
            }
        })
        .collect()
}

fn scenario_order(scenario: &str) -> usize {
    const ORDER: [&str; 20] = [
        "handshake TLS 1.3 ECDSA P-256, X25519 (in memory)",
        "handshake TLS 1.2",
        "resumed",
        "bulk TLS_",
        "memory per established pair",
        "handshake TLS 1.3 ECDSA P-256 (loopback",
        "bulk TLS 1.3 default suite (loopback",
        "handshake TLS 1.3 ECDSA P-256 (tokio",
        "bulk TLS 1.3 default suite (tokio",
        "memory per idle tokio connection",
        "concurrent handshakes, blocking",
        "concurrent handshakes, tokio",
        "handshake latency, blocking",
        "handshake latency, tokio",
        "DTLS 1.2 handshake",
        "DTLS 1.2 datagrams",
        "DTLS cookie verifier",
        "instructions: handshake",
        "instructions: bulk",
        "instructions: DTLS",
    ];
    ORDER
        .iter()
        .position(|prefix| scenario.starts_with(prefix))
        .unwrap_or(ORDER.len())
}

/// Whether a cell with `n` rounds judges its floor: at `min` rounds, then each time the
/// rounds have grown by half (15, 23, 35, 53, 80, 120, 180 for a minimum of 15). Fewer looks
/// than one per round keep the chance of stopping on a fluke near the interval's own.
pub fn is_look(n: usize, min: usize) -> bool {
    let mut look = min.max(2);
    while look < n {
        look = (look * 3).div_ceil(2);
    }
    look == n
}

fn cell(
    scenario: &str,
    backend: Backend,
    (unit, floor): (&'static str, CellFloor),
    (min_rounds, max_rounds): (usize, usize),
    measure: impl Fn(Via) -> Result<f64, String> + 'static,
) -> Cell {
    Cell {
        scenario: scenario.to_owned(),
        backend: backend.name(),
        unit,
        floor,
        min_rounds,
        max_rounds,
        measure: Box::new(measure),
        suite: None,
        cipher_speed: None,
        sides: VIA_SIDES,
        aim: None,
        note: None,
        polytls: Vec::new(),
        direct: Vec::new(),
        error: None,
    }
}

impl Cell {
    fn comparison(&self) -> Comparison {
        match self.floor {
            CellFloor::Increase(_) => Comparison::Difference,
            _ => Comparison::Ratio,
        }
    }

    /// The per-round ratios' interval, when every round has a positive direct figure (the
    /// differences' interval for a difference cell).
    fn interval(&self) -> Option<Interval> {
        if self.comparison() == Comparison::Difference {
            let differences: Vec<f64> = self
                .polytls
                .iter()
                .zip(&self.direct)
                .map(|(p, d)| p - d)
                .collect();
            return Interval::from_differences(&differences);
        }
        let ratios: Option<Vec<f64>> = self
            .polytls
            .iter()
            .zip(&self.direct)
            .map(|(p, d)| (*d > 0.0).then(|| p / d))
            .collect();
        Interval::from_ratios(&ratios?)
    }

    /// The floor on the ratio: for memory it depends on direct's median.
    fn ratio_floor(&self) -> Option<Floor> {
        match self.floor {
            CellFloor::Rate => Some(Floor::AtLeast(RATE_FLOOR)),
            CellFloor::AtLeast(f) => Some(Floor::AtLeast(f)),
            CellFloor::Figures => None,
            CellFloor::Memory => median(&self.direct)
                .filter(|d| *d > 0.0)
                .map(|d| Floor::AtMost(1.0 + (0.05f64).max(4.0 / d))),
            CellFloor::Ceiling(f) | CellFloor::Increase(f) => Some(Floor::AtMost(f)),
        }
    }

    fn verdict(&self) -> Option<Verdict> {
        Some(self.interval()?.verdict(self.ratio_floor()?))
    }

    /// Whether another round is due: below the minimum, between two looks, or undecided at
    /// a look, and below the maximum.
    fn wants_round(&self) -> bool {
        let n = self.polytls.len();
        self.error.is_none()
            && n < self.max_rounds
            && (!is_look(n, self.min_rounds)
                || !matches!(self.verdict(), Some(Verdict::Met | Verdict::Missed)))
    }

    /// One round: both sides back to back, polytls first in even rounds.
    fn measure_round(&mut self) {
        let order = if self.polytls.len() % 2 == 0 {
            [Via::Polytls, Via::Direct]
        } else {
            [Via::Direct, Via::Polytls]
        };
        let mut figures = [0.0; 2];
        for via in order {
            match (self.measure)(via) {
                Ok(v) => figures[via as usize] = v,
                Err(e) => {
                    self.error = Some(format!("{}: {e}", via.name()));
                    return;
                }
            }
        }
        self.polytls.push(figures[Via::Polytls as usize]);
        self.direct.push(figures[Via::Direct as usize]);
    }

    fn into_row(self, capped: bool) -> Row {
        let polytls = median(&self.polytls);
        let direct = median(&self.direct);
        let interval = self.interval();
        let floor = self.ratio_floor();
        let verdict = self.verdict();
        let mut notes = Vec::new();
        if let Some(e) = &self.error {
            notes.push(format!("error: {e}"));
        }
        if let Some(note) = self.note {
            notes.push(note.to_owned());
        }
        if verdict == Some(Verdict::Undecided) {
            let n = self.polytls.len();
            notes.push(if n >= self.max_rounds {
                format!("at the cap of {n} rounds")
            } else if capped {
                format!("stopped by the time cap after {n} rounds")
            } else {
                format!("{n} rounds")
            });
        }
        if let (Some(aim), Some(i)) = (self.aim, interval) {
            let reached = match i.verdict(Floor::AtMost(aim)) {
                Verdict::Met => "reached",
                Verdict::Missed => "not reached",
                Verdict::Undecided => "undecided",
            };
            notes.push(format!("aim <= {aim} of direct: {reached}"));
        }
        if self.sides != VIA_SIDES {
            notes.push(format!(
                "polytls column: {}; direct column: {}",
                self.sides[0], self.sides[1]
            ));
        }
        if let Some(speed) = self.cipher_speed {
            // MB/s against (bytes/s / 2) in MB/s.
            let half = speed / 2.0 / 1e6;
            let frac = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.2}", v / half));
            notes.push(format!(
                "of cipher/2 ({half:.0} MB/s): polytls {}, direct {}",
                frac(polytls),
                frac(direct)
            ));
        }
        Row {
            comparison: self.comparison(),
            sides: self.sides.map(String::from),
            scenario: self.scenario,
            backend: self.backend.to_owned(),
            unit: self.unit.to_owned(),
            polytls,
            direct,
            interval,
            floor,
            verdict,
            note: notes.join("; "),
            samples: (self.polytls, self.direct),
        }
    }
}

impl Report {
    /// Whether no floor is missed (an undecided row is not a miss).
    pub fn floors_met(&self) -> bool {
        self.rows.iter().all(|r| r.verdict != Some(Verdict::Missed))
    }

    /// How many rows are met, missed and undecided.
    pub fn verdict_counts(&self) -> (usize, usize, usize) {
        let count = |v| self.rows.iter().filter(|r| r.verdict == Some(v)).count();
        (
            count(Verdict::Met),
            count(Verdict::Missed),
            count(Verdict::Undecided),
        )
    }

    /// The report as a text table with the reference figures under it.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let o = &self.options;
        out.push_str(&format!(
            "polytls-bench ({} mode): polytls and direct back to back in each round, order alternating\n",
            o.mode
        ));
        out.push_str(&format!(
            "  ratio: polytls / direct, the geometric mean of the per-round ratios (rates: above 1 is polytls faster;\n  \
             memory and instructions: below 1 is polytls smaller), {:.0}% interval by Student's t on the log-ratios\n",
            stats::CONFIDENCE * 100.0
        ));
        out.push_str(
            "  latency rows: both columns through polytls, with and without the silent clients; their difference in ms \
             (with - without), interval by Student's t on the per-round differences\n",
        );
        out.push_str(&format!(
            "  rounds per cell: {} to {} until the floor is decided, judged at {} rounds and whenever they grew by half \
             ({} for memory), no new round after {} s; \
             {} rounds in {:.0} s{}\n",
            o.min_rounds,
            o.max_rounds,
            o.min_rounds,
            o.memory_rounds,
            o.time_cap.as_secs(),
            self.rounds_run.0,
            self.elapsed.as_secs_f64(),
            if self.rounds_run.1 { " (time cap reached)" } else { "" }
        ));
        for (name, value) in &self.facts {
            out.push_str(&format!("  {name}: {value}\n"));
        }
        out.push_str(&format!(
            "  sizes: in-memory bulk {} MiB per measurement, TCP bulk {} MiB, {} ms per in-memory handshake measurement, {} TCP handshakes, {} pairs for memory\n",
            o.bulk_bytes >> 20,
            o.tcp_bytes >> 20,
            o.handshake_budget.as_millis(),
            o.tcp_handshakes,
            o.memory_pairs
        ));
        out.push_str(&format!(
            "  tokio and servers: {} idle connections ({} rounds), {} client threads and {} handshakes per concurrent-server measurement, \
             {} silent clients and {} good handshakes per latency measurement\n",
            o.idle_connections,
            o.idle_rounds,
            o.server_clients,
            o.server_handshakes,
            o.silent_clients,
            o.latency_handshakes
        ));
        out.push_str(&format!(
            "  clock: in-memory rates by {}, loopback TCP (blocking, tokio, servers) by wall-clock time\n",
            o.clock.name()
        ));
        if let Some(cost) = &o.cost {
            out.push_str(&format!(
                "  instructions: callgrind, {} handshakes, {} MiB of bulk data or {} DTLS datagrams per workload, counted inside the workload only\n",
                cost.sizes.handshakes,
                cost.sizes.bulk_bytes >> 20,
                cost.sizes.datagrams
            ));
        }
        out.push('\n');
        let fmt = |v: Option<f64>, unit: &str| match v {
            None => "-".to_owned(),
            Some(v) if unit == "hs/s" => format!("{v:.0}"),
            Some(v) if unit == "ms" => format!("{v:.2}"),
            Some(v) => format!("{v:.1}"),
        };
        let width = self
            .rows
            .iter()
            .map(|r| r.scenario.len())
            .max()
            .unwrap_or(10);
        out.push_str(&format!(
            "{:<width$}  {:<8} {:>10} {:>10} {:<9} {:>6} {:>13} {:>3} {:<11} {}\n",
            "scenario",
            "backend",
            "polytls",
            "direct",
            "unit",
            "ratio",
            "90% interval",
            "n",
            "floor",
            "verdict"
        ));
        for r in &self.rows {
            let (ratio, range, n) = match r.interval {
                Some(i) if r.comparison == Comparison::Difference => (
                    format!("{:+.2}", i.ratio),
                    format!("{:+.2}..{:+.2}", i.low, i.high),
                    i.n.to_string(),
                ),
                // One exact figure (an instruction count): more digits, no interval.
                Some(i) if i.n == 1 => (format!("{:.4}", i.ratio), "exact".into(), "-".into()),
                Some(i) => (
                    format!("{:.3}", i.ratio),
                    format!("{:.3}-{:.3}", i.low, i.high),
                    i.n.to_string(),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            out.push_str(&format!(
                "{:<width$}  {:<8} {:>10} {:>10} {:<9} {ratio:>6} {range:>13} {n:>3} {:<11} {}{}\n",
                r.scenario,
                r.backend,
                fmt(r.polytls, &r.unit),
                fmt(r.direct, &r.unit),
                r.unit,
                r.floor_text(),
                r.verdict.map_or("-", Verdict::name),
                if r.note.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", r.note)
                },
            ));
        }
        out.push_str("\nReference: openssl speed -evp, 16 KiB blocks (one core, encrypt only)\n");
        for (suite, figure) in &self.cipher_speed {
            match figure {
                Ok(v) => out.push_str(&format!("  {suite}: {:.0} MB/s\n", v / 1e6)),
                Err(e) => out.push_str(&format!("  {suite}: not measured ({e})\n")),
            }
        }
        let (met, missed, undecided) = self.verdict_counts();
        out.push_str(&format!(
            "\nFloors: {met} met, {missed} missed, {undecided} undecided{}\n",
            if missed > 0 {
                " (MISSED: see the table)"
            } else {
                ""
            }
        ));
        out
    }

    /// The report as JSON, for CI.
    pub fn to_json(&self) -> Value {
        let o = &self.options;
        let (met, missed, undecided) = self.verdict_counts();
        json!({
            "mode": o.mode,
            "min_rounds": o.min_rounds,
            "max_rounds": o.max_rounds,
            "time_cap_s": o.time_cap.as_secs(),
            "memory_rounds": o.memory_rounds,
            "rounds_run": self.rounds_run.0,
            "time_cap_reached": self.rounds_run.1,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "confidence": stats::CONFIDENCE,
            "in_memory_clock": o.clock.name(),
            "sizes": {
                "bulk_bytes": o.bulk_bytes,
                "tcp_bytes": o.tcp_bytes,
                "handshake_budget_ms": o.handshake_budget.as_millis() as u64,
                "tcp_handshakes": o.tcp_handshakes,
                "memory_pairs": o.memory_pairs,
                "idle_connections": o.idle_connections,
                "idle_rounds": o.idle_rounds,
                "server_clients": o.server_clients,
                "server_handshakes": o.server_handshakes,
                "silent_clients": o.silent_clients,
                "latency_handshakes": o.latency_handshakes,
                "cost_handshakes": o.cost.as_ref().map(|c| c.sizes.handshakes),
                "cost_bulk_bytes": o.cost.as_ref().map(|c| c.sizes.bulk_bytes),
                "cost_datagrams": o.cost.as_ref().map(|c| c.sizes.datagrams),
            },
            "facts": self.facts.iter().map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect::<serde_json::Map<_, _>>(),
            "cipher_speed_bytes_per_second": self.cipher_speed.iter().map(|(k, v)| {
                (k.clone(), v.as_ref().map_or(Value::Null, |v| json!(v)))
            }).collect::<serde_json::Map<_, _>>(),
            "rows": self.rows.iter().map(|r| json!({
                "scenario": r.scenario,
                "backend": r.backend,
                "unit": r.unit,
                "polytls": r.polytls,
                "direct": r.direct,
                "comparison": r.comparison.name(),
                "sides": r.sides,
                "ratio": r.ratio(),
                "ratio_low": r.ratio().and(r.interval.map(|i| i.low)),
                "ratio_high": r.ratio().and(r.interval.map(|i| i.high)),
                "difference": r.difference(),
                "difference_low": r.difference().and(r.interval.map(|i| i.low)),
                "difference_high": r.difference().and(r.interval.map(|i| i.high)),
                "rounds": r.interval.map(|i| i.n),
                "floor": r.floor.map(|_| r.floor_text()),
                "verdict": r.verdict.map(Verdict::name),
                "note": r.note,
                "samples_polytls": r.samples.0,
                "samples_direct": r.samples.1,
            })).collect::<Vec<_>>(),
            "verdicts": { "met": met, "missed": missed, "undecided": undecided },
            "floors_met": self.floors_met(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_grow_by_half() {
        let looks: Vec<usize> = (1..=200).filter(|n| is_look(*n, 15)).collect();
        assert_eq!(looks, [15, 23, 35, 53, 80, 120, 180]);
        assert!(is_look(2, 2) && is_look(3, 2) && !is_look(1, 2));
    }
}
