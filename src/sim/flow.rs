//! A request's life in the engine: created by a generator, sent to a pod of its first
//! service, queued and served, calling the next services of its workflow, answered back
//! hop by hop, and completed (or dropped or failed, freeing whatever workers it held).

use super::engine::{Kind, NONE, PodState, Req, SimError, World, next_arrival};
use super::rv::unit;

impl World<'_> {
    #[inline]
    pub(super) fn on_gen(&mut self, g: u32) -> Result<(), SimError> {
        let now = self.now;
        let (wf, origin) = {
            let g_ = &mut self.gens[g as usize];
            g_.remaining -= 1;
            (g_.wf, g_.origin)
        };
        self.new_request(wf, origin)?;
        let g_ = &mut self.gens[g as usize];
        let next = if g_.remaining == 0 { None } else { next_arrival(g_, now) };
        match next {
            Some(t) if t < g_.stop => self.push(t, Kind::Gen, g, 0),
            _ => {
                g_.done = true;
                self.active_gens -= 1;
            }
        }
        Ok(())
    }

    #[inline]
    pub(super) fn new_request(&mut self, wf: u32, origin: u32) -> Result<(), SimError> {
        let cap = self.sc.limits.max_in_flight;
        if self.in_flight >= cap {
            return Err(SimError::InFlightCap { max_in_flight: cap, at_s: self.now / 1000.0 });
        }
        self.requests += 1;
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.reqs.push(Req {
                    t0: 0.0,
                    at: 0.0,
                    wf: 0,
                    generation: 0,
                    origin: NONE,
                    step: 0,
                    serving: false,
                    counted: false,
                });
                self.r_pods.extend(std::iter::repeat_n(NONE, self.stride));
                (self.reqs.len() - 1) as u32
            }
        };
        let i = slot as usize;
        let root = self.workflows[wf as usize].root;
        let r = &mut self.reqs[i];
        *r = Req {
            t0: self.now,
            at: 0.0,
            wf,
            generation: r.generation,
            origin,
            step: root,
            serving: false,
            counted: self.now >= self.warmup_ms,
        };
        self.in_flight_change(true);
        let svc = self.steps[root as usize].service;
        match self.pick(svc, origin) {
            Some(p) => {
                self.set_pod(slot, root, p);
                let bytes = self.workflows[wf as usize].req_bytes;
                let d = self.hop(origin, self.pods[p as usize].server, bytes);
                let g_ = self.reqs[i].generation;
                self.push(self.now + d, Kind::Arrive, slot, g_);
            }
            None => {
                self.services[svc as usize].no_endpoint += 1;
                self.abort(slot, NONE);
            }
        }
        Ok(())
    }

    /// Ends a request that will not complete; frees the workers it holds from `holder` up.
    pub(super) fn abort(&mut self, slot: u32, holder: u32) {
        let wf = self.reqs[slot as usize].wf as usize;
        if self.workflows[wf].hold {
            let mut s = holder;
            while s != NONE {
                let p = self.pod_of(slot, s);
                if p != NONE && self.pods[p as usize].state != PodState::Dead {
                    self.release(p);
                }
                s = self.steps[s as usize].parent;
            }
        }
        self.aborted += 1;
        self.sojourn_sum += self.now - self.reqs[slot as usize].t0;
        if self.reqs[slot as usize].counted {
            self.counted_drops += 1;
        }
        self.free_slot(slot);
    }

    #[inline]
    pub(super) fn free_slot(&mut self, slot: u32) {
        let i = slot as usize;
        self.reqs[i].generation = self.reqs[i].generation.wrapping_add(1);
        self.reqs[i].serving = false;
        for k in 0..self.stride {
            self.r_pods[i * self.stride + k] = NONE;
        }
        self.free.push(slot);
        self.in_flight_change(false);
    }

    #[inline]
    pub(super) fn on_arrive(&mut self, slot: u32) {
        let i = slot as usize;
        let step = self.reqs[i].step;
        let parent = self.steps[step as usize].parent;
        let p = self.pod_of(slot, step);
        let svc = self.steps[step as usize].service as usize;
        let now = self.now;
        let pod = &mut self.pods[p as usize];
        if matches!(pod.state, PodState::Dead | PodState::Pending) {
            self.services[svc].failed += 1;
            self.abort(slot, parent);
            return;
        }
        self.reqs[i].at = now;
        if pod.direct {
            self.arrive_direct(p, slot, step);
            return;
        }
        if pod.busy < pod.par {
            pod.touch(now);
            pod.busy += 1;
            self.start_service(p, slot);
        } else if pod.queue.len() < self.services[svc].max_queue as usize {
            pod.queue.push_back(slot);
        } else {
            pod.outstanding -= 1;
            self.services[svc].queue_full += 1;
            self.abort(slot, parent);
            self.maybe_gone(p);
        }
    }

    /// The worker is already counted busy.
    #[inline]
    pub(super) fn start_service(&mut self, p: u32, slot: u32) {
        let pod = &mut self.pods[p as usize];
        let svc = &mut self.services[pod.service as usize];
        let st = svc.sampler.sample(&mut pod.rng) * pod.inv_speed;
        if self.reqs[slot as usize].counted {
            svc.wait_sum += self.now - self.reqs[slot as usize].at;
        }
        self.reqs[slot as usize].serving = true;
        let g_ = self.reqs[slot as usize].generation;
        self.push(self.now + st, Kind::Done, slot, g_);
    }

    /// A worker of pod `p` is done with its request: the next queued request starts.
    #[inline]
    pub(super) fn release(&mut self, p: u32) {
        let now = self.now;
        let pod = &mut self.pods[p as usize];
        pod.touch(now);
        pod.outstanding -= 1;
        if let Some(next) = pod.queue.pop_front() {
            self.start_service(p, next);
        } else {
            pod.busy -= 1;
            self.maybe_gone(p);
        }
    }

    /// A terminating pod goes once nothing is left for it.
    #[inline]
    pub(super) fn maybe_gone(&mut self, p: u32) {
        let pod = &self.pods[p as usize];
        if pod.direct {
            if pod.state == PodState::Terminating {
                self.direct_maybe_gone(p);
            }
            return;
        }
        if pod.state == PodState::Terminating && pod.outstanding == 0 && pod.busy == 0 {
            self.pod_gone(p);
        }
    }

    #[inline]
    pub(super) fn on_done(&mut self, slot: u32) {
        let i = slot as usize;
        let step = self.reqs[i].step;
        let p = self.pod_of(slot, step);
        let st = self.steps[step as usize];
        if self.pods[p as usize].direct {
            // Served and committed on its own (`settle`); only the next call is left.
            let child = self.next_call(p, st.first_child);
            if child != NONE {
                self.call(slot, step, child);
            } else {
                self.go_back(slot, step);
            }
            return;
        }
        let svc = &mut self.services[st.service as usize];
        let ttp = self.now - self.reqs[i].at;
        svc.served += 1;
        svc.win_sum += ttp;
        svc.win_n += 1;
        if self.reqs[i].counted {
            svc.ttp.record(ttp);
        }
        self.reqs[i].serving = false;
        let wf = self.reqs[i].wf as usize;
        let hold = self.workflows[wf].hold;
        let child = self.next_call(p, st.first_child);
        if !(hold && child != NONE) {
            self.release(p);
        }
        if child != NONE {
            self.call(slot, step, child);
        } else {
            self.go_back(slot, step);
        }
    }

    /// The first call to make among `first` and its later siblings (each drawn with its
    /// probability from the caller's stream).
    #[inline]
    pub(super) fn next_call(&mut self, caller: u32, first: u32) -> u32 {
        let mut c = first;
        while c != NONE {
            let s = self.steps[c as usize];
            if s.prob >= 1.0 || unit(&mut self.pods[caller as usize].rng) < s.prob {
                return c;
            }
            c = s.next_sibling;
        }
        NONE
    }

    /// The request at `from` calls step `to`.
    #[inline]
    pub(super) fn call(&mut self, slot: u32, from: u32, to: u32) {
        let caller = self.pod_of(slot, from);
        let svc = self.steps[to as usize].service;
        let from_ep = self.pods[caller as usize].server;
        match self.pick(svc, from_ep) {
            Some(p) => {
                self.set_pod(slot, to, p);
                self.reqs[slot as usize].step = to;
                let bytes = self.workflows[self.reqs[slot as usize].wf as usize].req_bytes;
                let d = self.hop(from_ep, self.pods[p as usize].server, bytes);
                let g_ = self.reqs[slot as usize].generation;
                self.push(self.now + d, Kind::Arrive, slot, g_);
            }
            None => {
                self.services[svc as usize].no_endpoint += 1;
                self.abort(slot, from);
            }
        }
    }

    /// The answer of step `from` travels back; hops through callers with nothing left to do
    /// are folded into one event.
    #[inline]
    pub(super) fn go_back(&mut self, slot: u32, from: u32) {
        self.go_back_at(slot, from, self.now)
    }

    /// `go_back` for an answer that leaves at `t0` (a direct pod's finish, known earlier).
    #[inline]
    pub(super) fn go_back_at(&mut self, slot: u32, from: u32, t0: f64) {
        let i = slot as usize;
        let wf = self.reqs[i].wf as usize;
        let hold = self.workflows[wf].hold;
        let bytes = self.workflows[wf].resp_bytes;
        let mut cur = from;
        let mut delay = 0.0;
        loop {
            let st = self.steps[cur as usize];
            let ep = self.pods[self.pod_of(slot, cur) as usize].server;
            if st.parent == NONE {
                delay += self.hop(ep, self.reqs[i].origin, bytes);
                let g_ = self.reqs[i].generation;
                self.push(t0 + delay, Kind::Complete, slot, g_);
                return;
            }
            let pep = self.pods[self.pod_of(slot, st.parent) as usize].server;
            delay += self.hop(ep, pep, bytes);
            if hold || st.next_sibling != NONE {
                self.reqs[i].step = cur;
                let g_ = self.reqs[i].generation;
                self.push(t0 + delay, Kind::Return, slot, g_);
                return;
            }
            cur = st.parent;
        }
    }

    #[inline]
    pub(super) fn on_return(&mut self, slot: u32) {
        let i = slot as usize;
        let cur = self.reqs[i].step;
        let st = self.steps[cur as usize];
        let par = st.parent;
        let pp = self.pod_of(slot, par);
        let wf = self.reqs[i].wf as usize;
        let hold = self.workflows[wf].hold;
        if self.pods[pp as usize].state == PodState::Dead {
            let svc = self.steps[par as usize].service as usize;
            self.services[svc].failed += 1;
            self.abort(slot, self.steps[par as usize].parent);
            return;
        }
        let sib = self.next_call(pp, st.next_sibling);
        if sib != NONE {
            self.call(slot, par, sib);
        } else {
            if hold {
                self.release(pp);
            }
            self.go_back(slot, par);
        }
    }

    #[inline]
    pub(super) fn on_complete(&mut self, slot: u32) {
        let i = slot as usize;
        let ttr = self.now - self.reqs[i].t0;
        self.completed += 1;
        self.sojourn_sum += ttr;
        if self.reqs[i].counted {
            self.ttr.record(ttr);
            self.ttr_win.record(ttr);
            if ttr > self.slo_target {
                self.slo_over += 1;
            }
        }
        self.free_slot(slot);
    }
}
