//! The shared conformance suite against this backend: every single-backend case, and every
//! two-sided case with dimpl as both client and server.

use polytls_dimpl as _;

fn main() {
    polytls_conformance::test_main(polytls_conformance::Plan::for_backend("dimpl"));
}
