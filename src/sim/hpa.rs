//! The horizontal pod autoscaler's decision, as Kubernetes' controller computes it
//! (pkg/controller/podautoscaler: tolerance band, `ceil(ready × current/target)`, min/max,
//! stabilisation windows over past recommendations, scale-up/down policies over past scale
//! events) and KubeTwin's simpler scaler (the same formula and band, clamped, nothing else).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalerMode {
    /// Kubernetes' HPA with its behaviour (stabilisation and rate limits).
    #[default]
    Kubernetes,
    /// KubeTwin's KTPodScaler: formula, tolerance band and bounds only.
    Kubetwin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Pods,
    Percent,
}

/// One `behavior.scaleUp/scaleDown.policies[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(rename = "type")]
    pub kind: PolicyKind,
    pub value: u32,
    pub period_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectPolicy {
    /// The policy allowing the largest change (Kubernetes' default).
    #[default]
    Max,
    Min,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    #[serde(default)]
    pub stabilization_s: f64,
    #[serde(default)]
    pub select: SelectPolicy,
    pub policies: Vec<Policy>,
}

/// `spec.behavior`; the default is Kubernetes' default behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behavior {
    #[serde(default = "Behavior::default_up")]
    pub scale_up: Rules,
    #[serde(default = "Behavior::default_down")]
    pub scale_down: Rules,
}

impl Behavior {
    /// Scale up by the larger of 4 pods or 100 % per 15 s, no stabilisation.
    pub fn default_up() -> Rules {
        Rules {
            stabilization_s: 0.0,
            select: SelectPolicy::Max,
            policies: vec![
                Policy { kind: PolicyKind::Pods, value: 4, period_s: 15.0 },
                Policy { kind: PolicyKind::Percent, value: 100, period_s: 15.0 },
            ],
        }
    }

    /// Scale down by up to 100 % per 15 s after a 5-minute stabilisation window.
    pub(crate) fn default_down() -> Rules {
        Rules {
            stabilization_s: 300.0,
            select: SelectPolicy::Max,
            policies: vec![Policy { kind: PolicyKind::Percent, value: 100, period_s: 15.0 }],
        }
    }
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior { scale_up: Self::default_up(), scale_down: Self::default_down() }
    }
}

/// Replicas the metric asks for: unchanged inside the tolerance band, else
/// `ceil(ready × current/target)`.
pub(crate) fn metric_replicas(ratio: f64, ready: u32, current: u32, tolerance: f64) -> u32 {
    if !ratio.is_finite() || (1.0 - ratio).abs() <= tolerance {
        return current;
    }
    (ratio * ready as f64).ceil().max(0.0) as u32
}

/// What one HPA remembers between syncs.
#[derive(Debug, Clone, Default)]
pub(crate) struct HpaState {
    /// Unstabilised recommendations (time s, replicas).
    recs: Vec<(f64, u32)>,
    /// Scale events (time s, replicas added / removed).
    ups: Vec<(f64, u32)>,
    downs: Vec<(f64, u32)>,
}

/// The HPA's fixed parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HpaParams {
    pub mode: ScalerMode,
    pub min: u32,
    pub max: u32,
    pub behavior: Behavior,
}

impl HpaState {
    /// Entries remembered (bounded by the longest window over the sync period).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.recs.len() + self.ups.len() + self.downs.len()
    }

    /// The replica count after a sync at `now` (seconds) with `current` replicas, given what
    /// the metrics ask for. Records the scale event when the count changes.
    pub(crate) fn decide(&mut self, p: &HpaParams, now: f64, current: u32, metric_desired: u32) -> u32 {
        if p.mode == ScalerMode::Kubetwin {
            return metric_desired.clamp(p.min, p.max);
        }
        // The controller's preliminary bounds check.
        let desired = if current > p.max {
            p.max
        } else if current < p.min {
            p.min
        } else {
            metric_desired
        };
        let stabilised = self.stabilise(p, now, current, desired);
        let out = self.rate_limit(p, now, current, stabilised);
        if out > current {
            self.ups.push((now, out - current));
        } else if out < current {
            self.downs.push((now, current - out));
        }
        let keep = p
            .behavior
            .scale_up
            .policies
            .iter()
            .chain(&p.behavior.scale_down.policies)
            .map(|q| q.period_s)
            .fold(0.0, f64::max);
        self.ups.retain(|e| e.0 > now - keep);
        self.downs.retain(|e| e.0 > now - keep);
        out
    }

    fn stabilise(&mut self, p: &HpaParams, now: f64, current: u32, desired: u32) -> u32 {
        let up_cut = now - p.behavior.scale_up.stabilization_s;
        let down_cut = now - p.behavior.scale_down.stabilization_s;
        let (mut up, mut down) = (desired, desired);
        for &(t, r) in &self.recs {
            if t > up_cut {
                up = up.min(r);
            }
            if t > down_cut {
                down = down.max(r);
            }
        }
        self.recs.retain(|&(t, _)| t > up_cut || t > down_cut);
        self.recs.push((now, desired));
        current.max(up).min(down)
    }

    fn changed_within(events: &[(f64, u32)], now: f64, period: f64) -> u32 {
        events.iter().filter(|e| e.0 > now - period).map(|e| e.1).sum()
    }

    fn rate_limit(&self, p: &HpaParams, now: f64, current: u32, desired: u32) -> u32 {
        let start = |period: f64| {
            current as i64 - Self::changed_within(&self.ups, now, period) as i64
                + Self::changed_within(&self.downs, now, period) as i64
        };
        if desired > current {
            let r = &p.behavior.scale_up;
            let limit = match r.select {
                SelectPolicy::Disabled => current as i64,
                sel => {
                    let proposals = r.policies.iter().map(|q| {
                        let s = start(q.period_s);
                        match q.kind {
                            PolicyKind::Pods => s + q.value as i64,
                            PolicyKind::Percent => (s as f64 * (1.0 + q.value as f64 / 100.0)).ceil() as i64,
                        }
                    });
                    if sel == SelectPolicy::Max { proposals.max() } else { proposals.min() }
                        .unwrap_or(current as i64)
                }
            };
            let allowed = limit.max(current as i64).min(p.max as i64) as u32;
            desired.min(allowed)
        } else if desired < current {
            let r = &p.behavior.scale_down;
            let limit = match r.select {
                SelectPolicy::Disabled => current as i64,
                sel => {
                    let proposals = r.policies.iter().map(|q| {
                        let s = start(q.period_s);
                        match q.kind {
                            PolicyKind::Pods => s - q.value as i64,
                            PolicyKind::Percent => (s as f64 * (1.0 - q.value as f64 / 100.0)) as i64,
                        }
                    });
                    // For scale-down the largest change is the smallest count.
                    if sel == SelectPolicy::Max { proposals.min() } else { proposals.max() }
                        .unwrap_or(current as i64)
                }
            };
            let allowed = limit.min(current as i64).max(p.min as i64) as u32;
            desired.max(allowed)
        } else {
            desired
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k8s(min: u32, max: u32) -> HpaParams {
        HpaParams { mode: ScalerMode::Kubernetes, min, max, behavior: Behavior::default() }
    }

    #[test]
    fn formula_and_tolerance_band() {
        // KubeTwin's example: 20 replicas, 15 ms against 8 ms → 38.
        assert_eq!(metric_replicas(15.0 / 8.0, 20, 20, 0.1), 38);
        // Inside ±10 %: no change, even though ceil would move it.
        assert_eq!(metric_replicas(1.09, 10, 10, 0.1), 10);
        assert_eq!(metric_replicas(0.91, 10, 10, 0.1), 10);
        assert_eq!(metric_replicas(1.11, 10, 10, 0.1), 12);
        assert_eq!(metric_replicas(0.5, 10, 10, 0.1), 5);
        // Only ready pods count in the product.
        assert_eq!(metric_replicas(2.0, 3, 5, 0.1), 6);
    }

    #[test]
    fn scale_up_limited_to_max_of_4_pods_or_100_percent() {
        let p = k8s(1, 100);
        let mut s = HpaState::default();
        // From 2: +4 pods beats +100 %.
        assert_eq!(s.decide(&p, 15.0, 2, 50), 6);
        // Within the same 15 s window nothing more (period start is 2 → limit 6).
        assert_eq!(s.decide(&p, 20.0, 6, 50), 6);
        // Next period from 6: +100 % → 12.
        assert_eq!(s.decide(&p, 30.0, 6, 50), 12);
        assert_eq!(s.decide(&p, 45.0, 12, 50), 24);
        assert_eq!(s.decide(&p, 60.0, 24, 50), 48);
        assert_eq!(s.decide(&p, 75.0, 48, 50), 50);
        // Bounded by max.
        assert_eq!(s.decide(&p, 90.0, 50, 500), 100);
    }

    #[test]
    fn scale_down_waits_for_the_stabilisation_window() {
        let p = k8s(1, 100);
        let mut s = HpaState::default();
        assert_eq!(s.decide(&p, 0.0, 10, 10), 10);
        // Load drops: recommendations of 3 are held back by the 10 seen within 5 minutes.
        let mut t = 15.0;
        while t < 300.0 {
            assert_eq!(s.decide(&p, t, 10, 3), 10, "at {t}");
            t += 15.0;
        }
        // At 300 s the recommendation at 0 s leaves the window: scale down to 3.
        assert_eq!(s.decide(&p, 300.0, 10, 3), 3);
    }

    #[test]
    fn stabilisation_uses_the_largest_recent_recommendation() {
        let p = k8s(1, 100);
        let mut s = HpaState::default();
        assert_eq!(s.decide(&p, 0.0, 10, 10), 10);
        assert_eq!(s.decide(&p, 100.0, 10, 8), 10);
        assert_eq!(s.decide(&p, 200.0, 10, 5), 10);
        // 0 s leaves the window; the largest left is 8 (at 100 s).
        assert_eq!(s.decide(&p, 301.0, 10, 5), 8);
        assert_eq!(s.decide(&p, 401.0, 8, 5), 5);
    }

    #[test]
    fn bounds_and_kubetwin_mode() {
        let p = k8s(10, 50);
        let mut s = HpaState::default();
        assert_eq!(s.decide(&p, 0.0, 5, 5), 10, "below min is raised to min");
        let kt = HpaParams { mode: ScalerMode::Kubetwin, ..k8s(10, 50) };
        let mut s = HpaState::default();
        assert_eq!(s.decide(&kt, 0.0, 10, 38), 38, "no rate limit");
        assert_eq!(s.decide(&kt, 15.0, 38, 2), 10, "no stabilisation, clamped at min");
        assert_eq!(s.decide(&kt, 30.0, 10, 90), 50);
    }

    #[test]
    fn custom_policies_and_disabled_scale_down() {
        let mut b = Behavior::default();
        b.scale_up.policies = vec![Policy { kind: PolicyKind::Pods, value: 1, period_s: 60.0 }];
        b.scale_down.select = SelectPolicy::Disabled;
        b.scale_down.stabilization_s = 0.0;
        let p = HpaParams { mode: ScalerMode::Kubernetes, min: 1, max: 20, behavior: b };
        let mut s = HpaState::default();
        assert_eq!(s.decide(&p, 0.0, 5, 10), 6);
        assert_eq!(s.decide(&p, 15.0, 6, 10), 6, "one pod per minute");
        assert_eq!(s.decide(&p, 61.0, 6, 10), 7);
        assert_eq!(s.decide(&p, 75.0, 7, 1), 7, "scale-down disabled");
    }
}
