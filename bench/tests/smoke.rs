//! Smoke test: every scenario runs once with tiny sizes and yields positive figures. It checks
//! that the drivers work, never how fast anything is.

use polytls_bench::alloc::{live_bytes, CountingAlloc};
use polytls_bench::run::{run, Options};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

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
        // Memory per pair may come out at any sign with 3 pairs; rates must be positive.
        if row.unit != "KiB/pair" {
            assert!(row.polytls.is_some_and(|v| v > 0.0), "{row:?}");
            assert!(row.direct.is_some_and(|v| v > 0.0), "{row:?}");
        } else {
            assert!(row.polytls.is_some() && row.direct.is_some(), "{row:?}");
        }
    }
    assert!(report.to_text().contains("ratio"));
    assert!(report.to_json()["rows"].is_array());
}
