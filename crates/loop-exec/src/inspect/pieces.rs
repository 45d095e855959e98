//! `Pieces`: where a snapshot is written, outside the heap.
//!
//! A snapshot of 10,000 tasks is about 1.5 MB, written on the loop's thread
//! and freed by the endpoint's. From the heap, that memory stayed with the
//! process after the answer: glibc does not shrink a thread's heap below a
//! trim threshold that it raises whenever the program frees a large block
//! (measured: +0.8 MB after the first `ps` of 10,000 tasks, and
//! `malloc_trim` does not return a thread heap's top). Written into
//! anonymous mappings instead, each unmapped when the answer has been sent,
//! the process's memory is the same after an inspection as before.

use memmap2::MmapMut;

/// The size of one mapping (its pages are only touched as they are
/// written).
const PIECE: usize = 256 * 1024;

/// One piece: a mapping, or heap memory if mapping failed.
enum Buf {
    Map(MmapMut),
    Heap(Vec<u8>),
}

/// Text written in pieces of `PIECE` bytes at most.
#[derive(Default)]
pub(crate) struct Pieces {
    /// Full pieces, and the one being written, with its length.
    bufs: Vec<(Buf, usize)>,
}

impl Pieces {
    /// Appends `s`.
    pub(crate) fn push_str(&mut self, mut s: &str) {
        while !s.is_empty() {
            let room = self.bufs.last().map_or(0, |(buf, len)| capacity(buf) - len);
            if room == 0 {
                let buf = MmapMut::map_anon(PIECE).map_or_else(|_| Buf::Heap(vec![0; PIECE]), Buf::Map);
                self.bufs.push((buf, 0));
                continue;
            }
            let n = room.min(s.len());
            let (buf, len) = self.bufs.last_mut().expect("made above");
            let bytes = match buf {
                Buf::Map(m) => &mut m[*len..*len + n],
                Buf::Heap(v) => &mut v[*len..*len + n],
            };
            bytes.copy_from_slice(&s.as_bytes()[..n]);
            *len += n;
            s = &s[n..];
        }
    }

    /// The bytes written, piece by piece.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.bufs.iter().map(|(buf, len)| match buf {
            Buf::Map(m) => &m[..*len],
            Buf::Heap(v) => &v[..*len],
        })
    }

    /// Appends what `other` holds (its pieces as they are).
    pub(crate) fn append(&mut self, other: Pieces) {
        self.bufs.extend(other.bufs);
    }
}

fn capacity(buf: &Buf) -> usize {
    match buf {
        Buf::Map(m) => m.len(),
        Buf::Heap(v) => v.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "Miri has no mmap of its own memory to hand back (memmap2)")]
    fn text_across_pieces_comes_back_whole() {
        let mut pieces = Pieces::default();
        let line = "0123456789abcdef".repeat(1000);
        for _ in 0..40 {
            pieces.push_str(&line);
        }
        let mut other = Pieces::default();
        other.push_str("tail");
        pieces.append(other);
        let all: Vec<u8> = pieces.chunks().flatten().copied().collect();
        assert_eq!(all.len(), 40 * line.len() + 4);
        assert!(all.starts_with(line.as_bytes()) && all.ends_with(b"ftail"));
        assert!(pieces.chunks().all(|c| c.len() <= PIECE));
    }
}
