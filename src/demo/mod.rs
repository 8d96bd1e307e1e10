//! The embedded demo: a simulated datacenter whose "cluster" is itself simulated. Each tick
//! (one simulated second) it moves traffic along Online Boutique's call graph, queues requests
//! at pods, loads servers, runs an HPA, and plays a recurring incident; it accepts the same
//! `Change`s a real cluster does. Deterministic for a seed.

pub(crate) mod catalog;
mod latency;
pub(crate) mod presets;
mod queueing;

pub use presets::DemoPreset;

use crate::change::Change;
use crate::twin::{
    Edge, Feed, FeedState, PodPhase, PodSpec, Resources, Server, Snapshot, SourceInfo, SourceKind, TwinEvent,
    TwinStore, Workload,
};
use catalog::{BackgroundModel, Behaviour, CALLS, CatalogEntry, ServiceModel};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::collections::HashSet;
use std::sync::Arc;

/// A simulated day lasts this many ticks, so a daily cycle is visible in minutes.
pub(crate) const DAY_TICKS: u64 = 600;
/// The incident script repeats with this period (ticks).
pub(crate) const INCIDENT_PERIOD: u64 = 300;
/// Ticks of the period during which checkoutservice gets `SURGE_FACTOR`× its traffic.
pub(crate) const SURGE: std::ops::Range<u64> = 60..150;
pub(crate) const SURGE_FACTOR: f64 = 5.0;
/// Ticks of the period during which a runaway process heats one server.
pub(crate) const HOT_SERVER: std::ops::Range<u64> = 170..260;
/// Frontend requests per second at the daily mean.
const BASE_RPS: f64 = 60.0;
/// Seconds a new pod takes to become ready.
const POD_STARTUP_TICKS: u64 = 5;
const HPA_PERIOD: u64 = 15;

struct DemoPod {
    name: String,
    server: usize,
    ready_at: u64,
}

struct DemoWorkload {
    entry: CatalogEntry,
    pods: Vec<DemoPod>,
    next_pod: u32,
    /// Requests waiting beyond what pods can serve.
    backlog: f64,
    dropped: f64,
    /// HPA recommendations of the last 5 minutes, for scale-down stabilisation.
    hpa_recent: Vec<(u64, u32)>,
    /// Requests answered in the last second (None before the first).
    served: Option<f64>,
    /// Last computed figures.
    rps: f64,
    p50: f64,
    p99: f64,
    usage: Resources,
}

impl DemoWorkload {
    fn w(&self) -> &Workload {
        &self.entry.workload
    }
}

pub struct DemoTwin {
    preset: DemoPreset,
    seed: u64,
    rng: SmallRng,
    tick: u64,
    start: DateTime<Utc>,
    servers: Vec<Server>,
    failed: HashSet<usize>,
    workloads: Vec<DemoWorkload>,
    /// (caller, callee, calls per request) as workload indices.
    calls: Vec<(usize, usize, f64)>,
    /// Shop workloads in call order (callers before callees).
    order: Vec<usize>,
    traffic_noise: f64,
    /// Draws for the latency sample, apart from the traffic's so one does not shift the other.
    latency_rng: SmallRng,
    hot_server: usize,
    notices: Vec<String>,
    /// Structure changed since the last step: pods/workloads/servers must be re-sent.
    dirty: bool,
    sent_pods: HashSet<String>,
}

impl DemoTwin {
    pub fn new(preset: DemoPreset, seed: u64) -> DemoTwin {
        Self::starting_at(preset, seed, Utc::now())
    }

    pub fn starting_at(preset: DemoPreset, seed: u64, start: DateTime<Utc>) -> DemoTwin {
        let servers = presets::servers(preset);
        let total_cores: f64 = servers.iter().map(|s| s.capacity.cpu_m / 1000.0).sum();
        let mut entries = catalog::shop();
        entries.extend(catalog::background(total_cores));
        let workloads: Vec<DemoWorkload> = entries
            .into_iter()
            .map(|entry| DemoWorkload {
                entry,
                pods: Vec::new(),
                next_pod: 0,
                backlog: 0.0,
                dropped: 0.0,
                hpa_recent: Vec::new(),
                served: None,
                rps: 0.0,
                p50: 0.0,
                p99: 0.0,
                usage: Resources::ZERO,
            })
            .collect();
        let idx = |n: &str| workloads.iter().position(|w| w.w().name == n).expect("catalog names");
        let calls: Vec<(usize, usize, f64)> = CALLS.iter().map(|&(a, b, k)| (idx(a), idx(b), k)).collect();
        let order = call_order(workloads.len(), &calls, idx("loadgenerator"));
        let mut rng = SmallRng::seed_from_u64(seed);
        let hot_server = rng.random_range(0..servers.len());
        let mut demo = DemoTwin {
            preset,
            seed,
            rng,
            tick: 0,
            start,
            servers,
            failed: HashSet::new(),
            workloads,
            calls,
            order,
            traffic_noise: 0.0,
            latency_rng: SmallRng::seed_from_u64(seed ^ 0x6c61_7465_6e63_7921),
            hot_server,
            notices: Vec::new(),
            dirty: true,
            sent_pods: HashSet::new(),
        };
        for w in 0..demo.workloads.len() {
            let n = demo.workloads[w].w().replicas;
            demo.set_pod_count(w, n, true);
        }
        demo
    }

    pub(crate) fn time(&self) -> DateTime<Utc> {
        self.start + Duration::seconds(self.tick as i64)
    }

    pub fn add_notice(&mut self, n: String) {
        self.notices.push(n);
        self.dirty = true;
    }

    /// The name of the server the recurring incident heats.
    #[cfg(test)]
    pub(crate) fn hot_server_name(&self) -> &str {
        &self.servers[self.hot_server].name
    }

    /// Starts the script `tick` seconds in (its clock still reads now), so the incident can
    /// come sooner: `TWINTOP_DEMO_START_TICK=60` starts with the checkoutservice surge on.
    pub fn skip_to(&mut self, tick: u64) {
        let now = self.time();
        self.tick = tick;
        self.start = now - Duration::seconds(tick as i64);
    }

    /// Seconds into the script.
    pub(crate) fn tick(&self) -> u64 {
        self.tick
    }

    /// Whether the checkoutservice surge is on at the current tick.
    pub fn surge_active(&self) -> bool {
        SURGE.contains(&(self.tick % INCIDENT_PERIOD))
    }

    /// A demo twin advanced `ticks` seconds, as one snapshot (for headless commands). The start
    /// is put `ticks` seconds in the past so the snapshot's time is now.
    pub fn warm_snapshot(&mut self, ticks: u32) -> Arc<Snapshot> {
        let mut store = TwinStore::default();
        store.apply_all(self.history(ticks));
        store.snapshot()
    }

    /// The events of the next `ticks` seconds, run at once and dated so the last is now: the
    /// history a metrics store would hold of a cluster that has been running.
    pub(crate) fn history(&mut self, ticks: u32) -> Vec<TwinEvent> {
        self.start -= Duration::seconds(ticks as i64);
        (0..ticks).flat_map(|_| self.step()).collect()
    }

    /// Applies a change as a cluster would. `dry_run` validates without changing anything.
    /// Returns a one-line description of what changed.
    pub fn apply_change(&mut self, change: &Change, dry_run: bool) -> Result<String, String> {
        match change {
            Change::Scale { workload, replicas } => {
                let w = self.find(workload)?;
                if *replicas > 500 {
                    return Err(format!("{workload}: {replicas} replicas exceeds the demo's limit of 500"));
                }
                let before = self.workloads[w].w().replicas;
                if !dry_run {
                    self.workloads[w].entry.workload.replicas = *replicas;
                    self.set_pod_count(w, *replicas, false);
                }
                Ok(format!("{workload}: replicas {before} → {replicas}"))
            }
            Change::HpaBounds { workload, min, max } => {
                let w = self.find(workload)?;
                if min > max || *min == 0 {
                    return Err(format!("{workload}: HPA bounds min {min} max {max} are invalid"));
                }
                let Some(hpa) = self.workloads[w].entry.workload.hpa.as_mut() else {
                    return Err(format!("{workload} has no HPA"));
                };
                let before = format!("min {} max {}", hpa.min_replicas, hpa.max_replicas);
                if !dry_run {
                    hpa.min_replicas = *min;
                    hpa.max_replicas = *max;
                    self.dirty = true;
                }
                Ok(format!("{workload}: HPA {before} → min {min} max {max}"))
            }
            Change::Cordon { server, cordon } => {
                let s = self
                    .servers
                    .iter()
                    .position(|s| &s.name == server)
                    .ok_or_else(|| format!("no server named {server}"))?;
                let before = !self.servers[s].schedulable;
                if !dry_run {
                    self.servers[s].schedulable = !cordon;
                    self.dirty = true;
                }
                Ok(format!("{server}: cordoned {before} → {cordon}"))
            }
            Change::Evict { pod, to, .. } => self.evict(pod, to.as_deref(), dry_run),
        }
    }

    /// An eviction: the pod goes and its workload's controller creates a replacement at once,
    /// placed on `to` when that server takes it (as the twin expected), else by the scheduler.
    /// The demo has no PodDisruptionBudgets; the real API may refuse with 429.
    fn evict(&mut self, pod: &str, to: Option<&str>, dry_run: bool) -> Result<String, String> {
        let (ns, name) = pod.split_once('/').ok_or_else(|| format!("{pod}: give namespace/name"))?;
        let found = self.workloads.iter().enumerate().find_map(|(w, dw)| {
            (dw.w().namespace == ns).then(|| dw.pods.iter().position(|p| p.name == name).map(|i| (w, i)))?
        });
        let (w, i) = found.ok_or_else(|| format!("no pod named {pod}"))?;
        let from = self.servers[self.workloads[w].pods[i].server].name.clone();
        if dry_run {
            return Ok(format!("{pod}: would be evicted from {from}"));
        }
        self.workloads[w].pods.remove(i);
        let req = self.workloads[w].w().requests;
        let requested = self.requested_by_server();
        let wanted = to.and_then(|t| self.servers.iter().position(|s| s.name == t)).filter(|&s| {
            self.servers[s].schedulable
                && !self.failed.contains(&s)
                && requested[s].add(&req).fits_in(&self.servers[s].allocatable)
        });
        let Some(s) = wanted.or_else(|| self.schedule(&req, &requested)) else {
            self.dirty = true;
            return Ok(format!("{pod}: evicted from {from}; no server has room for its replacement"));
        };
        let new = self.add_pod(w, s, self.tick + POD_STARTUP_TICKS);
        self.dirty = true;
        Ok(format!("{pod}: evicted from {from}; replacement {ns}/{new} on {}", self.servers[s].name))
    }

    fn find(&self, key_or_name: &str) -> Result<usize, String> {
        let hits: Vec<usize> = (0..self.workloads.len())
            .filter(|&i| {
                let w = self.workloads[i].w();
                w.key() == key_or_name || w.name == key_or_name
            })
            .collect();
        match hits.as_slice() {
            [i] => Ok(*i),
            [] => Err(format!("no workload named {key_or_name}")),
            _ => Err(format!("{key_or_name} is ambiguous: give namespace/name")),
        }
    }

    /// Adds or removes pods to reach `n`. New pods go where the most CPU and memory is free
    /// (a spreading scheduler); removed pods are the newest.
    fn set_pod_count(&mut self, w: usize, n: u32, initial: bool) {
        self.dirty = true;
        while self.workloads[w].pods.len() > n as usize {
            self.workloads[w].pods.pop();
        }
        let req = self.workloads[w].w().requests;
        let mut requested = self.requested_by_server();
        while self.workloads[w].pods.len() < n as usize {
            let Some(s) = self.schedule(&req, &requested) else { break };
            requested[s] = requested[s].add(&req);
            let ready_at = if initial { 0 } else { self.tick + POD_STARTUP_TICKS };
            self.add_pod(w, s, ready_at);
        }
    }

    /// A new pod of workload `w` on server `s`, ready at tick `ready_at`; returns its name.
    fn add_pod(&mut self, w: usize, s: usize, ready_at: u64) -> String {
        let dw = &mut self.workloads[w];
        let name = format!("{}-{}", dw.w().name, pod_suffix(self.seed, w as u64, dw.next_pod as u64));
        dw.next_pod += 1;
        dw.pods.push(DemoPod { name: name.clone(), server: s, ready_at });
        name
    }

    fn requested_by_server(&self) -> Vec<Resources> {
        let mut r = vec![Resources::ZERO; self.servers.len()];
        for w in &self.workloads {
            for p in &w.pods {
                r[p.server] = r[p.server].add(&w.w().requests);
            }
        }
        r
    }

    fn schedule(&self, req: &Resources, requested: &[Resources]) -> Option<usize> {
        let mut best: Option<(f64, usize)> = None;
        for (i, s) in self.servers.iter().enumerate() {
            if !s.schedulable || self.failed.contains(&i) {
                continue;
            }
            let after = requested[i].add(req);
            if !after.fits_in(&s.allocatable) {
                continue;
            }
            let free =
                1.0 - (after.cpu_m / s.allocatable.cpu_m + after.mem_mib / s.allocatable.mem_mib) / 2.0;
            if best.is_none_or(|(f, _)| free > f + 1e-12) {
                best = Some((free, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// Advances one simulated second and returns what changed.
    pub fn step(&mut self) -> Vec<TwinEvent> {
        self.tick += 1;
        let t = self.tick;
        let mut events = Vec::new();
        if self.dirty {
            self.emit_structure(&mut events);
        }
        self.flow_traffic();
        if t.is_multiple_of(HPA_PERIOD) {
            self.run_hpa();
        }
        self.emit_metrics(&mut events);
        self.emit_edges(&mut events);
        if self.dirty {
            // An HPA decision or a pod becoming ready this tick.
            self.emit_structure(&mut events);
        }
        events.push(TwinEvent::Tick(self.time()));
        events
    }

    fn emit_structure(&mut self, events: &mut Vec<TwinEvent>) {
        self.dirty = false;
        events.push(TwinEvent::Source(SourceInfo {
            kind: SourceKind::Demo,
            name: format!("demo:{}", self.preset.name()),
            context: "demo".into(),
        }));
        events.push(TwinEvent::Latency(presets::latency(self.preset)));
        for n in &self.notices {
            events.push(TwinEvent::Notice(n.clone()));
        }
        for s in &self.servers {
            events.push(TwinEvent::Server(s.clone()));
        }
        let mut live = HashSet::new();
        for dw in &self.workloads {
            events.push(TwinEvent::Workload(dw.w().clone()));
            for p in &dw.pods {
                let phase = if p.ready_at <= self.tick { PodPhase::Running } else { PodPhase::Pending };
                live.insert(p.name.clone());
                events.push(TwinEvent::Pod(PodSpec {
                    name: p.name.clone(),
                    namespace: dw.w().namespace.clone(),
                    workload: Some(dw.w().name.clone()),
                    server: Some(self.servers[p.server].name.clone()),
                    requests: dw.w().requests,
                    limits: dw.w().limits,
                    phase,
                    reason: None,
                }));
            }
        }
        for gone in self.sent_pods.difference(&live) {
            let ns = self
                .workloads
                .iter()
                .find(|w| gone.starts_with(&w.w().name))
                .map(|w| w.w().namespace.clone());
            if let Some(ns) = ns {
                events.push(TwinEvent::PodGone(format!("{ns}/{gone}")));
            }
        }
        self.sent_pods = live;
        events.push(TwinEvent::Feed(Feed {
            name: "demo".into(),
            state: FeedState::Ok,
            detail: format!("simulated, seed {}", self.seed),
            updated: Some(self.time()),
        }));
    }

    /// Call rates this second: the surge makes the frontend call checkoutservice more often.
    fn emit_edges(&self, events: &mut Vec<TwinEvent>) {
        let edges = self
            .calls
            .iter()
            .map(|&(a, b, k)| Edge {
                from: self.workloads[a].w().key(),
                to: self.workloads[b].w().key(),
                rps: self.workloads[a].rps * k * self.call_boost(b),
                origin: String::new(),
            })
            .collect();
        events.push(TwinEvent::Edges { origin: "demo".into(), edges });
    }

    /// How many times more often than usual callers call `b` now.
    fn call_boost(&self, b: usize) -> f64 {
        if self.surge_active() && self.workloads[b].w().name == "checkoutservice" {
            SURGE_FACTOR
        } else {
            1.0
        }
    }

    fn ready_pods(&self, w: usize) -> impl Iterator<Item = &DemoPod> {
        let t = self.tick;
        self.workloads[w].pods.iter().filter(move |p| p.ready_at <= t && !self.failed.contains(&p.server))
    }

    /// Day-shaped traffic with AR(1) noise; the surge multiplies checkoutservice's share.
    fn flow_traffic(&mut self) {
        let t = self.tick as f64;
        let day = 0.65 + 0.35 * (std::f64::consts::TAU * t / DAY_TICKS as f64).sin();
        let z: f64 = self.rng.random::<f64>() - 0.5;
        self.traffic_noise = 0.9 * self.traffic_noise + 0.06 * z;
        let root = BASE_RPS * day * (1.0 + self.traffic_noise);

        let n = self.workloads.len();
        // Callers first: a callee gets the calls of the requests its callers serve this second;
        // then each pod's queueing for the latency sample.
        let mut rps = vec![0.0; n];
        let mut own = vec![None; n];
        rps[self.order[0]] = root;
        for w in self.order.clone() {
            let Behaviour::Service(m) = self.workloads[w].entry.behaviour.clone() else { continue };
            own[w] = Some(self.serve(w, rps[w], &m));
            let served = self.workloads[w].served.unwrap_or(rps[w]);
            for &(a, b, k) in &self.calls {
                if a == w {
                    rps[b] += served * k * self.call_boost(b);
                }
            }
        }
        let model = presets::latency(self.preset);
        let pods: Vec<Vec<latency::PodAt>> = (0..n)
            .map(|w| {
                self.ready_pods(w)
                    .map(|p| latency::PodAt {
                        location: self.servers[p.server].location.clone(),
                        server: p.server,
                        speed: self.servers[p.server].speed,
                    })
                    .collect()
            })
            .collect();
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); n];
        for &w in self.order.iter().rev() {
            let Some(o) = own[w] else { continue };
            let calls: Vec<latency::Calls<'_>> = self
                .calls
                .iter()
                .filter(|c| c.0 == w)
                .map(|&(_, b, k)| latency::Calls {
                    per_request: k * self.call_boost(b),
                    callee: b,
                    callee_pods: &pods[b],
                })
                .collect();
            samples[w] =
                latency::sample_workload(&o, &pods[w], &calls, &samples, &model, &mut self.latency_rng);
        }
        for (w, sample) in samples.iter_mut().enumerate() {
            let (p50, p99) = latency::p50_p99(sample);
            let dw = &mut self.workloads[w];
            // A mesh counts answers at the destination: no more than its pods serve.
            dw.rps = dw.served.unwrap_or(rps[w]);
            (dw.p50, dw.p99) = (p50, p99);
        }
    }

    /// One tick of a service's pods: how long a request arriving now waits and is served.
    fn serve(&mut self, w: usize, lambda: f64, m: &ServiceModel) -> latency::Own {
        let ready: Vec<f64> = self.ready_pods(w).map(|p| self.servers[p.server].speed).collect();
        let capacity: f64 = ready.iter().map(|sp| m.parallelism * 1000.0 / m.service_ms * sp).sum();
        let dw = &mut self.workloads[w];
        // Fluid queue: what pods cannot serve this second waits; beyond 30 s of work, drop.
        let served = (lambda + dw.backlog).min(capacity);
        dw.backlog += lambda - served;
        let cap_q = (capacity * 30.0).max(10.0);
        if dw.backlog > cap_q {
            dw.dropped += dw.backlog - cap_q;
            dw.backlog = cap_q;
        }
        let per_pod = if ready.is_empty() { 0.0 } else { lambda / ready.len() as f64 };
        let noise = 1.0 + 0.05 * (self.rng.random::<f64>() - 0.5);
        let own = if ready.is_empty() {
            latency::Own::unavailable()
        } else {
            let mu_pod = capacity / ready.len() as f64;
            let (p_wait, wait_mean_ms) = queueing::mmc_wait(per_pod, mu_pod / m.parallelism, m.parallelism);
            latency::Own {
                service_ms: m.service_ms,
                p_wait,
                wait_mean_ms,
                backlog_ms: dw.backlog / capacity.max(1e-9) * 1000.0,
                factor: noise,
            }
        };
        dw.served = Some(served);
        let pods = dw.pods.len().max(1) as f64;
        dw.usage = Resources::new(
            m.idle_cpu_m * pods + served * m.cpu_ms,
            dw.w().requests.mem_mib * 0.7 * pods + dw.backlog * 0.05,
            served * m.kb_per_req * 8.0 / 1000.0,
        );
        own
    }

    fn background_level(&mut self, m: &BackgroundModel) -> f64 {
        let t = self.tick as f64 / DAY_TICKS as f64;
        let wave = (std::f64::consts::TAU * (t + m.phase)).sin();
        (m.base + m.swing * wave + 0.04 * (self.rng.random::<f64>() - 0.5)).clamp(0.02, 1.2)
    }

    /// Kubernetes' HPA on CPU utilisation of requests: tolerance 0.1, scale-up limited to
    /// max(4 pods, 100 %), scale-down to the highest recommendation of the last 5 minutes.
    fn run_hpa(&mut self) {
        for w in 0..self.workloads.len() {
            let Some(hpa) = self.workloads[w].w().hpa.clone() else { continue };
            let Some(target) = hpa.metrics.iter().find_map(|m| match m {
                crate::twin::HpaMetric::CpuUtilization { target_pct } => Some(*target_pct),
                _ => None,
            }) else {
                continue;
            };
            let dw = &self.workloads[w];
            let current = dw.w().replicas;
            let ready = self.ready_pods(w).count().max(1) as f64;
            let util = dw.usage.cpu_m / (dw.w().requests.cpu_m * ready) * 100.0;
            let ratio = util / target;
            let mut desired =
                if (ratio - 1.0).abs() <= 0.1 { current } else { (current as f64 * ratio).ceil() as u32 };
            desired = desired.min(current.saturating_mul(2).max(current + 4));
            let now = self.tick;
            let dw = &mut self.workloads[w];
            dw.hpa_recent.retain(|(t, _)| now - t < 300);
            dw.hpa_recent.push((now, desired));
            let stabilised = dw.hpa_recent.iter().map(|(_, r)| *r).max().unwrap_or(desired);
            let next = desired.max(if desired < current { stabilised.min(current) } else { desired });
            let next = next.clamp(hpa.min_replicas, hpa.max_replicas);
            if next != current {
                dw.entry.workload.replicas = next;
                self.set_pod_count(w, next, false);
            }
        }
    }

    fn emit_metrics(&mut self, events: &mut Vec<TwinEvent>) {
        let mut server_use = vec![Resources::ZERO; self.servers.len()];
        let newly_ready = self.workloads.iter().any(|w| w.pods.iter().any(|p| p.ready_at == self.tick));
        if newly_ready {
            self.dirty = true;
        }
        for w in 0..self.workloads.len() {
            let behaviour = self.workloads[w].entry.behaviour.clone();
            match behaviour {
                Behaviour::Service(_) => {
                    let dw = &self.workloads[w];
                    let ready: Vec<usize> = self.ready_pods(w).map(|p| p.server).collect();
                    let share = 1.0 / ready.len().max(1) as f64;
                    for s in ready {
                        server_use[s] = server_use[s].add(&dw.usage.scale(share));
                    }
                    let key = dw.w().key();
                    let (rps, p50, p99, usage) = (dw.rps, dw.p50, dw.p99, dw.usage);
                    let slo = dw.w().slo_p99_ms.is_some();
                    events.push(TwinEvent::WorkloadMetrics {
                        key,
                        rps: Some(rps),
                        p50_ms: slo.then_some(p50),
                        p99_ms: slo.then_some(p99),
                        usage: Some(usage.into()),
                    });
                }
                Behaviour::Background(m) => {
                    let req = self.workloads[w].w().requests;
                    let servers: Vec<usize> = self.ready_pods(w).map(|p| p.server).collect();
                    let mut total = Resources::ZERO;
                    for s in servers {
                        let level = self.background_level(&m);
                        let u = Resources::new(
                            req.cpu_m * level,
                            req.mem_mib * (0.6 + 0.3 * level),
                            m.bw_mbps * level,
                        );
                        server_use[s] = server_use[s].add(&u);
                        total = total.add(&u);
                    }
                    events.push(TwinEvent::WorkloadMetrics {
                        key: self.workloads[w].w().key(),
                        rps: None,
                        p50_ms: None,
                        p99_ms: None,
                        usage: Some(total.into()),
                    });
                }
            }
        }
        if HOT_SERVER.contains(&(self.tick % INCIDENT_PERIOD)) {
            let s = &self.servers[self.hot_server];
            let hot = &mut server_use[self.hot_server];
            hot.cpu_m = hot.cpu_m.max(s.allocatable.cpu_m * 0.97);
        }
        for (i, s) in self.servers.iter().enumerate() {
            let mut u = server_use[i];
            if self.failed.contains(&i) {
                u = Resources::ZERO;
            } else {
                // The kubelet and system daemons.
                u = u.add(&Resources::new(s.allocatable.cpu_m * 0.02, s.allocatable.mem_mib * 0.03, 1.0));
            }
            u.cpu_m = u.cpu_m.min(s.allocatable.cpu_m);
            u.bw_mbps = u.bw_mbps.min(s.allocatable.bw_mbps);
            events.push(TwinEvent::ServerUsage { server: s.name.clone(), usage: u.into() });
        }
    }
}

/// Kubernetes-looking pod suffixes, deterministic per seed.
fn pod_suffix(seed: u64, w: u64, n: u64) -> String {
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = seed ^ (w << 32) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut s = String::with_capacity(5);
    for _ in 0..5 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        s.push(ALPHA[(x % ALPHA.len() as u64) as usize] as char);
    }
    s
}

/// Workloads reachable from `root` along `calls`, callers before callees.
fn call_order(n: usize, calls: &[(usize, usize, f64)], root: usize) -> Vec<usize> {
    let mut indeg = vec![0usize; n];
    for &(_, b, _) in calls {
        indeg[b] += 1;
    }
    let mut order = vec![root];
    let mut i = 0;
    while i < order.len() {
        let w = order[i];
        for &(a, b, _) in calls {
            if a == w {
                indeg[b] -= 1;
                if indeg[b] == 0 {
                    order.push(b);
                }
            }
        }
        i += 1;
    }
    order
}

#[cfg(test)]
mod tests;
