//! A small spreading scheduler for twins built without a cluster: each pod goes to the
//! schedulable server with the most CPU and memory left after placing it (ties: fewest pods,
//! then the first server), as kube-scheduler's default scoring leans, among the servers the
//! scheduling rules admit (the caller's filter, from `twin::scheduling`).
//!
//! Servers with the same allocatable resources lose the same share to a pod, so within such a
//! class the best server is the least used one that fits: each class keeps its servers ordered
//! by use, and a pod looks at one candidate per class instead of every server (50,000 pods on
//! 5,000 servers took a second the straightforward way).

use crate::twin::{Resources, Server};
use std::collections::{BTreeSet, HashMap};

/// Use is compared at this resolution: closer than this is a tie, broken by pod count.
const RESOLUTION: f64 = 1e9;

pub(crate) struct Spread<'a> {
    servers: &'a [Server],
    requested: Vec<Resources>,
    pods: Vec<u32>,
    /// Per class of equal allocatable resources: (use, pods, server) in placement order.
    classes: Vec<BTreeSet<(i64, u32, usize)>>,
    class_of: Vec<usize>,
}

impl<'a> Spread<'a> {
    pub(crate) fn new(servers: &'a [Server]) -> Spread<'a> {
        let mut ids: HashMap<[u64; 3], usize> = HashMap::new();
        let mut classes: Vec<BTreeSet<(i64, u32, usize)>> = Vec::new();
        let mut class_of = vec![usize::MAX; servers.len()];
        for (i, s) in servers.iter().enumerate().filter(|(_, s)| s.schedulable) {
            let a = &s.allocatable;
            let c = *ids.entry([a.cpu_m.to_bits(), a.mem_mib.to_bits(), a.bw_mbps.to_bits()]).or_insert_with(
                || {
                    classes.push(BTreeSet::new());
                    classes.len() - 1
                },
            );
            classes[c].insert((0, 0, i));
            class_of[i] = c;
        }
        Spread {
            servers,
            requested: vec![Resources::ZERO; servers.len()],
            pods: vec![0; servers.len()],
            classes,
            class_of,
        }
    }

    /// Mean share of CPU and memory that `used` takes of server `i`.
    fn used(&self, i: usize, used: &Resources) -> f64 {
        let cap = &self.servers[i].allocatable;
        (share(used.cpu_m, cap.cpu_m) + share(used.mem_mib, cap.mem_mib)) / 2.0
    }

    fn key(&self, i: usize) -> (i64, u32, usize) {
        ((self.used(i, &self.requested[i]) * RESOLUTION).round() as i64, self.pods[i], i)
    }

    /// Places one pod; `None` when no schedulable server has room (the pod stays Pending).
    #[cfg(test)]
    pub(crate) fn place(&mut self, req: &Resources) -> Option<usize> {
        self.place_where(req, |_| true)
    }

    /// Places one pod on the best schedulable server that has room and that `allowed` admits
    /// (the scheduling rules, see `twin::scheduling`).
    pub(crate) fn place_where(&mut self, req: &Resources, allowed: impl Fn(usize) -> bool) -> Option<usize> {
        let mut best: Option<(i64, u32, usize)> = None;
        for class in &self.classes {
            // The least used server of the class that fits is the class's best.
            let Some(&(_, pods, i)) = class.iter().find(|&&(_, _, i)| {
                self.requested[i].add(req).fits_in(&self.servers[i].allocatable) && allowed(i)
            }) else {
                continue;
            };
            let after = ((self.used(i, &self.requested[i].add(req))) * RESOLUTION).round() as i64;
            if best.is_none_or(|b| (after, pods, i) < b) {
                best = Some((after, pods, i));
            }
        }
        let (_, _, i) = best?;
        self.take(i, req);
        Some(i)
    }

    /// Binds a pod to server `i` (a DaemonSet's pod, cordoned servers included) if it has room.
    pub(crate) fn bind(&mut self, i: usize, req: &Resources) -> bool {
        if !self.requested[i].add(req).fits_in(&self.servers[i].allocatable) {
            return false;
        }
        self.take(i, req);
        true
    }

    /// What server `i` has left for requests.
    pub(crate) fn free(&self, i: usize) -> Resources {
        self.servers[i].allocatable.sub(&self.requested[i])
    }

    fn take(&mut self, i: usize, req: &Resources) {
        let class = self.class_of[i];
        if class == usize::MAX {
            self.requested[i] = self.requested[i].add(req);
            self.pods[i] += 1;
            return;
        }
        let old = self.key(i);
        self.classes[class].remove(&old);
        self.requested[i] = self.requested[i].add(req);
        self.pods[i] += 1;
        let new = self.key(i);
        self.classes[class].insert(new);
    }
}

fn share(used: f64, cap: f64) -> f64 {
    if cap > 0.0 { used / cap } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twin::Location;

    #[test]
    fn spreads_and_reports_what_does_not_fit() {
        let mut servers: Vec<Server> = (0..3)
            .map(|i| Server::new(&format!("s{i}"), Location::default(), Resources::new(1000.0, 1000.0, 0.0)))
            .collect();
        servers[2].schedulable = false;
        let mut sp = Spread::new(&servers);
        let req = Resources::new(400.0, 100.0, 0.0);
        let placed: Vec<Option<usize>> = (0..5).map(|_| sp.place(&req)).collect();
        assert_eq!(
            placed,
            [Some(0), Some(1), Some(0), Some(1), None],
            "cordoned s2 never used; 5th pod fits nowhere"
        );
        // Zero-request pods still spread by pod count instead of piling on one server.
        let mut sp = Spread::new(&servers[..2]);
        let placed: Vec<Option<usize>> = (0..4).map(|_| sp.place(&Resources::ZERO)).collect();
        assert_eq!(placed, [Some(0), Some(1), Some(0), Some(1)]);
    }

    /// The best use after placing that any server offers, one server at a time.
    fn best_use(servers: &[Server], requested: &[Resources], req: &Resources) -> Option<f64> {
        servers
            .iter()
            .enumerate()
            .filter(|(i, s)| s.schedulable && requested[*i].add(req).fits_in(&s.allocatable))
            .map(|(i, s)| {
                let after = requested[i].add(req);
                (share(after.cpu_m, s.allocatable.cpu_m) + share(after.mem_mib, s.allocatable.mem_mib)) / 2.0
            })
            .min_by(f64::total_cmp)
    }

    #[test]
    fn chooses_the_least_used_server_that_fits_across_mixed_hardware() {
        // Three hardware classes, one server cordoned, pods of varied sizes until they no
        // longer fit: every choice fits and leaves the most room any server could (up to the
        // tie resolution), and a pod is Pending only when no server has room.
        let mut servers: Vec<Server> = (0..30)
            .map(|i| {
                let (cpu, mem) = [(4000.0, 16384.0), (8000.0, 32768.0), (16000.0, 16384.0)][i % 3];
                Server::new(&format!("s{i}"), Location::default(), Resources::new(cpu, mem, 1000.0))
            })
            .collect();
        servers[7].schedulable = false;
        let mut sp = Spread::new(&servers);
        let (mut requested, mut pods) = (vec![Resources::ZERO; 30], vec![0u32; 30]);
        let mut placed = 0;
        for k in 0..2000u32 {
            let req = Resources::new(100.0 + (k * 37 % 900) as f64, 256.0 + (k * 91 % 4096) as f64, 1.0);
            let best = best_use(&servers, &requested, &req);
            let got = sp.place(&req);
            assert_eq!(got.is_some(), best.is_some(), "pod {k}");
            let Some(i) = got else { continue };
            let after = requested[i].add(&req);
            assert!(after.fits_in(&servers[i].allocatable), "pod {k} on s{i}");
            let used = (after.cpu_m / servers[i].allocatable.cpu_m
                + after.mem_mib / servers[i].allocatable.mem_mib)
                / 2.0;
            assert!(used <= best.unwrap() + 2.0 / RESOLUTION, "pod {k}: s{i} at {used}, best {best:?}");
            requested[i] = after;
            pods[i] += 1;
            placed += 1;
        }
        assert!(placed > 100 && placed < 2000, "ran into full servers: {placed} placed");
        assert_eq!(pods[7], 0, "the cordoned server");
    }

    #[test]
    fn identical_pods_on_identical_servers_spread_evenly() {
        let servers: Vec<Server> = (0..50)
            .map(|i| {
                Server::new(&format!("s{i}"), Location::default(), Resources::new(64000.0, 262144.0, 0.0))
            })
            .collect();
        let mut sp = Spread::new(&servers);
        let mut pods = vec![0u32; 50];
        for _ in 0..500 {
            pods[sp.place(&Resources::new(500.0, 1024.0, 0.0)).unwrap()] += 1;
        }
        assert!(pods.iter().all(|&n| n == 10), "{pods:?}");
    }
}
