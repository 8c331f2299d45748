//! Just enough DER (X.690) to take key and certificate structures apart and put PKCS#8
//! wrappers together.
//!
//! Readers never panic: anything malformed comes back as `None`. Writers size their output
//! exactly before filling it, so a buffer holding key bytes is never reallocated (which would
//! leave an unwiped copy behind) and can be wiped when dropped.

use zeroize::Zeroizing;

pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const SEQUENCE: u8 = 0x30;
/// `[0]`, constructed (SEC 1 parameters).
pub(crate) const CONTEXT_0: u8 = 0xa0;
/// `[1]`, constructed (SEC 1 public key).
pub(crate) const CONTEXT_1: u8 = 0xa1;

/// One DER element.
#[derive(Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// The identifier octet.
    pub(crate) tag: u8,
    /// The contents octets.
    pub(crate) contents: &'a [u8],
    /// The whole element, header included.
    pub(crate) whole: &'a [u8],
}

/// Splits the first element off `input`: the element and what follows it.
pub(crate) fn tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f || tag == 0 {
        // High tag numbers never occur in key structures; tag 0 is end-of-contents, which
        // DER never uses.
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (octets, rest) = rest.split_at(n);
        let len = octets
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, after) = rest.split_at(len);
    let header = input.len() - rest.len();
    let whole = input.get(..header + len)?;
    Some((
        Tlv {
            tag,
            contents,
            whole,
        },
        after,
    ))
}

/// The one element `input` consists of, with nothing after it.
pub(crate) fn single(input: &[u8], tag: u8) -> Option<Tlv<'_>> {
    let (element, rest) = tlv(input)?;
    (element.tag == tag && rest.is_empty()).then_some(element)
}

/// Reads the elements of a constructed value one after the other.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over the contents of a constructed element.
    pub(crate) fn new(contents: &'a [u8]) -> Reader<'a> {
        Reader { rest: contents }
    }

    /// The next element, whatever its tag.
    pub(crate) fn next(&mut self) -> Option<Tlv<'a>> {
        let (element, rest) = tlv(self.rest)?;
        self.rest = rest;
        Some(element)
    }

    /// The next element, which must carry `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> Option<Tlv<'a>> {
        let element = self.next()?;
        (element.tag == tag).then_some(element)
    }

    /// The next element if it carries `tag`; otherwise nothing is consumed.
    pub(crate) fn optional(&mut self, tag: u8) -> Option<Tlv<'a>> {
        if self.rest.first() == Some(&tag) {
            self.next()
        } else {
            None
        }
    }

    /// The tag of the next element, if any.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Whether every element was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// The size in bits of a positive INTEGER's contents, leading zero octets ignored.
///
/// `None` for an empty, zero or negative integer: none of them is a key size.
pub(crate) fn positive_integer_bits(contents: &[u8]) -> Option<u32> {
    let first_nonzero = contents.iter().position(|&b| b != 0)?;
    if contents.first()? & 0x80 != 0 {
        return None;
    }
    let significant = contents.get(first_nonzero..)?;
    let top = *significant.first()?;
    let whole_octets = u32::try_from(significant.len() - 1).ok()?;
    whole_octets
        .checked_mul(8)?
        .checked_add(8 - top.leading_zeros())
}

/// Whether `contents` are an INTEGER's contents as DER writes them: at least one octet, and
/// no leading octet that only repeats the sign of the next (`00` before a clear top bit, `ff`
/// before a set one).
pub(crate) fn is_minimal_integer(contents: &[u8]) -> bool {
    match contents {
        [] => false,
        [0x00, next, ..] => next & 0x80 != 0,
        [0xff, next, ..] => next & 0x80 == 0,
        _ => true,
    }
}

/// The length of a DER header announcing `len` contents octets.
fn header_len(len: usize) -> usize {
    match len {
        0..=0x7f => 2,
        0x80..=0xff => 3,
        0x100..=0xffff => 4,
        0x1_0000..=0xff_ffff => 5,
        _ => 6,
    }
}

/// Appends a DER header for `tag` and `len` contents octets.
fn push_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        // Fits in the short form: the cast keeps every bit.
        out.push(len as u8);
        return;
    }
    let octets = len.to_be_bytes();
    let skip = octets.iter().take_while(|&&b| b == 0).count();
    let significant = &octets[skip..];
    // At most size_of::<usize>() octets: well under 0x7f.
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// One element with `tag` whose contents are `parts` concatenated, in a buffer sized exactly
/// and wiped on drop.
pub(crate) fn element(tag: u8, parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Zeroizing::new(Vec::with_capacity(header_len(len) + len));
    push_header(&mut out, tag, len);
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_bits_ignore_leading_zeros() {
        assert_eq!(positive_integer_bits(&[0x00, 0x80, 0x00]), Some(16));
        assert_eq!(positive_integer_bits(&[0x00, 0x00, 0x01]), Some(1));
        assert_eq!(positive_integer_bits(&[0x7f]), Some(7));
        assert_eq!(positive_integer_bits(&[0x01, 0x00, 0x00]), Some(17));
        assert_eq!(positive_integer_bits(&[0x80]), None);
        assert_eq!(positive_integer_bits(&[0x00]), None);
        assert_eq!(positive_integer_bits(&[]), None);
    }

    /// tst_QAsn1Element::integer: 0, 127, 128 and 256 in their shortest forms; an empty
    /// INTEGER or one padded with a sign octet it does not need is not DER.
    #[test]
    fn minimal_integers() {
        for contents in [
            &[0x00][..],
            &[0x7f],
            &[0x00, 0x80],
            &[0x01, 0x00],
            &[0x80],
            &[0xff],
        ] {
            assert!(is_minimal_integer(contents), "{contents:02x?}");
        }
        for contents in [
            &[][..],
            &[0x00, 0x7f],
            &[0x00, 0x00],
            &[0xff, 0x80],
            &[0xff, 0xff],
        ] {
            assert!(!is_minimal_integer(contents), "{contents:02x?}");
        }
        assert_eq!(positive_integer_bits(&[0x7f]), Some(7));
        assert_eq!(positive_integer_bits(&[0x00, 0x80]), Some(8));
        assert_eq!(positive_integer_bits(&[0x01, 0x00]), Some(9));
    }

    /// tst_QAsn1Element::invalid: nothing, an element of tag 0, and an element shorter than
    /// its length are no elements; tst_QAsn1Element::octetString: 0, 1, 127 and 128 octets
    /// with the header DER gives them.
    #[test]
    fn invalid_elements_and_exact_headers() {
        assert!(tlv(&[]).is_none());
        assert!(tlv(&[0x00, 0x01, 0x00]).is_none());
        assert!(tlv(&[0x00, 0x00]).is_none());
        assert!(tlv(&[0x04, 0x01]).is_none());
        assert!(tlv(&[0x04]).is_none());
        assert!(tlv(&[0x04, 0x80]).is_none(), "indefinite length");
        assert!(tlv(&[0x1f, 0x01, 0x00]).is_none(), "high tag number");
        for (len, header) in [
            (0usize, &[0x04, 0x00][..]),
            (1, &[0x04, 0x01]),
            (127, &[0x04, 0x7f]),
            (128, &[0x04, 0x81, 0x80]),
            (256, &[0x04, 0x82, 0x01, 0x00]),
        ] {
            let contents = vec![0; len];
            let encoded = element(OCTET_STRING, &[&contents]);
            assert_eq!(&encoded[..header.len()], header, "{len} octets");
            assert_eq!(encoded.len(), header.len() + len);
            let (parsed, rest) = tlv(&encoded).unwrap();
            assert!(rest.is_empty());
            assert_eq!(parsed.contents, &contents[..]);
        }
    }

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000] {
            let contents = vec![0x42; len];
            let encoded = element(OCTET_STRING, &[&contents]);
            assert_eq!(encoded.len(), header_len(len) + len);
            let (parsed, rest) = tlv(&encoded).expect("own encoding parses");
            assert!(rest.is_empty());
            assert_eq!(parsed.tag, OCTET_STRING);
            assert_eq!(parsed.contents.len(), len);
            assert_eq!(parsed.whole, &encoded[..]);
        }
    }
}
