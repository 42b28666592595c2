//! Currency conversion with the rate of the amount's own day, from the `fx_rate` table (filled
//! by the `cbr` connector, `okno import fx` and `[[fx]]` blocks). A missing rate is an error that
//! names the pair and the day — never a silent 1.
//!
//! A rate row says one unit of `currency` is worth `rate` units of `base`. A pair is found
//! directly, inverted, or across a common base (USD→EUR through two rouble rates of that day).

use std::collections::HashMap;

use chrono::NaiveDate;
use okno_connector::rust_decimal::Decimal;
use okno_connector::Currency;

use crate::store::{Store, StoreError};

/// No rate connects two currencies on a day.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no {from}→{to} exchange rate for {date}; load one with the cbr connector, `okno import fx` or an [[fx]] block")]
pub struct MissingRate {
    pub from: Currency,
    pub to: Currency,
    pub date: NaiveDate,
}

/// The rates of some days, ready for lookups.
#[derive(Debug, Default, Clone)]
pub struct Rates {
    /// (date, currency, base) → units of base per one unit of currency.
    rates: HashMap<(NaiveDate, Currency, Currency), Decimal>,
    /// The bases quoted on each day, for cross rates.
    bases: HashMap<NaiveDate, Vec<Currency>>,
}

impl Rates {
    /// Every stored rate. Rows whose codes do not parse (never written by okno) are skipped.
    pub async fn load(store: &Store) -> Result<Rates, StoreError> {
        let mut out = Rates::default();
        for (date, currency, base, rate, _origin) in store.fx_rates().await? {
            if let (Ok(c), Ok(b), Ok(r)) = (currency.parse(), base.parse(), rate.parse()) {
                out.insert(date, c, b, r);
            }
        }
        Ok(out)
    }

    /// Adds one rate: a unit of `currency` is worth `rate` units of `base` on `date`.
    pub fn insert(&mut self, date: NaiveDate, currency: Currency, base: Currency, rate: Decimal) {
        if rate.is_zero() {
            return;
        }
        self.rates.insert((date, currency, base), rate);
        let bases = self.bases.entry(date).or_default();
        if !bases.contains(&base) {
            bases.push(base);
        }
    }

    /// Units of `to` per one unit of `from` on `date`.
    pub fn rate(
        &self,
        date: NaiveDate,
        from: Currency,
        to: Currency,
    ) -> Result<Decimal, MissingRate> {
        if from == to {
            return Ok(Decimal::ONE);
        }
        if let Some(r) = self.rates.get(&(date, from, to)) {
            return Ok(*r);
        }
        if let Some(r) = self.rates.get(&(date, to, from)) {
            return Ok(Decimal::ONE / *r);
        }
        for base in self.bases.get(&date).into_iter().flatten() {
            let leg = |c: Currency| {
                if c == *base {
                    Some(Decimal::ONE)
                } else {
                    self.rates.get(&(date, c, *base)).copied()
                }
            };
            if let (Some(a), Some(b)) = (leg(from), leg(to)) {
                return Ok(a / b);
            }
        }
        Err(MissingRate { from, to, date })
    }

    /// `amount` of `from` on `date`, in `to` (unrounded: reports round where they show it).
    pub fn convert(
        &self,
        amount: Decimal,
        from: Currency,
        to: Currency,
        date: NaiveDate,
    ) -> Result<Decimal, MissingRate> {
        Ok(amount * self.rate(date, from, to)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn c(s: &str) -> Currency {
        s.parse().unwrap()
    }
    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, n).unwrap()
    }

    fn rates() -> Rates {
        let mut r = Rates::default();
        r.insert(day(20), c("USD"), c("RUB"), d("80"));
        r.insert(day(20), c("EUR"), c("RUB"), d("100"));
        r.insert(day(21), c("USD"), c("RUB"), d("81.5"));
        r
    }

    #[test]
    fn the_rate_of_the_day_converts_directly_inverted_and_across_a_base() {
        let r = rates();
        // 1,000 USD on the 20th at 80 = 80,000 RUB; on the 21st at 81.5 = 81,500 RUB.
        assert_eq!(
            r.convert(d("1000"), c("USD"), c("RUB"), day(20)).unwrap(),
            d("80000")
        );
        assert_eq!(
            r.convert(d("1000"), c("USD"), c("RUB"), day(21)).unwrap(),
            d("81500")
        );
        // 8,000 RUB at 80 RUB per USD = 100 USD.
        assert_eq!(
            r.convert(d("8000"), c("RUB"), c("USD"), day(20)).unwrap(),
            d("100")
        );
        // 100 EUR = 10,000 RUB = 125 USD on the 20th.
        assert_eq!(
            r.convert(d("100"), c("EUR"), c("USD"), day(20)).unwrap(),
            d("125")
        );
        assert_eq!(
            r.convert(d("5.5"), c("KZT"), c("KZT"), day(1)).unwrap(),
            d("5.5")
        );
    }

    #[test]
    fn a_missing_rate_is_an_error_naming_the_pair_and_day_never_one() {
        let r = rates();
        let err = r
            .convert(d("100"), c("EUR"), c("RUB"), day(21))
            .unwrap_err();
        assert_eq!(
            err,
            MissingRate {
                from: c("EUR"),
                to: c("RUB"),
                date: day(21)
            }
        );
        assert!(err
            .to_string()
            .contains("no EUR→RUB exchange rate for 2026-11-21"));
        assert!(
            r.rate(day(22), c("USD"), c("RUB")).is_err(),
            "no carrying over from other days"
        );
    }
}
