//! The discrete-event engine: timed events (f64 ms, `queue.rs`) over a compiled world whose
//! entities refer to each other by index. Requests live in reusable slots (free list), so
//! memory follows the requests in flight, not the run's total; series keep at most the points
//! asked (`series.rs`).

use super::direct::DirectQ;
use super::hpa::{HpaParams, HpaState};
pub(super) use super::queue::{Ev, EventQueue};
use super::rv::{Sampler, StreamKind, stream, unit};
use super::scenario::{Arrivals, Balancer, MetricSpec, Scenario};
use super::series::SeriesStore;
use super::stats::LogHist;
use rand::rngs::SmallRng;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

pub(super) const NONE: u32 = u32::MAX;
/// Up to this many endpoints that carried requests, links are found in a dense table over
/// them (4 MB at most), else in a map.
pub(super) const DENSE_LINKS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Kind {
    /// A generator emits a request (a = generator).
    Gen,
    /// A request reaches the pod of its current step (a = slot, b = generation).
    Arrive,
    /// A pod finishes serving a request.
    Done,
    /// An answer reaches the caller of the request's current step.
    Return,
    /// The answer reaches the user.
    Complete,
    /// A pod's start-up delay is over (a = pod).
    PodReady,
    /// An autoscaler syncs (a = service).
    Hpa,
    Sample,
    /// A scenario event (a = index in `Scenario::events`).
    Change,
    Stop,
    /// A terminating direct pod may have served its last request (a = pod).
    PodGone,
}

const KINDS: [Kind; 11] = [
    Kind::Gen,
    Kind::Arrive,
    Kind::Done,
    Kind::Return,
    Kind::Complete,
    Kind::PodReady,
    Kind::Hpa,
    Kind::Sample,
    Kind::Change,
    Kind::Stop,
    Kind::PodGone,
];

impl Ev {
    #[inline]
    pub(crate) fn kind(&self) -> Kind {
        KINDS[(self.key & 0xff) as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum PodState {
    /// Not placed: no server had room.
    Pending,
    Starting,
    Ready,
    /// Out of the endpoints, finishing its requests.
    Terminating,
    Dead,
}

/// A request slot (reused when the request ends; `gen` tells its events from a former
/// occupant's).
#[derive(Debug, Clone, Copy)]
pub(super) struct Req {
    /// Created at, and arrived at its current pod at (ms).
    pub t0: f64,
    pub at: f64,
    pub wf: u32,
    pub generation: u32,
    /// Endpoint of its user (NONE: no network).
    pub origin: u32,
    /// The step it is at (or whose answer is travelling back).
    pub step: u32,
    /// Being served by a classic pod.
    pub serving: bool,
    /// Arrived after the warm-up: counted in the statistics.
    pub counted: bool,
}

/// Fields in the order a visit reads them, in one 64-byte-aligned block: the first line holds
/// what every arrival reads (state, counts, stream, speed), the next two the queue; what only
/// samples and the autoscaler read comes last. A twin of 1,000 workloads has thousands of pods,
/// more than the cache holds, so a visit costs the lines it touches.
#[repr(C, align(64))]
pub(super) struct PodRt {
    pub state: PodState,
    /// A direct pod (`direct.rs`): its queue is `dq`, `busy` and `queue` stay empty and `area`
    /// holds the busy time of committed requests.
    pub direct: bool,
    pub service: u32,
    pub server: u32,
    pub par: u32,
    pub busy: u32,
    /// Requests sent to this pod and not yet let go: in transit, queued, served or held.
    pub outstanding: u32,
    pub rng: SmallRng,
    pub inv_speed: f64,
    /// ∫ busy workers dt, and the marks of the last sample and autoscaler sync.
    pub area: f64,
    pub last_t: f64,
    pub dq: DirectQ,
    pub queue: VecDeque<u32>,
    pub mark_sample: f64,
    pub mark_hpa: f64,
}

impl PodRt {
    #[inline]
    pub(crate) fn touch(&mut self, now: f64) {
        self.area += self.busy as f64 * (now - self.last_t);
        self.last_t = now;
    }
}

pub(super) struct HpaRt {
    pub params: HpaParams,
    pub state: HpaState,
    pub metric: MetricSpec,
    pub tolerance: f64,
    pub period_ms: f64,
}

/// Fields in the order a visit reads them (`repr(C)`): choosing a pod, drawing a service time
/// and recording it touch the first few lines; names, placement rules and the autoscaler come
/// after, read only when pods come and go.
#[repr(C)]
pub(super) struct ServiceRt {
    pub balancer: Balancer,
    /// Its pods are direct (no caller holds their workers while callees answer).
    pub direct: bool,
    pub rr: u32,
    pub max_queue: u32,
    pub ready: Vec<u32>,
    pub rng: SmallRng,
    pub sampler: Sampler,
    pub served: u64,
    pub win_sum: f64,
    pub win_n: u64,
    /// Σ time queued before service, of counted requests.
    pub wait_sum: f64,
    pub ttp: LogHist,
    /// Response time of counted requests as this service's callers see it: from arrival at a
    /// pod until the answer leaves it, the calls it made included (what a mesh sidecar at the
    /// destination measures).
    pub rt: LogHist,
    /// Counted responses slower than the scenario's SLO target.
    pub rt_over: u64,
    pub queue_full: u64,
    pub no_endpoint: u64,
    pub failed: u64,
    pub par: u32,
    pub desired: u32,
    pub cpu_m: f64,
    pub mem_mib: f64,
    pub startup_ms: f64,
    /// Pods not yet dead, in creation order.
    pub pods: Vec<u32>,
    /// Pods ever created (the id of each pod's random stream).
    pub created: u32,
    pub replicas_max: u32,
    /// Live pods at the last sample.
    pub live: u32,
    pub name: String,
    pub initial_servers: Vec<u32>,
    /// The scheduling rules that depend on the server alone (node affinity, taints) as a
    /// per-server mask; empty: any server.
    pub allowed: Vec<bool>,
    pub hpa: Option<HpaRt>,
}

/// One node of a workflow's call tree (global index).
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    pub service: u32,
    pub parent: u32,
    pub first_child: u32,
    pub next_sibling: u32,
    pub prob: f64,
    /// Offset inside the workflow (slot of the request's pod stack).
    pub local: u32,
}

pub(super) struct WorkflowRt {
    pub root: u32,
    pub hold: bool,
    pub req_bytes: f64,
    pub resp_bytes: f64,
}

pub(super) struct GenRt {
    pub wf: u32,
    pub origin: u32,
    pub arrivals: Arrivals,
    /// Per ms.
    pub rate: f64,
    pub start: f64,
    pub stop: f64,
    pub remaining: u64,
    pub rng: SmallRng,
    pub rates: Vec<f64>,
    pub step_ms: f64,
    pub done: bool,
}

pub(super) struct ServerRt {
    pub name: String,
    pub tier: String,
    pub group_label: String,
    pub alloc_cpu: f64,
    pub alloc_mem: f64,
    pub used_cpu: f64,
    pub used_mem: f64,
    pub bw_mbps: f64,
    pub speed: f64,
    pub price: f64,
    pub alive: bool,
    pub schedulable: bool,
    pub tier_rank: u32,
    pub pods: u32,
    pub max_pods: u32,
    pub on_since: f64,
    pub cost: f64,
    /// Σ over its pods of the larger of the CPU and memory share of the server each requests.
    pub requested_share: f64,
    /// Price × hours × `requested_share`, integrated up to `requested_since`.
    pub requested_cost: f64,
    pub requested_since: f64,
    /// CPU, memory and bandwidth utilisation at the last sample.
    pub last: [f64; 3],
}

impl ServerRt {
    /// The larger of the CPU and memory share of this server a pod with these requests takes
    /// (how the analytic evaluator prices a pod too).
    pub(crate) fn pod_share(&self, cpu_m: f64, mem_mib: f64) -> f64 {
        let part = |r: f64, alloc: f64| if alloc > 0.0 { r / alloc } else { 0.0 };
        part(cpu_m, self.alloc_cpu).max(part(mem_mib, self.alloc_mem))
    }

    /// Adds a pod's share (negative: removes it), after accounting the cost up to `now`.
    pub(crate) fn add_requested(&mut self, now: f64, share: f64) {
        self.requested_cost += (now - self.requested_since) / 3_600_000.0 * self.price * self.requested_share;
        self.requested_since = now;
        self.requested_share = (self.requested_share + share).max(0.0);
    }
}

/// A pair of endpoints that has carried a request: its random stream and, looked up once, its
/// latency distribution (index in `World::lat`), added-latency cell (`World::extra`) and
/// traffic cell (`World::link_bytes`).
pub(super) struct LinkRt {
    pub rng: SmallRng,
    /// Its endpoints, lower id first.
    pub lo: u32,
    pub hi: u32,
    pub sampler: u32,
    pub extra: u32,
    pub cell: u32,
}

/// Endpoints are servers (0..S) then user origins; their place in the topology as ids.
#[derive(Debug, Clone, Copy)]
pub(super) struct EndpointLoc {
    pub region: u32,
    pub zone: u32,
    pub rack: u32,
}

#[derive(Default)]
pub(super) struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x100_0000_01B3);
        }
    }
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.0 = (x ^ (x >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// What a caller can do to a running simulation: cancel it, and hear how far it got
/// (simulated seconds).
#[derive(Default, Clone, Copy)]
pub(crate) struct Control<'a> {
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
    pub progress: Option<&'a (dyn Fn(f64) + Sync)>,
}

pub(super) type FastMap<V> = HashMap<u64, V, BuildHasherDefault<U64Hasher>>;

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum SimError {
    /// The scenario is inconsistent in a way only compilation sees.
    Scenario(String),
    /// The event cap was reached.
    EventCap { max_events: u64, at_s: f64 },
    /// Too many requests at once.
    InFlightCap { max_in_flight: u32, at_s: f64 },
    /// Simulated time went past `limits.max_sim_s` (a run that does not end by itself).
    TimeCap { max_sim_s: f64, at_s: f64 },
    /// The time series would keep more than `limits.max_series_points` values.
    SeriesCap { max_series_points: u64, at_s: f64 },
    /// The caller's cancel flag was raised.
    Cancelled { at_s: f64 },
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::Scenario(m) => write!(f, "scenario: {m}"),
            SimError::EventCap { max_events, at_s } => write!(
                f,
                "stopped: event cap of {max_events} events reached at t = {at_s:.1} s (raise limits.max_events)"
            ),
            SimError::Cancelled { at_s } => write!(f, "cancelled at t = {at_s:.1} s"),
            SimError::TimeCap { max_sim_s, at_s } => write!(
                f,
                "stopped: simulated time passed limits.max_sim_s = {max_sim_s} s (at t = {at_s:.1} s); the run \
                 does not end by itself (requests that never finish, or service times beyond the horizon)"
            ),
            SimError::SeriesCap { max_series_points, at_s } => write!(
                f,
                "stopped: the time series reached limits.max_series_points = {max_series_points} values at \
                 t = {at_s:.1} s (sample less often with sample_s, or raise the limit)"
            ),
            SimError::InFlightCap { max_in_flight, at_s } => write!(
                f,
                "stopped: in-flight cap of {max_in_flight} requests reached at t = {at_s:.1} s \
                 (the system is overloaded; raise limits.max_in_flight)"
            ),
        }
    }
}

impl std::error::Error for SimError {}

pub(super) struct World<'s> {
    pub sc: &'s Scenario,
    pub seed: u64,
    pub now: f64,
    pub seq: u64,
    pub heap: EventQueue,
    pub events: u64,
    // topology
    pub servers: Vec<ServerRt>,
    /// Bytes each server sent or received since the last sample: apart from `ServerRt`, whose
    /// names and prices a hop does not need.
    pub server_bytes: Vec<f64>,
    pub endpoints: Vec<EndpointLoc>,
    pub n_regions: usize,
    pub region_names: Vec<String>,
    pub groups: Vec<String>,
    pub ep_group: Vec<u32>,
    pub lat: Vec<Sampler>,
    /// Sampler index per region pair (R × R); NONE → inter_region.
    pub pair: Vec<u32>,
    pub extra: Vec<f64>,
    /// Link index per endpoint pair: a dense table over the endpoints that carried a request
    /// (their compact ids in `ep_compact`, given on first use), `link_side` × `link_side`, so it
    /// stays small and in cache however many servers the scenario has; past `DENSE_LINKS` of
    /// them (`link_side` 0), the map.
    pub ep_compact: Vec<u32>,
    pub n_compact: u32,
    pub link_side: usize,
    pub link_table: Vec<u32>,
    pub link_map: FastMap<u32>,
    pub links: Vec<LinkRt>,
    /// Bytes per group pair (G × G).
    pub link_bytes: Vec<f64>,
    // workload
    pub services: Vec<ServiceRt>,
    /// Anti-affinity and topology spread, when any service has them (`sim::rules`).
    pub rules: Option<crate::twin::scheduling::Placement>,
    pub pods: Vec<PodRt>,
    pub pending: Vec<u32>,
    pub steps: Vec<Step>,
    pub workflows: Vec<WorkflowRt>,
    pub stride: usize,
    pub gens: Vec<GenRt>,
    pub active_gens: usize,
    pub changes_rng: SmallRng,
    // requests (struct of arrays)
    pub reqs: Vec<Req>,
    pub r_pods: Vec<u32>,
    /// Arrival time at each step's pod (same layout as `r_pods`), for response times.
    pub r_arr: Vec<f64>,
    pub free: Vec<u32>,
    pub in_flight: u32,
    pub max_in_flight: u32,
    pub in_area: f64,
    pub in_last: f64,
    // results
    pub requests: u64,
    pub completed: u64,
    pub aborted: u64,
    pub sojourn_sum: f64,
    pub ttr: LogHist,
    /// Time to resolution since the last sample (for the p99 series).
    pub ttr_win: LogHist,
    pub slo_target: f64,
    pub slo_over: u64,
    pub counted_drops: u64,
    pub warmup_ms: f64,
    pub sample_ms: f64,
    pub last_sample: f64,
    pub series: SeriesStore,
    pub pending_max: u32,
    pub peak_pods: u32,
    pub peak_t: f64,
    pub peak_tiers: Vec<(String, u32)>,
}

impl<'s> World<'s> {
    #[inline]
    pub(crate) fn push(&mut self, t: f64, kind: Kind, a: u32, b: u32) {
        self.seq += 1;
        let side = !matches!(kind, Kind::Arrive | Kind::Done | Kind::Return);
        self.heap.push(t, (self.seq << 8) | kind as u64, a, b, side);
    }

    /// One network hop between endpoints, in ms; `bytes` are counted on the link.
    #[inline]
    pub(crate) fn hop(&mut self, ea: u32, eb: u32, bytes: f64) -> f64 {
        if ea == NONE || eb == NONE {
            return 0.0;
        }
        let (lo, hi) = if ea < eb { (ea, eb) } else { (eb, ea) };
        let li = self.link_of(lo, hi);
        let l = &mut self.links[li as usize];
        let mut d = self.lat[l.sampler as usize].sample(&mut l.rng);
        if lo != hi {
            d += self.extra[l.extra as usize];
            if bytes > 0.0 {
                self.link_bytes[l.cell as usize] += bytes;
                if let Some(b) = self.server_bytes.get_mut(lo as usize) {
                    *b += bytes;
                }
                if let Some(b) = self.server_bytes.get_mut(hi as usize) {
                    *b += bytes;
                }
            }
        }
        d
    }

    /// The index in `links` of the link between endpoints `lo` ≤ `hi`, made on first use.
    #[inline]
    pub(super) fn link_of(&mut self, lo: u32, hi: u32) -> u32 {
        let (cl, ch) = (self.ep_compact[lo as usize], self.ep_compact[hi as usize]);
        if cl != NONE && ch != NONE && self.link_side > 0 {
            let li = self.link_table[cl as usize * self.link_side + ch as usize];
            if li != NONE {
                return li;
            }
        }
        self.link_slow(lo, hi)
    }

    /// The link between `lo` < `hi` (`hi` may equal `lo`) when the fast path did not find it:
    /// gives the endpoints compact ids, grows the table (or moves to the map), makes the link.
    #[cold]
    fn link_slow(&mut self, lo: u32, hi: u32) -> u32 {
        let (cl, ch) = (self.compact_id(lo), self.compact_id(hi));
        let n = self.links.len() as u32;
        if self.link_side == 0 {
            let li = *self.link_map.entry(((lo as u64) << 32) | hi as u64).or_insert(n);
            if li == n {
                self.new_link(lo, hi);
            }
            return li;
        }
        let cell = cl as usize * self.link_side + ch as usize;
        if self.link_table[cell] == NONE {
            self.link_table[cell] = n;
            self.new_link(lo, hi);
        }
        self.link_table[cell]
    }

    fn compact_id(&mut self, e: u32) -> u32 {
        let c = self.ep_compact[e as usize];
        if c != NONE {
            return c;
        }
        let c = self.n_compact;
        self.ep_compact[e as usize] = c;
        self.n_compact += 1;
        let used = self.n_compact as usize;
        if self.link_side > 0 && used > self.link_side {
            // Rebuild from the links made so far, at twice the side, or move them to the map.
            let side = (self.link_side * 2).min(self.ep_compact.len());
            if side > DENSE_LINKS {
                self.link_side = 0;
                self.link_table = Vec::new();
            } else {
                self.link_side = side;
                self.link_table = vec![NONE; side * side];
            }
            for (i, l) in self.links.iter().enumerate() {
                if self.link_side == 0 {
                    self.link_map.insert(((l.lo as u64) << 32) | l.hi as u64, i as u32);
                } else {
                    let (a, b) = (self.ep_compact[l.lo as usize], self.ep_compact[l.hi as usize]);
                    self.link_table[a as usize * side + b as usize] = i as u32;
                }
            }
        }
        c
    }

    /// A link's first use: its stream and what every later hop over it looks up.
    #[cold]
    fn new_link(&mut self, lo: u32, hi: u32) {
        let (a, b) = (self.endpoints[lo as usize], self.endpoints[hi as usize]);
        let sampler = if lo == hi {
            0
        } else if a.region != b.region {
            let p = self.pair[a.region as usize * self.n_regions + b.region as usize];
            if p == NONE { 4 } else { p }
        } else if a.zone != b.zone {
            3
        } else if a.rack != b.rack {
            2
        } else {
            1
        };
        let g = self.groups.len();
        let (ga, gb) = (self.ep_group[lo as usize] as usize, self.ep_group[hi as usize] as usize);
        self.links.push(LinkRt {
            rng: stream(self.seed, StreamKind::Link, lo as u64, hi as u64),
            lo,
            hi,
            sampler,
            extra: a.region * self.n_regions as u32 + b.region,
            cell: (ga.min(gb) * g + ga.max(gb)) as u32,
        });
    }

    #[inline]
    pub(super) fn in_flight_change(&mut self, up: bool) {
        self.in_area += self.in_flight as f64 * (self.now - self.in_last);
        self.in_last = self.now;
        if up {
            self.in_flight += 1;
            self.max_in_flight = self.max_in_flight.max(self.in_flight);
        } else {
            self.in_flight -= 1;
        }
    }

    #[inline]
    pub(super) fn pod_of(&self, slot: u32, step: u32) -> u32 {
        self.r_pods[slot as usize * self.stride + self.steps[step as usize].local as usize]
    }

    #[inline]
    pub(super) fn set_pod(&mut self, slot: u32, step: u32, pod: u32) {
        let i = slot as usize * self.stride + self.steps[step as usize].local as usize;
        self.r_pods[i] = pod;
    }

    /// Chooses a ready pod of `svc` for a caller at endpoint `from`; the pod counts the
    /// request as outstanding from now (in transit too, as a proxy's balancer sees it).
    #[inline]
    pub(crate) fn pick(&mut self, svc: u32, from: u32) -> Option<u32> {
        let p = self.choose(svc, from)?;
        self.pods[p as usize].outstanding += 1;
        Some(p)
    }

    #[inline]
    fn choose(&mut self, svc: u32, from: u32) -> Option<u32> {
        let s = &mut self.services[svc as usize];
        let n = s.ready.len();
        if n == 0 {
            return None;
        }
        match s.balancer {
            Balancer::Random => Some(s.ready[((unit(&mut s.rng) * n as f64) as usize).min(n - 1)]),
            Balancer::RoundRobin => {
                s.rr = s.rr.wrapping_add(1);
                Some(s.ready[s.rr as usize % n])
            }
            Balancer::LeastOutstanding | Balancer::Locality => {
                let start = ((unit(&mut s.rng) * n as f64) as usize).min(n - 1);
                let local = s.balancer == Balancer::Locality && from != NONE;
                let ready = std::mem::take(&mut s.ready);
                if s.direct {
                    let now = self.now;
                    for &p in &ready {
                        self.settle(p, now);
                    }
                }
                let mut best = (u32::MAX, u32::MAX, NONE);
                for k in 0..n {
                    let p = ready[(start + k) % n];
                    let pod = &self.pods[p as usize];
                    let class = if local { self.distance_class(from, pod.server) } else { 0 };
                    if (class, pod.outstanding) < (best.0, best.1) {
                        best = (class, pod.outstanding, p);
                    }
                }
                self.services[svc as usize].ready = ready;
                Some(best.2)
            }
        }
    }

    /// 0 same server … 4 other region: how far apart two endpoints are.
    fn distance_class(&self, a: u32, b: u32) -> u32 {
        if a == b {
            return 0;
        }
        let (x, y) = (self.endpoints[a as usize], self.endpoints[b as usize]);
        if x.region != y.region {
            4
        } else if x.zone != y.zone {
            3
        } else if x.rack != y.rack {
            2
        } else {
            1
        }
    }

    /// The event loop.
    pub(crate) fn run_loop(&mut self) -> Result<(), SimError> {
        self.run_loop_with(&Control::default())
    }

    /// The event loop, checking the caller's cancel flag and reporting simulated time every
    /// few thousand events (cheap enough not to show in the throughput).
    pub(crate) fn run_loop_with(&mut self, ctl: &Control<'_>) -> Result<(), SimError> {
        let max_events = self.sc.limits.max_events;
        let until_empty = self.sc.duration_s.is_none();
        // One comparison an event: the next event count at which to check the cap, the
        // cancel flag and report progress.
        let mut check_at = max_events.saturating_add(1).min(self.events + 0x1000);
        let max_sim_ms = self.sc.limits.max_sim_s * 1000.0;
        // Values a point of the series holds: utilisation per server or group kept, replicas.
        let per_sample = super::scenario::Limits::points_per_sample(
            self.series.util.len() as u64,
            self.services.len() as u64,
        );
        let max_samples = self.sc.limits.max_series_points / per_sample.max(1);
        while let Some(ev) = self.heap.pop() {
            self.now = ev.t;
            if self.now > max_sim_ms {
                return Err(SimError::TimeCap {
                    max_sim_s: self.sc.limits.max_sim_s,
                    at_s: self.now / 1000.0,
                });
            }
            self.events += 1;
            if self.events >= check_at {
                if self.events > max_events {
                    return Err(SimError::EventCap { max_events, at_s: self.now / 1000.0 });
                }
                if ctl.cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
                    return Err(SimError::Cancelled { at_s: self.now / 1000.0 });
                }
                if let Some(p) = ctl.progress {
                    p(self.now / 1000.0);
                }
                check_at = max_events.saturating_add(1).min(self.events + 0x1000);
            }
            match ev.kind() {
                Kind::Gen => self.on_gen(ev.a)?,
                Kind::Arrive => {
                    if self.reqs[ev.a as usize].generation == ev.b {
                        self.on_arrive(ev.a)
                    }
                }
                Kind::Done => {
                    if self.reqs[ev.a as usize].generation == ev.b {
                        self.on_done(ev.a)
                    }
                }
                Kind::Return => {
                    if self.reqs[ev.a as usize].generation == ev.b {
                        self.on_return(ev.a)
                    }
                }
                Kind::Complete => {
                    if self.reqs[ev.a as usize].generation == ev.b {
                        self.on_complete(ev.a)
                    }
                }
                Kind::PodReady => self.on_pod_ready(ev.a),
                Kind::Hpa => self.on_hpa(ev.a),
                Kind::Sample => {
                    if self.series.t.len() as u64 >= max_samples {
                        return Err(SimError::SeriesCap {
                            max_series_points: self.sc.limits.max_series_points,
                            at_s: self.now / 1000.0,
                        });
                    }
                    self.sample();
                    let t = self.now + self.sample_ms;
                    self.push(t, Kind::Sample, 0, 0);
                }
                Kind::Change => self.apply_change(ev.a as usize),
                Kind::PodGone => self.on_pod_gone_check(ev.a),
                Kind::Stop => break,
            }
            if until_empty && self.active_gens == 0 && self.in_flight == 0 {
                break;
            }
        }
        Ok(())
    }

    fn on_hpa(&mut self, svc: u32) {
        let s = svc as usize;
        let now = self.now;
        let Some(h) = &self.services[s].hpa else { return };
        let (metric, tol, period) = (h.metric, h.tolerance, h.period_ms);
        if self.services[s].direct {
            for k in 0..self.services[s].pods.len() {
                let p = self.services[s].pods[k];
                self.settle(p, now);
            }
        }
        let current = match metric {
            MetricSpec::ProcessingTimeMs(target) => {
                let sv = &self.services[s];
                if sv.win_n == 0 { None } else { Some(sv.win_sum / sv.win_n as f64 / target) }
            }
            MetricSpec::UtilizationPct(target) => {
                let (mut area, mut workers) = (0.0, 0.0);
                for k in 0..self.services[s].ready.len() {
                    let p = self.services[s].ready[k];
                    area += self.busy_area(p, now) - self.pods[p as usize].mark_hpa;
                    workers += self.pods[p as usize].par as f64;
                }
                if workers == 0.0 { None } else { Some(area / (workers * period) * 100.0 / target) }
            }
        };
        for k in 0..self.services[s].pods.len() {
            let p = self.services[s].pods[k];
            let a = self.busy_area(p, now);
            self.pods[p as usize].mark_hpa = a;
        }
        let sv = &mut self.services[s];
        sv.win_sum = 0.0;
        sv.win_n = 0;
        let ready = sv.ready.len() as u32;
        if let Some(ratio) = current
            && ready > 0
        {
            let cur = sv.desired;
            let want = super::hpa::metric_replicas(ratio, ready, cur, tol);
            let h = sv.hpa.as_mut().expect("checked above");
            let new = h.state.decide(&h.params, now / 1000.0, cur, want);
            if new != cur {
                sv.desired = new;
                self.reconcile(svc);
            }
        }
        self.push(now + period, Kind::Hpa, svc, 0);
    }
}

/// The next arrival time after `now` (ms), or None when the generator has no more.
pub(super) fn next_arrival(g: &mut GenRt, now: f64) -> Option<f64> {
    match g.arrivals {
        Arrivals::Poisson => {
            let e: f64 = rand_distr::Distribution::sample(&rand_distr::Exp1, &mut g.rng);
            Some(now + e / g.rate)
        }
        Arrivals::Constant => Some(now + 1.0 / g.rate),
        Arrivals::Replay => {
            let mut e: f64 = rand_distr::Distribution::sample(&rand_distr::Exp1, &mut g.rng);
            let mut t = now;
            loop {
                let k = ((t - g.start) / g.step_ms).floor().max(0.0) as usize;
                if k >= g.rates.len() {
                    return None;
                }
                let end = g.start + (k + 1) as f64 * g.step_ms;
                let r = g.rates[k];
                if r > 0.0 && e <= r * (end - t) {
                    return Some(t + e / r);
                }
                e -= r * (end - t);
                t = end;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_again_as_the_table_grows_and_moves_to_the_map() {
        // 1,200 servers: used endpoints outgrow the table (16, 32, … 1,024) and then the map
        // takes over; every link made on the way is found again, with its own stream.
        let yaml = r#"name: many
servers: [{ name: n, count: 1200, region: r, cpu_m: 1000, mem_mib: 1000 }]
services: [{ name: s, pod: { service_time: { type: constant, value: 1 } } }]
workflows: [{ name: w, steps: [s] }]
load: [{ name: u, workflow: w, rate: 1, requests: 1 }]
"#;
        let sc = crate::sim::Scenario::from_yaml(yaml, "many.yaml").unwrap();
        let mut w = World::new(&sc, 1).unwrap();
        let pairs: Vec<(u32, u32)> =
            (0..1200u32).map(|i| (i / 2, i)).chain((0..40).map(|i| (i, i))).collect();
        let made: Vec<u32> = pairs.iter().map(|&(a, b)| w.link_of(a, b)).collect();
        assert_eq!(w.link_side, 0, "past {DENSE_LINKS} endpoints the map is used");
        for (&(a, b), &li) in pairs.iter().zip(&made) {
            assert_eq!(w.link_of(a, b), li);
            assert_eq!((w.links[li as usize].lo, w.links[li as usize].hi), (a, b));
        }
        assert_eq!(w.links.len(), pairs.len() - 1, "(0, 0) is asked twice");
    }

    #[test]
    fn event_kinds_survive_packing_and_ties_pop_in_order() {
        for k in KINDS {
            assert_eq!(KINDS[k as usize], k);
        }
        let mut h = EventQueue::default();
        for (seq, kind) in [(1u64, Kind::Done), (2, Kind::Gen), (3, Kind::Stop)] {
            h.push(5.0, (seq << 8) | kind as u64, 0, 0, seq == 2);
        }
        h.push(1.0, (9 << 8) | Kind::Hpa as u64, 0, 0, true);
        let order: Vec<Kind> = std::iter::from_fn(|| h.pop()).map(|e| e.kind()).collect();
        assert_eq!(order, vec![Kind::Hpa, Kind::Done, Kind::Gen, Kind::Stop]);
    }
}
