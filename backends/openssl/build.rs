//! Records the OpenSSL version the crate is compiled against.
//!
//! `openssl-sys` (the `links = "openssl"` package) reports the version of the headers it found as
//! `DEP_OPENSSL_VERSION_NUMBER` (hex `OPENSSL_VERSION_NUMBER`); it is passed on to the crate as
//! `POLYTLS_OPENSSL_BUILD_VERSION`, empty when unknown (LibreSSL, BoringSSL).

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_OPENSSL_VERSION_NUMBER");
    let version = std::env::var("DEP_OPENSSL_VERSION_NUMBER").unwrap_or_default();
    println!("cargo:rustc-env=POLYTLS_OPENSSL_BUILD_VERSION={version}");
}
