//! polytls-conformance: the shared suite that proves what every polytls backend claims.
//!
//! Each case is written once and runs for every backend, or for every client backend x server
//! backend pair, all in one process. A case is skipped only when a capability query says the
//! backend does not claim what it needs. The results become a matrix of backends x (classes,
//! features, protocols) where each claim is verified, claimed but failing, or not claimed.
//!
//! A backend crate runs the whole suite against itself from an integration test:
//!
//! ```no_run
//! // tests/conformance.rs, with `harness = false` in Cargo.toml; the body of `main`:
//! polytls_conformance::test_main(polytls_conformance::Plan::for_backend("openssl"));
//! ```
//!
//! The `polytls-conformance` binary runs every backend and pair and prints the matrix
//! (`--json` for CI).

pub mod case;
mod cases;
pub mod chains;
pub mod corpus;
pub mod frontend;
pub mod harness;
pub mod matrix;
pub mod mock;
mod netns;
pub mod pki;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

pub use frontend::FrontEnd;

#[cfg(feature = "dimpl")]
use polytls_dimpl as _;
#[cfg(feature = "openssl")]
use polytls_openssl as _;
#[cfg(feature = "rustls")]
use polytls_rustls as _;

pub use case::{Case, Needs, Outcome, Target};

/// The backends this crate links (by its features), which must have registered themselves.
pub const LINKED_BACKENDS: &[&str] = &[
    #[cfg(feature = "openssl")]
    "openssl",
    #[cfg(feature = "rustls")]
    "rustls",
    #[cfg(feature = "dimpl")]
    "dimpl",
];

/// How long one case may run before it counts as hung.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(180);

/// Every case of the suite.
pub fn all_cases() -> Vec<Arc<Case>> {
    cases::all().into_iter().map(Arc::new).collect()
}

/// Which backends and pairs to run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Backends that single-backend cases run against.
    pub backends: Vec<String>,
    /// `(client, server)` pairs that two-sided cases run against.
    pub pairs: Vec<(String, String)>,
    /// Whether to run the registry cases (with mock backends).
    pub registry: bool,
}

impl Plan {
    /// Everything for one backend: its single cases and the pair with itself.
    pub fn for_backend(name: &str) -> Plan {
        Plan {
            backends: vec![name.into()],
            pairs: vec![(name.into(), name.into())],
            registry: false,
        }
    }

    /// Only what crosses backends: every ordered pair of two different backends, and the
    /// registry cases.
    pub fn cross(names: &[String]) -> Plan {
        let pairs = names
            .iter()
            .flat_map(|c| {
                names
                    .iter()
                    .filter(move |s| *s != c)
                    .map(move |s| (c.clone(), s.clone()))
            })
            .collect();
        Plan {
            backends: Vec::new(),
            pairs,
            registry: true,
        }
    }

    /// Everything: every backend, every ordered pair (including each with itself), and the
    /// registry cases.
    pub fn full(names: &[String]) -> Plan {
        let pairs = names
            .iter()
            .flat_map(|c| names.iter().map(move |s| (c.clone(), s.clone())))
            .collect();
        Plan {
            backends: names.to_vec(),
            pairs,
            registry: true,
        }
    }

    /// The targets in this plan.
    pub fn targets(&self) -> Vec<Target> {
        let singles = self.backends.iter().map(|b| Target::Single(b.clone()));
        let pairs = self.pairs.iter().map(|(c, s)| Target::Pair {
            client: c.clone(),
            server: s.clone(),
        });
        let registry = self.registry.then_some(Target::Registry);
        singles.chain(pairs).chain(registry).collect()
    }
}

/// How a case ended against one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The backend behaved.
    Passed,
    /// It did not; the message says how.
    Failed(String),
    /// The case did not run; the message says why.
    Skipped(String),
}

/// One case run against one target.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The case's name.
    pub case: String,
    /// What it ran against.
    pub target: Target,
    /// How it ended.
    pub status: Status,
    /// The claims it exercised, as `(backend, category, name)`.
    pub claims: Vec<(String, &'static str, &'static str)>,
}

/// Whether the suite runs under CI, where a missing external peer is a failure, not a skip.
fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// Runs `case` against `target`: skips it when a claim or tool is missing, and otherwise runs it
/// on its own thread, turning a panic or a hang (over [`CASE_TIMEOUT`]) into a failure.
pub fn run_case(case: &Arc<Case>, target: &Target) -> CaseResult {
    run_case_on(case, target, FrontEnd::Blocking)
}

/// The front ends `case` runs on against `target`: both for a two-sided case (the `dtls/`
/// ones run their handshakes through `AsyncDtls` on tokio's), the blocking one for the
/// others and for a case that [runs once](Case::runs_once).
pub fn front_ends(case: &Case, target: &Target) -> Vec<FrontEnd> {
    match (&case.body, target) {
        (case::Body::Pair(_), Target::Pair { .. }) if !case.runs_once => {
            vec![FrontEnd::Blocking, FrontEnd::Tokio]
        }
        _ => vec![FrontEnd::Blocking],
    }
}

/// [`run_case`] with the case's handshakes on `front_end`; the result's case name carries the
/// front end's [prefix](FrontEnd::prefix).
pub fn run_case_on(case: &Arc<Case>, target: &Target, front_end: FrontEnd) -> CaseResult {
    let claims = match target {
        Target::Single(b) => case
            .needs
            .claims()
            .into_iter()
            .map(|(c, n)| (b.clone(), c, n))
            .collect(),
        Target::Pair { client, server } => {
            let c = case
                .needs
                .claims()
                .into_iter()
                .map(|(cat, n)| (client.clone(), cat, n));
            let s = case
                .server_needs
                .claims()
                .into_iter()
                .map(|(cat, n)| (server.clone(), cat, n));
            c.chain(s).collect()
        }
        Target::Registry => Vec::new(),
    };
    let status = match case.skip_reason(target) {
        Some(reason) if reason.starts_with("SKIPPED: external") && under_ci() => Status::Failed(
            format!("{reason}, but under CI every external peer must run"),
        ),
        Some(reason) => Status::Skipped(reason),
        None => run_isolated(case, target, front_end),
    };
    CaseResult {
        case: format!("{}{}", front_end.prefix(), case.name),
        target: target.clone(),
        status,
        claims,
    }
}

fn run_isolated(case: &Arc<Case>, target: &Target, front_end: FrontEnd) -> Status {
    let (tx, rx) = mpsc::channel();
    let (case, target) = (case.clone(), target.clone());
    let on_tokio = Arc::new(AtomicUsize::new(0));
    let tally = Arc::clone(&on_tokio);
    let spawned = std::thread::Builder::new()
        .name(case.name.clone())
        .spawn(move || {
            frontend::set_current_counting(front_end, tally);
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case.run(&target)));
            let _ = tx.send(outcome);
        });
    if let Err(e) = spawned {
        return Status::Failed(format!("cannot start the case's thread: {e}"));
    }
    match rx.recv_timeout(CASE_TIMEOUT) {
        Ok(Ok(Ok(()))) if front_end == FrontEnd::Tokio && on_tokio.load(Ordering::Relaxed) == 0 => {
            Status::Failed(
                "passed on the tokio front end without a call running on it (the run proves \
                 nothing the blocking one did not)"
                    .into(),
            )
        }
        Ok(Ok(Ok(()))) => Status::Passed,
        Ok(Ok(Err(message))) => Status::Failed(message),
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Status::Failed(format!("panicked: {what}"))
        }
        Err(_) => Status::Failed(format!("hung: no result after {CASE_TIMEOUT:?}")),
    }
}

/// Runs every case of `plan` on `jobs` worker threads and returns the results in a stable
/// order.
pub fn run(plan: &Plan, jobs: usize) -> Vec<CaseResult> {
    let cases = all_cases();
    let work: Vec<(Arc<Case>, Target, FrontEnd)> = plan
        .targets()
        .into_iter()
        .flat_map(|t| {
            cases
                .iter()
                .filter(|c| c.fits(&t))
                .flat_map(|c| {
                    front_ends(c, &t)
                        .into_iter()
                        .map(|f| (c.clone(), t.clone(), f))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(work.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((case, target, front_end)) = work.get(i) else {
                    break;
                };
                let result = run_case_on(case, target, *front_end);
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((i, result));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Runs `plan` as a `cargo test` harness: one test per case and target, named
/// `target::case`, with skipped cases shown as ignored together with the reason. Exits the
/// process with the harness's status.
pub fn test_main(plan: Plan) -> ! {
    let args = libtest_mimic::Arguments::from_args();
    let cases = all_cases();
    let mut trials = Vec::new();
    for target in plan.targets() {
        for (case, front_end) in cases
            .iter()
            .filter(|c| c.fits(&target))
            .flat_map(|c| front_ends(c, &target).into_iter().map(move |f| (c, f)))
        {
            let name = format!("{}{}::{}", front_end.prefix(), target.label(), case.name);
            let skip = case.skip_reason(&target);
            let (case, target) = (case.clone(), target.clone());
            let trial = libtest_mimic::Trial::test(name, move || {
                match run_case_on(&case, &target, front_end).status {
                    Status::Passed | Status::Skipped(_) => Ok(()),
                    Status::Failed(message) => Err(message.into()),
                }
            });
            trials.push(match skip {
                Some(reason) if !(reason.starts_with("SKIPPED: external") && under_ci()) => {
                    if reason.starts_with("SKIPPED") {
                        eprintln!("WARNING: {reason}; the external-peer cases did not run");
                    }
                    trial.with_ignored_flag(true).with_kind(reason)
                }
                _ => trial,
            });
        }
    }
    libtest_mimic::run(&args, trials).exit()
}
