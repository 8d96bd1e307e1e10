//! The engine's event queue, ordered by (time, scheduling order) — the same order as any
//! correct priority queue, because ties are broken by a unique sequence, so the choice of
//! structure changes speed, never results. Requests' hops and services (arrivals, ends of
//! service, answers) go to a 4-ary heap, half as deep as a binary one with its four children
//! side by side in memory; an event scheduled earlier than everything in it (the next hop of
//! the request being handled, often) waits in a one-event slot instead and skips the heap.
//! The rest (new requests, completions, autoscaler syncs, samples, changes) go to a second,
//! small heap: there are only as many as generators, timers and answers on their last hop.
//!
//! Tried and measured slower: a radix heap over the time's bits (a monotone queue, results
//! identical) ran 7–10 % fewer instructions (callgrind: exp2, what-if on 1,008 workloads) but
//! took 9 % more CPU time on exp2 on this machine; a radix heap over quarter-millisecond cells
//! with a small heap for the current cell ran more instructions than this.

/// One scheduled event, 24 bytes: the queue moves these around more than anything else.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ev {
    pub t: f64,
    /// Scheduling order (ties pop first-in first-out) in the high 56 bits, kind in the low 8.
    pub key: u64,
    pub a: u32,
    pub b: u32,
}

impl Ev {
    /// The sort key: time then scheduling order. Times are ≥ +0.0, whose bit patterns order as
    /// the numbers do, so one integer comparison does.
    #[inline(always)]
    fn rank(&self) -> u128 {
        ((self.t.to_bits() as u128) << 64) | self.key as u128
    }
}

/// A 4-ary min-heap of events.
#[derive(Default)]
struct Heap {
    v: Vec<Ev>,
}

impl Heap {
    #[inline(always)]
    fn top(&self) -> Option<u128> {
        self.v.first().map(Ev::rank)
    }

    #[inline(always)]
    fn push(&mut self, e: Ev) {
        let r = e.rank();
        let mut i = self.v.len();
        self.v.push(e);
        let v = self.v.as_mut_ptr();
        // SAFETY: i < len and every parent index is below i.
        unsafe {
            while i > 0 {
                let p = (i - 1) / 4;
                if (*v.add(p)).rank() <= r {
                    break;
                }
                *v.add(i) = *v.add(p);
                i = p;
            }
            *v.add(i) = e;
        }
    }

    /// Bottom-up: the hole left at the root goes down the smallest children to a leaf (three
    /// comparisons a level, none against the moved element), then the last element rises from
    /// there — usually not at all, since it was scheduled late.
    #[inline(always)]
    fn pop(&mut self) -> Option<Ev> {
        let last = self.v.pop()?;
        let n = self.v.len();
        if n == 0 {
            return Some(last);
        }
        let v = self.v.as_mut_ptr();
        // SAFETY: every index read or written is checked below `n`, the length.
        unsafe {
            let top = *v;
            let mut i = 0;
            loop {
                let c = 4 * i + 1;
                let m = if c + 3 < n {
                    let (r0, r1, r2, r3) = (
                        (*v.add(c)).rank(),
                        (*v.add(c + 1)).rank(),
                        (*v.add(c + 2)).rank(),
                        (*v.add(c + 3)).rank(),
                    );
                    let (a, ra) = if r1 < r0 { (c + 1, r1) } else { (c, r0) };
                    let (b, rb) = if r3 < r2 { (c + 3, r3) } else { (c + 2, r2) };
                    if rb < ra { b } else { a }
                } else if c < n {
                    let mut m = c;
                    let mut mr = (*v.add(c)).rank();
                    for k in c + 1..n {
                        let kr = (*v.add(k)).rank();
                        if kr < mr {
                            m = k;
                            mr = kr;
                        }
                    }
                    m
                } else {
                    break;
                };
                *v.add(i) = *v.add(m);
                i = m;
            }
            let r = last.rank();
            while i > 0 {
                let p = (i - 1) / 4;
                if (*v.add(p)).rank() <= r {
                    break;
                }
                *v.add(i) = *v.add(p);
                i = p;
            }
            *v.add(i) = last;
            Some(top)
        }
    }
}

#[derive(Default)]
pub(super) struct EventQueue {
    main: Heap,
    /// Earlier than everything in `main` when set.
    next: Option<Ev>,
    side: Heap,
}

impl EventQueue {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.main.v.len() + self.side.v.len() + self.next.is_some() as usize
    }

    #[cfg(test)]
    fn push_ev(&mut self, e: Ev, side: bool) {
        self.push(e.t, e.key, e.a, e.b, side)
    }

    /// Fields rather than an `Ev`: a 24-byte argument goes through memory, and reading it back
    /// whole right after it was written field by field stalls the store buffer.
    #[inline(always)]
    pub(crate) fn push(&mut self, t: f64, key: u64, a: u32, b: u32, side: bool) {
        // -0.0 + 0.0 is +0.0: keeps the bit order equal to the numeric order.
        let e = Ev { t: t + 0.0, key, a, b };
        debug_assert!(e.t >= 0.0, "event scheduled at {}", e.t);
        if side {
            self.side.push(e);
            return;
        }
        let r = e.rank();
        match self.next {
            None if self.main.top().is_none_or(|m| r < m) => self.next = Some(e),
            Some(n) if r < n.rank() => {
                self.main.push(n);
                self.next = Some(e);
            }
            _ => self.main.push(e),
        }
    }

    /// The earliest event.
    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Option<Ev> {
        let m = match &self.next {
            Some(n) => Some(n.rank()),
            None => self.main.top(),
        };
        match (m, self.side.top()) {
            (Some(m), Some(s)) if s < m => self.side.pop(),
            (Some(_), _) => self.next.take().or_else(|| self.main.pop()),
            (None, _) => self.side.pop(),
        }
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
        let mut all = Vec::new();
        let mut seq = 0u64;
        // Interleaved pushes and pops, with many ties (times on a coarse grid).
        for round in 0..2000 {
            for _ in 0..rng.random_range(0..4) {
                seq += 1;
                let e = Ev {
                    t: (rng.random_range(0..50) as f64) * 0.5 + round as f64,
                    key: seq << 8,
                    a: 0,
                    b: 0,
                };
                q.push_ev(e, rng.random_bool(0.3));
                all.push(e);
            }
            if rng.random_bool(0.6) && !all.is_empty() {
                all.sort_by(|x, y| x.t.total_cmp(&y.t).then(x.key.cmp(&y.key)));
                let want = all.remove(0);
                let got = q.pop().unwrap();
                assert_eq!((got.t, got.key), (want.t, want.key));
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
        q.push(1.0, 1 << 8, 1, 0, false);
        q.push(-0.0, 2 << 8, 2, 0, true);
        assert_eq!(q.pop().unwrap().a, 2);
    }
}
