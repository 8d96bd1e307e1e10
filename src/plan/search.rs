//! The descent of the placement search, shared by the optimizer and incremental re-placement.
//! Its main neighbourhood is the two-server split (`pairs`): every pair of servers whose
//! contents changed is split again best. A workload on a server with too many workloads for
//! that, or with dependencies (for moves across three servers), is also looked at through the
//! moves of `moves`. Every move's cost change is computed incrementally; an improving one is
//! committed only if the score (cost plus missed deadlines) improves too. Effort is counted in
//! evaluated moves, never in time, so a seed gives the same placement anywhere.

use super::pairs::{PairScratch, best_split};
use super::state::State;
use rand::RngExt;
use rand::rngs::SmallRng;
use std::collections::VecDeque;

/// A change smaller than this is no improvement (keeps the descent from cycling on rounding).
pub(super) const EPS: f64 = 1e-12;
/// Above this many servers a workload looks at a sample of servers (plus its dependencies'
/// racks) instead of all of them.
pub(super) const FULL_SCAN_SERVERS: usize = 256;
pub(super) const SAMPLE_SERVERS: usize = 48;

pub(crate) struct Search<'s, 'a> {
    pub st: &'s mut State<'a>,
    pub rng: SmallRng,
    /// Moves evaluated so far, and the most the search may evaluate.
    pub evals: usize,
    pub budget: usize,
    /// Workloads the search may move (the others stay and count).
    pub movable: Vec<bool>,
    /// Every workload may move: then pair splits cover all moves between two small servers.
    all_movable: bool,
    /// The dependency component of each workload, and each component's workloads.
    pub comp_of: Vec<usize>,
    pub comps: Vec<Vec<usize>>,
    pub(super) queue: VecDeque<usize>,
    /// Per pair of servers (a < b): both servers' stamps when the pair was last split best.
    pub(super) pair_seen: Vec<(u64, u64)>,
    pub pair_scratch: PairScratch,
    pub(super) queued: Vec<bool>,
    pub(super) cands: Vec<usize>,
}

/// Workloads and the servers they go to, applied in order.
pub(super) type Moves = Vec<(usize, Option<usize>)>;

impl<'s, 'a> Search<'s, 'a> {
    pub(crate) fn new(st: &'s mut State<'a>, rng: SmallRng, budget: usize, movable: Vec<bool>) -> Self {
        let (comp_of, comps) = components(st.adj);
        let m = st.p.workloads.len();
        let all_movable = movable.iter().all(|&x| x);
        Search {
            st,
            rng,
            evals: 0,
            budget,
            movable,
            all_movable,
            comp_of,
            comps,
            queue: VecDeque::new(),
            pair_seen: Vec::new(),
            pair_scratch: PairScratch::default(),
            queued: vec![false; m],
            cands: Vec::new(),
        }
    }

    pub(crate) fn exhausted(&self) -> bool {
        self.evals >= self.budget
    }

    /// Local search until no move improves or the budget is spent: every movable workload is
    /// looked at once, and again whenever a move touches its server or a dependency.
    pub(crate) fn descend(&mut self) {
        let m = self.st.p.workloads.len();
        let mut order: Vec<usize> = (0..m).filter(|&j| self.movable[j]).collect();
        shuffle(&mut order, &mut self.rng);
        for j in order {
            self.enqueue(j);
        }
        self.local();
    }

    /// Every pair of open servers whose contents or surroundings changed since it was last
    /// looked at, split again best; until no pair improves or the budget is spent. On a large
    /// problem each server is paired with a sample of others instead of all.
    pub(crate) fn pair_sweep(&mut self) -> bool {
        let n = self.st.p.servers.len();
        let full = n <= FULL_SCAN_SERVERS;
        if full && self.pair_seen.len() != n * n {
            self.pair_seen = vec![(u64::MAX, u64::MAX); n * n];
        }
        let mut any = false;
        loop {
            let mut improved = false;
            for a in 0..n {
                if self.st.p.servers[a].cordoned {
                    continue;
                }
                let others: Vec<usize> = if full {
                    (a + 1..n).collect()
                } else {
                    let mut c: Vec<usize> =
                        (0..SAMPLE_SERVERS).map(|_| self.rng.random_range(0..n)).collect();
                    c.retain(|&b| b != a);
                    c
                };
                for b in others {
                    if self.exhausted() {
                        return any;
                    }
                    if self.st.p.servers[b].cordoned {
                        continue;
                    }
                    let (x, y) = (a.min(b), a.max(b));
                    let stamps = (self.st.stamp[x], self.st.stamp[y]);
                    if full && self.pair_seen[x * n + y] == stamps {
                        continue;
                    }
                    let k = self.st.members[a].len() + self.st.members[b].len();
                    if k == 0 || k > super::pairs::MAX_ITEMS {
                        continue;
                    }
                    if self.st.members[a].iter().chain(&self.st.members[b]).any(|&j| !self.movable[j]) {
                        // Looked at: nothing to split (else `local` would see it dirty forever).
                        if full {
                            self.pair_seen[x * n + y] = stamps;
                        }
                        continue;
                    }
                    self.evals += 1 << k;
                    let found = best_split(self.st, a, b, EPS, &mut self.pair_scratch);
                    if full {
                        self.pair_seen[x * n + y] = stamps;
                    }
                    if let Some((_, moves)) = found {
                        let moves: Moves = moves.into_iter().map(|(j, s)| (j, Some(s))).collect();
                        if self.commit(&moves) {
                            improved = true;
                            any = true;
                        }
                    }
                }
            }
            if !improved {
                return any;
            }
        }
    }

    /// For each server with a workload that misses its deadline: the best split of it with any
    /// other server (the best, not the first that meets the deadline: the descent after it does
    /// not undo a costly repair).
    pub(crate) fn repair_pairs(&mut self) {
        if !self.st.dl.active || self.st.dl.misses == 0 {
            return;
        }
        let n = self.st.p.servers.len();
        let mut servers: Vec<usize> = (0..self.st.p.workloads.len())
            .filter(|&j| self.st.dl.is_missed(j))
            .filter_map(|j| self.st.assign[j])
            .collect();
        servers.sort_unstable();
        servers.dedup();
        for a in servers {
            if self.st.p.servers[a].cordoned || self.st.members[a].iter().any(|&j| !self.movable[j]) {
                continue;
            }
            let mut best: Option<(f64, Vec<(usize, usize)>)> = None;
            for b in 0..n {
                let k = self.st.members[a].len() + self.st.members[b].len();
                if b == a
                    || self.st.p.servers[b].cordoned
                    || k > super::pairs::MAX_ITEMS
                    || self.st.members[b].iter().any(|&j| !self.movable[j])
                {
                    continue;
                }
                self.evals += 1 << k;
                if let Some((d, moves)) = best_split(self.st, a, b, EPS, &mut self.pair_scratch)
                    && best.as_ref().is_none_or(|x| d < x.0)
                {
                    best = Some((d, moves));
                }
            }
            if let Some((_, moves)) = best {
                let moves: Moves = moves.into_iter().map(|(j, s)| (j, Some(s))).collect();
                self.commit(&moves);
            }
        }
    }

    /// Pair sweeps and the queued workloads' own moves, until neither improves.
    pub(crate) fn local(&mut self) {
        self.repair_pairs();
        loop {
            self.pair_sweep();
            self.drain();
            if self.exhausted() || !self.pair_dirty() {
                return;
            }
        }
    }

    /// Forgets that the pairs with these servers were looked at.
    pub(crate) fn forget_pairs(&mut self, servers: &[usize]) {
        let n = self.st.p.servers.len();
        if self.pair_seen.len() != n * n {
            return;
        }
        for &s in servers {
            for o in 0..n {
                let (x, y) = (s.min(o), s.max(o));
                self.pair_seen[x * n + y] = (u64::MAX, u64::MAX);
            }
        }
    }

    fn pair_dirty(&self) -> bool {
        let n = self.st.p.servers.len();
        if self.pair_seen.len() != n * n {
            return false;
        }
        let open = |s: usize| !self.st.p.servers[s].cordoned;
        (0..n).filter(|&a| open(a)).any(|a| {
            (a + 1..n).any(|b| {
                open(b)
                    && self.pair_seen[a * n + b] != (self.st.stamp[a], self.st.stamp[b])
                    && (1..=super::pairs::MAX_ITEMS)
                        .contains(&(self.st.members[a].len() + self.st.members[b].len()))
            })
        })
    }

    /// Looks again at the workloads of these servers and their dependencies.
    pub(crate) fn touch_servers(&mut self, servers: &[usize]) {
        for &s in servers {
            for i in 0..self.st.members[s].len() {
                let j = self.st.members[s][i];
                self.enqueue(j);
            }
        }
    }

    pub(crate) fn drain(&mut self) {
        while let Some(j) = self.queue.pop_front() {
            self.queued[j] = false;
            if self.exhausted() {
                self.queue.clear();
                self.queued.iter_mut().for_each(|q| *q = false);
                return;
            }
            if self.st.dl.is_missed(j) {
                self.repair(j);
            }
            // Pairs cover every move between two servers that hold few enough workloads (when
            // no workload is pinned: a pair holding a pinned one is not split).
            let covered = self.all_movable
                && self.st.p.servers.len() <= FULL_SCAN_SERVERS
                && self.st.assign[j].is_some_and(|a| 2 * self.st.members[a].len() <= super::pairs::MAX_ITEMS);
            if covered {
                let _ = self.try_pull(j) || self.try_component(j);
            } else {
                let _ = self.try_relocate(j)
                    || self.try_swap(j)
                    || self.try_pull(j)
                    || self.try_group(j)
                    || self.try_component(j)
                    || self.try_server_swap(j);
            }
        }
    }

    pub(super) fn enqueue(&mut self, j: usize) {
        if self.movable[j] && !self.queued[j] {
            self.queued[j] = true;
            self.queue.push_back(j);
        }
    }

    /// Applies `moves` (workload, server); keeps them if the score improves, else undoes them.
    /// Whatever it keeps, it queues the touched workloads again.
    pub(crate) fn commit(&mut self, moves: &[(usize, Option<usize>)]) -> bool {
        let before = self.st.score();
        let mut undo: Vec<(usize, Option<usize>)> = Vec::with_capacity(moves.len());
        for &(j, to) in moves {
            undo.push((j, self.st.assign[j]));
            self.st.apply(j, to);
        }
        self.evals += moves.len();
        if self.st.score() < before - EPS {
            for &(j, from) in &undo {
                let to = self.st.assign[j];
                self.touch_servers(&[from, to].into_iter().flatten().collect::<Vec<_>>());
                for i in 0..self.st.adj[j].len() {
                    let k = self.st.adj[j][i].0;
                    self.enqueue(k);
                }
            }
            return true;
        }
        for &(j, from) in undo.iter().rev() {
            self.st.apply(j, from);
        }
        false
    }
}

/// Connected components of the dependency graph.
pub(crate) fn components(adj: &[Vec<(usize, f64)>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let m = adj.len();
    let mut comp_of = vec![usize::MAX; m];
    let mut comps: Vec<Vec<usize>> = Vec::new();
    for start in 0..m {
        if comp_of[start] != usize::MAX {
            continue;
        }
        let c = comps.len();
        let mut members = vec![start];
        comp_of[start] = c;
        let mut i = 0;
        while i < members.len() {
            for &(k, _) in &adj[members[i]] {
                if comp_of[k] == usize::MAX {
                    comp_of[k] = c;
                    members.push(k);
                }
            }
            i += 1;
        }
        comps.push(members);
    }
    (comp_of, comps)
}

pub(crate) fn shuffle<T>(v: &mut [T], rng: &mut SmallRng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}
