use super::csv::parse;
use super::metrics::{mean_plus_2sd, p95, score};
use super::*;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// 10 + 0.05 t + 3 sin(2πt/24) with uniform noise of ±`noise`.
fn seasonal(n: usize, noise: f64, seed: u64) -> (Vec<f64>, impl Fn(usize) -> f64) {
    let truth =
        |t: usize| 10.0 + 0.05 * t as f64 + 3.0 * (2.0 * std::f64::consts::PI * t as f64 / 24.0).sin();
    let mut rng = SmallRng::seed_from_u64(seed);
    ((0..n).map(|t| truth(t) + noise * (2.0 * rng.random::<f64>() - 1.0)).collect(), truth)
}

#[test]
fn detects_the_period_of_a_trending_seasonal_series() {
    let (y, _) = seasonal(600, 0.5, 1);
    assert_eq!(detect_period(&y, 200), Some(24));
    // White noise has no season.
    let mut rng = SmallRng::seed_from_u64(2);
    let noise: Vec<f64> = (0..600).map(|_| rng.random::<f64>()).collect();
    assert_eq!(detect_period(&noise, 200), None);
}

#[test]
fn forecast_follows_trend_and_season_with_a_covering_interval() {
    let (y, truth) = seasonal(720, 0.3, 3);
    let f = forecast(&y, 24);
    assert_eq!((f.point.len(), f.lower.len(), f.upper.len()), (24, 24, 24));
    let mae: f64 = (0..24).map(|h| (f.point[h] - truth(720 + h)).abs()).sum::<f64>() / 24.0;
    assert!(mae < 0.6, "MAE {mae} with {}", f.method);
    assert!(f.method.contains("period 24"), "{}", f.method);
    let covered = (0..24).filter(|&h| f.lower[h] <= truth(720 + h) && truth(720 + h) <= f.upper[h]).count();
    assert!(covered >= 20, "{covered}/24 covered by {f:?}");
    assert!((0..24).all(|h| f.lower[h] <= f.point[h] && f.point[h] <= f.upper[h]));
}

#[test]
fn forecast_of_a_short_series_is_its_last_value_within_its_range() {
    let f = forecast(&[3.0, 5.0, 4.0], 2);
    assert_eq!(f.point, vec![4.0, 4.0]);
    assert_eq!((f.lower[0], f.upper[0]), (3.0, 5.0));
}

#[test]
fn seasonal_naive_repeats_the_last_period() {
    let y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
    let m = Model::run(Spec::SeasonalNaive { period: 3 }, &y).unwrap();
    // Next values are those one period back: 5, 6, 7, then 5 again.
    assert_eq!([m.predict(1), m.predict(2), m.predict(3), m.predict(4)], [5.0, 6.0, 7.0, 5.0]);
    let e = Model::run(Spec::Ewma { alpha: 0.5 }, &[2.0, 4.0]).unwrap();
    assert_eq!(e.predict(1), 3.0);
}

#[test]
fn provisioning_metrics_by_hand() {
    let m = score(&[10.0, 20.0], &[12.0, 18.0], &[20.0, 10.0]);
    assert!((m.mae - 2.0).abs() < 1e-12 && (m.rmse - 2.0).abs() < 1e-12);
    assert!((m.efficiency_median - 0.75).abs() < 1e-12); // min(10/20,1)=0.5, min(20/10,1)=1
    assert!((m.wastage - 0.25).abs() < 1e-12); // (0.5 + 0) / 2
    assert!((m.utilization - 1.25).abs() < 1e-12); // (0.5 + 2) / 2
    assert!((m.over_provisioning - 5.0).abs() < 1e-12); // (10 + 0) / 2
    assert!((m.under_provisioned_share - 0.5).abs() < 1e-12);
    assert!((mean_plus_2sd(&[1.0, 2.0, 3.0, 4.0]) - (2.5 + 2.0 * 1.25f64.sqrt())).abs() < 1e-12);
    assert!((p95(&[1.0, 2.0, 3.0, 4.0]) - 3.85).abs() < 1e-12);
}

#[test]
fn evaluation_beats_the_baselines_on_a_seasonal_series() {
    let (y, _) = seasonal(1200, 0.3, 5);
    let ev = evaluate(&y, 1).unwrap();
    let get = |n: &str| ev.methods.iter().find(|m| m.name == n).unwrap().metrics;
    let (t, b1, b2) = (get("twintop"), get("mean+2sd"), get("p95"));
    assert!(t.mae < b1.mae && t.mae < b2.mae && t.rmse < b1.rmse && t.rmse < b2.rmse, "{t:?}");
    assert!(t.under_provisioned_share <= 0.15 && t.efficiency_median >= 0.9, "{t:?}");
    assert_eq!(ev.periods.first(), Some(&24));
    assert!(evaluate(&y[..10], 1).is_err());
}

#[test]
fn csv_averages_duplicates_and_interpolates_gaps() {
    let text = "timestamp,value\n2014-04-10 00:00:00,1\n2014-04-10 00:05:00,2\n2014-04-10 00:05:00,4\n\
                2014-04-10 00:20:00,9\n2014-04-10 00:25:00,10\n";
    let s = parse(text, "t.csv", None).unwrap();
    assert_eq!(s.step_s, 300);
    assert_eq!(s.values, vec![1.0, 3.0, 5.0, 7.0, 9.0, 10.0]);
    assert_eq!((s.duplicates, s.filled, s.long_gaps), (1, 2, 0));
}

#[test]
fn csv_errors_name_the_file_and_line() {
    let e = parse("timestamp,value\n2014-04-10 00:00:00,1\n2014-04-10 00:05:00,abc\n", "f.csv", None)
        .unwrap_err();
    assert_eq!(e.to_string(), "f.csv:3: value \"abc\" is not a number");
    let e = parse("timestamp,value\nyesterday,1\n", "f.csv", None).unwrap_err();
    assert!(e.to_string().starts_with("f.csv:2: timestamp"), "{e}");
    let e = parse("timestamp,value\n", "f.csv", Some("cpu")).unwrap_err();
    assert!(e.to_string().contains("no column \"cpu\""), "{e}");
    let e = parse("timestamp,value\n1,1\n", "f.csv", None).unwrap_err();
    assert!(e.to_string().starts_with("f.csv: 1 value(s)"), "{e}");
}

fn nab(name: &str) -> super::csv::Series {
    let path = format!("{}/tests/data/series/nab/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse(&text, name, None).unwrap()
}

#[test]
fn csv_reads_the_real_nab_series_with_their_gaps() {
    // elb_request_count: 4032 rows every 5 minutes with eight single missing steps.
    let s = nab("elb_request_count_8c0756.csv");
    assert_eq!((s.step_s, s.values.len(), s.filled, s.long_gaps, s.duplicates), (300, 4040, 8, 0, 0));
    let s = nab("ec2_cpu_utilization_825cc2.csv");
    assert_eq!((s.values.len(), s.filled), (4034, 2));
    let s = nab("nyc_taxi.csv");
    assert_eq!((s.step_s, s.values.len(), s.filled), (1800, 10320, 0));
    assert_eq!(s.values[0], 10844.0);
}

#[test]
fn csv_marks_the_steps_it_filled() {
    let text = "timestamp,value\n0,1\n60,2\n240,5\n300,6\n";
    let s = parse(text, "t.csv", None).unwrap();
    assert_eq!(s.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(s.observed, vec![true, true, false, false, true, true]);
}

/// Small hostile files end in an error naming the row, quickly and without allocating what
/// their timestamps would ask for (issue 16: "capacity overflow", 80 GB, a hang).
#[test]
fn csv_timestamps_far_ahead_are_errors_naming_the_row() {
    // A timestamp of 1e308 seconds.
    let e = parse("timestamp,value\n0,1\n60,2\n1e308,3\n", "f.csv", None).unwrap_err();
    assert!(e.to_string().starts_with("f.csv:4: timestamp \"1e308\" is outside"), "{e}");
    for bad in ["inf", "NaN", "-5"] {
        let e = parse(&format!("timestamp,value\n0,1\n{bad},3\n"), "f.csv", None).unwrap_err();
        assert!(e.to_string().starts_with("f.csv:3: timestamp"), "{bad}: {e}");
    }
    // A gap of 1e10 s after minute steps: 166 million steps, over the limit.
    let e = parse("timestamp,value\n0,1\n60,2\n120,3\n10000000120,4\n", "f.csv", None).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("f.csv:5: timestamp 10000000120 is 166666669 steps of 60 s"), "{msg}");
    assert!(
        msg.contains(&format!("more than {} steps", super::csv::DEFAULT_MAX_STEPS))
            && msg.contains("--max-steps"),
        "{msg}"
    );
    // A few rows with a gap of a year at 1-second steps: 31.5 million steps.
    let e = parse("timestamp,value\n1,1\n2,2\n3,3\n31536000,4\n", "f.csv", None).unwrap_err();
    assert!(e.to_string().starts_with("f.csv:5: timestamp 31536000"), "{e}");
    // Raising the limit lets a long (honest) series through.
    let text: String = std::iter::once("timestamp,value\n".to_string())
        .chain((0..300_000).map(|i| format!("{},{}\n", i * 60, i % 7)))
        .collect();
    let e = parse(&text, "big.csv", None).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!("big.csv:{}: more than", super::csv::DEFAULT_MAX_STEPS + 2)),
        "{e}"
    );
    let s =
        super::csv::parse_with(text.as_bytes(), "big.csv", None, super::csv::Limits { max_steps: 300_000 })
            .unwrap();
    assert_eq!(s.values.len(), 300_000);
}

/// Forecasts are scored on what was measured: a step the reader filled by interpolation is
/// not a measurement (and interpolating used the value after the gap, which a forecaster at
/// that time could not know).
#[test]
fn evaluation_scores_observed_steps_only() {
    let (y, _) = seasonal(400, 0.3, 5);
    // Every other test step missing, filled by interpolation between its neighbours.
    let mut filled = y.clone();
    let mut observed = vec![true; y.len()];
    for i in (321..399).step_by(2) {
        filled[i] = (y[i - 1] + y[i + 1]) / 2.0;
        observed[i] = false;
    }
    let all = evaluate(&filled, 1).unwrap();
    let obs = evaluate_observed(&filled, Some(&observed), 1).unwrap();
    assert_eq!((obs.test, obs.test_filled, all.test_filled), (80, 39, 0));
    let mae = |e: &Evaluation, name: &str| e.methods.iter().find(|m| m.name == name).unwrap().metrics.mae;
    // B1 allocates one constant: its MAE is the mean distance to the observed test values.
    let c = mean_plus_2sd(&filled[..320]);
    let by_hand: Vec<f64> = (320..400).filter(|&i| observed[i]).map(|i| (filled[i] - c).abs()).collect();
    let want = by_hand.iter().sum::<f64>() / by_hand.len() as f64;
    assert!((mae(&obs, "mean+2sd") - want).abs() < 1e-9, "{} vs {want}", mae(&obs, "mean+2sd"));
    assert!((mae(&all, "mean+2sd") - want).abs() > 1e-6);
    assert!(mae(&obs, "twintop").is_finite() && mae(&obs, "twintop") != mae(&all, "twintop"));
    assert!(evaluate_observed(&filled, Some(&vec![false; 400]), 1).is_err());
    assert!(evaluate(&filled, 81).is_err(), "a horizon longer than the test part");
}
