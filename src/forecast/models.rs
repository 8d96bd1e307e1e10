//! The forecasting models, each an online state that takes one observation at a time and
//! forecasts h steps ahead: naive seasonal repetition, EWMA, and additive Holt-Winters (ETS
//! A,Ad,A: damped trend, optional season), which covers Holt's linear trend with no season.

/// A model and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Spec {
    /// Repeats the value one period ago.
    SeasonalNaive { period: usize },
    /// Exponentially weighted moving average (simple exponential smoothing).
    Ewma { alpha: f64 },
    /// Additive Holt-Winters with a damped trend; `period` 0 means no season.
    HoltWinters { alpha: f64, beta: f64, gamma: f64, phi: f64, period: usize },
}

impl Spec {
    pub(crate) fn describe(&self) -> String {
        match *self {
            Spec::SeasonalNaive { period } => format!("seasonal-naive(period {period})"),
            Spec::Ewma { alpha } => format!("ewma(α {alpha})"),
            Spec::HoltWinters { alpha, beta, gamma, phi, period } => {
                format!("holt-winters(period {period}, α {alpha}, β {beta}, γ {gamma}, φ {phi})")
            }
        }
    }

    /// Observations needed before the model can start.
    pub(crate) fn warmup(&self) -> usize {
        match *self {
            Spec::SeasonalNaive { period } => period.max(1),
            Spec::Ewma { .. } => 1,
            Spec::HoltWinters { period, .. } => (2 * period).max(2),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Model {
    spec: Spec,
    level: f64,
    trend: f64,
    /// Seasonal indices (Holt-Winters) or the last period of values (seasonal naive).
    season: Vec<f64>,
    /// Observations seen so far.
    t: usize,
}

impl Model {
    /// A model initialised from the first `spec.warmup()` values of `data` and then updated
    /// with all of `data`. `None` when `data` is too short.
    pub(crate) fn run(spec: Spec, data: &[f64]) -> Option<Model> {
        let mut m = Model::init(spec, data)?;
        for &y in data {
            m.update(y);
        }
        Some(m)
    }

    fn init(spec: Spec, data: &[f64]) -> Option<Model> {
        if data.len() < spec.warmup() {
            return None;
        }
        let mut m = Model { spec, level: data[0], trend: 0.0, season: Vec::new(), t: 0 };
        match spec {
            Spec::SeasonalNaive { period } => m.season = data[..period.max(1)].to_vec(),
            Spec::Ewma { .. } => {}
            Spec::HoltWinters { period, .. } if period > 1 => {
                let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
                let (m1, m2) = (mean(&data[..period]), mean(&data[period..2 * period]));
                m.level = m1;
                m.trend = (m2 - m1) / period as f64;
                m.season = (0..period).map(|i| (data[i] - m1 + data[period + i] - m2) / 2.0).collect();
                // The replay below starts one "trend step" before the first observation.
                m.level -= m.trend;
            }
            Spec::HoltWinters { .. } => {
                m.trend = if data.len() > 1 { data[1] - data[0] } else { 0.0 };
                m.level -= m.trend;
            }
        }
        Some(m)
    }

    pub(crate) fn spec(&self) -> Spec {
        self.spec
    }

    pub(crate) fn update(&mut self, y: f64) {
        match self.spec {
            Spec::SeasonalNaive { period } => {
                let p = period.max(1);
                self.season[self.t % p] = y;
            }
            Spec::Ewma { alpha } => {
                self.level = if self.t == 0 { y } else { alpha * y + (1.0 - alpha) * self.level };
            }
            Spec::HoltWinters { alpha, beta, gamma, phi, period } => {
                let s = if period > 1 { self.season[self.t % period] } else { 0.0 };
                let prev = self.level;
                self.level = alpha * (y - s) + (1.0 - alpha) * (prev + phi * self.trend);
                self.trend = beta * (self.level - prev) + (1.0 - beta) * phi * self.trend;
                if period > 1 {
                    self.season[self.t % period] = gamma * (y - self.level) + (1.0 - gamma) * s;
                }
            }
        }
        self.t += 1;
    }

    /// The forecast `h` ≥ 1 steps after the last observation.
    pub(crate) fn predict(&self, h: usize) -> f64 {
        let h = h.max(1);
        match self.spec {
            Spec::SeasonalNaive { period } => {
                let p = period.max(1);
                self.season[(self.t + (h - 1) % p) % p]
            }
            Spec::Ewma { .. } => self.level,
            Spec::HoltWinters { phi, period, .. } => {
                let damp: f64 = if (phi - 1.0).abs() < 1e-12 {
                    h as f64
                } else {
                    (1..=h).map(|i| phi.powi(i as i32)).sum()
                };
                let s = if period > 1 { self.season[(self.t + (h - 1) % period) % period] } else { 0.0 };
                self.level + damp * self.trend + s
            }
        }
    }
}
