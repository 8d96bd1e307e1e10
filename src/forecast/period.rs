//! Automatic season detection: peaks of the sample autocorrelation function.

/// Candidate periods, strongest first: local maxima of the autocorrelation at lags ≥ 2 (up
/// to a third of the series, capped at `max_lag`) that stand out (ACF ≥ 0.2 and at least 0.1
/// above the lowest ACF at a shorter lag), so that the slow decay of a trending or
/// autocorrelated series is not mistaken for a season.
pub(crate) fn candidate_periods(series: &[f64], max_lag: usize, keep: usize) -> Vec<usize> {
    let n = series.len();
    let max_lag = max_lag.min(n / 3);
    if max_lag < 3 {
        return Vec::new();
    }
    let acf = autocorrelation(&detrend(series), max_lag + 2);
    let mut peaks: Vec<(f64, usize)> = Vec::new();
    let mut lowest = acf[1];
    for k in 2..=max_lag {
        lowest = lowest.min(acf[k - 1]);
        if acf[k] >= 0.2 && acf[k] > acf[k - 1] && acf[k] >= acf[k + 1] && acf[k] - lowest >= 0.1 {
            peaks.push((acf[k], k));
        }
    }
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<usize> = Vec::new();
    for (_, k) in peaks {
        // A multiple of a kept period (within ±2 lags) repeats that season.
        if out.iter().any(|&p| {
            let r = k % p;
            k > p && (r <= 2 || p - r <= 2) || k.abs_diff(p) <= 2
        }) {
            continue;
        }
        out.push(k);
        if out.len() == keep {
            break;
        }
    }
    out
}

/// The series minus its least-squares line, so a trend does not drown the season's peaks.
pub(crate) fn detrend(series: &[f64]) -> Vec<f64> {
    let n = series.len() as f64;
    let tm = (n - 1.0) / 2.0;
    let ym = series.iter().sum::<f64>() / n.max(1.0);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (t, y) in series.iter().enumerate() {
        sxy += (t as f64 - tm) * (y - ym);
        sxx += (t as f64 - tm).powi(2);
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    series.iter().enumerate().map(|(t, y)| y - ym - slope * (t as f64 - tm)).collect()
}

/// The strongest season, if any.
#[cfg(test)]
pub(crate) fn detect_period(series: &[f64], max_lag: usize) -> Option<usize> {
    candidate_periods(series, max_lag, 1).first().copied()
}

/// Sample autocorrelation at lags 0..lags.
pub(crate) fn autocorrelation(series: &[f64], lags: usize) -> Vec<f64> {
    let n = series.len();
    let mean = series.iter().sum::<f64>() / n.max(1) as f64;
    let x: Vec<f64> = series.iter().map(|v| v - mean).collect();
    let var: f64 = x.iter().map(|v| v * v).sum();
    (0..lags.min(n))
        .map(|k| {
            if var > 0.0 {
                x[..n - k].iter().zip(&x[k..]).map(|(a, b)| a * b).sum::<f64>() / var
            } else {
                0.0
            }
        })
        .collect()
}
