//! What a conformance case is: a name, what it needs from each side, and the code that runs it.
//!
//! A case is written once. It runs for every backend (a [`Target::Single`] case), for every
//! client backend x server backend pair (a [`Target::Pair`] case), or once with mock backends
//! (a [`Target::Registry`] case). It is skipped only when a capability query says a backend
//! does not claim what the case needs.

use polytls::{ImplementedClass, SslProtocol, SupportedFeature};

/// What a case needs one side's backend to claim.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Classes that must be implemented.
    pub classes: Vec<ImplementedClass>,
    /// Features that must be supported.
    pub features: Vec<SupportedFeature>,
    /// Protocols that must be supported.
    pub protocols: Vec<SslProtocol>,
    /// External programs that must be installed (peers such as `openssl`).
    pub tools: Vec<&'static str>,
    /// Whether the external programs must run in a private network namespace with only
    /// loopback up (a peer that cannot be bound to loopback alone).
    pub private_network: bool,
}

impl Needs {
    /// A TLS socket and nothing more.
    pub fn socket() -> Needs {
        Needs {
            classes: vec![ImplementedClass::Socket],
            ..Needs::default()
        }
    }

    /// A TLS socket and `feature`.
    pub fn feature(feature: SupportedFeature) -> Needs {
        Needs {
            features: vec![feature],
            ..Needs::socket()
        }
    }

    /// A TLS socket and `protocol`.
    pub fn protocol(protocol: SslProtocol) -> Needs {
        Needs {
            protocols: vec![protocol],
            ..Needs::socket()
        }
    }

    /// Adds `feature`.
    pub fn and_feature(mut self, feature: SupportedFeature) -> Needs {
        self.features.push(feature);
        self
    }

    /// Adds `protocol`.
    pub fn and_protocol(mut self, protocol: SslProtocol) -> Needs {
        self.protocols.push(protocol);
        self
    }

    /// Adds the external program `tool`.
    pub fn and_tool(mut self, tool: &'static str) -> Needs {
        self.tools.push(tool);
        self
    }

    /// Adds the need for a private network namespace with only loopback up.
    pub fn and_private_network(mut self) -> Needs {
        self.private_network = true;
        self
    }

    /// The first thing `backend` does not claim, as text, or `None` when it claims all.
    pub fn missing(&self, backend: &str) -> Option<String> {
        let name = Some(backend);
        let class = self
            .classes
            .iter()
            .find(|c| !polytls::is_class_implemented(**c, name));
        let feature = self
            .features
            .iter()
            .find(|f| !polytls::is_feature_supported(**f, name));
        let protocol = self
            .protocols
            .iter()
            .find(|p| !polytls::is_protocol_supported(**p, name));
        class
            .map(|c| format!("class {c}"))
            .or_else(|| feature.map(|f| format!("feature {f}")))
            .or_else(|| protocol.map(|p| format!("protocol {p}")))
            .map(|what| format!("{backend} does not claim {what}"))
            .or_else(|| self.missing_tool())
    }

    /// The first external program that is not installed, or the private network namespace
    /// that cannot be made, as a message, or `None`.
    pub fn missing_tool(&self) -> Option<String> {
        self.tools
            .iter()
            .find(|tool| !tool_installed(tool))
            .map(|tool| format!("SKIPPED: external peer `{tool}` is not installed"))
            .or_else(|| {
                if !self.private_network {
                    return None;
                }
                let why = crate::netns::private_loopback_unavailable()?;
                // Not "SKIPPED: external ...": CI can install a peer but cannot grant the
                // privilege a namespace needs, so this skip stays a skip under CI too.
                Some(format!(
                    "SKIPPED: no private network namespace here ({why}); external peer {} \
                     needs one with only loopback up (it cannot be bound to loopback alone)",
                    self.tools.join(", ")
                ))
            })
    }

    /// Every claim this case exercises, as `(category, name)` pairs.
    pub fn claims(&self) -> Vec<(&'static str, &'static str)> {
        let classes = self.classes.iter().map(|c| ("classes", c.name()));
        let features = self.features.iter().map(|f| ("features", f.name()));
        let protocols = self.protocols.iter().map(|p| ("protocols", p.name()));
        classes.chain(features).chain(protocols).collect()
    }
}

/// Whether `tool` can be found on `PATH`.
pub fn tool_installed(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false)
}

/// The backends a case runs against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// One backend.
    Single(String),
    /// A client backend and a server backend (possibly the same).
    Pair {
        /// The client's backend.
        client: String,
        /// The server's backend.
        server: String,
    },
    /// No real backend: the case builds its own registry with mock backends.
    Registry,
}

impl Target {
    /// A short label: `openssl`, `openssl->rustls` (client first), or `registry`.
    pub fn label(&self) -> String {
        match self {
            Target::Single(name) => name.clone(),
            Target::Pair { client, server } => format!("{client}->{server}"),
            Target::Registry => "registry".into(),
        }
    }
}

/// What a case's code returns: `Ok` when the backend behaved, `Err` with what went wrong.
pub type Outcome = Result<(), String>;

/// The code of a single-backend case: it gets the backend's name.
pub type SingleFn = Box<dyn Fn(&str) -> Outcome + Send + Sync>;
/// The code of a two-sided case: it gets the client's and the server's backend names.
pub type PairFn = Box<dyn Fn(&str, &str) -> Outcome + Send + Sync>;
/// The code of a registry case.
pub type RegistryFn = Box<dyn Fn() -> Outcome + Send + Sync>;

/// The code of a case.
pub enum Body {
    /// Runs against one backend.
    Single(SingleFn),
    /// Runs against a client backend and a server backend.
    Pair(PairFn),
    /// Runs once, with its own registry.
    Registry(RegistryFn),
}

/// The names of the two-sided cases that choose their front end themselves: they run once.
const SELF_DRIVEN: [&str; 2] = ["tokio/", "dtls/tokio/"];

/// One conformance case.
pub struct Case {
    /// A path-like name, such as `verification/expired/refused`.
    pub name: String,
    /// What the client side (or the single backend) must claim.
    pub needs: Needs,
    /// What the server side must claim (pair cases only).
    pub server_needs: Needs,
    /// The code.
    pub body: Body,
    /// A two-sided case that runs once, not once per front end: it drives its sockets
    /// itself. The `tokio/` and `dtls/tokio/` cases drive the tokio front end themselves
    /// (set from the name); those marked with [`run_once`](Case::run_once) make
    /// non-blocking calls or tap their connections, so a tokio run would repeat the
    /// blocking one.
    pub runs_once: bool,
}

impl Case {
    /// A case for one backend.
    pub fn single(
        name: impl Into<String>,
        needs: Needs,
        body: impl Fn(&str) -> Outcome + Send + Sync + 'static,
    ) -> Case {
        Case {
            name: name.into(),
            needs,
            server_needs: Needs::default(),
            body: Body::Single(Box::new(body)),
            runs_once: false,
        }
    }

    /// A case for a client backend and a server backend, with what each side must claim.
    pub fn pair(
        name: impl Into<String>,
        client_needs: Needs,
        server_needs: Needs,
        body: impl Fn(&str, &str) -> Outcome + Send + Sync + 'static,
    ) -> Case {
        let name = name.into();
        Case {
            runs_once: SELF_DRIVEN.iter().any(|p| name.starts_with(p)),
            name,
            needs: client_needs,
            server_needs,
            body: Body::Pair(Box::new(body)),
        }
    }

    /// A case that runs once with mock backends.
    pub fn registry(
        name: impl Into<String>,
        body: impl Fn() -> Outcome + Send + Sync + 'static,
    ) -> Case {
        Case {
            name: name.into(),
            needs: Needs::default(),
            server_needs: Needs::default(),
            body: Body::Registry(Box::new(body)),
            runs_once: false,
        }
    }

    /// This case run once (see [`Case::runs_once`]).
    pub fn run_once(mut self) -> Case {
        self.runs_once = true;
        self
    }

    /// Whether this case runs against `target` (a pair case against pairs, and so on).
    pub fn fits(&self, target: &Target) -> bool {
        matches!(
            (&self.body, target),
            (Body::Single(_), Target::Single(_))
                | (Body::Pair(_), Target::Pair { .. })
                | (Body::Registry(_), Target::Registry)
        )
    }

    /// Why the case must be skipped for `target`, or `None` when it runs.
    pub fn skip_reason(&self, target: &Target) -> Option<String> {
        match target {
            Target::Single(name) => self.needs.missing(name),
            Target::Pair { client, server } => self
                .needs
                .missing(client)
                .or_else(|| self.server_needs.missing(server)),
            Target::Registry => None,
        }
    }

    /// Runs the case against `target`. Call only when [`fits`](Self::fits) holds.
    pub fn run(&self, target: &Target) -> Outcome {
        match (&self.body, target) {
            (Body::Single(f), Target::Single(name)) => f(name),
            (Body::Pair(f), Target::Pair { client, server }) => f(client, server),
            (Body::Registry(f), Target::Registry) => f(),
            _ => Err(format!(
                "case {} does not run against {}",
                self.name,
                target.label()
            )),
        }
    }
}
