//! Smoke test: every scenario runs with tiny sizes and yields positive figures and an
//! interval. It checks that the drivers work, never how fast anything is.

use std::path::PathBuf;
use std::process::Command;

use polytls_bench::alloc::{live_bytes, CountingAlloc};
use polytls_bench::cost::{find_program, Sizes};
use polytls_bench::run::{run, CostOptions, Options};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const EXE: &str = env!("CARGO_BIN_EXE_polytls-bench");

#[test]
fn every_scenario_runs_and_measures_something() {
    let report = run(&Options::smoke(), live_bytes, false).expect("the plan builds");
    for row in &report.rows {
        if row.scenario.starts_with("resumed") {
            assert!(
                row.polytls.is_none() && row.note.contains("claim"),
                "{row:?}"
            );
            continue;
        }
        assert!(
            row.note.is_empty() || !row.note.contains("error"),
            "{row:?}"
        );
        // Memory per pair or connection may come out at any sign with a handful of them;
        // rates and latencies must be positive, and two rounds make an interval and a
        // verdict (rows without a floor, the second DTLS engine's figures, have none).
        if row.scenario.contains("heap kept per unverified client") {
            // The cookie verifier keeps nothing for a client it has not verified.
            assert_eq!(row.polytls, Some(0.0), "{row:?}");
            assert_eq!(row.verdict.map(|v| v.name()), Some("met"), "{row:?}");
        } else if !row.unit.starts_with("KiB") {
            assert!(row.polytls.is_some_and(|v| v > 0.0), "{row:?}");
            assert!(row.direct.is_some_and(|v| v > 0.0), "{row:?}");
            let interval = row.interval.expect("two rounds make an interval");
            assert!(interval.n == 2 && interval.low <= interval.ratio, "{row:?}");
            assert!(interval.ratio <= interval.high, "{row:?}");
            assert_eq!(row.verdict.is_some(), row.floor.is_some(), "{row:?}");
        } else {
            assert!(row.polytls.is_some() && row.direct.is_some(), "{row:?}");
        }
        assert_eq!(row.samples.0.len(), row.samples.1.len(), "{row:?}");
    }
    // The new rows of issue 10: tokio against the backends' own tokio adapters, the servers
    // under load, idle memory, latency with silent clients (a difference, not a ratio).
    for prefix in [
        "handshake TLS 1.3 ECDSA P-256 (tokio",
        "bulk TLS 1.3 default suite (tokio",
        "memory per idle tokio connection",
        "concurrent handshakes, blocking SslServer vs",
        "concurrent handshakes, blocking SslServer (on_connection)",
        "concurrent handshakes, tokio SslServer",
        "handshake latency, blocking SslServer",
        "handshake latency, tokio SslServer",
    ] {
        let rows: Vec<_> = report
            .rows
            .iter()
            .filter(|r| r.scenario.starts_with(prefix))
            .collect();
        assert_eq!(rows.len(), 2, "{prefix}: one row per backend");
        for row in rows {
            let latency = prefix.starts_with("handshake latency");
            assert_eq!(row.difference().is_some(), latency, "{row:?}");
            assert_eq!(row.ratio().is_some(), !latency, "{row:?}");
        }
    }
    // The DTLS rows of issue 11: both engines against their crates used directly, and the
    // cookie verifier (engine-free, "core").
    for (prefix, backends) in [
        ("DTLS 1.2 handshake", &["openssl", "dimpl"][..]),
        ("DTLS 1.2 datagrams", &["openssl", "dimpl"][..]),
        (
            "DTLS cookie verifier: ClientHellos with a valid cookie",
            &["core"][..],
        ),
        (
            "DTLS cookie verifier: ClientHellos without, each answered, one core",
            &["core"][..],
        ),
        (
            "DTLS cookie verifier: ClientHellos without, each answered, against",
            &["core"][..],
        ),
        ("DTLS cookie verifier: heap kept", &["core"][..]),
    ] {
        let found: Vec<&str> = report
            .rows
            .iter()
            .filter(|r| r.scenario.starts_with(prefix))
            .map(|r| r.backend.as_str())
            .collect();
        assert_eq!(found, backends, "{prefix}");
    }
    assert!(report.to_text().contains("90% interval"));
    let json = report.to_json();
    assert!(json["rows"].is_array());
    let latency = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["comparison"] == "difference")
        .expect("a difference row in the JSON");
    assert!(latency["difference"].is_number() && latency["ratio"].is_null());
    assert_eq!(latency["sides"][0], "with the silent clients");
}

fn cost_only(valgrind: Option<PathBuf>, only: &str) -> Options {
    Options {
        only: Some(only.into()),
        cost: Some(CostOptions {
            valgrind,
            exe: EXE.into(),
            sizes: Sizes {
                handshakes: 1,
                bulk_bytes: 1 << 20,
                datagrams: 10,
            },
        }),
        ..Options::smoke()
    }
}

#[test]
fn without_valgrind_the_instruction_rows_say_skipped() {
    let report = run(&cost_only(None, "instructions"), live_bytes, false).unwrap();
    // `only` keeps the rows it names and no others (the resumed-handshake rows included).
    for row in &report.rows {
        assert!(row.scenario.starts_with("instructions"), "{row:?}");
    }
    assert_eq!(
        report
            .rows
            .iter()
            .filter(|r| r.note.contains("SKIPPED"))
            .count(),
        // Two TLS workloads on both backends, two DTLS ones on OpenSSL.
        6
    );
    for row in report
        .rows
        .iter()
        .filter(|r| r.scenario.starts_with("instructions"))
    {
        assert!(row.verdict.is_none() && row.polytls.is_none(), "{row:?}");
    }
    assert!(report.floors_met());
}

#[test]
fn callgrind_counts_a_workload() {
    let Some(valgrind) = find_program("valgrind", std::env::var_os("PATH").as_deref()) else {
        eprintln!("valgrind is not installed: the callgrind driver is not tested");
        return;
    };
    let only =
        "instructions: handshake TLS 1.3 ECDSA P-256, 1 handshakes (in memory, callgrind) rustls";
    let report = run(&cost_only(Some(valgrind), only), live_bytes, false).unwrap();
    let rows: Vec<_> = report
        .rows
        .iter()
        .filter(|r| r.scenario.starts_with("instructions"))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = rows[0];
    // A full handshake pair is millions of instructions, on either side.
    assert!(row.polytls.is_some_and(|m| m > 1.0), "{row:?}");
    assert!(row.direct.is_some_and(|m| m > 1.0), "{row:?}");
    assert!(row.verdict.is_some(), "{row:?}");
}

#[test]
fn the_cost_subcommand_runs_one_workload() {
    let status = |args: &[&str]| Command::new(EXE).args(args).output().unwrap().status;
    let ok = status(&[
        "cost",
        "--workload",
        "bulk",
        "--via",
        "polytls",
        "--backend",
        "openssl",
        "--bulk-bytes",
        "100000",
    ]);
    assert!(ok.success(), "{ok}");
    let bad = status(&[
        "cost",
        "--workload",
        "resume",
        "--via",
        "polytls",
        "--backend",
        "openssl",
    ]);
    assert_eq!(bad.code(), Some(2));
    assert_eq!(status(&["cost", "--via", "direct"]).code(), Some(2));
}
