//! Deciding a floor from paired rounds: each round's ratio polytls/direct, a 90% confidence
//! interval for the typical ratio, and whether the floor is met, missed or not yet decided.
//!
//! The interval is Student's t on the per-round log-ratios: with `n` ratios `r_i` and
//! `l_i = ln r_i`, of mean `m` and sample standard deviation `s`, the ratio is `exp(m)` (the
//! geometric mean of the rounds' ratios) and the interval `exp(m ± t(0.95, n-1) · s/√n)`.
//! Logs make the method symmetric: polytls/direct and direct/polytls give the same verdict.

/// The two-sided confidence level of every interval.
pub const CONFIDENCE: f64 = 0.90;

/// A floor on the ratio polytls/direct.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Floor {
    /// Higher is better: the ratio must be at least this.
    AtLeast(f64),
    /// Lower is better: the ratio must be at most this.
    AtMost(f64),
}

impl Floor {
    /// The floor in words, as `">= 0.97"` or `"<= 1.02"`.
    pub fn describe(self) -> String {
        match self {
            Floor::AtLeast(f) => format!(">= {f:.2}"),
            Floor::AtMost(f) => format!("<= {f:.3}"),
        }
    }
}

/// What an interval says about a floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The whole interval is on the right side of the floor.
    Met,
    /// The whole interval is on the wrong side of the floor.
    Missed,
    /// The floor is inside the interval: more rounds (or a quieter machine) are needed.
    Undecided,
}

impl Verdict {
    /// `"met"`, `"missed"` or `"undecided"`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "missed",
            Verdict::Undecided => "undecided",
        }
    }
}

/// A ratio with its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Rounds it is made of.
    pub n: usize,
    /// The geometric mean of the rounds' ratios (for an interval made by
    /// [`Interval::from_differences`], the mean difference).
    pub ratio: f64,
    /// The interval's lower bound.
    pub low: f64,
    /// The interval's upper bound.
    pub high: f64,
}

impl Interval {
    /// A ratio known exactly (an instruction count): the interval is the point.
    pub fn exact(ratio: f64) -> Interval {
        Interval {
            n: 1,
            ratio,
            low: ratio,
            high: ratio,
        }
    }

    /// The [`CONFIDENCE`] interval of the typical ratio from per-round ratios (all positive),
    /// or `None` with fewer than two rounds or a ratio that is not positive.
    pub fn from_ratios(ratios: &[f64]) -> Option<Interval> {
        let n = ratios.len();
        if n < 2 || ratios.iter().any(|r| !(*r > 0.0 && r.is_finite())) {
            return None;
        }
        let logs: Vec<f64> = ratios.iter().map(|r| r.ln()).collect();
        let mean = logs.iter().sum::<f64>() / n as f64;
        let var = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half = t_quantile(0.5 + CONFIDENCE / 2.0, (n - 1) as f64) * (var / n as f64).sqrt();
        Some(Interval {
            n,
            ratio: mean.exp(),
            low: (mean - half).exp(),
            high: (mean + half).exp(),
        })
    }

    /// The [`CONFIDENCE`] interval of the typical difference from per-round differences
    /// (Student's t on the differences themselves, for figures that add rather than multiply,
    /// such as a latency increase): `ratio` holds the mean difference. `None` with fewer than
    /// two rounds or a difference that is not finite.
    pub fn from_differences(differences: &[f64]) -> Option<Interval> {
        let n = differences.len();
        if n < 2 || differences.iter().any(|d| !d.is_finite()) {
            return None;
        }
        let mean = differences.iter().sum::<f64>() / n as f64;
        let var = differences.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half = t_quantile(0.5 + CONFIDENCE / 2.0, (n - 1) as f64) * (var / n as f64).sqrt();
        Some(Interval {
            n,
            ratio: mean,
            low: mean - half,
            high: mean + half,
        })
    }

    /// Met when the whole interval clears `floor`, missed when none of it does.
    pub fn verdict(&self, floor: Floor) -> Verdict {
        match floor {
            Floor::AtLeast(f) if self.low >= f => Verdict::Met,
            Floor::AtLeast(f) if self.high < f => Verdict::Missed,
            Floor::AtMost(f) if self.high <= f => Verdict::Met,
            Floor::AtMost(f) if self.low > f => Verdict::Missed,
            _ => Verdict::Undecided,
        }
    }
}

/// The `p` quantile of Student's t distribution with `df` degrees of freedom (`p` in (0, 1)),
/// by bisection on the distribution function.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while t_cdf(hi, df) < p {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Student's t distribution function: `P(T <= t)` with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The regularized incomplete beta function `I_x(a, b)`, by its continued fraction (modified
/// Lentz), used on whichever side converges fast.
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        for coefficient in [
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ] {
            d = 1.0 + coefficient * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + coefficient / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G[1..]
        .iter()
        .enumerate()
        .fold(G[0], |acc, (i, g)| acc + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables() {
        // Two-sided 90%: the 0.95 quantile.
        for (df, want) in [
            (1.0, 6.3138),
            (2.0, 2.9200),
            (4.0, 2.1318),
            (9.0, 1.8331),
            (29.0, 1.6991),
            (99.0, 1.6604),
            (1e6, 1.6449),
        ] {
            let got = t_quantile(0.95, df);
            assert!((got - want).abs() < 5e-4, "df {df}: {got} against {want}");
        }
        assert!((t_quantile(0.05, 4.0) + 2.1318).abs() < 5e-4);
        assert!((t_cdf(0.0, 7.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn intervals_and_verdicts() {
        assert_eq!(Interval::from_ratios(&[1.0]), None);
        assert_eq!(Interval::from_ratios(&[1.0, 0.0]), None);
        let same = Interval::from_ratios(&[0.99; 4]).unwrap();
        assert!((same.ratio - 0.99).abs() < 1e-12 && (same.high - same.low).abs() < 1e-12);
        assert_eq!(same.verdict(Floor::AtLeast(0.97)), Verdict::Met);
        assert_eq!(same.verdict(Floor::AtMost(0.98)), Verdict::Missed);

        // ln-ratios 0.0953 and -0.1054, 4 each: deviations ±0.1003, s = 0.1003·√(8/7),
        // t(0.95, 7) = 1.8946.
        let wide = Interval::from_ratios(&[1.1, 0.9, 1.1, 0.9, 1.1, 0.9, 1.1, 0.9]).unwrap();
        assert_eq!(wide.n, 8);
        let half = (wide.high / wide.ratio).ln();
        let want = 1.8946 * 0.1003 * (8.0f64 / 7.0).sqrt() / 8f64.sqrt();
        assert!((half - want).abs() < 1e-3, "{wide:?}");
        assert_eq!(wide.verdict(Floor::AtLeast(0.97)), Verdict::Undecided);
        assert_eq!(wide.verdict(Floor::AtLeast(1.2)), Verdict::Missed);
        assert_eq!(wide.verdict(Floor::AtMost(1.2)), Verdict::Met);

        // Symmetric: the inverse ratios give the inverse interval.
        let inverse = Interval::from_ratios(&[1.0 / 1.1, 1.0 / 0.9, 1.0 / 1.05]).unwrap();
        let direct = Interval::from_ratios(&[1.1, 0.9, 1.05]).unwrap();
        assert!((inverse.low * direct.high - 1.0).abs() < 1e-12);
        assert_eq!(
            Interval::exact(1.01).verdict(Floor::AtMost(1.02)),
            Verdict::Met
        );
    }

    #[test]
    fn difference_intervals() {
        assert_eq!(Interval::from_differences(&[1.0]), None);
        assert_eq!(Interval::from_differences(&[1.0, f64::NAN]), None);
        // Mean 0.5, s = 0.5·√(4/3) over 4 rounds, t(0.95, 3) = 2.3534.
        let d = Interval::from_differences(&[0.0, 1.0, 0.0, 1.0]).unwrap();
        assert!((d.ratio - 0.5).abs() < 1e-12, "{d:?}");
        let half = 2.3534 * 0.5 * (4.0f64 / 3.0).sqrt() / 2.0;
        assert!((d.high - d.ratio - half).abs() < 1e-3, "{d:?}");
        assert!((d.ratio - d.low - half).abs() < 1e-3, "{d:?}");
        assert_eq!(d.verdict(Floor::AtMost(10.0)), Verdict::Met);
        assert_eq!(d.verdict(Floor::AtMost(0.5)), Verdict::Undecided);
        // Negative differences are fine (less latency with the load than without).
        let neg = Interval::from_differences(&[-0.2, -0.1, -0.3]).unwrap();
        assert!(neg.high < 0.0, "{neg:?}");
    }
}
