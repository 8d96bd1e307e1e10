//! Bounded values for command-line flags: every number a user types has limits, and the error
//! names them (clap adds the flag: "invalid value '…' for '--llm-timeout <SECS>': must be a
//! whole number from 1 to 3600"). A value past them would overflow a timer, allocate without
//! bound or run for ever.

use std::fmt::Display;
use std::str::FromStr;

/// A clap value parser for a whole number in `lo..=hi`.
pub(crate) fn int<T>(lo: T, hi: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
{
    move |s: &str| {
        let msg = || format!("must be a whole number from {lo} to {hi}");
        let v: T = s.trim().parse().map_err(|_| msg())?;
        if v < lo || v > hi { Err(msg()) } else { Ok(v) }
    }
}

/// A clap value parser for a finite number in `lo..=hi`.
pub(crate) fn float(
    lo: f64,
    hi: f64,
) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |s: &str| {
        let msg = || format!("must be a finite number from {lo} to {hi}");
        let v: f64 = s.trim().parse().map_err(|_| msg())?;
        if v.is_finite() && v >= lo && v <= hi { Ok(v) } else { Err(msg()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_limits_are_refused_naming_them() {
        let secs = int::<u64>(1, 3600);
        assert_eq!(secs("120"), Ok(120));
        assert_eq!(secs("18446744073709551615").unwrap_err(), "must be a whole number from 1 to 3600");
        assert!(secs("0").is_err() && secs("-1").is_err() && secs("99999999999999999999999").is_err());
        let t = float(0.0, 2.0);
        assert_eq!(t("0.2"), Ok(0.2));
        for bad in ["nan", "inf", "-inf", "2.5", "x"] {
            assert_eq!(t(bad).unwrap_err(), "must be a finite number from 0 to 2", "{bad}");
        }
    }
}
