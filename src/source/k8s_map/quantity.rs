//! Kubernetes resource quantities ("100m", "1.5", "64Mi", "1G", "2Ki", "1e3") parsed into
//! plain numbers, with an error for anything the API server would reject.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuantityError {
    pub value: String,
    pub reason: &'static str,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid quantity {:?}: {}", crate::text::escape(&self.value), self.reason)
    }
}

impl std::error::Error for QuantityError {}

/// Parses a quantity into base units (cores for CPU, bytes for memory).
///
/// The mantissa is read as an exact decimal (integer digits and fraction digits kept apart)
/// and scaled once, so "0.1" and "100m" give the same f64.
pub(crate) fn parse_quantity(s: &str) -> Result<f64, QuantityError> {
    let err = |reason| QuantityError { value: s.to_string(), reason };
    let t = s.trim();
    if t.is_empty() {
        return Err(err("empty"));
    }
    let (sign, rest) = match t.as_bytes()[0] {
        b'-' => (-1.0, &t[1..]),
        b'+' => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_end);
    if number.is_empty() || number == "." {
        return Err(err("no digits"));
    }
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => {
            if f.contains('.') {
                return Err(err("more than one decimal point"));
            }
            (i, f)
        }
        None => (number, ""),
    };
    // Digits as one integer and a power of ten: exact for up to 19 significant digits.
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return Err(err("too many digits"));
    }
    let mantissa: f64 =
        if digits.is_empty() { 0.0 } else { digits.parse().map_err(|_| err("bad digits"))? };
    let mut exp10: i32 = -(frac_part.len() as i32);
    let binary: f64 = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => {
            exp10 -= 9;
            1.0
        }
        "u" => {
            exp10 -= 6;
            1.0
        }
        "m" => {
            exp10 -= 3;
            1.0
        }
        "k" => {
            exp10 += 3;
            1.0
        }
        "M" => {
            exp10 += 6;
            1.0
        }
        "G" => {
            exp10 += 9;
            1.0
        }
        "T" => {
            exp10 += 12;
            1.0
        }
        "P" => {
            exp10 += 15;
            1.0
        }
        "E" => {
            exp10 += 18;
            1.0
        }
        s if s.starts_with(['e', 'E']) => {
            let e: i32 = s[1..].parse().map_err(|_| err("bad exponent"))?;
            if !(-300..=300).contains(&e) {
                return Err(err("exponent out of range"));
            }
            exp10 += e;
            1.0
        }
        _ => return Err(err("unknown suffix (expected n, u, m, k, M, G, T, P, E, Ki…Ei or an exponent)")),
    };
    // Dividing by an exact power of ten rounds once; multiplying by 10^-k would round twice.
    let v = if exp10 >= 0 { mantissa * 10f64.powi(exp10) } else { mantissa / 10f64.powi(-exp10) };
    Ok(sign * v * binary)
}

/// CPU quantity in millicores.
pub(crate) fn cpu_millis(s: &str) -> Result<f64, QuantityError> {
    let v = parse_quantity(s)?;
    // Via the decimal mantissa again so "100m" is exactly 100, not 100.00000000000001.
    Ok(round_tiny(v * 1000.0))
}

/// Memory quantity in MiB.
pub(crate) fn mem_mib(s: &str) -> Result<f64, QuantityError> {
    Ok(parse_quantity(s)? / (1024.0 * 1024.0))
}

fn round_tiny(v: f64) -> f64 {
    let r = v.round();
    if (v - r).abs() < 1e-9 * v.abs().max(1.0) { r } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_forms() {
        assert_eq!(cpu_millis("100m").unwrap(), 100.0);
        assert_eq!(cpu_millis("1.5").unwrap(), 1500.0);
        assert_eq!(cpu_millis("0.1").unwrap(), 100.0);
        assert_eq!(cpu_millis("2").unwrap(), 2000.0);
        assert_eq!(cpu_millis("250000u").unwrap(), 250.0);
        assert_eq!(cpu_millis("1e3").unwrap(), 1_000_000.0);
    }

    #[test]
    fn memory_forms() {
        assert_eq!(mem_mib("64Mi").unwrap(), 64.0);
        assert_eq!(mem_mib("2Ki").unwrap(), 2.0 / 1024.0);
        assert_eq!(mem_mib("1Gi").unwrap(), 1024.0);
        assert_eq!(parse_quantity("1G").unwrap(), 1e9);
        assert_eq!(parse_quantity("128974848").unwrap(), 128_974_848.0);
        assert_eq!(parse_quantity("129e6").unwrap(), 129e6);
        assert_eq!(parse_quantity("123Mi").unwrap(), 123.0 * 1048576.0);
        assert_eq!(parse_quantity("1.5Gi").unwrap(), 1.5 * 1024.0 * 1048576.0);
    }

    #[test]
    fn bad_quantities_are_errors_naming_the_value() {
        for bad in ["", "abc", "1.2.3", "10Xi", "m", "1e", "5 Mi"] {
            let e = parse_quantity(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }
}
