//! restic's content-defined chunking as rustic_core 0.13 does it, so that a file chunked here
//! and a file chunked by rustic_core (an incremental backup, or restic itself reading the
//! repository) are cut at the same places and deduplicate against each other.
//!
//! The Rabin rolling hash is rustic_cdc's (its tables, polynomial and window of 64 bytes), but
//! the loop runs over a contiguous buffer: the byte leaving the window is read from the buffer
//! instead of a ring, which is most of the speed-up over rustic_core's byte-at-a-time iterator.
//!
//! Where a chunk may end, exactly as rustic_core's `ChunkIter`: the first [`CHUNK_MIN`] bytes
//! are taken whole; the hash is primed with 63 of the last 64 of them (bytes `min-64..min-1`:
//! the byte at `min-1` never enters the hash, and the window's 64th slot starts as zero); then,
//! before each further byte, the chunk ends if it has [`CHUNK_MAX`] bytes or the hash's low 20
//! bits are zero. The tests check this against rustic_cdc's own `Rabin64`, as rustic_core
//! drives it.

use rustic_cdc::{Polynom, Rabin64};

/// restic's chunk size parameters (rustic_core's defaults, which restic's match).
pub(crate) const CHUNK_MIN: usize = 512 * 1024;
pub(crate) const CHUNK_MAX: usize = 8 * 1024 * 1024;
/// A cut where the hash's low 20 bits are zero: 1 MiB chunks on average.
const SPLIT_MASK: u64 = (1 << 20) - 1;
/// The rolling hash's window.
const WINDOW: usize = 64;
/// Stretches hashed side by side, and the positions of each.
const LANES: usize = 4;
const LANE: usize = 8192;

/// The Rabin fingerprint's tables for one polynomial.
#[derive(Clone)]
pub(crate) struct Chunker {
    /// What a byte leaving the window takes out of the hash.
    out: [u64; 256],
    /// The reduction by the polynomial of the byte shifted out at the top.
    reduce: [u64; 256],
    /// The polynomial's degree minus 8: where the top byte of the hash starts.
    shift: u32,
}

impl Chunker {
    /// The chunker of a repository whose config names `polynomial`.
    pub(crate) fn new(polynomial: u64) -> Self {
        Self {
            out: Rabin64::calculate_out_table(WINDOW, &polynomial),
            reduce: Rabin64::calculate_mod_table(&polynomial),
            shift: u32::try_from(polynomial.degree() - 8).unwrap_or(0),
        }
    }

    /// The hash with `byte` added (nothing taken out).
    #[inline(always)]
    fn append(&self, hash: u64, byte: u8) -> u64 {
        let top = (hash >> self.shift) & 255;
        ((hash << 8) | u64::from(byte)) ^ self.reduce[top as usize]
    }

    /// The length of the first chunk of `data`, given that `data` is everything left of the
    /// file when `at_end`. `None` when more data is needed to decide (`data` holds fewer than
    /// [`CHUNK_MAX`] bytes, no cut was found, and the file goes on).
    pub(crate) fn cut(&self, data: &[u8], at_end: bool) -> Option<usize> {
        if data.len() <= CHUNK_MIN {
            return at_end.then_some(data.len());
        }
        let mut hash = data[CHUNK_MIN - WINDOW..CHUNK_MIN - 1]
            .iter()
            .fold(0, |hash, &byte| self.append(hash, byte));
        let end = data.len().min(CHUNK_MAX);
        // The first 64 bytes after the minimum push out the primed window: a zero slot, then
        // bytes min-64..min-1 (one further back than the plain window, for the skipped byte).
        let primed = (CHUNK_MIN + WINDOW).min(end);
        for pos in CHUNK_MIN..primed {
            if hash & SPLIT_MASK == 0 {
                return Some(pos);
            }
            let leaving = if pos == CHUNK_MIN {
                0
            } else {
                data[pos - WINDOW - 1]
            };
            hash = self.append(hash ^ self.out[usize::from(leaving)], data[pos]);
        }
        // From here on the window is the 64 bytes before the position, so the hash at a
        // position is a function of those bytes alone: [`LANES`] stretches are hashed at once.
        let mut pos = primed;
        while pos + LANES * LANE <= end {
            if let Some(cut) = self.first_cut_in_lanes(data, pos) {
                return Some(cut);
            }
            pos += LANES * LANE;
        }
        if pos != primed {
            hash = self.window_hash(data, pos);
        }
        let rest = &data[pos..end];
        let leaving = &data[pos - WINDOW..end - WINDOW];
        for (offset, (&byte, &gone)) in rest.iter().zip(leaving).enumerate() {
            if hash & SPLIT_MASK == 0 {
                return Some(pos + offset);
            }
            hash = self.append(hash ^ self.out[usize::from(gone)], byte);
        }
        // At the maximum, at the end of the file, or a cut right after the last byte here.
        (end == CHUNK_MAX || at_end || hash & SPLIT_MASK == 0).then_some(end)
    }

    /// The hash of the 64 bytes before `pos`.
    fn window_hash(&self, data: &[u8], pos: usize) -> u64 {
        data[pos - WINDOW..pos]
            .iter()
            .fold(0, |hash, &byte| self.append(hash, byte))
    }

    /// The first cut in the [`LANES`] stretches of [`LANE`] positions from `from`, each
    /// hashed from its own start: four independent rolling hashes in one loop keep the core
    /// busy where one hash waits on its previous byte's table lookup (about 3x faster).
    fn first_cut_in_lanes(&self, data: &[u8], from: usize) -> Option<usize> {
        let lanes: [&[u8; LANE + WINDOW]; LANES] = std::array::from_fn(|lane| {
            let start = from + lane * LANE;
            <&[u8; LANE + WINDOW]>::try_from(&data[start - WINDOW..start + LANE]).expect("a lane's bytes")
        });
        let mut hashes: [u64; LANES] = std::array::from_fn(|lane| self.window_hash(data, from + lane * LANE));
        let mut cuts = [usize::MAX; LANES];
        for at in 0..LANE {
            for lane in 0..LANES {
                let hash = hashes[lane];
                if hash & SPLIT_MASK == 0 && cuts[lane] == usize::MAX {
                    cuts[lane] = from + lane * LANE + at;
                }
                let bytes = lanes[lane];
                hashes[lane] = self.append(hash ^ self.out[usize::from(bytes[at])], bytes[at + WINDOW]);
            }
        }
        cuts.into_iter().find(|&cut| cut != usize::MAX)
    }

    /// The chunks of `data`, taken as a whole file.
    pub(crate) fn chunks<'a>(&'a self, mut data: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        std::iter::from_fn(move || {
            if data.is_empty() {
                return None;
            }
            let (chunk, rest) = data.split_at(self.cut(data, true)?);
            data = rest;
            Some(chunk)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{CHUNK_MAX, CHUNK_MIN, Chunker, SPLIT_MASK};
    use rustic_cdc::{Rabin64, RollingHash64};

    /// rustic_core builds its `Rabin64` with a window of 2^6 bytes.
    const WINDOW_BITS: u32 = 6;

    /// rustic_core 0.13's `ChunkIter`, reduced to a buffer: the reference the chunker must match.
    fn rustic_chunks(data: &[u8], polynomial: u64) -> Vec<usize> {
        let mut rabin = Rabin64::new_with_polynom(WINDOW_BITS, &polynomial);
        let mut lengths = Vec::new();
        let mut start = 0;
        while start < data.len() {
            let rest = &data[start..];
            if rest.len() <= CHUNK_MIN {
                lengths.push(rest.len());
                break;
            }
            rabin.reset_and_prefill_window(&mut rest[CHUNK_MIN - 64..CHUNK_MIN].iter().copied());
            let mut end = CHUNK_MIN;
            while end < rest.len() && end < CHUNK_MAX && rabin.hash & SPLIT_MASK != 0 {
                rabin.slide(rest[end]);
                end += 1;
            }
            lengths.push(end);
            start += end;
        }
        lengths
    }

    /// The chunker fed as a backup feeds it: at most `window` bytes of the file at a time.
    fn our_chunks(data: &[u8], polynomial: u64, window: usize) -> Vec<usize> {
        let chunker = Chunker::new(polynomial);
        let mut lengths = Vec::new();
        let mut start = 0;
        while start < data.len() {
            let available = (data.len() - start).min(window);
            let at_end = start + available == data.len();
            let len = chunker
                .cut(&data[start..start + available], at_end)
                .expect("a buffer of at least CHUNK_MAX bytes, or the file's end, always has a cut");
            lengths.push(len);
            start += len;
        }
        lengths
    }

    /// Deterministic pseudo-random bytes (xorshift), incompressible.
    pub(crate) fn noise(len: usize, mut state: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    const POLYNOMIALS: [u64; 2] = [0x003D_A335_8B4D_C173, 0x0031_2C8B_CC42_5A6B];

    #[test]
    fn cuts_where_rustic_core_cuts() {
        // Random data (cuts by hash), zeros (the hash stays zero: cuts at the minimum),
        // repeating text, and sizes around the limits.
        let mut text = Vec::new();
        while text.len() < 20 << 20 {
            text.extend_from_slice(b"the quick brown fox jumps over the lazy dog 0123456789\n");
        }
        let mut cases = vec![noise(40 << 20, 7), vec![0u8; 20 << 20], text, noise(CHUNK_MIN, 3)];
        cases.push(noise(CHUNK_MIN + 1, 4));
        cases.push(noise(CHUNK_MIN + 64, 5));
        cases.push(noise(CHUNK_MAX + 3, 6));
        let mut mixed = noise(9 << 20, 11);
        mixed.extend(vec![7u8; 9 << 20]);
        mixed.extend(noise(3 << 20, 12));
        cases.push(mixed);
        for polynomial in POLYNOMIALS {
            for data in &cases {
                let expected = rustic_chunks(data, polynomial);
                assert_eq!(expected.iter().sum::<usize>(), data.len());
                for window in [CHUNK_MAX, CHUNK_MAX + 1, 2 * CHUNK_MAX, 64 << 20] {
                    assert_eq!(
                        our_chunks(data, polynomial, window),
                        expected,
                        "{} bytes, polynomial {polynomial:#x}, window {window}",
                        data.len()
                    );
                }
            }
        }
    }

    #[test]
    fn random_data_cuts_within_restics_sizes() {
        let data = noise(64 << 20, 99);
        let lengths = our_chunks(&data, POLYNOMIALS[0], 2 * CHUNK_MAX);
        let (last, most) = lengths.split_last().expect("chunks");
        assert!(most.iter().all(|len| (CHUNK_MIN..=CHUNK_MAX).contains(len)));
        assert!(*last <= CHUNK_MAX);
        assert!(
            most.len() > 30,
            "about 1 MiB on average: {} chunks",
            lengths.len()
        );
    }
}
