//! The cluster side of the engine: placing pods (filter by the scheduling rules of
//! `twin::scheduling` and residual CPU and memory, score by the scenario's policy), the
//! ReplicaSet loop that keeps each service at its desired count, readiness, graceful
//! termination, crashes and scheduled changes.

use super::engine::{Kind, NONE, PodRt, PodState, World};
use super::rv::{StreamKind, stream};
use super::scenario::SchedulerPolicy;

impl World<'_> {
    /// The best server for a pod of `svc`, if any has room.
    fn place(&self, svc: u32) -> Option<u32> {
        let s = &self.services[svc as usize];
        let policy = self.sc.scheduler.policy;
        let rules =
            self.rules.as_ref().filter(|r| r.constrained(svc as usize)).map(|r| r.for_pod(svc as usize));
        let mut best: Option<(f64, f64, u32)> = None;
        for (i, srv) in self.servers.iter().enumerate() {
            if !srv.alive || !srv.schedulable || s.allowed.get(i) == Some(&false) {
                continue;
            }
            if rules.as_ref().is_some_and(|r| r.check(i).is_err()) {
                continue;
            }
            let (rc, rm) = (srv.alloc_cpu - srv.used_cpu - s.cpu_m, srv.alloc_mem - srv.used_mem - s.mem_mib);
            if rc < -1e-9 || rm < -1e-9 {
                continue;
            }
            let frac = |r: f64, a: f64| if a > 0.0 { r / a } else { 0.0 };
            let free = (frac(rc, srv.alloc_cpu) + frac(rm, srv.alloc_mem)) / 2.0;
            // Lower is better on both keys.
            let key = match policy {
                SchedulerPolicy::Spread => (0.0, -free),
                SchedulerPolicy::BinPack => (0.0, free),
                SchedulerPolicy::Cheapest => (srv.price, -free),
                SchedulerPolicy::MecFirst => (srv.tier_rank as f64, -free),
            };
            if best.is_none_or(|b| (key.0, key.1) < (b.0, b.1)) {
                best = Some((key.0, key.1, i as u32));
            }
        }
        best.map(|b| b.2)
    }

    fn bind(&mut self, p: u32, server: u32) {
        let now = self.now;
        let svc = self.pods[p as usize].service as usize;
        let (cpu, mem, startup) =
            (self.services[svc].cpu_m, self.services[svc].mem_mib, self.services[svc].startup_ms);
        if let Some(r) = &mut self.rules {
            r.add(svc, server as usize);
        }
        let srv = &mut self.servers[server as usize];
        let share = srv.pod_share(cpu, mem);
        srv.add_requested(now, share);
        srv.used_cpu += cpu;
        srv.used_mem += mem;
        if srv.pods == 0 {
            srv.on_since = now;
        }
        srv.pods += 1;
        srv.max_pods = srv.max_pods.max(srv.pods);
        let speed = srv.speed;
        let pod = &mut self.pods[p as usize];
        pod.server = server;
        pod.inv_speed = 1.0 / speed;
        pod.state = PodState::Starting;
        pod.last_t = now;
        if startup <= 0.0 {
            self.on_pod_ready(p);
        } else {
            self.push(now + startup, Kind::PodReady, p, 0);
        }
    }

    /// A new pod of `svc`; placed on `prefer` when it has room, else where the scheduler says.
    pub(crate) fn create_pod(&mut self, svc: u32, prefer: u32) {
        let idx = self.pods.len() as u32;
        let s = &self.services[svc as usize];
        self.pods.push(PodRt {
            service: svc,
            server: NONE,
            state: PodState::Pending,
            busy: 0,
            par: s.par,
            queue: Default::default(),
            outstanding: 0,
            rng: stream(self.seed, StreamKind::Pod, svc as u64, s.created as u64),
            inv_speed: 1.0,
            area: 0.0,
            last_t: self.now,
            mark_sample: 0.0,
            mark_hpa: 0.0,
            direct: s.direct,
            dq: Default::default(),
        });
        self.services[svc as usize].pods.push(idx);
        self.services[svc as usize].created += 1;
        let fits = |w: &World, srv: u32| {
            let (s, v) = (&w.servers[srv as usize], &w.services[svc as usize]);
            s.alive
                && v.allowed.get(srv as usize) != Some(&false)
                && s.alloc_cpu - s.used_cpu >= v.cpu_m - 1e-9
                && s.alloc_mem - s.used_mem >= v.mem_mib - 1e-9
                && w.rules.as_ref().is_none_or(|r| {
                    !r.constrained(svc as usize) || r.for_pod(svc as usize).check(srv as usize).is_ok()
                })
        };
        let target = if prefer != NONE && fits(self, prefer) { Some(prefer) } else { self.place(svc) };
        match target {
            Some(srv) => self.bind(idx, srv),
            None => self.pending.push(idx),
        }
    }

    pub(crate) fn on_pod_ready(&mut self, p: u32) {
        let pod = &mut self.pods[p as usize];
        if pod.state != PodState::Starting {
            return;
        }
        pod.state = PodState::Ready;
        let svc = pod.service as usize;
        self.services[svc].ready.push(p);
    }

    pub(super) fn live(&self, svc: u32) -> u32 {
        self.services[svc as usize]
            .pods
            .iter()
            .filter(|&&p| {
                matches!(
                    self.pods[p as usize].state,
                    PodState::Pending | PodState::Starting | PodState::Ready
                )
            })
            .count() as u32
    }

    /// The ReplicaSet: creates or removes pods until `desired` are live. Removal order as
    /// Kubernetes ranks pods: pending, then starting, then ready; newest first.
    pub(crate) fn reconcile(&mut self, svc: u32) {
        let mut live = self.live(svc);
        let desired = self.services[svc as usize].desired;
        while live < desired {
            self.create_pod(svc, NONE);
            live += 1;
        }
        while live > desired {
            let pods = &self.services[svc as usize].pods;
            let pick = |st: PodState| pods.iter().rev().copied().find(|&p| self.pods[p as usize].state == st);
            let Some(victim) = pick(PodState::Pending)
                .or_else(|| pick(PodState::Starting))
                .or_else(|| pick(PodState::Ready))
            else {
                break;
            };
            self.terminate(victim);
            live -= 1;
        }
    }

    /// Graceful removal: out of the endpoints now, gone when its requests are done.
    fn terminate(&mut self, p: u32) {
        let pod = &mut self.pods[p as usize];
        match pod.state {
            PodState::Pending => {
                pod.state = PodState::Dead;
                self.pending.retain(|&q| q != p);
                let svc = pod.service as usize;
                self.services[svc].pods.retain(|&q| q != p);
            }
            PodState::Starting => self.pod_gone(p),
            PodState::Ready => {
                pod.state = PodState::Terminating;
                let svc = pod.service as usize;
                self.services[svc].ready.retain(|&q| q != p);
                self.maybe_gone(p);
            }
            PodState::Terminating | PodState::Dead => {}
        }
    }

    /// The pod is dead: its server's resources are freed and pending pods get another chance.
    pub(crate) fn pod_gone(&mut self, p: u32) {
        let now = self.now;
        let pod = &mut self.pods[p as usize];
        if pod.state == PodState::Ready {
            let svc = pod.service as usize;
            self.services[svc].ready.retain(|&q| q != p);
        }
        pod.touch(now);
        pod.state = PodState::Dead;
        let (svc, server) = (pod.service as usize, pod.server);
        self.services[svc].pods.retain(|&q| q != p);
        if server != NONE {
            if let Some(r) = &mut self.rules {
                r.remove(svc, server as usize);
            }
            let (cpu, mem) = (self.services[svc].cpu_m, self.services[svc].mem_mib);
            let srv = &mut self.servers[server as usize];
            let share = srv.pod_share(cpu, mem);
            srv.add_requested(now, -share);
            srv.used_cpu -= cpu;
            srv.used_mem -= mem;
            srv.pods -= 1;
            if srv.pods == 0 {
                srv.cost += (now - srv.on_since) / 3_600_000.0 * srv.price;
            }
        }
        self.retry_pending();
    }

    /// A crash: the pod's queued and running requests fail with it.
    pub(crate) fn crash(&mut self, p: u32) {
        if self.pods[p as usize].state == PodState::Dead {
            return;
        }
        let svc = self.pods[p as usize].service as usize;
        if self.pods[p as usize].state == PodState::Pending {
            self.terminate(p);
            return;
        }
        self.services[svc].ready.retain(|&q| q != p);
        let victims: Vec<(u32, u32)> = if self.pods[p as usize].direct {
            self.direct_crash_victims(p)
        } else {
            let queued: Vec<u32> = self.pods[p as usize].queue.drain(..).collect();
            let serving: Vec<u32> = (0..self.reqs.len() as u32)
                .filter(|&slot| {
                    let i = slot as usize;
                    self.reqs[i].serving && {
                        let step = self.reqs[i].step;
                        self.r_pods[i * self.stride + self.steps[step as usize].local as usize] == p
                    }
                })
                .collect();
            queued
                .into_iter()
                .chain(serving)
                .map(|slot| (slot, self.steps[self.reqs[slot as usize].step as usize].parent))
                .collect()
        };
        let now = self.now;
        let pod = &mut self.pods[p as usize];
        pod.touch(now);
        pod.busy = 0;
        pod.outstanding = 0;
        self.pod_gone(p);
        for (slot, holder) in victims {
            self.services[svc].failed += 1;
            self.abort(slot, holder);
        }
    }

    pub(crate) fn retry_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let waiting = std::mem::take(&mut self.pending);
        for p in waiting {
            if self.pods[p as usize].state != PodState::Pending {
                continue;
            }
            match self.place(self.pods[p as usize].service) {
                Some(srv) => self.bind(p, srv),
                None => self.pending.push(p),
            }
        }
    }

    fn region_id(&self, name: &str) -> Option<usize> {
        self.region_names.iter().position(|r| r == name)
    }

    fn server_named(&self, name: &str) -> Option<u32> {
        self.servers.iter().position(|s| s.name == name).map(|i| i as u32)
    }

    fn service_named(&self, name: &str) -> Option<u32> {
        self.services.iter().position(|s| s.name == name).map(|i| i as u32)
    }

    fn pods_on(&self, server: u32) -> Vec<u32> {
        (0..self.pods.len() as u32)
            .filter(|&p| {
                self.pods[p as usize].server == server && self.pods[p as usize].state != PodState::Dead
            })
            .collect()
    }

    fn reconcile_all(&mut self) {
        for s in 0..self.services.len() as u32 {
            self.reconcile(s);
        }
    }

    /// Applies `events[i]` of the scenario (references were validated).
    pub(crate) fn apply_change(&mut self, i: usize) {
        let e = &self.sc.events[i];
        if let Some(name) = &e.node_loss
            && let Some(s) = self.server_named(name)
        {
            for p in self.pods_on(s) {
                self.crash(p);
            }
            self.servers[s as usize].alive = false;
            self.reconcile_all();
        }
        if let Some(c) = &e.pod_crash
            && let Some(svc) = self.service_named(&c.service)
        {
            // Random ready pods, from the scenario's stream of changes.
            let mut ready = self.services[svc as usize].ready.clone();
            let mut victims = Vec::new();
            while victims.len() < c.count as usize && !ready.is_empty() {
                let k = ((super::rv::unit(&mut self.changes_rng) * ready.len() as f64) as usize)
                    .min(ready.len() - 1);
                victims.push(ready.swap_remove(k));
            }
            for p in victims {
                self.crash(p);
            }
            self.reconcile(svc);
        }
        if let Some(name) = &e.cordon
            && let Some(s) = self.server_named(name)
        {
            self.servers[s as usize].schedulable = false;
        }
        if let Some(name) = &e.uncordon
            && let Some(s) = self.server_named(name)
        {
            self.servers[s as usize].schedulable = true;
            self.retry_pending();
        }
        if let Some(name) = &e.drain
            && let Some(s) = self.server_named(name)
        {
            self.servers[s as usize].schedulable = false;
            for p in self.pods_on(s) {
                self.terminate(p);
            }
            self.reconcile_all();
        }
        if let Some(l) = &e.link_latency {
            let (a, b) = (self.region_id(&l.a), self.region_id(&l.b));
            if let (Some(a), Some(b)) = (a, b) {
                let n = self.n_regions;
                self.extra[a * n + b] += l.add_ms;
                if a != b {
                    self.extra[b * n + a] += l.add_ms;
                }
            }
        }
        if let Some(c) = &e.capacity
            && let Some(s) = self.server_named(&c.server)
        {
            let srv = &mut self.servers[s as usize];
            if let Some(v) = c.cpu_m {
                srv.alloc_cpu = v;
            }
            if let Some(v) = c.mem_mib {
                srv.alloc_mem = v;
            }
            if let Some(v) = c.speed {
                srv.speed = v;
                for p in self.pods_on(s) {
                    self.pods[p as usize].inv_speed = 1.0 / v;
                }
            }
            self.retry_pending();
        }
        if let Some(r) = &e.replicas
            && let Some(svc) = self.service_named(&r.service)
        {
            self.services[svc as usize].desired = r.count;
            self.reconcile(svc);
        }
    }
}
