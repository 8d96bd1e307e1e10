//! Fixed-size metric history: one ring per series, so memory stays flat however long
//! twintop runs.

use serde::Serialize;

/// A ring of the newest `capacity` samples; NaN marks a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    buf: Vec<f32>,
    head: usize,
    len: usize,
}

impl Ring {
    pub(crate) fn new(capacity: usize) -> Ring {
        Ring { buf: vec![f32::NAN; capacity.max(1)], head: 0, len: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, v: f64) {
        self.buf[self.head] = v as f32;
        self.head = (self.head + 1) % self.buf.len();
        self.len = (self.len + 1).min(self.buf.len());
    }

    /// The newest sample, if any.
    #[cfg(test)]
    pub(crate) fn last(&self) -> Option<f64> {
        if self.len == 0 {
            return None;
        }
        let i = (self.head + self.buf.len() - 1) % self.buf.len();
        Some(self.buf[i] as f64)
    }

    /// Oldest to newest.
    pub(crate) fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let cap = self.buf.len();
        let start = (self.head + cap - self.len) % cap;
        (0..self.len).map(move |k| self.buf[(start + k) % cap] as f64)
    }

    pub fn to_vec(&self) -> Vec<f64> {
        self.iter().collect()
    }

    /// The newest `n` samples, oldest first.
    pub(crate) fn tail(&self, n: usize) -> Vec<f64> {
        let v = self.to_vec();
        v[v.len().saturating_sub(n)..].to_vec()
    }
}

impl Serialize for Ring {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // JSON has no NaN: gaps become null.
        s.collect_seq(self.iter().map(|v| if v.is_finite() { Some(v) } else { None }))
    }
}

/// History of one server: utilisation fractions and bandwidth in Mbit/s.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerHistory {
    pub cpu: Ring,
    pub mem: Ring,
    pub bw_mbps: Ring,
}

/// History of one workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadHistory {
    pub cpu_m: Ring,
    pub mem_mib: Ring,
    pub rps: Ring,
    pub p50_ms: Ring,
    pub p99_ms: Ring,
    pub replicas: Ring,
}

impl ServerHistory {
    pub fn new(cap: usize) -> Self {
        ServerHistory { cpu: Ring::new(cap), mem: Ring::new(cap), bw_mbps: Ring::new(cap) }
    }
}

impl WorkloadHistory {
    pub(crate) fn new(cap: usize) -> Self {
        WorkloadHistory {
            cpu_m: Ring::new(cap),
            mem_mib: Ring::new(cap),
            rps: Ring::new(cap),
            p50_ms: Ring::new(cap),
            p99_ms: Ring::new(cap),
            replicas: Ring::new(cap),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_newest_in_order() {
        let mut r = Ring::new(3);
        assert_eq!(r.last(), None);
        for v in 1..=5 {
            r.push(v as f64);
        }
        assert_eq!(r.to_vec(), vec![3.0, 4.0, 5.0]);
        assert_eq!(r.last(), Some(5.0));
        assert_eq!(r.tail(2), vec![4.0, 5.0]);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn gaps_serialize_as_null() {
        let mut r = Ring::new(2);
        r.push(f64::NAN);
        r.push(0.5);
        assert_eq!(serde_json::to_string(&r).unwrap(), "[null,0.5]");
    }
}
