//! OIDs in dotted form, decoded from their DER bytes as X.690 says (and as OpenSSL prints
//! them): the first sub-identifier packs two arcs, and a value of 80 or more means arc 2.

use x509_parser::der_parser::oid::Oid;

/// The dotted text of an OID.
pub(crate) trait Dotted {
    /// `"1.2.840.113549.1.1.11"` and the like; empty when the encoding is malformed (a
    /// sub-identifier cut short, or one too large for 128 bits).
    fn dotted(&self) -> String;
}

impl Dotted for Oid<'_> {
    fn dotted(&self) -> String {
        dotted(self.as_bytes())
    }
}

/// The dotted text of the contents of a DER OBJECT IDENTIFIER.
pub(crate) fn dotted(bytes: &[u8]) -> String {
    let mut arcs: Vec<u128> = Vec::new();
    let mut value: u128 = 0;
    let mut pending = false;
    for &b in bytes {
        if value > (u128::MAX >> 7) {
            return String::new();
        }
        value = (value << 7) | u128::from(b & 0x7f);
        pending = b & 0x80 != 0;
        if !pending {
            arcs.push(value);
            value = 0;
        }
    }
    let Some((&first, rest)) = arcs.split_first() else {
        return String::new();
    };
    if pending {
        return String::new();
    }
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut text = format!("{a}.{b}");
    for arc in rest {
        text.push('.');
        text.push_str(&arc.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::dotted;

    #[test]
    fn arcs_decode_as_x690_says() {
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]),
            "1.2.840.113549.1.1.11"
        );
        assert_eq!(dotted(&[0x55, 0x04, 0x03]), "2.5.4.3");
        // Arc 2 with a second arc of 40 or more takes the whole first sub-identifier.
        assert_eq!(dotted(&[0x81, 0x1d, 0x11]), "2.77.17");
        assert_eq!(dotted(&[0x88, 0x37, 0x01]), "2.999.1");
        assert_eq!(dotted(&[0x06]), "0.6");
        assert_eq!(dotted(&[]), "");
        assert_eq!(dotted(&[0x2a, 0x86]), "");
    }
}
