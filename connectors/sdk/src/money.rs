//! Money is a decimal amount with an ISO 4217 currency; never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An ISO 4217 alphabetic currency code (`RUB`, `USD`, `EUR`...), stored upper-case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("{0:?} is not an ISO 4217 currency code (three letters, such as RUB or USD)")]
    BadCurrency(String),
    #[error("cannot add {left} and {right}: convert to one currency first")]
    CurrencyMismatch { left: Currency, right: Currency },
}

impl Currency {
    pub fn as_str(&self) -> &str {
        // Construction only admits ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let b = t.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return Err(MoneyError::BadCurrency(s.to_string()));
        }
        Ok(Currency([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
            b[2].to_ascii_uppercase(),
        ]))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A decimal amount in one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount: Decimal,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// Adds two amounts of the same currency; summing different currencies is a bug we refuse.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            });
        }
        Ok(Money::new(self.amount + other.amount, self.currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn currency_codes_are_normalised_and_validated() {
        assert_eq!("rub".parse::<Currency>().unwrap().as_str(), "RUB");
        assert!("RU".parse::<Currency>().is_err());
        assert!("R1B".parse::<Currency>().is_err());
        assert!("РУБ".parse::<Currency>().is_err());
    }

    #[test]
    fn adding_money_keeps_exact_decimals_and_refuses_mixed_currencies() {
        let rub: Currency = "RUB".parse().unwrap();
        let a = Money::new(Decimal::new(10, 1), rub); // 1.0
        let b = Money::new(Decimal::new(2, 1), rub); // 0.2
        assert_eq!(a.checked_add(b).unwrap().amount, Decimal::new(12, 1));
        let usd = Money::new(Decimal::ONE, "USD".parse().unwrap());
        assert!(matches!(
            a.checked_add(usd),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
    }
}
