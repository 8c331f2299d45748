//! Finds the version of `rustls` this crate is built against.
//!
//! rustls has no run-time version API, so the version is fixed at build time. The build script
//! looks for the `Cargo.lock` of the build (in the ancestors of this crate's directory, then in
//! the ancestors of `OUT_DIR`) and reads the resolved `rustls` 0.23 version from it. When no
//! lock file with such an entry is found, it falls back to the semver requirement of
//! `Cargo.toml` ("0.23"), and says so: `POLYTLS_RUSTLS_VERSION_SOURCE` is `Cargo.lock` or
//! `requirement`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// The major.minor series this crate depends on (the `rustls` requirement of the workspace).
const SERIES: &str = "0.23";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let mut roots = Vec::new();
    if let Some(dir) = env::var_os("CARGO_MANIFEST_DIR") {
        roots.push(PathBuf::from(dir));
    }
    if let Some(dir) = env::var_os("OUT_DIR") {
        roots.push(PathBuf::from(dir));
    }
    let found = roots
        .iter()
        .flat_map(|root| root.ancestors())
        .map(|dir| dir.join("Cargo.lock"))
        .filter(|lock| lock.is_file())
        .find_map(|lock| {
            let version = resolved_version(&lock)?;
            Some((lock, version))
        });
    let (version, source) = match found {
        Some((lock, version)) => {
            println!("cargo:rerun-if-changed={}", lock.display());
            (version, "Cargo.lock")
        }
        None => (SERIES.to_owned(), "requirement"),
    };
    println!("cargo:rustc-env=POLYTLS_RUSTLS_VERSION={version}");
    println!("cargo:rustc-env=POLYTLS_RUSTLS_VERSION_SOURCE={source}");
}

/// The version of the `rustls` package of the `SERIES` recorded in the lock file at `path`.
fn resolved_version(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    text.split("[[package]]").find_map(|block| {
        let mut name = None;
        let mut version = None;
        for line in block.lines() {
            let line = line.trim();
            if let Some(value) = line.strip_prefix("name = ") {
                name = Some(value.trim_matches('"'));
            } else if let Some(value) = line.strip_prefix("version = ") {
                version = Some(value.trim_matches('"'));
            }
        }
        match (name, version) {
            (Some("rustls"), Some(v)) if v.starts_with(&format!("{SERIES}.")) => Some(v.to_owned()),
            _ => None,
        }
    })
}
