//! The benchmark plan: which scenarios, how big, how many rounds; the interleaved run; and the
//! report (a text table, or JSON for CI) with the floors of issue 4 checked.
//!
//! Every cell of the table is one scenario on one backend, measured through polytls and
//! directly. Rounds interleave all cells, and within a cell alternate which side goes first,
//! so that slow drifts of the machine (frequency, other load) hit both sides alike. Each
//! side's figure is the median of its rounds; the ratio is polytls' median over direct's.

use std::time::Duration;

use polytls::SupportedFeature;
use serde_json::{json, Value};

use crate::inmem::{Backend, Via};
use crate::setup::{KeyKind, Params, Setup, Version};
use crate::{measure, speed, tcp};

/// The TLS 1.3 suites measured for bulk throughput.
pub const BULK_SUITES: [&str; 3] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Sizes and repetitions of one run.
#[derive(Clone, Debug)]
pub struct Options {
    /// `"quick"` or `"full"`, for the report.
    pub mode: &'static str,
    /// Rounds of every throughput and handshake cell.
    pub rounds: usize,
    /// Rounds of the memory cells (their figure hardly varies).
    pub memory_rounds: usize,
    /// Rounds of the loopback TCP cells: two threads on two cores swing by several percent
    /// between rounds, so their medians need more rounds than the in-memory cells (which cost
    /// little: a TCP measurement takes well under a second).
    pub tcp_rounds: usize,
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
    /// Seconds per `openssl speed` run; 0 skips it.
    pub speed_seconds: u32,
    /// Only the cells whose "scenario backend" text contains this (for profiling one cell).
    pub only: Option<String>,
}

impl Options {
    /// Well under a minute on a 2-core machine.
    pub fn quick() -> Options {
        Options {
            mode: "quick",
            rounds: 5,
            memory_rounds: 1,
            tcp_rounds: 9,
            handshake_budget: Duration::from_millis(200),
            bulk_bytes: 64 << 20,
            memory_pairs: 1000,
            tcp_handshakes: 50,
            tcp_bytes: 64 << 20,
            speed_seconds: 1,
            only: None,
        }
    }

    /// Under five minutes on a 2-core machine: 1 GiB per bulk measurement, as issue 4 asks.
    pub fn full() -> Options {
        Options {
            mode: "full",
            rounds: 5,
            memory_rounds: 3,
            tcp_rounds: 15,
            handshake_budget: Duration::from_secs(1),
            bulk_bytes: 1 << 30,
            memory_pairs: 1000,
            tcp_handshakes: 300,
            tcp_bytes: 256 << 20,
            speed_seconds: 3,
            only: None,
        }
    }

    /// Tiny sizes, for the smoke test: checks the drivers work, measures nothing useful.
    pub fn smoke() -> Options {
        Options {
            mode: "smoke",
            rounds: 1,
            memory_rounds: 1,
            tcp_rounds: 1,
            handshake_budget: Duration::ZERO,
            bulk_bytes: 1 << 20,
            memory_pairs: 3,
            tcp_handshakes: 2,
            tcp_bytes: 1 << 20,
            speed_seconds: 0,
            only: None,
        }
    }
}

/// How a cell's two figures are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Floor {
    /// Higher is better: polytls at least 0.97 of direct.
    Rate,
    /// Lower is better: polytls at most direct plus 5% or 4 KiB, whichever is larger.
    Memory,
}

type Measure = Box<dyn Fn(Via) -> Result<f64, String>>;

struct Cell {
    scenario: String,
    backend: Backend,
    unit: &'static str,
    floor: Floor,
    rounds: usize,
    measure: Measure,
    /// Bytes per second of the cipher (`openssl speed`), for bulk cells.
    cipher_speed: Option<f64>,
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
    /// polytls' median, if measured.
    pub polytls: Option<f64>,
    /// The backend used directly, median, if measured.
    pub direct: Option<f64>,
    /// `polytls / direct`.
    pub ratio: Option<f64>,
    /// Whether the floor holds (`None`: not measured).
    pub floor_met: Option<bool>,
    /// The floor, in words.
    pub floor: String,
    /// Anything else to know (an error, the fraction of the cipher's speed, "not claimed").
    pub note: String,
    /// The individual rounds: (polytls, direct).
    pub samples: (Vec<f64>, Vec<f64>),
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

    let mut cipher_speed = Vec::new();
    for suite in BULK_SUITES {
        let figure = match speed::evp_name(suite) {
            _ if options.speed_seconds == 0 => Err("skipped".to_owned()),
            Some(evp) => {
                say(format!("openssl speed -evp {evp} ..."));
                speed::openssl_speed(evp, options.speed_seconds)
            }
            None => Err("no openssl speed name".to_owned()),
        };
        cipher_speed.push((suite.to_owned(), figure));
    }

    let mut cells = Vec::new();
    let o = options.clone();
    for backend in Backend::ALL {
        for (scenario, setup) in [
            ("handshake TLS 1.3 ECDSA P-256, X25519 (in memory)", ecdsa13),
            ("handshake TLS 1.2 ECDHE-RSA-2048 (in memory)", rsa12),
        ] {
            let (budget, min) = (o.handshake_budget, 3);
            cells.push(cell(
                scenario,
                backend,
                "hs/s",
                Floor::Rate,
                o.rounds,
                move |via| measure::handshakes_per_second(setup, backend, via, budget, min),
            ));
        }
        for (suite, (_, figure)) in BULK_SUITES.into_iter().zip(&cipher_speed) {
            let setup = leak(Setup::new(Params {
                cipher: Some(suite),
                ..tls13.clone()
            })?);
            let bytes = o.bulk_bytes;
            let mut c = cell(
                &format!("bulk {suite}, 16 KiB writes (in memory)"),
                backend,
                "MB/s",
                Floor::Rate,
                o.rounds,
                move |via| measure::bulk_mb_per_second(setup, backend, via, bytes),
            );
            c.cipher_speed = figure.as_ref().ok().copied();
            cells.push(c);
        }
        let pairs = o.memory_pairs;
        cells.push(cell(
            &format!("memory per established pair, TLS 1.3 ECDSA, N={pairs}"),
            backend,
            "KiB/pair",
            Floor::Memory,
            o.memory_rounds,
            move |via| {
                measure::bytes_per_pair(ecdsa13, backend, via, pairs, live_bytes)
                    .map(|b| b / 1024.0)
            },
        ));
        let count = o.tcp_handshakes;
        cells.push(cell(
            "handshake TLS 1.3 ECDSA P-256 (loopback TCP, blocking)",
            backend,
            "hs/s",
            Floor::Rate,
            o.tcp_rounds,
            move |via| tcp::handshakes_per_second(ecdsa13, backend, via, count),
        ));
        let bytes = o.tcp_bytes;
        cells.push(cell(
            "bulk TLS 1.3 default suite (loopback TCP, blocking)",
            backend,
            "MB/s",
            Floor::Rate,
            o.tcp_rounds,
            move |via| tcp::throughput(ecdsa13, backend, via, bytes),
        ));
    }

    if let Some(only) = &o.only {
        cells.retain(|c| format!("{} {}", c.scenario, c.backend.name()).contains(only.as_str()));
    }
    let total_rounds = cells.iter().map(|c| c.rounds).max().unwrap_or(0);
    for round in 0..total_rounds {
        say(format!("round {} of {total_rounds}", round + 1));
        let order = if round % 2 == 0 {
            [Via::Polytls, Via::Direct]
        } else {
            [Via::Direct, Via::Polytls]
        };
        for c in cells
            .iter_mut()
            .filter(|c| round < c.rounds && c.error.is_none())
        {
            for via in order {
                match (c.measure)(via) {
                    Ok(v) if via == Via::Polytls => c.polytls.push(v),
                    Ok(v) => c.direct.push(v),
                    Err(e) => {
                        let side = if via == Via::Polytls {
                            "polytls"
                        } else {
                            "direct"
                        };
                        c.error = Some(format!("{side}: {e}"));
                    }
                }
            }
        }
    }

    let mut rows: Vec<Row> = cells.into_iter().map(Cell::into_row).collect();
    for backend in Backend::ALL {
        let claimed =
            polytls::is_feature_supported(SupportedFeature::SessionTicket, Some(backend.name()));
        rows.push(Row {
            scenario: "resumed handshake (session tickets)".into(),
            backend: backend.name().into(),
            unit: "hs/s".into(),
            polytls: None,
            direct: None,
            ratio: None,
            floor_met: None,
            floor: ">= 0.97".into(),
            note: if claimed {
                "claimed by the backend; not measured by this version of the benchmark".into()
            } else {
                "not claimed (SessionTicket): not measured".into()
            },
            samples: (Vec::new(), Vec::new()),
        });
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
    Ok(Report {
        options: options.clone(),
        rows,
        cipher_speed,
        facts,
    })
}

fn scenario_order(scenario: &str) -> usize {
    const ORDER: [&str; 7] = [
        "handshake TLS 1.3 ECDSA P-256, X25519 (in memory)",
        "handshake TLS 1.2",
        "resumed",
        "bulk TLS_",
        "memory",
        "handshake TLS 1.3 ECDSA P-256 (loopback",
        "bulk TLS 1.3 default suite (loopback",
    ];
    ORDER
        .iter()
        .position(|prefix| scenario.starts_with(prefix))
        .unwrap_or(ORDER.len())
}

fn cell(
    scenario: &str,
    backend: Backend,
    unit: &'static str,
    floor: Floor,
    rounds: usize,
    measure: impl Fn(Via) -> Result<f64, String> + 'static,
) -> Cell {
    Cell {
        scenario: scenario.to_owned(),
        backend,
        unit,
        floor,
        rounds,
        measure: Box::new(measure),
        cipher_speed: None,
        polytls: Vec::new(),
        direct: Vec::new(),
        error: None,
    }
}

impl Cell {
    fn into_row(self) -> Row {
        let polytls = median(&self.polytls);
        let direct = median(&self.direct);
        let ratio = match (polytls, direct) {
            (Some(p), Some(d)) if d > 0.0 => Some(p / d),
            _ => None,
        };
        let floor_met = match (self.floor, polytls, direct, ratio) {
            (Floor::Rate, _, _, Some(r)) => Some(r >= 0.97),
            (Floor::Memory, Some(p), Some(d), _) => Some(p <= d + (d * 0.05).max(4.0)),
            _ => None,
        };
        let floor = match self.floor {
            Floor::Rate => ">= 0.97".to_owned(),
            Floor::Memory => "<= direct + max(5%, 4 KiB)".to_owned(),
        };
        let mut notes = Vec::new();
        if let Some(e) = &self.error {
            notes.push(format!("error: {e}"));
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
            scenario: self.scenario,
            backend: self.backend.name().to_owned(),
            unit: self.unit.to_owned(),
            polytls,
            direct,
            ratio,
            floor_met,
            floor,
            note: notes.join("; "),
            samples: (self.polytls, self.direct),
        }
    }
}

impl Report {
    /// Whether every measured floor holds.
    pub fn floors_met(&self) -> bool {
        self.rows.iter().all(|r| r.floor_met != Some(false))
    }

    /// The report as a text table with the reference figures under it.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let o = &self.options;
        out.push_str(&format!(
            "polytls-bench ({} mode): medians of {} rounds ({} for memory, {} for loopback TCP), interleaved\n",
            o.mode, o.rounds, o.memory_rounds, o.tcp_rounds
        ));
        for (name, value) in &self.facts {
            out.push_str(&format!("  {name}: {value}\n"));
        }
        out.push_str(&format!(
            "  sizes: in-memory bulk {} MiB per measurement, TCP bulk {} MiB, {} ms per in-memory handshake measurement, {} TCP handshakes, {} pairs for memory\n\n",
            o.bulk_bytes >> 20,
            o.tcp_bytes >> 20,
            o.handshake_budget.as_millis(),
            o.tcp_handshakes,
            o.memory_pairs
        ));
        let fmt = |v: Option<f64>, unit: &str| match v {
            None => "-".to_owned(),
            Some(v) if unit == "hs/s" => format!("{v:.0}"),
            Some(v) => format!("{v:.1}"),
        };
        let width = self
            .rows
            .iter()
            .map(|r| r.scenario.len())
            .max()
            .unwrap_or(10);
        out.push_str(&format!(
            "{:<width$}  {:<8} {:>10} {:>10} {:<9} {:>6}  {}\n",
            "scenario", "backend", "polytls", "direct", "unit", "ratio", "floor"
        ));
        for r in &self.rows {
            let verdict = match r.floor_met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "-",
            };
            out.push_str(&format!(
                "{:<width$}  {:<8} {:>10} {:>10} {:<9} {:>6}  {verdict}{}\n",
                r.scenario,
                r.backend,
                fmt(r.polytls, &r.unit),
                fmt(r.direct, &r.unit),
                r.unit,
                r.ratio.map_or("-".to_owned(), |v| format!("{v:.3}")),
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
        out.push_str(&format!(
            "\nFloors: {}\n",
            if self.floors_met() {
                "all met"
            } else {
                "some MISSED (see the table)"
            }
        ));
        out
    }

    /// The report as JSON, for CI.
    pub fn to_json(&self) -> Value {
        let o = &self.options;
        json!({
            "mode": o.mode,
            "rounds": o.rounds,
            "memory_rounds": o.memory_rounds,
            "tcp_rounds": o.tcp_rounds,
            "sizes": {
                "bulk_bytes": o.bulk_bytes,
                "tcp_bytes": o.tcp_bytes,
                "handshake_budget_ms": o.handshake_budget.as_millis() as u64,
                "tcp_handshakes": o.tcp_handshakes,
                "memory_pairs": o.memory_pairs,
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
                "ratio": r.ratio,
                "floor": r.floor,
                "floor_met": r.floor_met,
                "note": r.note,
                "samples_polytls": r.samples.0,
                "samples_direct": r.samples.1,
            })).collect::<Vec<_>>(),
            "floors_met": self.floors_met(),
        })
    }
}
