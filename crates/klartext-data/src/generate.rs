//! Synthetic customer churn data with known ground truth: seeded, deterministic, fast
//! enough for benchmarks (a million rows in well under a second or two in release).
//!
//! # The true model
//! Each customer churns with probability `sigmoid(logit)` where (coefficients in
//! [`TRUE_COEFFICIENTS`], indicator terms are 0/1):
//!
//! ```text
//! logit = -1.10
//!       + 0.80 [contract = month-to-month] - 0.80 [contract = two year]
//!       - 0.030 tenure_months
//!       + 0.018 (monthly_charges - 50)
//!       + 0.30 support_calls
//!       - 0.040 (logins_last_30d - 8)
//!       - 1.20 (email_open_rate - 0.3)      (the value before it was blanked as missing)
//!       + 0.40 [payment_method = invoice] + 0.15 [payment_method = PayPal]
//!       - 0.30 [newsletter = yes]
//!       - 0.25 [plan = premium]
//!       + 0.15 [region = Berlin]
//!       - 0.50 satisfaction                 (latent N(0,1), not a column)
//!       + bias [female = 1]                 (GenerateParams::bias, 0 by default)
//! ```
//!
//! Age, `senior_citizen` and `female` (with `bias = 0`) have no effect, so a fair model
//! passes a demographic-parity gate and `bias > 0` plants a disparity no feature explains.
//! The latent satisfaction keeps the truth from being fully observable, as in real data;
//! the extra columns `feature_01, feature_04, ...` (index ≡ 1 mod 3) are noisy proxies of
//! it (correlation 0.5), the others pure noise. Extra and PII columns come from their own
//! random streams, so switching them on changes no other column and not the target.
//! The positive rate is about 25% without drift and about 50% at full drift.

use crate::datetime::days_from_civil;
use klartext_core::frame::{Column, ColumnData, Frame, StrColumn, MISSING_CODE};
use klartext_core::schema::{ColumnKind, ColumnRole, ColumnSchema, Schema};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateParams {
    pub rows: usize,
    pub seed: u64,
    /// Extra log-odds of churn for `female = 1` that no feature explains (0 = fair data).
    pub bias: f64,
    /// 0..=1: shorter tenure, higher charges, more month-to-month contracts, more support
    /// calls, as a later period of the same business would look.
    pub drift: f64,
    /// Additional numeric columns `feature_01, ...` (13 make a 30-column table).
    pub extra_features: usize,
    /// Add `email` and `phone` columns with realistic fake values.
    pub pii: bool,
}

impl Default for GenerateParams {
    fn default() -> Self {
        GenerateParams {
            rows: 5000,
            seed: 42,
            bias: 0.0,
            drift: 0.0,
            extra_features: 0,
            pii: false,
        }
    }
}

/// A generated dataset and the true churn probability of each row.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub frame: Frame,
    pub schema: Schema,
    /// The true churn probability per row (the `churn` column is drawn from it).
    pub truth: Vec<f64>,
}

pub const INTERCEPT: f64 = -1.10;
pub const COEF_MONTH_TO_MONTH: f64 = 0.80;
pub const COEF_TWO_YEAR: f64 = -0.80;
pub const COEF_TENURE: f64 = -0.030;
pub const COEF_MONTHLY_CHARGES: f64 = 0.018;
pub const COEF_SUPPORT_CALLS: f64 = 0.30;
pub const COEF_LOGINS: f64 = -0.040;
pub const COEF_EMAIL_OPEN_RATE: f64 = -1.20;
pub const COEF_INVOICE: f64 = 0.40;
pub const COEF_PAYPAL: f64 = 0.15;
pub const COEF_NEWSLETTER: f64 = -0.30;
pub const COEF_PREMIUM: f64 = -0.25;
pub const COEF_BERLIN: f64 = 0.15;
pub const COEF_SATISFACTION: f64 = -0.50;

/// The true model's terms and coefficients, for tests and gates that check a learner
/// recovers the signal (signs and rough sizes). See the module documentation.
pub const TRUE_COEFFICIENTS: &[(&str, f64)] = &[
    ("intercept", INTERCEPT),
    ("contract=month-to-month", COEF_MONTH_TO_MONTH),
    ("contract=two year", COEF_TWO_YEAR),
    ("tenure_months", COEF_TENURE),
    ("monthly_charges-50", COEF_MONTHLY_CHARGES),
    ("support_calls", COEF_SUPPORT_CALLS),
    ("logins_last_30d-8", COEF_LOGINS),
    ("email_open_rate-0.3", COEF_EMAIL_OPEN_RATE),
    ("payment_method=invoice", COEF_INVOICE),
    ("payment_method=PayPal", COEF_PAYPAL),
    ("newsletter=yes", COEF_NEWSLETTER),
    ("plan=premium", COEF_PREMIUM),
    ("region=Berlin", COEF_BERLIN),
    ("satisfaction (latent)", COEF_SATISFACTION),
];

/// The use-case file for this data; the quickstart writes it as `usecases/churn.toml`.
pub const EXAMPLE_USECASE: &str = r#"id = "churn"
title = "Churn risk for subscription customers"
goal = "Find customers likely to cancel in the next 90 days so that retention calls them first."
kpi = "retention rate of contacted customers"
business_value = "a retained customer is worth about 12 monthly charges; a call costs 5 EUR"
kind = "classification"
owner = "crm-team@example.com"
risk = "limited"
legal_basis = "legitimate interest, GDPR Art. 6(1)(f)"
significant_effect = false

[data]
target = "churn"
positive = "Yes"
id = "customer_id"
time = ""
exclude = []
protected = ["female", "senior_citizen"]

[gates]
min_auc = 0.75
max_overfit_gap = 0.05
min_demographic_parity_ratio = 0.8

[fallback]
score = 0.0

[retention]
predictions_days = 365
"#;

/// A small, fast, seedable generator (xoshiro256** seeded by SplitMix64), so the data
/// never changes with a dependency's version.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
    spare: Option<f64>,
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let s = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        Rng { s, spare: None }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in 0..n (0 when n = 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift: bias below 2^-64 per draw, irrelevant here.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Standard normal (Box–Muller; the second value of each pair is kept for next call).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln never sees 0
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
        self.spare = Some(r * sin);
        r * cos
    }

    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Poisson by multiplying uniforms (Knuth); fine for the small means used here.
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        let limit = (-lambda.clamp(0.0, 50.0)).exp();
        let mut k = 0u32;
        let mut p = self.uniform();
        while p > limit && k < 1000 {
            k += 1;
            p *= self.uniform();
        }
        k
    }

    /// Index drawn with the given weights (which need not sum to 1).
    pub fn choose(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut u = self.uniform() * total;
        for (i, w) in weights.iter().enumerate() {
            if u < *w {
                return i;
            }
            u -= w;
        }
        weights.len().saturating_sub(1)
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

const REGIONS: [&str; 6] = [
    "Nordrhein-Westfalen",
    "Bayern",
    "Baden-Württemberg",
    "Niedersachsen",
    "Berlin",
    "Hamburg",
];
const REGION_WEIGHTS: [f64; 6] = [0.25, 0.20, 0.17, 0.14, 0.13, 0.11];
const BERLIN: u32 = 4;
const PLANS: [&str; 3] = ["basic", "standard", "premium"];
const PLAN_WEIGHTS: [f64; 3] = [0.45, 0.35, 0.20];
const PLAN_PRICE: [f64; 3] = [24.99, 49.99, 84.99];
const CONTRACTS: [&str; 3] = ["month-to-month", "one year", "two year"];
const CONTRACT_TENURE: [f64; 3] = [14.0, 30.0, 46.0];
const PAYMENTS: [&str; 4] = ["SEPA direct debit", "credit card", "PayPal", "invoice"];
const PAYMENT_WEIGHTS: [f64; 4] = [0.45, 0.25, 0.18, 0.12];
const YES_NO: [&str; 2] = ["yes", "no"];
const CHURN: [&str; 2] = ["Yes", "No"];

const FIRST_NAMES: [&str; 24] = [
    "anna", "lukas", "lea", "jonas", "marie", "felix", "sophie", "paul", "laura", "leon", "julia",
    "max", "lena", "tim", "sarah", "jan", "emma", "david", "hannah", "niklas", "sofia", "elias",
    "mia", "noah",
];
const LAST_NAMES: [&str; 24] = [
    "mueller",
    "schmidt",
    "schneider",
    "fischer",
    "weber",
    "meyer",
    "wagner",
    "becker",
    "schulz",
    "hoffmann",
    "koch",
    "richter",
    "klein",
    "wolf",
    "schroeder",
    "neumann",
    "schwarz",
    "braun",
    "zimmermann",
    "krueger",
    "hartmann",
    "lange",
    "werner",
    "krause",
];
const MAIL_DOMAINS: [&str; 6] = [
    "gmx.de",
    "web.de",
    "t-online.de",
    "gmail.com",
    "outlook.de",
    "example.org",
];
const MAIL_WEIGHTS: [f64; 6] = [0.22, 0.22, 0.14, 0.25, 0.12, 0.05];
const AREA_CODES: [&str; 8] = ["30", "40", "89", "221", "69", "711", "211", "341"];
const MOBILE_PREFIXES: [&str; 6] = ["151", "152", "160", "170", "176", "157"];

/// Builds a dictionary column from fixed-order codes, renumbering the levels in order
/// of first appearance (the frame convention) and dropping levels that never occur.
fn str_column(codes: Vec<u32>, levels: &[&str]) -> ColumnData {
    let mut map = vec![MISSING_CODE; levels.len()];
    let mut out_levels = Vec::new();
    let mut codes = codes;
    for c in &mut codes {
        if *c == MISSING_CODE {
            continue;
        }
        let Some(slot) = map.get_mut(*c as usize) else {
            *c = MISSING_CODE;
            continue;
        };
        if *slot == MISSING_CODE {
            *slot = out_levels.len() as u32;
            out_levels.push(levels[*c as usize].to_owned());
        }
        *c = *slot;
    }
    ColumnData::Str(StrColumn {
        codes,
        levels: out_levels,
    })
}

/// A column whose present values are distinct by construction (ids, e-mails): no hashing.
fn distinct_column(values: Vec<Option<String>>) -> ColumnData {
    let mut codes = Vec::with_capacity(values.len());
    let mut levels = Vec::with_capacity(values.len());
    for v in values {
        match v {
            None => codes.push(MISSING_CODE),
            Some(s) => {
                codes.push(levels.len() as u32);
                levels.push(s);
            }
        }
    }
    ColumnData::Str(StrColumn { codes, levels })
}

/// A column of mostly distinct strings, one per row (phones); `None` is missing.
fn unique_column(values: Vec<Option<String>>) -> ColumnData {
    let mut codes = Vec::with_capacity(values.len());
    let mut levels = Vec::with_capacity(values.len());
    let mut index = std::collections::HashMap::with_capacity(values.len());
    for v in values {
        match v {
            None => codes.push(MISSING_CODE),
            Some(s) => {
                let next = levels.len() as u32;
                let code = *index.entry(s.clone()).or_insert(next);
                if code == next {
                    levels.push(s);
                }
                codes.push(code);
            }
        }
    }
    ColumnData::Str(StrColumn { codes, levels })
}

/// Generate a churn dataset. Same parameters ⇒ identical output.
pub fn generate(params: &GenerateParams) -> Generated {
    let n = params.rows;
    let drift = if params.drift.is_finite() {
        params.drift.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let bias = if params.bias.is_finite() {
        params.bias
    } else {
        0.0
    };
    let mut rng = Rng::new(params.seed);
    let snapshot_day = days_from_civil(2025, 1, 1);
    let contract_weights = [
        0.50 + 0.25 * drift,
        0.25 - 0.10 * drift,
        0.25 - 0.15 * drift,
    ];

    let mut ids = Vec::with_capacity(n);
    let mut signup = Vec::with_capacity(n);
    let mut age = Vec::with_capacity(n);
    let mut female = Vec::with_capacity(n);
    let mut senior = Vec::with_capacity(n);
    let mut region = Vec::with_capacity(n);
    let mut plan = Vec::with_capacity(n);
    let mut contract = Vec::with_capacity(n);
    let mut payment = Vec::with_capacity(n);
    let mut tenure = Vec::with_capacity(n);
    let mut monthly = Vec::with_capacity(n);
    let mut total = Vec::with_capacity(n);
    let mut calls = Vec::with_capacity(n);
    let mut logins = Vec::with_capacity(n);
    let mut open_rate = Vec::with_capacity(n);
    let mut newsletter = Vec::with_capacity(n);
    let mut churn = Vec::with_capacity(n);
    let mut truth = Vec::with_capacity(n);
    let mut satisfaction = Vec::with_capacity(n);

    for i in 0..n {
        ids.push(Some(format!("C{:07}", i + 1)));
        let a = (44.0 + 15.0 * rng.normal()).round().clamp(18.0, 90.0);
        let is_female = rng.bernoulli(0.51);
        let reg = rng.choose(&REGION_WEIGHTS) as u32;
        let pl = rng.choose(&PLAN_WEIGHTS);
        let ct = rng.choose(&contract_weights);
        let pay = rng.choose(&PAYMENT_WEIGHTS);
        // Exponential tenure around the contract's typical length, shortened by drift.
        let t_raw = -CONTRACT_TENURE[ct] * (1.0 - rng.uniform()).ln() * (1.0 - 0.45 * drift);
        let t = t_raw.floor().clamp(0.0, 72.0);
        let days_ago = (t * 30.4375 + rng.uniform() * 30.0).floor() as i64;
        let mc = round_to(
            (PLAN_PRICE[pl] + 6.0 * rng.normal() + 12.0 * drift).max(9.99),
            2,
        );
        let engagement = rng.normal();
        let lg = rng.poisson((2.0 + 0.45 * engagement).exp());
        let or = round_to(sigmoid(-0.9 + 0.9 * engagement + 0.5 * rng.normal()), 3);
        let or_missing = rng.bernoulli(0.04);
        let nl = rng.bernoulli(sigmoid(0.2 + 0.8 * engagement));
        let sc = rng.poisson(1.0 + 1.5 * drift + if pl == 0 { 0.3 } else { 0.0 });
        let tc_noise = 1.0 + 0.04 * rng.normal();
        let tc_missing = t == 0.0 || rng.bernoulli(0.01);
        let sat = rng.normal();

        let logit = INTERCEPT
            + if ct == 0 { COEF_MONTH_TO_MONTH } else { 0.0 }
            + if ct == 2 { COEF_TWO_YEAR } else { 0.0 }
            + COEF_TENURE * t
            + COEF_MONTHLY_CHARGES * (mc - 50.0)
            + COEF_SUPPORT_CALLS * f64::from(sc)
            + COEF_LOGINS * (f64::from(lg) - 8.0)
            + COEF_EMAIL_OPEN_RATE * (or - 0.3)
            + if pay == 3 { COEF_INVOICE } else { 0.0 }
            + if pay == 2 { COEF_PAYPAL } else { 0.0 }
            + if nl { COEF_NEWSLETTER } else { 0.0 }
            + if pl == 2 { COEF_PREMIUM } else { 0.0 }
            + if reg == BERLIN { COEF_BERLIN } else { 0.0 }
            + COEF_SATISFACTION * sat
            + if is_female { bias } else { 0.0 };
        let p = sigmoid(logit);
        let churned = rng.bernoulli(p);

        signup.push(((snapshot_day - days_ago) * 86_400) as f64);
        age.push(a);
        female.push(if is_female { 1.0 } else { 0.0 });
        senior.push(if a >= 65.0 { 1.0 } else { 0.0 });
        region.push(reg);
        plan.push(pl as u32);
        contract.push(ct as u32);
        payment.push(pay as u32);
        tenure.push(t);
        monthly.push(mc);
        total.push(if tc_missing {
            f64::NAN
        } else {
            round_to(t * mc * tc_noise, 2)
        });
        calls.push(f64::from(sc));
        logins.push(f64::from(lg));
        open_rate.push(if or_missing { f64::NAN } else { or });
        newsletter.push(if nl { 0 } else { 1 });
        churn.push(if churned { 0 } else { 1 });
        truth.push(p);
        satisfaction.push(sat);
    }

    use ColumnKind as K;
    let mut cols: Vec<(&str, K, ColumnData)> = vec![
        ("customer_id", K::Id, distinct_column(ids)),
        ("signup_date", K::Datetime, ColumnData::Num(signup)),
        ("age", K::Integer, ColumnData::Num(age)),
        ("female", K::Boolean, ColumnData::Num(female)),
        ("senior_citizen", K::Boolean, ColumnData::Num(senior)),
        ("region", K::Categorical, str_column(region, &REGIONS)),
        ("plan", K::Categorical, str_column(plan, &PLANS)),
        ("contract", K::Categorical, str_column(contract, &CONTRACTS)),
        (
            "payment_method",
            K::Categorical,
            str_column(payment, &PAYMENTS),
        ),
        ("tenure_months", K::Integer, ColumnData::Num(tenure)),
        ("monthly_charges", K::Numeric, ColumnData::Num(monthly)),
        ("total_charges", K::Numeric, ColumnData::Num(total)),
        ("support_calls", K::Integer, ColumnData::Num(calls)),
        ("logins_last_30d", K::Integer, ColumnData::Num(logins)),
        ("email_open_rate", K::Numeric, ColumnData::Num(open_rate)),
        ("newsletter", K::Boolean, str_column(newsletter, &YES_NO)),
    ];
    let mut names: Vec<String> = Vec::new();
    if params.pii {
        let (email, phone) = pii_columns(n, params.seed);
        cols.push(("email", K::Text, email));
        cols.push(("phone", K::Text, phone));
    }
    let extras = extra_columns(params.extra_features, params.seed, &satisfaction);
    for (j, _) in extras.iter().enumerate() {
        names.push(format!("feature_{:02}", j + 1));
    }
    let mut columns = Vec::with_capacity(cols.len() + extras.len() + 1);
    let mut schema = Vec::with_capacity(cols.len() + extras.len() + 1);
    let mut push = |name: String, kind: K, data: ColumnData| {
        let role = match name.as_str() {
            "customer_id" => ColumnRole::Id,
            "churn" => ColumnRole::Target,
            _ => ColumnRole::Feature,
        };
        schema.push(ColumnSchema {
            name: name.clone(),
            kind,
            role,
            pseudonymised: false,
        });
        columns.push(Column { name, data });
    };
    for (name, kind, data) in cols {
        push(name.to_owned(), kind, data);
    }
    for (name, data) in names.into_iter().zip(extras) {
        push(name, K::Numeric, ColumnData::Num(data));
    }
    push("churn".to_owned(), K::Boolean, str_column(churn, &CHURN));

    Generated {
        frame: Frame { n_rows: n, columns },
        schema: Schema { columns: schema },
        truth,
    }
}

/// Extra numeric columns from their own stream: index ≡ 0 mod 3 (`feature_01`, `_04`, ...)
/// proxies latent satisfaction, ≡ 1 is normal noise, ≡ 2 skewed (log-normal) noise.
fn extra_columns(k: usize, seed: u64, satisfaction: &[f64]) -> Vec<Vec<f64>> {
    let n = satisfaction.len();
    let mut rng = Rng::new(seed ^ 0x5EED_E87A_F0E5_0001);
    let mut cols: Vec<Vec<f64>> = (0..k).map(|_| Vec::with_capacity(n)).collect();
    let rho: f64 = 0.5;
    let rest: f64 = (1.0 - rho * rho).sqrt();
    for &sat in satisfaction {
        for (j, col) in cols.iter_mut().enumerate() {
            let z = rng.normal();
            let x = match j % 3 {
                0 => round_to(rho * sat + rest * z, 3),
                1 => round_to(z, 3),
                _ => round_to((0.5 * z + 1.0).exp(), 2),
            };
            col.push(x);
        }
    }
    cols
}

/// Fake e-mail addresses and German phone numbers in mixed notations, from their own
/// stream; some missing, as contact data is in practice.
fn pii_columns(n: usize, seed: u64) -> (ColumnData, ColumnData) {
    let mut rng = Rng::new(seed ^ 0x0C0F_FEE0_DA7A_0002);
    let mut emails = Vec::with_capacity(n);
    let mut phones = Vec::with_capacity(n);
    for i in 0..n {
        let first = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
        let last = LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize];
        let domain = MAIL_DOMAINS[rng.choose(&MAIL_WEIGHTS)];
        let style = rng.below(3);
        // The row number keeps addresses distinct, as they are for real customers.
        let email = match style {
            0 => format!("{first}.{last}{i}@{domain}"),
            1 => format!("{}{last}{i}@{domain}", &first[..1]),
            _ => format!("{last}.{first}.{i}@{domain}"),
        };
        emails.push((!rng.bernoulli(0.03)).then_some(email));

        let mobile = MOBILE_PREFIXES[rng.below(MOBILE_PREFIXES.len() as u64) as usize];
        let area = AREA_CODES[rng.below(AREA_CODES.len() as u64) as usize];
        let sub = 1_000_000 + rng.below(89_000_000);
        let local = 100_000 + rng.below(9_900_000);
        let phone = match rng.below(4) {
            0 => format!("+49 {mobile} {sub}"),
            1 => format!("0{mobile} {sub}"),
            2 => format!("+49 {area} {local}"),
            _ => format!("0{area}/{local}"),
        };
        phones.push((!rng.bernoulli(0.10)).then_some(phone));
    }
    (distinct_column(emails), unique_column(phones))
}
