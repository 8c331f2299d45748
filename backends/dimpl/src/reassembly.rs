//! [`Reassembly`]: the peer's plaintext handshake messages handed to dimpl whole.
//!
//! RFC 6347 section 4.2.3 lets a sender re-fragment a message when it retransmits it
//! (OpenSSL does, at a small MTU). dimpl 0.9 completes a fragmented message only from
//! fragments that follow one another exactly, in the order of their offsets, and keeps one
//! datagram per first fragment: once it holds fragments of a first transmission, the
//! differently cut fragments of the retransmission overlap them and the message never
//! completes.
//!
//! While a handshake runs, every datagram that carries an epoch-0 handshake record goes
//! through [`Reassembly::split`] first. It cuts the datagram into datagrams of one
//! handshake message each, whole: a message that came whole is passed on as it came; the
//! fragments of one that did not are kept until they cover the message, which is then
//! passed on as one fragment at offset 0 (what the peer's transcript hashes, since a
//! fragment's offsets are not part of it). Fragments of a message already passed on whole
//! are dropped. Records that are not epoch-0 handshake records (ChangeCipherSpec, alerts,
//! encrypted records) stay together in the order they came, between the handshake
//! datagrams they came between.
//!
//! What is kept is bounded: at most [`MAX_PARTIAL`] messages of at most [`MAX_MESSAGE`]
//! bytes each. A fragment beyond those bounds is passed to dimpl as it came.

/// The DTLSPlaintext record header: type, version (2), epoch (2), sequence (6), length (2).
const RECORD_HEADER: usize = 13;
/// The DTLS handshake header: type, length (3), message_seq (2), offset (3), fragment length
/// (3).
const HANDSHAKE_HEADER: usize = 12;
/// The content type of handshake records.
const HANDSHAKE: u8 = 22;
/// The largest message reassembled: one that fits in one DTLSPlaintext record.
pub(crate) const MAX_MESSAGE: usize = (1 << 14) - HANDSHAKE_HEADER;
/// How many messages can be in reassembly at once.
pub(crate) const MAX_PARTIAL: usize = 8;
/// How many message sequence numbers passed on whole are remembered.
const MAX_WHOLE: usize = 32;

/// One handshake message of which only fragments came.
struct Partial {
    message_seq: u16,
    msg_type: u8,
    /// The message body, `length` bytes; the parts not yet received are zero.
    body: Vec<u8>,
    /// The byte ranges received, sorted and merged.
    have: Vec<(usize, usize)>,
}

impl Partial {
    /// Records `fragment` at `offset`; returns whether the message is complete.
    fn add(&mut self, offset: usize, fragment: &[u8]) -> bool {
        let end = offset + fragment.len();
        self.body[offset..end].copy_from_slice(fragment);
        self.have.push((offset, end));
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.have.len());
        for &(start, end) in &self.have {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        self.have = merged;
        self.have == [(0, self.body.len())]
    }
}

/// The reassembly state of one association (see the module documentation).
#[derive(Default)]
pub(crate) struct Reassembly {
    partial: Vec<Partial>,
    /// The message sequence numbers already passed on whole.
    whole: Vec<u16>,
}

/// One epoch-0 handshake fragment, as it stands in its record.
struct Fragment<'a> {
    msg_type: u8,
    length: usize,
    message_seq: u16,
    offset: usize,
    /// The whole fragment: header and body.
    raw: &'a [u8],
    body: &'a [u8],
}

/// The fragments of an epoch-0 handshake record's body, or `None` if one is malformed.
fn fragments(mut body: &[u8]) -> Option<Vec<Fragment<'_>>> {
    let mut found = Vec::new();
    while !body.is_empty() {
        let header = body.get(..HANDSHAKE_HEADER)?;
        let be24 = |b: &[u8]| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]);
        let length = be24(&header[1..4]);
        let offset = be24(&header[6..9]);
        let fragment_length = be24(&header[9..12]);
        if offset + fragment_length > length {
            return None;
        }
        let end = HANDSHAKE_HEADER + fragment_length;
        let raw = body.get(..end)?;
        found.push(Fragment {
            msg_type: header[0],
            length,
            message_seq: u16::from_be_bytes([header[4], header[5]]),
            offset,
            raw,
            body: &raw[HANDSHAKE_HEADER..],
        });
        body = &body[end..];
    }
    Some(found)
}

/// A piece of a datagram as [`Reassembly::split`] reads it.
enum Part<'a> {
    /// An epoch-0 handshake record and its fragments.
    Handshake(&'a [u8], Vec<Fragment<'a>>),
    /// Any other record, or the rest of the datagram from a record without the
    /// DTLSPlaintext header on (a DTLS 1.3 record with the unified header).
    Other(&'a [u8]),
}

/// The parts of `datagram`, or `None` if a record or a handshake fragment in it is cut
/// short or runs past its message.
fn parts(datagram: &[u8]) -> Option<Vec<Part<'_>>> {
    let mut found = Vec::new();
    let mut rest = datagram;
    while !rest.is_empty() {
        // Only DTLSPlaintext types have the 13-byte header.
        if rest.len() < RECORD_HEADER || !(20..=23).contains(&rest[0]) {
            found.push(Part::Other(rest));
            break;
        }
        let length = usize::from(u16::from_be_bytes([rest[11], rest[12]]));
        let record_bytes = rest.get(..RECORD_HEADER + length)?;
        rest = &rest[record_bytes.len()..];
        let epoch = u16::from_be_bytes([record_bytes[3], record_bytes[4]]);
        found.push(if record_bytes[0] == HANDSHAKE && epoch == 0 {
            Part::Handshake(record_bytes, fragments(&record_bytes[RECORD_HEADER..])?)
        } else {
            Part::Other(record_bytes)
        });
    }
    Some(found)
}

/// A datagram of one record: `header`'s first 11 bytes (type, version, epoch, sequence),
/// then the length and `payload`.
fn record(header: &[u8], payload: &[&[u8]]) -> Vec<u8> {
    let length: usize = payload.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(RECORD_HEADER + length);
    out.extend_from_slice(&header[..RECORD_HEADER - 2]);
    // At most HANDSHAKE_HEADER + MAX_MESSAGE, or a length that came in a record header.
    out.extend_from_slice(&(length as u16).to_be_bytes());
    for part in payload {
        out.extend_from_slice(part);
    }
    out
}

impl Reassembly {
    /// The datagrams dimpl is to be handed for `datagram`, in order (possibly none, while
    /// fragments are kept), or `None` when `datagram` holds no epoch-0 handshake record or
    /// is malformed: it goes to dimpl as it came.
    pub(crate) fn split(&mut self, datagram: &[u8]) -> Option<Vec<Vec<u8>>> {
        // The whole datagram is read before anything is kept: a malformed one changes
        // nothing here and goes to dimpl, which discards what it cannot parse.
        let parts = parts(datagram)?;
        if !parts.iter().any(|p| matches!(p, Part::Handshake(..))) {
            return None;
        }
        let mut out = Vec::new();
        // Records that are not epoch-0 handshake records, kept together.
        let mut other: Vec<u8> = Vec::new();
        for part in parts {
            let (record_bytes, fragments) = match part {
                Part::Other(bytes) => {
                    other.extend_from_slice(bytes);
                    continue;
                }
                Part::Handshake(record_bytes, fragments) => (record_bytes, fragments),
            };
            if !other.is_empty() {
                out.push(std::mem::take(&mut other));
            }
            for fragment in fragments {
                if let Some(whole) = self.take(&fragment) {
                    out.push(match whole {
                        Some(body) => {
                            let mut header = fragment.raw[..HANDSHAKE_HEADER].to_vec();
                            // Offset 0, fragment length the message's length.
                            header[6..9].fill(0);
                            header.copy_within(1..4, 9);
                            record(record_bytes, &[&header, &body])
                        }
                        None => record(record_bytes, &[fragment.raw]),
                    });
                }
            }
        }
        if !other.is_empty() {
            out.push(other);
        }
        Some(out)
    }

    /// What becomes of `fragment`: `None` when it is kept or dropped, `Some(None)` when it
    /// goes on as it came, `Some(Some(body))` when it completed the message `body`.
    fn take(&mut self, fragment: &Fragment<'_>) -> Option<Option<Vec<u8>>> {
        let seq = fragment.message_seq;
        if fragment.offset == 0 && fragment.body.len() == fragment.length {
            self.partial.retain(|p| p.message_seq != seq);
            self.passed_whole(seq);
            return Some(None);
        }
        if self.whole.contains(&seq) {
            return None;
        }
        if fragment.length > MAX_MESSAGE {
            return Some(None);
        }
        let index = match self.partial.iter().position(|p| p.message_seq == seq) {
            Some(i) => i,
            None if self.partial.len() >= MAX_PARTIAL => return Some(None),
            None => {
                self.partial.push(Partial {
                    message_seq: seq,
                    msg_type: fragment.msg_type,
                    body: vec![0; fragment.length],
                    have: Vec::new(),
                });
                self.partial.len() - 1
            }
        };
        let partial = &mut self.partial[index];
        if partial.msg_type != fragment.msg_type || partial.body.len() != fragment.length {
            // Not a fragment of the message begun under this number: the first one stands.
            return None;
        }
        if !partial.add(fragment.offset, fragment.body) {
            return None;
        }
        let done = self.partial.swap_remove(index);
        self.passed_whole(seq);
        Some(Some(done.body))
    }

    fn passed_whole(&mut self, seq: u16) {
        if !self.whole.contains(&seq) && self.whole.len() < MAX_WHOLE {
            self.whole.push(seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record (epoch 0, sequence `seq`) of `content_type` holding `payload`.
    fn plain(content_type: u8, seq: u8, payload: &[u8]) -> Vec<u8> {
        let header = [content_type, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, seq, 0, 0];
        record(&header, &[payload])
    }

    /// A handshake fragment of message `seq` (type 11, `length` bytes, each byte its offset
    /// modulo 251) covering `range`.
    fn fragment(seq: u8, length: usize, range: std::ops::Range<usize>) -> Vec<u8> {
        let be24 = |n: usize| [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let mut out = vec![11];
        out.extend(be24(length));
        out.extend([0, seq]);
        out.extend(be24(range.start));
        out.extend(be24(range.len()));
        out.extend(range.map(|i| (i % 251) as u8));
        out
    }

    fn message(seq: u8, length: usize) -> Vec<u8> {
        fragment(seq, length, 0..length)
    }

    #[test]
    fn overlapping_fragments_of_a_retransmission_complete_the_message() {
        let mut r = Reassembly::default();
        // First transmission cut at 200, the retransmission at 150 and 300.
        assert_eq!(
            r.split(&plain(22, 1, &fragment(1, 400, 0..200))),
            Some(vec![])
        );
        assert_eq!(
            r.split(&plain(22, 5, &fragment(1, 400, 150..300))),
            Some(vec![])
        );
        let out = r.split(&plain(22, 6, &fragment(1, 400, 300..400))).unwrap();
        assert_eq!(out, vec![plain(22, 6, &message(1, 400))]);
        // Later fragments of it are dropped; it came whole once.
        assert_eq!(
            r.split(&plain(22, 7, &fragment(1, 400, 0..200))),
            Some(vec![])
        );
    }

    #[test]
    fn whole_messages_and_other_records_keep_their_order() {
        let mut r = Reassembly::default();
        let mut handshake = message(0, 40);
        handshake.extend(fragment(1, 300, 0..100));
        let mut datagram = plain(22, 1, &handshake);
        datagram.extend(plain(20, 2, &[1]));
        datagram.extend([0x2f, 1, 2, 3]); // a unified-header record: passed on as it is
        let mut tail = plain(20, 2, &[1]);
        tail.extend([0x2f, 1, 2, 3]);
        assert_eq!(
            r.split(&datagram).unwrap(),
            vec![plain(22, 1, &message(0, 40)), tail]
        );
        // A whole retransmission replaces what was kept.
        assert_eq!(
            r.split(&plain(22, 3, &message(1, 300))).unwrap(),
            vec![plain(22, 3, &message(1, 300))]
        );
        assert!(r.partial.is_empty());
    }

    #[test]
    fn datagrams_without_plaintext_handshakes_or_malformed_go_as_they_came() {
        let mut r = Reassembly::default();
        assert_eq!(r.split(&plain(23, 1, &[1, 2, 3])), None);
        let mut encrypted = plain(22, 1, &[9; 20]);
        encrypted[4] = 1;
        assert_eq!(r.split(&encrypted), None);
        // A fragment running past its message, and a record cut short.
        assert_eq!(r.split(&plain(22, 1, &fragment(1, 10, 0..20))), None);
        assert_eq!(r.split(&plain(22, 1, &message(1, 30))[..30]), None);
        // A fragment ahead of a malformed record in the same datagram is not kept either.
        let mut datagram = plain(22, 1, &fragment(2, 100, 0..50));
        datagram.extend(plain(22, 2, &fragment(3, 10, 0..20)));
        assert_eq!(r.split(&datagram), None);
        assert!(r.partial.is_empty());
    }

    #[test]
    fn what_is_kept_is_bounded() {
        let mut r = Reassembly::default();
        for seq in 0..MAX_PARTIAL as u8 {
            assert_eq!(
                r.split(&plain(22, seq, &fragment(seq, 100, 0..10))),
                Some(vec![])
            );
        }
        // One more message, or one too large, goes on as it came.
        let extra = plain(22, 9, &fragment(9, 100, 0..10));
        assert_eq!(r.split(&extra), Some(vec![extra.clone()]));
        let mut r = Reassembly::default();
        let large = plain(22, 1, &fragment(1, MAX_MESSAGE + 1, 0..10));
        assert_eq!(r.split(&large), Some(vec![large.clone()]));
        // A fragment that disagrees with the message begun under its number is dropped.
        let mut r = Reassembly::default();
        r.split(&plain(22, 1, &fragment(1, 100, 0..50)));
        assert_eq!(
            r.split(&plain(22, 2, &fragment(1, 90, 50..90))),
            Some(vec![])
        );
        let out = r.split(&plain(22, 3, &fragment(1, 100, 50..100))).unwrap();
        assert_eq!(out, vec![plain(22, 3, &message(1, 100))]);
    }
}
