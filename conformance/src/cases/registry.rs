//! The registry rules, proved with mock backends in fresh registries: Qt's priority order, the
//! environment's default, `set_active_backend`'s refusals, the choice fixed after first use,
//! empty answers for unknown names, and run-time registration.

use std::sync::Arc;

use polytls::{Error, ImplementedClass, Registry, SslProtocol, SupportedFeature};

use crate::case::Case;
use crate::harness::check;
use crate::mock::MockBackend;

fn registry_with(names: &[&str], default: Option<&str>) -> Result<Registry, String> {
    let registry = Registry::with_default_backend(default);
    for name in names {
        registry
            .register(Arc::new(MockBackend::new(name)))
            .map_err(|e| e.to_string())?;
    }
    Ok(registry)
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::registry("registry/priority_order", || {
            let r = registry_with(
                &["zeta", "securetransport", "alpha", "openssl", "schannel"],
                None,
            )?;
            let names = r.available_backends();
            check(
                names == ["openssl", "schannel", "securetransport", "zeta", "alpha"],
                || format!("order {names:?}"),
            )?;
            check(r.active_backend().as_deref() == Some("openssl"), || {
                format!("active {:?}", r.active_backend())
            })
        }),
        // A backend without TLS sockets (DTLS only) never becomes the default while one with
        // sockets is there, whatever the order they registered in.
        Case::registry(
            "registry/a_backend_without_sockets_is_not_the_default",
            || {
                let registry = Registry::new();
                let mut dtls_only = MockBackend::new("dtls-only");
                dtls_only.classes = vec![ImplementedClass::Dtls];
                let mut sockets = MockBackend::new("sockets");
                sockets.classes = vec![ImplementedClass::Socket];
                for backend in [dtls_only, sockets] {
                    registry
                        .register(Arc::new(backend))
                        .map_err(|e| e.to_string())?;
                }
                check(
                    registry.active_backend().as_deref() == Some("sockets"),
                    || format!("active {:?}", registry.active_backend()),
                )?;
                let names = registry.available_backends();
                check(names == ["sockets", "dtls-only"], || {
                    format!("order {names:?}")
                })
            },
        ),
        Case::registry("registry/environment_default", || {
            let r = registry_with(&["openssl", "rustls"], Some("rustls"))?;
            check(r.active_backend().as_deref() == Some("rustls"), || {
                format!("active {:?}", r.active_backend())
            })?;
            // A name in the environment that no available backend has is reported, never
            // replaced by another backend.
            let r = registry_with(&["openssl", "rustls"], Some("nonexistent"))?;
            check(r.active_backend().is_none(), || {
                format!(
                    "an unknown name in the environment gave the active backend {:?}",
                    r.active_backend()
                )
            })?;
            let expected = "POLYTLS_BACKEND names 'nonexistent', which is not an available TLS \
                            backend (available: openssl, rustls): name one of them, or unset \
                            POLYTLS_BACKEND";
            for (what, result) in [
                ("backend(None)", r.backend(None).map(drop)),
                (
                    "backend_for_new_object(None)",
                    r.backend_for_new_object(None).map(drop),
                ),
            ] {
                match result {
                    Err(e @ Error::UnknownBackend { .. }) if e.to_string() == expected => {}
                    other => return Err(format!("{what}: expected UnknownBackend, got {other:?}")),
                }
            }
            check(r.supported_protocols(None).is_empty(), || {
                "queries about the active backend answered for another one".into()
            })?;
            // Naming a backend still works, and so does choosing one in the program.
            r.backend(Some("rustls")).map_err(|e| e.to_string())?;
            check(r.set_active_backend("rustls"), || {
                "set_active_backend refused".into()
            })?;
            check(r.active_backend().as_deref() == Some("rustls"), || {
                "the program's choice did not win over the environment's typo".into()
            })
        }),
        Case::registry("registry/set_active_backend_rules", || {
            let r = registry_with(&["openssl", "rustls"], None)?;
            check(!r.set_active_backend("nonexistent"), || {
                "an unknown name was accepted".into()
            })?;
            check(r.set_active_backend("rustls"), || {
                "a known name was refused".into()
            })?;
            check(r.active_backend().as_deref() == Some("rustls"), || {
                "the choice did not take".into()
            })?;
            check(r.set_active_backend("openssl"), || {
                "changing before first use was refused".into()
            })?;
            let used = r.backend_for_new_object(None).map_err(|e| e.to_string())?;
            check(used.name() == "openssl", || {
                format!("object created with {}", used.name())
            })?;
            check(!r.set_active_backend("rustls"), || {
                "changed after first use".into()
            })?;
            check(r.set_active_backend("openssl"), || {
                "the same name after first use was refused".into()
            })?;
            // Naming a backend explicitly neither needs nor changes the active one.
            let explicit = r
                .backend_for_new_object(Some("rustls"))
                .map_err(|e| e.to_string())?;
            check(explicit.name() == "rustls", || {
                "explicit backend not honoured".into()
            })?;
            check(r.active_backend().as_deref() == Some("openssl"), || {
                "explicit use moved the active backend".into()
            })
        }),
        Case::registry("registry/unavailable_backends", || {
            let r = Registry::new();
            let mut off = MockBackend::new("openssl");
            off.available = false;
            r.register(Arc::new(off)).map_err(|e| e.to_string())?;
            r.register(Arc::new(MockBackend::new("rustls")))
                .map_err(|e| e.to_string())?;
            check(r.available_backends() == ["rustls"], || {
                format!("listed {:?}", r.available_backends())
            })?;
            check(!r.set_active_backend("openssl"), || {
                "an unavailable backend was made active".into()
            })?;
            check(r.active_backend().as_deref() == Some("rustls"), || {
                "skipped to the wrong backend".into()
            })?;
            let empty = Registry::new();
            check(empty.active_backend().is_none(), || {
                "an empty registry has an active backend".into()
            })?;
            match empty.backend(None).map(drop) {
                Err(e @ Error::NoBackend) => check(
                    e.to_string()
                        .contains("enable a backend feature of the polytls crate")
                        && e.to_string().contains("`use polytls_openssl as _;`"),
                    || format!("NoBackend says: {e}"),
                ),
                other => Err(format!("expected NoBackend, got {other:?}")),
            }
        }),
        Case::registry("registry/unknown_names_give_empty_answers", || {
            let r = registry_with(&["openssl"], None)?;
            check(
                r.implemented_classes(Some("nonexistent")).is_empty(),
                || "classes".into(),
            )?;
            check(r.supported_features(Some("nonexistent")).is_empty(), || {
                "features".into()
            })?;
            check(
                r.supported_protocols(Some("nonexistent")).is_empty(),
                || "protocols".into(),
            )?;
            check(
                !r.is_class_implemented(ImplementedClass::Socket, Some("nonexistent")),
                || "class".into(),
            )?;
            check(
                matches!(
                    r.backend(Some("nonexistent")),
                    Err(Error::UnknownBackend { variable: None, .. })
                ),
                || "lookup".into(),
            )?;
            check(
                polytls::tls_library_version_string(Some("nonexistent")).is_empty(),
                || "version".into(),
            )?;
            check(!polytls::supports_ssl(Some("nonexistent")), || {
                "supports_ssl".into()
            })
        }),
        Case::registry("registry/runtime_registration", || {
            let r = registry_with(&["openssl"], None)?;
            let mut mock = MockBackend::new("mock");
            mock.classes = vec![ImplementedClass::Certificate];
            mock.features = vec![SupportedFeature::KeyLog];
            mock.protocols = vec![SslProtocol::TlsV1_3];
            r.register(Arc::new(mock.clone()))
                .map_err(|e| e.to_string())?;
            check(r.available_backends().contains(&"mock".to_string()), || {
                "not listed".into()
            })?;
            check(
                r.is_class_implemented(ImplementedClass::Certificate, Some("mock")),
                || "class".into(),
            )?;
            check(
                r.is_feature_supported(SupportedFeature::KeyLog, Some("mock")),
                || "feature".into(),
            )?;
            check(
                r.is_protocol_supported(SslProtocol::TlsV1_3, Some("mock")),
                || "protocol".into(),
            )?;
            check(r.register(Arc::new(mock)).is_err(), || {
                "a duplicate name was accepted".into()
            })?;
            check(r.set_active_backend("mock"), || {
                "cannot activate a registered mock".into()
            })
        }),
        Case::registry(
            "registry/runtime_registration_in_the_global_registry",
            || {
                let mut mock = MockBackend::new("conformance-mock");
                mock.classes = vec![ImplementedClass::Certificate];
                mock.features = vec![SupportedFeature::KeyLog];
                mock.protocols = vec![SslProtocol::TlsV1_3];
                // A second run in the same process finds it registered already.
                let _ = Registry::global().register(Arc::new(mock));
                let name = Some("conformance-mock");
                check(
                    polytls::available_backends()
                        .iter()
                        .any(|n| n == "conformance-mock"),
                    || "not listed".into(),
                )?;
                check(
                    polytls::implemented_classes(name) == [ImplementedClass::Certificate],
                    || "classes".into(),
                )?;
                check(
                    polytls::supported_features(name) == [SupportedFeature::KeyLog],
                    || "features".into(),
                )?;
                check(
                    polytls::is_protocol_supported(SslProtocol::TlsV1_3, name),
                    || "protocols".into(),
                )?;
                check(!polytls::supports_ssl(name), || {
                    "a mock without sockets supports SSL".into()
                })?;
                check(
                    polytls::tls_library_version_string(name) == "conformance-mock 1.0 (mock)",
                    || "version".into(),
                )?;
                let socket = polytls::SslSocket::with_backend(
                    std::io::Cursor::new(Vec::new()),
                    "conformance-mock",
                );
                let mut socket = socket.map_err(|e| e.to_string())?;
                socket.set_peer_verify_name("localhost");
                check(
                    matches!(
                        socket.start_client_encryption(),
                        Err(Error::Unsupported { .. })
                    ),
                    || "a backend without sockets did not refuse one".into(),
                )
            },
        ),
        Case::registry("registry/linked_backends_registered", || {
            // Every backend this program links registered itself without being called.
            let names = polytls::available_backends();
            for linked in crate::LINKED_BACKENDS {
                check(names.iter().any(|n| n == linked), || {
                    format!("{linked} missing from {names:?}")
                })?;
            }
            let active = polytls::active_backend();
            check(active.is_some() != names.is_empty(), || {
                "active backend inconsistent".into()
            })
        }),
    ]
}
