//! The verified feature matrix: turns case results into one cell per backend and claim, and
//! prints it as a table or as JSON.
//!
//! A claim is *verified* when at least one case exercised it on that backend and every such
//! case passed; *claimed but failing* when a case failed or no case exercised it (a claim the
//! suite cannot prove counts as failing); *not claimed* otherwise. Both outputs carry a
//! legend of the cells and say why each skipped case was skipped: the capability a backend
//! does not claim, or the external peer program that is not installed.

use std::fmt::Write as _;

use polytls::{ImplementedClass, SslProtocol, SupportedFeature};
use serde_json::{json, Value};

use crate::{CaseResult, Status, Target};

/// One cell of the matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Claimed, exercised, and every case passed.
    Verified,
    /// Claimed, and a case failed or none exercised it; the text says which.
    ClaimedButFailing(String),
    /// Not claimed.
    NotClaimed,
}

impl Cell {
    /// The cell's name in JSON.
    fn label(&self) -> &'static str {
        match self {
            Cell::Verified => "verified",
            Cell::ClaimedButFailing(_) => "claimed-but-failing",
            Cell::NotClaimed => "not-claimed",
        }
    }

    /// The cell as the text table shows it.
    fn symbol(&self) -> &'static str {
        match self {
            Cell::Verified => "verified",
            Cell::ClaimedButFailing(_) => "CLAIMED-BUT-FAILING",
            Cell::NotClaimed => "-",
        }
    }
}

/// What each cell means: `(JSON label, text symbol, meaning)`, for the legend of both outputs.
const LEGEND: [(&str, &str, &str); 3] = [
    (
        "verified",
        "verified",
        "claimed by the backend, exercised by at least one case, and every such case passed",
    ),
    (
        "claimed-but-failing",
        "CLAIMED-BUT-FAILING",
        "claimed, but a case exercising it failed, or no case exercised it",
    ),
    (
        "not-claimed",
        "-",
        "not claimed by the backend: the cases that need it were skipped",
    ),
];

/// Why a case was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipKind {
    /// A backend does not claim a class, feature or protocol the case needs.
    NotClaimed,
    /// An external peer program the case needs is not installed or cannot run here.
    MissingPeer,
}

impl SkipKind {
    /// The kind of a skip, from its reason.
    fn of(reason: &str) -> SkipKind {
        // Every "SKIPPED: ..." reason concerns an external peer: not installed, or (a
        // private network namespace) unable to run here.
        if reason.starts_with("SKIPPED") {
            SkipKind::MissingPeer
        } else {
            SkipKind::NotClaimed
        }
    }

    fn label(self) -> &'static str {
        match self {
            SkipKind::NotClaimed => "capability-not-claimed",
            SkipKind::MissingPeer => "external-peer-missing",
        }
    }
}

/// One skipped case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    /// The target's label (`openssl`, `openssl->rustls`).
    pub target: String,
    /// The case's name.
    pub case: String,
    /// Why: the capability a backend did not claim, or the external peer that is missing.
    pub reason: String,
    /// Which of the two it is.
    pub kind: SkipKind,
}

/// Passed, failed and skipped counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases that were skipped.
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, status: &Status) {
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed(_) => self.failed += 1,
            Status::Skipped(_) => self.skipped += 1,
        }
    }

    fn json(&self) -> Value {
        json!({ "passed": self.passed, "failed": self.failed, "skipped": self.skipped })
    }
}

/// One backend's row of the matrix.
#[derive(Clone, Debug)]
pub struct BackendRow {
    /// The backend's name.
    pub name: String,
    /// The library version it runs.
    pub version: String,
    /// The library version it was built against.
    pub build_version: String,
    /// `(category, name, cell)` for every class, feature and protocol.
    pub cells: Vec<(&'static str, &'static str, Cell)>,
    /// Every case result this backend took part in.
    pub counts: Counts,
}

/// The whole report.
#[derive(Clone, Debug)]
pub struct Report {
    /// One row per backend.
    pub backends: Vec<BackendRow>,
    /// Counts per `(client, server)` pair.
    pub pairs: Vec<(String, String, Counts)>,
    /// Counts of the registry cases.
    pub registry: Counts,
    /// Every failed case: `(target label, case, message)`.
    pub failures: Vec<(String, String, String)>,
    /// Every case skipped because an external peer is missing.
    pub skipped_external: Vec<(String, String)>,
    /// Every skipped case, with why.
    pub skipped: Vec<Skip>,
}

impl Report {
    /// The distinct reasons cases were skipped, each with how many cases and of what kind, in
    /// the order first met.
    pub fn skip_reasons(&self) -> Vec<(&str, SkipKind, usize)> {
        let mut reasons: Vec<(&str, SkipKind, usize)> = Vec::new();
        for skip in &self.skipped {
            match reasons.iter_mut().find(|(r, _, _)| *r == skip.reason) {
                Some(entry) => entry.2 += 1,
                None => reasons.push((&skip.reason, skip.kind, 1)),
            }
        }
        reasons
    }
}

fn all_claims() -> Vec<(&'static str, &'static str)> {
    let classes = ImplementedClass::ALL.iter().map(|c| ("classes", c.name()));
    let features = SupportedFeature::ALL.iter().map(|f| ("features", f.name()));
    let protocols = SslProtocol::ALL
        .iter()
        .filter(|p| **p != SslProtocol::UnknownProtocol)
        .map(|p| ("protocols", p.name()));
    classes.chain(features).chain(protocols).collect()
}

fn claimed(backend: &str, category: &str, name: &str) -> bool {
    let b = Some(backend);
    match category {
        "classes" => polytls::implemented_classes(b)
            .iter()
            .any(|c| c.name() == name),
        "features" => polytls::supported_features(b)
            .iter()
            .any(|f| f.name() == name),
        _ => polytls::supported_protocols(b)
            .iter()
            .any(|p| p.name() == name),
    }
}

fn involves(target: &Target, backend: &str) -> bool {
    match target {
        Target::Single(b) => b == backend,
        Target::Pair { client, server } => client == backend || server == backend,
        Target::Registry => false,
    }
}

impl Report {
    /// Builds the report for `backends` from `results`.
    pub fn build(backends: &[String], results: &[CaseResult]) -> Report {
        let rows = backends
            .iter()
            .map(|backend| {
                let mut counts = Counts::default();
                for r in results.iter().filter(|r| involves(&r.target, backend)) {
                    counts.add(&r.status);
                }
                let cells = all_claims()
                    .into_iter()
                    .map(|(category, name)| {
                        let cell = if !claimed(backend, category, name) {
                            Cell::NotClaimed
                        } else {
                            let relevant = results.iter().filter(|r| {
                                r.claims
                                    .iter()
                                    .any(|(b, c, n)| b == backend && *c == category && *n == name)
                            });
                            let mut tally = Counts::default();
                            relevant.for_each(|r| tally.add(&r.status));
                            match (tally.failed, tally.passed) {
                                (0, 0) => Cell::ClaimedButFailing("no case exercised it".into()),
                                (0, _) => Cell::Verified,
                                (n, _) => Cell::ClaimedButFailing(format!("{n} case(s) failed")),
                            }
                        };
                        (category, name, cell)
                    })
                    .collect();
                BackendRow {
                    name: backend.clone(),
                    version: polytls::tls_library_version_string(Some(backend)),
                    build_version: polytls::tls_library_build_version_string(Some(backend)),
                    cells,
                    counts,
                }
            })
            .collect();
        let mut pairs: Vec<(String, String, Counts)> = Vec::new();
        let mut registry = Counts::default();
        let mut failures = Vec::new();
        let mut skipped_external = Vec::new();
        let mut skipped = Vec::new();
        for r in results {
            match &r.target {
                Target::Pair { client, server } => {
                    if let Some(entry) = pairs
                        .iter_mut()
                        .find(|(c, s, _)| c == client && s == server)
                    {
                        entry.2.add(&r.status);
                    } else {
                        let mut counts = Counts::default();
                        counts.add(&r.status);
                        pairs.push((client.clone(), server.clone(), counts));
                    }
                }
                Target::Registry => registry.add(&r.status),
                Target::Single(_) => {}
            }
            match &r.status {
                Status::Failed(message) => {
                    failures.push((r.target.label(), r.case.clone(), message.clone()))
                }
                Status::Skipped(reason) => {
                    let kind = SkipKind::of(reason);
                    if kind == SkipKind::MissingPeer {
                        skipped_external.push((r.target.label(), r.case.clone()));
                    }
                    skipped.push(Skip {
                        target: r.target.label(),
                        case: r.case.clone(),
                        reason: reason.clone(),
                        kind,
                    });
                }
                _ => {}
            }
        }
        Report {
            backends: rows,
            pairs,
            registry,
            failures,
            skipped_external,
            skipped,
        }
    }

    /// Whether every case passed (or was skipped for a claim not made) and every claim is
    /// verified.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
            && self.backends.iter().all(|b| {
                b.cells
                    .iter()
                    .all(|(_, _, c)| !matches!(c, Cell::ClaimedButFailing(_)))
            })
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        let backends: Vec<Value> = self
            .backends
            .iter()
            .map(|b| {
                let mut row = json!({
                    "name": b.name,
                    "library_version": b.version,
                    "build_version": b.build_version,
                    "cases": b.counts.json(),
                });
                for category in ["classes", "features", "protocols"] {
                    let cells: serde_json::Map<String, Value> = b
                        .cells
                        .iter()
                        .filter(|(c, _, _)| *c == category)
                        .map(|(_, name, cell)| ((*name).to_owned(), Value::from(cell.label())))
                        .collect();
                    row[category] = Value::Object(cells);
                }
                row
            })
            .collect();
        let pairs: Vec<Value> = self
            .pairs
            .iter()
            .map(|(c, s, counts)| json!({ "client": c, "server": s, "cases": counts.json() }))
            .collect();
        let failures: Vec<Value> = self
            .failures
            .iter()
            .map(|(t, c, m)| json!({ "target": t, "case": c, "message": m }))
            .collect();
        let skipped_external: Vec<Value> = self
            .skipped_external
            .iter()
            .map(|(t, c)| json!({ "target": t, "case": c }))
            .collect();
        let skipped: Vec<Value> = self
            .skipped
            .iter()
            .map(|s| {
                json!({
                    "target": s.target,
                    "case": s.case,
                    "reason": s.reason,
                    "kind": s.kind.label(),
                })
            })
            .collect();
        let skip_reasons: Vec<Value> = self
            .skip_reasons()
            .iter()
            .map(|(reason, kind, count)| {
                json!({ "reason": reason, "kind": kind.label(), "cases": count })
            })
            .collect();
        let legend: serde_json::Map<String, Value> = LEGEND
            .iter()
            .map(|(label, _, meaning)| ((*label).to_owned(), Value::from(*meaning)))
            .collect();
        json!({
            "polytls_version": env!("CARGO_PKG_VERSION"),
            "ok": self.ok(),
            "legend": legend,
            "backends": backends,
            "pairs": pairs,
            "registry": self.registry.json(),
            "failures": failures,
            "skipped": skipped,
            "skip_reasons": skip_reasons,
            "skipped_external_peers": skipped_external,
        })
    }

    /// The report as a text table.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        // The claim names' column fits the longest name.
        let longest = self
            .backends
            .first()
            .map(|b| {
                b.cells
                    .iter()
                    .map(|(_, name, _)| name.len())
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        let width = (longest + 3).max(26);
        let _ = writeln!(out, "polytls verified backend matrix");
        let _ = writeln!(out);
        for b in &self.backends {
            let _ = writeln!(
                out,
                "  {:<12} {:<28} passed {:>4}  failed {:>3}  skipped {:>4}",
                b.name, b.version, b.counts.passed, b.counts.failed, b.counts.skipped
            );
        }
        let _ = writeln!(out);
        let _ = write!(out, "{:<width$}", "");
        for b in &self.backends {
            let _ = write!(out, " {:<20}", b.name);
        }
        let _ = writeln!(out);
        let mut last_category = "";
        for (i, (category, name, _)) in self
            .backends
            .first()
            .map(|b| b.cells.clone())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if *category != last_category {
                let _ = writeln!(out, "{category}:");
                last_category = category;
            }
            let _ = write!(out, "  {name:<w$}", w = width - 2);
            for b in &self.backends {
                let _ = write!(out, " {:<20}", b.cells[i].2.symbol());
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "legend:");
        for (_, symbol, meaning) in LEGEND {
            let _ = writeln!(out, "  {symbol:<21} {meaning}");
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "pairs (client -> server):");
        for (c, s, counts) in &self.pairs {
            let _ = writeln!(
                out,
                "  {:<26} passed {:>4}  failed {:>3}  skipped {:>4}",
                format!("{c} -> {s}"),
                counts.passed,
                counts.failed,
                counts.skipped
            );
        }
        let r = &self.registry;
        let _ = writeln!(
            out,
            "registry rules: passed {}  failed {}  skipped {}",
            r.passed, r.failed, r.skipped
        );
        let reasons = self.skip_reasons();
        if !reasons.is_empty() {
            let _ = writeln!(out, "\nskipped, and why:");
            for (reason, _, count) in &reasons {
                let reason = reason.strip_prefix("SKIPPED: ").unwrap_or(reason);
                let _ = writeln!(out, "  {count:>4} case(s): {reason}");
            }
        }
        if !self.skipped_external.is_empty() {
            let _ = writeln!(
                out,
                "\nWARNING: {} external-peer case(s) SKIPPED because the peer program is not installed or cannot run here",
                self.skipped_external.len()
            );
        }
        for b in &self.backends {
            for (category, name, cell) in &b.cells {
                if let Cell::ClaimedButFailing(why) = cell {
                    let _ = writeln!(out, "{}: claims {category} {name}, but {why}", b.name);
                }
            }
        }
        if !self.failures.is_empty() {
            let _ = writeln!(out, "\nfailures:");
            for (t, c, m) in &self.failures {
                let _ = writeln!(out, "  {t}::{c}: {m}");
            }
        }
        let _ = writeln!(
            out,
            "\nresult: {}",
            if self.ok() {
                "every claim verified"
            } else {
                "FAILED"
            }
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::mock::MockBackend;

    fn result(status: Status, claims: &[(&'static str, &'static str)]) -> CaseResult {
        CaseResult {
            case: "case".into(),
            target: Target::Single("matrix-mock".into()),
            status,
            claims: claims
                .iter()
                .map(|(c, n)| ("matrix-mock".to_owned(), *c, *n))
                .collect(),
        }
    }

    fn cell<'a>(report: &'a Report, name: &str) -> &'a Cell {
        &report.backends[0]
            .cells
            .iter()
            .find(|(_, n, _)| *n == name)
            .expect("listed")
            .2
    }

    #[test]
    fn untested_and_failing_claims_are_not_verified() {
        let mut mock = MockBackend::new("matrix-mock");
        mock.classes = vec![ImplementedClass::Socket];
        mock.features = vec![SupportedFeature::KeyLog, SupportedFeature::ClientSideAlpn];
        let _ = polytls::Registry::global().register(Arc::new(mock));
        let backends = vec!["matrix-mock".to_owned()];
        let results = vec![
            result(Status::Passed, &[("classes", "Socket")]),
            result(Status::Passed, &[("features", "ClientSideAlpn")]),
            result(
                Status::Failed("broken".into()),
                &[("features", "ClientSideAlpn")],
            ),
            result(
                Status::Skipped("not claimed".into()),
                &[("features", "KeyLog")],
            ),
        ];
        let report = Report::build(&backends, &results);
        assert_eq!(cell(&report, "Socket"), &Cell::Verified);
        assert!(
            matches!(cell(&report, "ClientSideAlpn"), Cell::ClaimedButFailing(why) if why.contains("failed"))
        );
        assert!(
            matches!(cell(&report, "KeyLog"), Cell::ClaimedButFailing(why) if why.contains("no case"))
        );
        assert_eq!(cell(&report, "Psk"), &Cell::NotClaimed);
        assert!(!report.ok());
        let json = report.to_json();
        assert_eq!(json["backends"][0]["classes"]["Socket"], "verified");
        assert_eq!(
            json["backends"][0]["features"]["KeyLog"],
            "claimed-but-failing"
        );
        assert_eq!(json["ok"], false);
        let only_passing = Report::build(&backends, &results[..1]);
        assert!(!only_passing.ok(), "unexercised claims must fail the run");
    }

    #[test]
    fn the_legend_and_the_reasons_for_skips_are_shown() {
        let mut mock = MockBackend::new("matrix-legend-mock");
        mock.classes = vec![ImplementedClass::Socket];
        let _ = polytls::Registry::global().register(Arc::new(mock));
        let backends = vec!["matrix-legend-mock".to_owned()];
        let skipped = |reason: &str| CaseResult {
            case: "case".into(),
            target: Target::Single("matrix-legend-mock".into()),
            status: Status::Skipped(reason.into()),
            claims: Vec::new(),
        };
        let not_claimed = "matrix-legend-mock does not claim feature Psk";
        let no_peer = "SKIPPED: external peer `gnutls-cli` is not installed";
        let results = vec![
            result(Status::Passed, &[("classes", "Socket")]),
            skipped(not_claimed),
            skipped(not_claimed),
            skipped(no_peer),
        ];
        let report = Report::build(&backends, &results);
        let text = report.to_text();
        for (_, symbol, meaning) in LEGEND {
            assert!(
                text.contains(&format!("  {symbol:<21} {meaning}")),
                "{text}"
            );
        }
        assert!(
            text.contains(&format!("2 case(s): {not_claimed}")),
            "{text}"
        );
        assert!(
            text.contains("1 case(s): external peer `gnutls-cli` is not installed"),
            "{text}"
        );
        let json = report.to_json();
        assert_eq!(
            json["legend"]["not-claimed"],
            "not claimed by the backend: the cases that need it were skipped"
        );
        assert_eq!(json["skipped"][0]["reason"], not_claimed);
        assert_eq!(json["skipped"][0]["kind"], "capability-not-claimed");
        assert_eq!(json["skipped"][2]["kind"], "external-peer-missing");
        assert_eq!(json["skip_reasons"][0]["cases"], 2);
        assert_eq!(json["skip_reasons"][1]["reason"], no_peer);
        assert_eq!(
            json["skipped_external_peers"][0]["target"],
            "matrix-legend-mock"
        );
    }
}
