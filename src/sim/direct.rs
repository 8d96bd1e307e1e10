//! Direct pods: pods of a service whose requests free their worker the moment they are served
//! (no caller holds a worker of it while its callees answer). For such a FIFO G/G/n queue a
//! request's start and finish are known when it arrives — it takes the earliest free worker
//! (Kiefer–Wolfowitz) — so the arrival schedules the request's next step at once: a leaf's
//! answer travels back in the same event, and no event marks the end of service. What the end
//! of service changes (served counts, time to process, busy time, outstanding requests) is
//! committed lazily, before anything reads it (`settle`): the autoscaler, the samples, a
//! balancer that counts outstanding requests, a crash, a terminating pod, the outputs.

use super::engine::{Kind, NONE, PodState, World};
use std::collections::VecDeque;

/// A request a direct pod has accepted and not yet committed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dep {
    pub fin: f64,
    pub start: f64,
    pub arr: f64,
    pub slot: u32,
    /// The step whose workers the request holds above this one (for `abort`).
    pub holder: u32,
    pub counted: bool,
}

/// When each busy worker is free again: a binary min-heap of f64 bits (times are ≥ +0.0, so
/// their bits order as the numbers do). Mostly one or two entries.
#[derive(Default)]
struct FreeAt(Vec<u64>);

impl FreeAt {
    #[inline]
    fn min(&self) -> Option<f64> {
        self.0.first().map(|&b| f64::from_bits(b))
    }

    #[inline]
    fn push(&mut self, t: f64) {
        let v = &mut self.0;
        let x = (t + 0.0).to_bits();
        let mut i = v.len();
        v.push(x);
        while i > 0 {
            let p = (i - 1) / 2;
            if v[p] <= x {
                break;
            }
            v[i] = v[p];
            i = p;
        }
        v[i] = x;
    }

    #[inline]
    fn pop(&mut self) -> f64 {
        let v = &mut self.0;
        let top = v[0];
        let last = v.pop().expect("not empty");
        let n = v.len();
        if n > 0 {
            let mut i = 0;
            loop {
                let c = 2 * i + 1;
                if c >= n {
                    break;
                }
                let m = if c + 1 < n && v[c + 1] < v[c] { c + 1 } else { c };
                if v[m] >= last {
                    break;
                }
                v[i] = v[m];
                i = m;
            }
            v[i] = last;
        }
        f64::from_bits(top)
    }
}

/// A direct pod's queue.
#[derive(Default)]
pub(super) struct DirectQ {
    free_at: FreeAt,
    /// Start times of the requests that had to wait (non-decreasing: FIFO).
    waiting: VecDeque<f64>,
    /// Accepted requests not yet committed, in arrival (and start) order. With one worker they
    /// also finish in this order; with several a later one may finish first and wait here
    /// until `settle` scans for it.
    deps: VecDeque<Dep>,
}

impl DirectQ {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.free_at.0.len() + self.waiting.len() + self.deps.len()
    }

    pub(crate) fn clear(&mut self) -> Vec<Dep> {
        self.free_at.0.clear();
        self.waiting.clear();
        std::mem::take(&mut self.deps).into()
    }
}

impl World<'_> {
    /// A request arrives at direct pod `p` at step `step` (the pod is alive and ready or
    /// terminating): queued or dropped by the same rule as any pod, its finish computed now.
    #[inline]
    pub(super) fn arrive_direct(&mut self, p: u32, slot: u32, step: u32) {
        let now = self.now;
        // Only the front: enough to keep the list short; readers call `settle`.
        while self.pods[p as usize].dq.deps.front().is_some_and(|d| d.fin <= now) {
            let d = self.pods[p as usize].dq.deps.pop_front().expect("peeked");
            self.commit(p, d);
        }
        let st = self.steps[step as usize];
        let svc = st.service as usize;
        let max_queue = self.services[svc].max_queue as usize;
        let pod = &mut self.pods[p as usize];
        let q = &mut pod.dq;
        while q.free_at.min().is_some_and(|f| f <= now) {
            q.free_at.pop();
        }
        while q.waiting.front().is_some_and(|&s| s <= now) {
            q.waiting.pop_front();
        }
        let start = if (q.free_at.0.len() as u32) < pod.par {
            now
        } else if q.waiting.len() < max_queue {
            let s = q.free_at.pop();
            q.waiting.push_back(s);
            s
        } else {
            pod.outstanding -= 1;
            self.services[svc].queue_full += 1;
            self.abort(slot, st.parent);
            self.maybe_gone(p);
            return;
        };
        let s = &self.services[svc];
        let pod = &mut self.pods[p as usize];
        let fin = start + s.sampler.sample(&mut pod.rng) * pod.inv_speed;
        pod.dq.free_at.push(fin);
        let counted = self.reqs[slot as usize].counted;
        pod.dq.deps.push_back(Dep { fin, start, arr: now, slot, holder: st.parent, counted });
        if st.first_child == NONE {
            self.go_back_at(slot, step, fin);
        } else {
            let g_ = self.reqs[slot as usize].generation;
            self.push(fin, Kind::Done, slot, g_);
        }
        if self.pods[p as usize].state == PodState::Terminating {
            self.maybe_gone(p);
        }
    }

    /// Commits what pod `p` finished by `now` (a no-op for other pods).
    pub(super) fn settle(&mut self, p: u32, now: f64) {
        let deps = &mut self.pods[p as usize].dq.deps;
        if deps.iter().all(|d| d.fin > now) {
            return;
        }
        let mut done = Vec::new();
        deps.retain(|d| {
            let keep = d.fin > now;
            if !keep {
                done.push(*d);
            }
            keep
        });
        for d in done {
            self.commit(p, d);
        }
    }

    #[inline]
    fn commit(&mut self, p: u32, d: Dep) {
        let pod = &mut self.pods[p as usize];
        pod.area += d.fin - d.start;
        pod.outstanding -= 1;
        let s = &mut self.services[pod.service as usize];
        let ttp = d.fin - d.arr;
        s.served += 1;
        s.win_sum += ttp;
        s.win_n += 1;
        if d.counted {
            s.ttp.record(ttp);
            s.wait_sum += d.start - d.arr;
        }
    }

    /// ∫ busy workers dt of pod `p` up to `now`.
    pub(super) fn busy_area(&mut self, p: u32, now: f64) -> f64 {
        if !self.pods[p as usize].direct {
            let pod = &mut self.pods[p as usize];
            pod.touch(now);
            return pod.area;
        }
        self.settle(p, now);
        let pod = &self.pods[p as usize];
        pod.area + pod.dq.deps.iter().filter(|d| d.start < now).map(|d| now - d.start).sum::<f64>()
    }

    /// A terminating direct pod goes once it has nothing left: now, or when its last accepted
    /// request is served if none is still on its way to it (each arrival asks again).
    pub(super) fn direct_maybe_gone(&mut self, p: u32) {
        let now = self.now;
        self.settle(p, now);
        let pod = &self.pods[p as usize];
        if pod.state != PodState::Terminating {
            return;
        }
        if pod.outstanding == 0 {
            self.pod_gone(p);
        } else if pod.outstanding as usize == pod.dq.deps.len() {
            let last = pod.dq.deps.iter().map(|d| d.fin).fold(now, f64::max);
            self.push(last, Kind::PodGone, p, 0);
        }
    }

    pub(super) fn on_pod_gone_check(&mut self, p: u32) {
        if self.pods[p as usize].state == PodState::Terminating {
            self.direct_maybe_gone(p);
        }
    }

    /// A crashing direct pod's accepted requests not yet served: (slot, holder).
    pub(super) fn direct_crash_victims(&mut self, p: u32) -> Vec<(u32, u32)> {
        let now = self.now;
        self.settle(p, now);
        let v = self.pods[p as usize].dq.clear();
        v.into_iter().map(|d| (d.slot, d.holder)).collect()
    }
}

#[cfg(test)]
#[path = "direct_tests.rs"]
mod tests;
