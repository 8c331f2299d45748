//! The cross-backend part of the suite: every ordered pair of two different linked backends,
//! and the registry rules. (Each backend crate runs its own cases and its pair with itself.)

fn main() {
    let linked: Vec<String> = polytls_conformance::LINKED_BACKENDS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    polytls_conformance::test_main(polytls_conformance::Plan::cross(&linked));
}
