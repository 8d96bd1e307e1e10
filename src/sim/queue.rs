//! The engine's event queue, ordered by (time, scheduling order) — the same order as any
//! correct priority queue, because ties are broken by a unique sequence, so the choice of
//! structure changes speed, never results.
//!
//! A radix heap over the bits of the time: the engine never schedules before the event it is
//! handling, so every key pushed is at least the last one popped (a monotone queue), and an
//! event only needs to know how far its time is from that last one — the highest bit in which
//! their bit patterns differ (times are ≥ +0.0, whose bit patterns order as the numbers do).
//! Bucket k holds the events that differ from it first at bit k − 1; bucket 0 the events at
//! exactly that time, in scheduling order. A push is an xor, a count of leading zeros and a
//! `Vec::push`; a pop takes bucket 0's next event or, when it is empty, empties the lowest
//! non-empty bucket into lower ones around its earliest event. An event moves down at most
//! 64 times over its life and, with times spread as a simulation's are, only a few: cheaper
//! than a heap's log n comparisons and swaps on every pop, and its moves are sequential.
//!
//! Ties: events at the same time are always in the same bucket (the bucket depends only on the
//! time and the last time popped), each bucket keeps the order it was filled in, and events
//! are pushed in scheduling order; so bucket 0 fills in scheduling order and pops from its
//! front.

/// One scheduled event, 24 bytes: the queue moves these around more than anything else.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ev {
    pub t: f64,
    /// Scheduling order (ties pop first-in first-out) in the high 56 bits, kind in the low 8.
    pub key: u64,
    pub a: u32,
    pub b: u32,
}

pub(super) struct EventQueue {
    /// Bits of the last time popped (+0.0 before the first pop).
    last: u64,
    /// Events at exactly `last`, in scheduling order, from `now[head]` on (a `Vec` and an
    /// index: cheaper than a ring buffer, and emptied whenever it has been read through).
    now: Vec<Ev>,
    head: usize,
    /// `buckets[k - 1]`: events whose time differs from `last` first at bit k − 1.
    buckets: [Vec<Ev>; 64],
    /// Bit k − 1 set: `buckets[k - 1]` is not empty.
    full: u64,
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue {
            last: 0,
            now: Vec::new(),
            head: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
            full: 0,
        }
    }
}

impl EventQueue {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.now.len() - self.head + self.buckets.iter().map(Vec::len).sum::<usize>()
    }

    /// Files an event by its distance from `last`; `e.t` is +0.0 or positive and not before it.
    #[inline(always)]
    fn file(&mut self, e: Ev) {
        let x = e.t.to_bits() ^ self.last;
        if x == 0 {
            self.now.push(e);
        } else {
            let k = 63 - x.leading_zeros() as usize;
            // SAFETY: k < 64.
            unsafe { self.buckets.get_unchecked_mut(k) }.push(e);
            self.full |= 1 << k;
        }
    }

    /// Fields rather than an `Ev`: a 24-byte argument goes through memory, and reading it back
    /// whole right after it was written field by field stalls the store buffer.
    #[inline(always)]
    pub(crate) fn push(&mut self, t: f64, key: u64, a: u32, b: u32) {
        // -0.0 + 0.0 is +0.0: keeps the bit order equal to the numeric order.
        let mut t = t + 0.0;
        debug_assert!(
            t >= 0.0 && t.to_bits() >= self.last,
            "event scheduled at {t} before the last one popped, {}",
            f64::from_bits(self.last)
        );
        // The engine never does; were it to, the event is due now rather than lost in a bucket
        // whose order it would break.
        if t.to_bits() < self.last {
            t = f64::from_bits(self.last);
        }
        self.file(Ev { t, key, a, b });
    }

    /// The earliest event.
    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Option<Ev> {
        if let Some(e) = self.next_now() {
            return Some(e);
        }
        if self.full == 0 {
            return None;
        }
        let k = self.full.trailing_zeros() as usize;
        self.full &= !(1 << k);
        // SAFETY: k < 64.
        let b = unsafe { self.buckets.get_unchecked_mut(k) };
        if b.len() == 1 {
            // The common case: the earliest event alone in its bucket.
            let e = b[0];
            b.clear();
            self.last = e.t.to_bits();
            return Some(e);
        }
        let mut v = std::mem::take(b);
        self.last = v.iter().fold(u64::MAX, |m, e| m.min(e.t.to_bits()));
        for e in &v {
            self.file(*e);
        }
        // Its events all went lower (they share bits ≥ k with the new `last`): keep its memory.
        v.clear();
        self.buckets[k] = v;
        self.next_now()
    }

    /// The next event at exactly `last`.
    #[inline(always)]
    fn next_now(&mut self) -> Option<Ev> {
        let e = *self.now.get(self.head)?;
        self.head += 1;
        if self.head == self.now.len() {
            self.now.clear();
            self.head = 0;
        }
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn pops_in_time_then_scheduling_order() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut q = EventQueue::default();
        let mut all: Vec<Ev> = Vec::new();
        let mut seq = 0u64;
        let mut now = 0.0;
        // Interleaved pushes and pops, never before the last event popped (as the engine
        // schedules), with many ties (times on a coarse grid), a few far ahead, and times that
        // cross powers of two.
        for round in 0..4000 {
            for _ in 0..rng.random_range(0..4) {
                seq += 1;
                let ahead = if rng.random_bool(0.05) {
                    rng.random_range(0..5000) as f64
                } else {
                    rng.random_range(0..8) as f64 * 0.25
                };
                let e = Ev { t: now + ahead, key: seq << 8, a: round, b: 0 };
                q.push(e.t, e.key, e.a, e.b);
                all.push(e);
            }
            if rng.random_bool(0.6) && !all.is_empty() {
                all.sort_by(|x, y| x.t.total_cmp(&y.t).then(x.key.cmp(&y.key)));
                let want = all.remove(0);
                let got = q.pop().unwrap();
                assert_eq!((got.t, got.key, got.a), (want.t, want.key, want.a));
                now = got.t;
            }
        }
        all.sort_by(|x, y| x.t.total_cmp(&y.t).then(x.key.cmp(&y.key)));
        let got: Vec<(f64, u64)> = std::iter::from_fn(|| q.pop()).map(|e| (e.t, e.key)).collect();
        let want: Vec<(f64, u64)> = all.iter().map(|e| (e.t, e.key)).collect();
        assert_eq!(got, want);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn negative_zero_sorts_as_zero() {
        let mut q = EventQueue::default();
        q.push(1.0, 1 << 8, 1, 0);
        q.push(-0.0, 2 << 8, 2, 0);
        q.push(0.0, 3 << 8, 3, 0);
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|e| e.a).collect();
        assert_eq!(order, vec![2, 3, 1]);
    }
}
