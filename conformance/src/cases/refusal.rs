//! Refusal: what a backend does not claim, it refuses with `Error::Unsupported` the moment it
//! is asked, never by silently ignoring the setting.

use polytls::{
    ChainVerification, EncodingFormat, Error, ImplementedClass, KeyType, SslConfiguration,
    SslProtocol, SupportedFeature,
};

use crate::case::{Case, Needs};
use crate::harness::{client_config, server_config, tcp_pair};
use crate::pki::Pki;

/// A setting that only a backend claiming `claim` may accept.
struct Knob {
    name: &'static str,
    claimed: fn(&str) -> bool,
    server: bool,
    apply: fn(&mut SslConfiguration),
}

fn feature(f: SupportedFeature) -> impl Fn(&str) -> bool {
    move |b| polytls::is_feature_supported(f, Some(b))
}

const KNOBS: &[Knob] = &[
    Knob {
        name: "pre-shared key identity hint",
        claimed: |b| feature(SupportedFeature::Psk)(b),
        server: true,
        apply: |c| c.pre_shared_key_identity_hint = Some(b"hint".to_vec()),
    },
    Knob {
        name: "OCSP stapling",
        claimed: |b| feature(SupportedFeature::Ocsp)(b),
        server: false,
        apply: |c| c.ocsp_stapling_enabled = true,
    },
    Knob {
        name: "session ticket",
        claimed: |b| feature(SupportedFeature::SessionTicket)(b),
        server: false,
        apply: |c| c.session_ticket = b"ticket".to_vec(),
    },
    Knob {
        name: "elliptic curve selection",
        claimed: |b| polytls::is_class_implemented(ImplementedClass::EllipticCurve, Some(b)),
        server: false,
        apply: |c| c.elliptic_curves = vec!["prime256v1".into()],
    },
    Knob {
        name: "client-side ALPN",
        claimed: |b| feature(SupportedFeature::ClientSideAlpn)(b),
        server: false,
        apply: |c| c.allowed_next_protocols = vec![b"h2".to_vec()],
    },
    Knob {
        name: "server-side ALPN",
        claimed: |b| feature(SupportedFeature::ServerSideAlpn)(b),
        server: true,
        apply: |c| c.allowed_next_protocols = vec![b"h2".to_vec()],
    },
];

/// Starts a handshake with `config` and returns how the start went.
fn start(backend: &str, config: SslConfiguration, server: bool) -> Result<(), Error> {
    let (client, server_end) = tcp_pair().map_err(|e| Error::Io(std::io::Error::other(e)))?;
    let stream = if server { server_end } else { client };
    let mut socket = polytls::SslSocket::with_backend(stream, backend)?;
    socket.set_ssl_configuration(config);
    socket.set_peer_verify_name("localhost");
    if server {
        socket.start_server_encryption()
    } else {
        socket.start_client_encryption()
    }
}

fn expect_unsupported(what: &str, result: Result<(), Error>) -> Result<(), String> {
    match result {
        Err(Error::Unsupported { .. }) => Ok(()),
        Err(other) => Err(format!("{what}: expected Unsupported, got: {other}")),
        Ok(()) => Err(format!("{what}: accepted although not claimed")),
    }
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::single("refusal/unclaimed_settings", Needs::socket(), |b| {
            for knob in KNOBS.iter().filter(|k| !(k.claimed)(b)) {
                let mut config = if knob.server {
                    server_config(&Pki::get().server)
                } else {
                    client_config()
                };
                (knob.apply)(&mut config);
                expect_unsupported(knob.name, start(b, config, knob.server))?;
            }
            Ok(())
        }),
        Case::single("refusal/unclaimed_classes", Needs::default(), |b| {
            // The certificate, key and verification factories of a backend that does not
            // claim them answer Unsupported.
            let backend = polytls::Registry::global()
                .backend(Some(b))
                .map_err(|e| e.to_string())?;
            let pki = Pki::get();
            let der = pki.server.leaf().to_der();
            if !polytls::is_class_implemented(ImplementedClass::Certificate, Some(b)) {
                expect_unsupported("Certificate class", backend.certificate_info(der).map(drop))?;
                expect_unsupported(
                    "PKCS#12 import",
                    backend.import_pkcs12(b"not pkcs12", b"pw").map(drop),
                )?;
            }
            if !polytls::is_class_implemented(ImplementedClass::Key, Some(b)) {
                expect_unsupported(
                    "Key class (read)",
                    backend
                        .read_key(
                            pki.server.key.to_der(),
                            EncodingFormat::Der,
                            KeyType::PrivateKey,
                            None,
                        )
                        .map(drop),
                )?;
                expect_unsupported(
                    "Key class (write)",
                    backend
                        .write_key(&pki.server.key, EncodingFormat::Pem, None)
                        .map(drop),
                )?;
            }
            if !polytls::is_feature_supported(SupportedFeature::CertificateVerification, Some(b)) {
                let chain = pki.server.chain.clone();
                expect_unsupported(
                    "chain verification",
                    backend
                        .verify_chain(&ChainVerification::new(&chain, None, None))
                        .map(drop),
                )?;
            }
            Ok(())
        }),
        Case::single(
            "refusal/unclaimed_pre_shared_key_handler",
            Needs::socket(),
            |b| {
                // A PSK handler is a setting too: without `Psk` both sides refuse it at the start,
                // a server even without a certificate (which only a PSK server may lack).
                if feature(SupportedFeature::Psk)(b) {
                    return Ok(());
                }
                for (server, config) in [
                    (false, client_config()),
                    (true, server_config(&Pki::get().server)),
                    (true, SslConfiguration::default()),
                ] {
                    let (client, server_end) = tcp_pair()?;
                    let stream = if server { server_end } else { client };
                    let mut socket =
                        polytls::SslSocket::with_backend(stream, b).map_err(|e| e.to_string())?;
                    socket.set_ssl_configuration(config);
                    socket.set_peer_verify_name("localhost");
                    socket.on_pre_shared_key_authentication_required(|auth| {
                        auth.set_pre_shared_key(b"0123456789abcdef".to_vec());
                    });
                    let started = if server {
                        socket.start_server_encryption()
                    } else {
                        socket.start_client_encryption()
                    };
                    expect_unsupported("pre-shared key handler", started)?;
                }
                Ok(())
            },
        ),
        Case::single("refusal/unclaimed_protocols", Needs::socket(), |b| {
            let claimed = polytls::supported_protocols(Some(b));
            let tls = SslProtocol::ALL
                .iter()
                .filter(|p| !p.is_dtls() && **p != SslProtocol::UnknownProtocol);
            for p in tls.filter(|p| !claimed.contains(p)) {
                let config = SslConfiguration {
                    protocol: *p,
                    ..client_config()
                };
                expect_unsupported(p.name(), start(b, config, false))?;
            }
            Ok(())
        }),
    ]
}
