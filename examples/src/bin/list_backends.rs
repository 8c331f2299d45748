//! Lists the TLS backends this program links, what each claims, and which one is active.
//!
//! ```text
//! cargo run -p polytls-examples --bin list_backends
//! POLYTLS_BACKEND=rustls cargo run -p polytls-examples --bin list_backends
//! ```

// Linking a backend crate is all it takes to register it.

fn main() {
    let active = polytls::active_backend();
    for name in polytls::available_backends() {
        let marker = if active.as_deref() == Some(name.as_str()) {
            "*"
        } else {
            " "
        };
        println!(
            "{marker} {name} ({})",
            polytls::tls_library_version_string(Some(&name))
        );
        let list = |items: Vec<String>| items.join(", ");
        println!(
            "    classes:   {}",
            list(
                polytls::implemented_classes(Some(&name))
                    .iter()
                    .map(|c| c.to_string())
                    .collect()
            )
        );
        println!(
            "    features:  {}",
            list(
                polytls::supported_features(Some(&name))
                    .iter()
                    .map(|f| f.to_string())
                    .collect()
            )
        );
        println!(
            "    protocols: {}",
            list(
                polytls::supported_protocols(Some(&name))
                    .iter()
                    .map(|p| p.to_string())
                    .collect()
            )
        );
    }
    if active.is_none() {
        // Why: nothing is linked, or POLYTLS_BACKEND names a backend that is not there.
        if let Err(e) = polytls::Registry::global().backend(None) {
            eprintln!("{e}");
        }
        std::process::exit(1);
    }
}
