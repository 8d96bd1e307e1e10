//! Compiles a validated scenario into the engine's world: names resolved to indices, random
//! variables to samplers, call trees flattened, initial pods placed, first events queued.

use super::engine::{
    EndpointLoc, EventQueue, FastMap, GenRt, HpaRt, Kind, NONE, ServerRt, ServiceRt, SimError, Step,
    WorkflowRt, World,
};
use super::hpa::{HpaParams, HpaState};
use super::rv::{Sampler, StreamKind, stream};
use super::scenario::{CallSpec, Scenario, server_names};
use super::series::SeriesStore;
use super::stats::LogHist;
use crate::twin::Location;
use std::collections::HashMap;

/// Interns strings to dense ids.
#[derive(Default)]
struct Interner(HashMap<String, u32>, Vec<String>);

impl Interner {
    fn id(&mut self, s: String) -> u32 {
        if let Some(&i) = self.0.get(&s) {
            return i;
        }
        let i = self.1.len() as u32;
        self.1.push(s.clone());
        self.0.insert(s, i);
        i
    }
}

impl<'s> World<'s> {
    pub(crate) fn new(sc: &'s Scenario, seed: u64) -> Result<World<'s>, SimError> {
        Self::with_direct(sc, seed, true)
    }

    /// `new`, with direct pods (`direct.rs`) allowed or not: the same model either way, so
    /// tests compare the two.
    pub(crate) fn with_direct(sc: &'s Scenario, seed: u64, direct: bool) -> Result<World<'s>, SimError> {
        let (mut regions, mut zones, mut racks) =
            (Interner::default(), Interner::default(), Interner::default());
        let mut loc_ids = |region: &str, zone: &str, rack: &str| EndpointLoc {
            region: regions.id(region.to_string()),
            zone: zones.id(format!("{region}\u{1f}{zone}")),
            rack: racks.id(format!("{region}\u{1f}{zone}\u{1f}{rack}")),
        };
        let mut servers = Vec::new();
        let mut endpoints = Vec::new();
        let mut group_labels: Vec<String> = Vec::new();
        let mut ep_group = Vec::new();
        let group_of = |region: &str, zone: &str, labels: &mut Vec<String>| {
            let label = Location::new(region, zone, "").group_label();
            match labels.iter().position(|l| *l == label) {
                Some(i) => i as u32,
                None => {
                    labels.push(label);
                    (labels.len() - 1) as u32
                }
            }
        };
        for g in &sc.servers {
            let tier = g.tier.clone().unwrap_or_else(|| g.zone.clone());
            let rank = sc.scheduler.tiers.iter().position(|t| *t == tier).unwrap_or(sc.scheduler.tiers.len());
            for name in server_names(g) {
                endpoints.push(loc_ids(&g.region, &g.zone, &g.rack));
                ep_group.push(group_of(&g.region, &g.zone, &mut group_labels));
                servers.push(ServerRt {
                    name,
                    tier: tier.clone(),
                    group_label: Location::new(&g.region, &g.zone, "").group_label(),
                    alloc_cpu: g.cpu_m,
                    alloc_mem: g.mem_mib,
                    used_cpu: 0.0,
                    used_mem: 0.0,
                    bw_mbps: g.bw_mbps,
                    speed: g.speed,
                    price: g.price_per_hour,
                    alive: true,
                    schedulable: g.schedulable,
                    tier_rank: rank as u32,
                    pods: 0,
                    max_pods: 0,
                    on_since: 0.0,
                    cost: 0.0,
                    requested_share: 0.0,
                    requested_cost: 0.0,
                    requested_since: 0.0,
                    last: [0.0; 3],
                });
            }
        }
        let mut gen_origin = Vec::new();
        for g in &sc.load {
            match &g.origin {
                Some(o) => {
                    gen_origin.push(endpoints.len() as u32);
                    endpoints.push(loc_ids(&o.region, &o.zone, &o.rack));
                    ep_group.push(group_of(&o.region, &o.zone, &mut group_labels));
                }
                None => gen_origin.push(NONE),
            }
        }
        let model = sc.latency.build();
        let n_regions = regions.1.len();
        let mut lat: Vec<Sampler> =
            [&model.same_server, &model.same_rack, &model.same_zone, &model.same_region, &model.inter_region]
                .into_iter()
                .map(Sampler::new)
                .collect();
        let mut pair = vec![NONE; n_regions * n_regions];
        for p in &model.region_pairs {
            if let (Some(&a), Some(&b)) = (regions.0.get(&p.a), regions.0.get(&p.b)) {
                lat.push(Sampler::new(&p.dist));
                let k = (lat.len() - 1) as u32;
                pair[a as usize * n_regions + b as usize] = k;
                pair[b as usize * n_regions + a as usize] = k;
            }
        }
        for e in &sc.events {
            if let Some(l) = &e.link_latency {
                for r in [&l.a, &l.b] {
                    if !regions.0.contains_key(r) {
                        return Err(SimError::Scenario(format!(
                            "link_latency at {} s: no server or user origin in region {r:?}",
                            e.at_s
                        )));
                    }
                }
            }
        }
        let (mut allowed, rules) = super::rules::compile(sc);
        let mut services = Vec::new();
        for (i, s) in sc.services.iter().enumerate() {
            let hpa = s.autoscaler.as_ref().map(|a| HpaRt {
                params: HpaParams { mode: a.mode, min: a.min, max: a.max, behavior: a.behavior.clone() },
                state: HpaState::default(),
                metric: a.metric,
                tolerance: a.tolerance,
                period_ms: a.period_s * 1000.0,
            });
            let initial_servers = s
                .initial_servers
                .iter()
                .map(|n| servers.iter().position(|x| x.name == *n).map_or(NONE, |k| k as u32))
                .collect();
            services.push(ServiceRt {
                name: s.name.clone(),
                sampler: Sampler::new(&s.pod.service_time),
                cpu_m: s.pod.cpu_m,
                mem_mib: s.pod.mem_mib,
                par: s.pod.parallelism,
                max_queue: s.pod.max_queue,
                startup_ms: s.pod.startup_s * 1000.0,
                balancer: s.balancer,
                direct: false,
                rr: 0,
                rng: stream(seed, StreamKind::Balancer, i as u64, 0),
                desired: s.replicas,
                ready: Vec::new(),
                pods: Vec::new(),
                created: 0,
                initial_servers,
                allowed: std::mem::take(&mut allowed[i]),
                hpa,
                win_sum: 0.0,
                win_n: 0,
                ttp: LogHist::default(),
                rt: LogHist::default(),
                rt_over: 0,
                wait_sum: 0.0,
                served: 0,
                queue_full: 0,
                no_endpoint: 0,
                failed: 0,
                replicas_max: 0,
                live: 0,
            });
        }
        let svc_index = |n: &str| sc.services.iter().position(|s| s.name == n).map(|i| i as u32);
        let mut steps = Vec::new();
        let mut workflows = Vec::new();
        let mut stride = 1;
        for w in &sc.workflows {
            let tree =
                w.tree().ok_or_else(|| SimError::Scenario(format!("workflow {:?} is empty", w.name)))?;
            let base = steps.len();
            flatten(&tree, NONE, base, &mut steps, &svc_index)?;
            stride = stride.max(steps.len() - base);
            workflows.push(WorkflowRt {
                root: base as u32,
                hold: w.hold_caller,
                req_bytes: w.request_kb * 1024.0,
                resp_bytes: w.response_kb * 1024.0,
            });
        }
        // A service is direct unless some caller holds one of its workers while callees answer.
        // A speed change between a request's arrival and its start would change a service time
        // drawn at arrival, so a scenario with one keeps every pod classic.
        let speed_changes = sc.events.iter().any(|e| e.capacity.as_ref().is_some_and(|c| c.speed.is_some()));
        let mut held = vec![false; services.len()];
        for (k, w) in workflows.iter().enumerate() {
            let end = workflows.get(k + 1).map_or(steps.len(), |n| n.root as usize);
            for st in &steps[w.root as usize..end] {
                held[st.service as usize] |= w.hold && st.first_child != NONE;
            }
        }
        for (s, held) in services.iter_mut().zip(held) {
            s.direct = direct && !speed_changes && !held;
        }
        let mut gens = Vec::new();
        for (i, g) in sc.load.iter().enumerate() {
            let wf = sc.workflows.iter().position(|w| w.name == g.workflow).expect("validated") as u32;
            gens.push(GenRt {
                wf,
                origin: gen_origin[i],
                arrivals: g.arrivals,
                rate: g.rate / 1000.0,
                start: g.start_s * 1000.0,
                stop: g.stop_s.map_or(f64::INFINITY, |s| s * 1000.0),
                remaining: g.requests.unwrap_or(u64::MAX),
                rng: stream(seed, StreamKind::Generator, i as u64, 0),
                rates: g.rates.iter().map(|r| r * g.scale / 1000.0).collect(),
                step_ms: g.step_s * 1000.0,
                done: false,
            });
        }
        let n_groups = group_labels.len();
        let n_endpoints = endpoints.len();
        let (n_services, n_servers) = (services.len(), servers.len());
        let mut w = World {
            sc,
            seed,
            now: 0.0,
            seq: 0,
            heap: EventQueue::default(),
            events: 0,
            server_bytes: vec![0.0; servers.len()],
            servers,
            endpoints,
            n_regions,
            region_names: regions.1,
            groups: group_labels,
            ep_group,
            lat,
            pair,
            extra: vec![0.0; n_regions * n_regions],
            ep_compact: vec![NONE; n_endpoints],
            n_compact: 0,
            link_side: n_endpoints.clamp(1, 16),
            link_table: vec![NONE; n_endpoints.clamp(1, 16).pow(2)],
            link_map: FastMap::default(),
            links: Vec::new(),
            link_bytes: vec![0.0; n_groups * n_groups],
            services,
            rules,
            pods: Vec::new(),
            pending: Vec::new(),
            steps,
            workflows,
            stride,
            gens,
            active_gens: 0,
            changes_rng: stream(seed, StreamKind::Changes, 0, 0),
            reqs: Vec::new(),
            r_pods: Vec::new(),
            r_arr: Vec::new(),
            free: Vec::new(),
            in_flight: 0,
            max_in_flight: 0,
            in_area: 0.0,
            in_last: 0.0,
            requests: 0,
            completed: 0,
            aborted: 0,
            sojourn_sum: 0.0,
            ttr: LogHist::default(),
            slo_target: sc.slo.map_or(f64::INFINITY, |s| s.target_ms),
            slo_over: 0,
            counted_drops: 0,
            warmup_ms: sc.warmup_s * 1000.0,
            sample_ms: sc.sample_s * 1000.0,
            last_sample: 0.0,
            series: SeriesStore::new(sc.series.max_points, sc.series.detail, n_services, n_servers, n_groups),
            pending_max: 0,
            ttr_win: LogHist::default(),
            peak_pods: 0,
            peak_t: 0.0,
            peak_tiers: Vec::new(),
        };
        // The pods that run now are bound first, every service's, and only then are the rest
        // placed: the scheduler weighs a new pod against all that run, as kube-scheduler does
        // (placed in service order, a scale-up's new pods took servers the services listed
        // after it already filled).
        for s in 0..w.services.len() {
            let present = w.services[s].initial_servers.len().min(w.services[s].desired as usize);
            for k in 0..present {
                let prefer = w.services[s].initial_servers[k];
                w.create_pod(s as u32, prefer);
            }
        }
        for s in 0..w.services.len() {
            let present = w.services[s].initial_servers.len().min(w.services[s].desired as usize);
            for _ in present..w.services[s].desired as usize {
                w.create_pod(s as u32, NONE);
            }
            if let Some(h) = &w.services[s].hpa {
                let t = h.period_ms;
                w.push(t, Kind::Hpa, s as u32, 0);
            }
        }
        // The deployment exists when the run starts: its first pods are ready at once.
        for p in 0..w.pods.len() as u32 {
            w.on_pod_ready(p);
        }
        for g in 0..w.gens.len() {
            let start = w.gens[g].start;
            let g_ = &mut w.gens[g];
            // The first arrival one inter-arrival after the start, as every later one.
            let first = super::engine::next_arrival(g_, start);
            match first {
                Some(t) if t < g_.stop && g_.remaining > 0 => {
                    w.active_gens += 1;
                    w.push(t, Kind::Gen, g as u32, 0);
                }
                _ => g_.done = true,
            }
        }
        for (i, e) in sc.events.iter().enumerate() {
            w.push(e.at_s * 1000.0, Kind::Change, i as u32, 0);
        }
        if let Some(d) = sc.duration_s {
            w.push(d * 1000.0, Kind::Stop, 0, 0);
        }
        w.push(0.0, Kind::Sample, 0, 0);
        Ok(w)
    }
}

/// Appends the call tree under `c` in pre-order; returns its index.
fn flatten(
    c: &CallSpec,
    parent: u32,
    base: usize,
    steps: &mut Vec<Step>,
    svc: &dyn Fn(&str) -> Option<u32>,
) -> Result<u32, SimError> {
    let service =
        svc(&c.service).ok_or_else(|| SimError::Scenario(format!("no service named {:?}", c.service)))?;
    let me = steps.len() as u32;
    steps.push(Step {
        service,
        parent,
        first_child: NONE,
        next_sibling: NONE,
        prob: c.probability,
        local: (steps.len() - base) as u32,
    });
    let mut prev = NONE;
    for k in &c.calls {
        let child = flatten(k, me, base, steps, svc)?;
        if prev == NONE {
            steps[me as usize].first_child = child;
        } else {
            steps[prev as usize].next_sibling = child;
        }
        prev = child;
    }
    Ok(me)
}
