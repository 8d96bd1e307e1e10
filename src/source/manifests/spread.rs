//! A small spreading scheduler for twins built without a cluster: each pod goes to the
//! schedulable server with the most CPU and memory left after placing it (ties: fewest pods),
//! as kube-scheduler's default scoring leans. A placement module may replace it.

use crate::twin::{Resources, Server};

pub struct Spread<'a> {
    servers: &'a [Server],
    requested: Vec<Resources>,
    pods: Vec<u32>,
}

impl<'a> Spread<'a> {
    pub fn new(servers: &'a [Server]) -> Spread<'a> {
        Spread { servers, requested: vec![Resources::ZERO; servers.len()], pods: vec![0; servers.len()] }
    }

    /// Places one pod; `None` when no schedulable server has room (the pod stays Pending).
    pub fn place(&mut self, req: &Resources) -> Option<usize> {
        let mut best: Option<(f64, u32, usize)> = None;
        for (i, s) in self.servers.iter().enumerate() {
            if !s.schedulable {
                continue;
            }
            let after = self.requested[i].add(req);
            if !after.fits_in(&s.allocatable) {
                continue;
            }
            let free = 1.0
                - (share(after.cpu_m, s.allocatable.cpu_m) + share(after.mem_mib, s.allocatable.mem_mib))
                    / 2.0;
            let better = match best {
                None => true,
                Some((f, p, _)) => free > f + 1e-12 || ((free - f).abs() <= 1e-12 && self.pods[i] < p),
            };
            if better {
                best = Some((free, self.pods[i], i));
            }
        }
        let (_, _, i) = best?;
        self.requested[i] = self.requested[i].add(req);
        self.pods[i] += 1;
        Some(i)
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
}
