//! The `XML_daily.asp` document: decoding its bytes (windows-1251 as the prolog declares) and
//! reading it with an XML parser into exact per-unit rates.
//!
//! ```text
//! <?xml version="1.0" encoding="windows-1251"?>
//! <ValCurs Date="01.04.2025" name="Foreign Currency Market">
//!   <Valute ID="R01820"><NumCode>392</NumCode><CharCode>JPY</CharCode><Nominal>100</Nominal>
//!     <Name>Иен</Name><Value>57,1958</Value><VunitRate>0,571958</VunitRate></Valute>
//!   ...
//! </ValCurs>
//! ```
//!
//! A request the bank cannot answer comes back with HTTP 200 and
//! `<ValCurs>Error in parameters</ValCurs>` (declared UTF-8): that is [`Answer::Refused`].

use std::borrow::Cow;
use std::str::FromStr;

use chrono::NaiveDate;
use encoding_rs::{Encoding, UTF_8};
use okno_connector::rust_decimal::Decimal;
use okno_connector::Currency;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// What one `XML_daily.asp` answer says.
#[derive(Debug)]
pub enum Answer {
    Rates(DailyRates),
    /// The bank's own refusal in the body, e.g. `Error in parameters`.
    Refused(String),
}

/// The set of rates in force from `date` (the `ValCurs Date` attribute).
#[derive(Debug)]
pub struct DailyRates {
    pub date: NaiveDate,
    pub rates: Vec<Rate>,
    /// One line per `Valute` left out, for a warning naming the day.
    pub skipped: Vec<String>,
}

/// One currency's rate: `rate` roubles per one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub currency: Currency,
    pub rate: Decimal,
}

/// Decodes and parses an answer; the error is a message for [`okno_connector::ConnectorError::Decode`].
pub fn parse(body: &[u8]) -> Result<Answer, String> {
    let text = decode(body)?;
    parse_text(&text)
}

/// The body as text, in the encoding its byte-order mark or XML declaration names (UTF-8 when
/// neither does, as XML prescribes).
pub fn decode(body: &[u8]) -> Result<Cow<'_, str>, String> {
    let (encoding, rest) = match Encoding::for_bom(body) {
        Some((encoding, bom)) => (encoding, &body[bom..]),
        None => (declared_encoding(body)?, body),
    };
    encoding
        .decode_without_bom_handling_and_without_replacement(rest)
        .ok_or_else(|| format!("the body is not valid {}", encoding.name()))
}

/// The encoding the XML declaration names, read with the parser (the declaration is ASCII).
fn declared_encoding(body: &[u8]) -> Result<&'static Encoding, String> {
    let mut reader = Reader::from_reader(body);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Decl(decl)) => {
                return match decl.encoding() {
                    None => Ok(UTF_8),
                    Some(Ok(label)) => Encoding::for_label(label.trim_ascii()).ok_or_else(|| {
                        format!(
                            "the XML declaration names an unknown encoding {:?}",
                            String::from_utf8_lossy(&label)
                        )
                    }),
                    Some(Err(e)) => Err(format!("unreadable XML declaration: {e}")),
                }
            }
            // Whitespace before the declaration is not XML, but costs nothing to allow.
            Ok(Event::Text(t)) if t.iter().all(u8::is_ascii_whitespace) => buf.clear(),
            // No declaration: UTF-8. Parse errors surface in the real parse.
            _ => return Ok(UTF_8),
        }
    }
}

/// Fields of one `<Valute>` as text.
#[derive(Default)]
struct ValuteText {
    id: String,
    char_code: Option<String>,
    nominal: Option<String>,
    value: Option<String>,
    vunit_rate: Option<String>,
}

/// Which element's text is being read.
#[derive(Clone, Copy)]
enum Field {
    CharCode,
    Nominal,
    Value,
    VunitRate,
    /// Any other element (`NumCode`, `Name`, future ones): read past.
    Other,
}

pub fn parse_text(text: &str) -> Result<Answer, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);

    let mut date: Option<NaiveDate> = None;
    let mut root_seen = false;
    let mut root_closed = false;
    let mut root_text = String::new();
    let mut valute: Option<ValuteText> = None;
    let mut field: Option<Field> = None;
    let mut field_text = String::new();
    let mut depth = 0usize;
    let mut rates = Vec::new();
    let mut skipped = Vec::new();

    loop {
        let event = reader.read_event().map_err(|e| {
            let cut = if reader.buffer_position() as usize >= text.len() {
                " (the answer ends mid-document: truncated)"
            } else {
                ""
            };
            format!(
                "not well-formed XML at byte {}: {e}{cut}",
                reader.error_position()
            )
        })?;
        match event {
            Event::Start(e) => {
                depth += 1;
                let name = e.name();
                match depth {
                    1 => {
                        root(&e, &mut date, &mut root_seen)?;
                    }
                    2 if name.as_ref() == b"Valute" => {
                        valute = Some(ValuteText {
                            id: attribute(&e, b"ID")?.unwrap_or_default(),
                            ..ValuteText::default()
                        });
                    }
                    3 if valute.is_some() => {
                        field = Some(match name.as_ref() {
                            b"CharCode" => Field::CharCode,
                            b"Nominal" => Field::Nominal,
                            b"Value" => Field::Value,
                            b"VunitRate" => Field::VunitRate,
                            _ => Field::Other,
                        });
                        field_text.clear();
                    }
                    _ => {}
                }
            }
            Event::Empty(e) => {
                if depth == 0 {
                    // `<ValCurs/>`: a root without content.
                    root(&e, &mut date, &mut root_seen)?;
                    root_closed = true;
                }
                // An empty field (`<VunitRate/>`) is the same as a missing one.
            }
            Event::End(_) => {
                match depth {
                    1 => root_closed = true,
                    2 => {
                        if let Some(v) = valute.take() {
                            match rate_of(&v) {
                                Ok(rate) => {
                                    if rates.iter().any(|r: &Rate| r.currency == rate.currency) {
                                        skipped.push(format!(
                                            "Valute {}: {} is listed twice; the first is kept",
                                            v.id, rate.currency
                                        ));
                                    } else {
                                        rates.push(rate);
                                    }
                                }
                                Err(why) => skipped.push(format!("Valute {:?}: {why}", v.id)),
                            }
                        }
                    }
                    3 => {
                        if let (Some(v), Some(f)) = (valute.as_mut(), field.take()) {
                            let text = std::mem::take(&mut field_text);
                            match f {
                                Field::CharCode => v.char_code = Some(text),
                                Field::Nominal => v.nominal = Some(text),
                                Field::Value => v.value = Some(text),
                                Field::VunitRate => v.vunit_rate = Some(text),
                                Field::Other => {}
                            }
                        }
                    }
                    _ => {}
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => {
                let t = t.decode().map_err(|e| {
                    format!("undecodable text at byte {}: {e}", reader.buffer_position())
                })?;
                push_text(depth, field.is_some(), &t, &mut field_text, &mut root_text);
            }
            Event::CData(t) => {
                let t = t.decode().map_err(|e| {
                    format!(
                        "undecodable CDATA at byte {}: {e}",
                        reader.buffer_position()
                    )
                })?;
                push_text(depth, field.is_some(), &t, &mut field_text, &mut root_text);
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r.decode().map_err(|e| e.to_string())?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity &{name};"))?
                            .to_string()
                    }
                    Err(e) => return Err(format!("bad character reference: {e}")),
                };
                push_text(
                    depth,
                    field.is_some(),
                    &resolved,
                    &mut field_text,
                    &mut root_text,
                );
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
        if root_closed {
            break;
        }
    }

    if !root_seen {
        return Err("no <ValCurs> element".into());
    }
    if !root_closed {
        return Err("the answer ends before </ValCurs> (truncated)".into());
    }
    match date {
        Some(date) => Ok(Answer::Rates(DailyRates {
            date,
            rates,
            skipped,
        })),
        None if !root_text.trim().is_empty() => Ok(Answer::Refused(root_text.trim().to_string())),
        None => Err("<ValCurs> has no Date attribute".into()),
    }
}

fn push_text(depth: usize, in_field: bool, text: &str, field: &mut String, root: &mut String) {
    if in_field && depth == 3 {
        field.push_str(text);
    } else if depth == 1 {
        root.push_str(text);
    }
}

/// Checks the root element and reads its `Date` (`dd.mm.yyyy`).
fn root(e: &BytesStart<'_>, date: &mut Option<NaiveDate>, seen: &mut bool) -> Result<(), String> {
    let name = e.name();
    if name.as_ref() != b"ValCurs" {
        return Err(format!(
            "expected <ValCurs>, found <{}> (not the daily rates document)",
            String::from_utf8_lossy(name.as_ref())
        ));
    }
    *seen = true;
    if let Some(text) = attribute(e, b"Date")? {
        let parsed = NaiveDate::parse_from_str(text.trim(), "%d.%m.%Y")
            .map_err(|_| format!("ValCurs Date {text:?} is not a dd.mm.yyyy date"))?;
        *date = Some(parsed);
    }
    Ok(())
}

fn attribute(e: &BytesStart<'_>, key: &[u8]) -> Result<Option<String>, String> {
    match e.try_get_attribute(key) {
        Ok(Some(a)) => a
            .unescape_value()
            .map(|v| Some(v.into_owned()))
            .map_err(|err| format!("unreadable attribute: {err}")),
        Ok(None) => Ok(None),
        Err(err) => Err(format!("unreadable attributes: {err}")),
    }
}

/// The per-unit rate of one `Valute`: `VunitRate` when given, else `Value / Nominal` exactly.
fn rate_of(v: &ValuteText) -> Result<Rate, String> {
    let code = v.char_code.as_deref().map(str::trim).unwrap_or_default();
    let currency = Currency::from_str(code)
        .map_err(|_| format!("CharCode {code:?} is not an ISO 4217 code"))?;
    let nominal_text = v.nominal.as_deref().map(str::trim).unwrap_or_default();
    let nominal: u64 = nominal_text
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!("{currency}: Nominal {nominal_text:?} is not a positive whole number")
        })?;
    let value = v
        .value
        .as_deref()
        .ok_or_else(|| format!("{currency}: no Value"))
        .and_then(|t| bank_decimal(t).map_err(|why| format!("{currency}: Value {why}")))?;
    let rate = match v
        .vunit_rate
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(t) => bank_decimal(t).map_err(|why| format!("{currency}: VunitRate {why}"))?,
        None => value
            .checked_div(Decimal::from(nominal))
            .ok_or_else(|| format!("{currency}: Value / Nominal overflows"))?,
    };
    if rate <= Decimal::ZERO {
        return Err(format!("{currency}: the rate {rate} is not positive"));
    }
    Ok(Rate { currency, rate })
}

/// A number as the bank writes it: digits with a decimal comma (`92,5058`); a decimal point is
/// accepted too. No sign, exponent or grouping.
pub fn bank_decimal(text: &str) -> Result<Decimal, String> {
    let t = text.trim();
    let mut separators = 0;
    let mut digits = 0;
    for c in t.chars() {
        match c {
            '0'..='9' => digits += 1,
            ',' | '.' => separators += 1,
            _ => return Err(format!("{t:?} is not a decimal number")),
        }
    }
    if digits == 0 || separators > 1 {
        return Err(format!("{t:?} is not a decimal number"));
    }
    Decimal::from_str_exact(&t.replace(',', "."))
        .map_err(|e| format!("{t:?} is not a decimal number ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn rates(text: &str) -> DailyRates {
        match parse_text(text).unwrap() {
            Answer::Rates(r) => r,
            Answer::Refused(t) => panic!("refused: {t}"),
        }
    }

    #[test]
    fn bank_numbers_are_exact_with_a_decimal_comma() {
        assert_eq!(bank_decimal("92,5058").unwrap(), d("92.5058"));
        assert_eq!(bank_decimal(" 0,0034423 ").unwrap(), d("0.0034423"));
        assert_eq!(bank_decimal("100").unwrap(), d("100"));
        assert_eq!(bank_decimal("57.1958").unwrap(), d("57.1958"));
        for bad in ["", ",", "1,2,3", "-1,5", "1e3", "12 345,6", "abc"] {
            assert!(bank_decimal(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn value_over_nominal_is_exact_when_vunit_rate_is_missing() {
        let r = rates(
            r#"<ValCurs Date="24.08.2021" name="Foreign Currency Market">
            <Valute ID="R01335"><CharCode>KZT</CharCode><Nominal>100</Nominal><Value>17,3926</Value></Valute>
            <Valute ID="R01150"><CharCode>VND</CharCode><Nominal>10000</Nominal><Value>34,4230</Value><VunitRate/></Valute>
            </ValCurs>"#,
        );
        assert_eq!(r.date, NaiveDate::from_ymd_opt(2021, 8, 24).unwrap());
        assert_eq!(r.rates[0].rate, d("0.173926"));
        assert_eq!(r.rates[0].rate.to_string(), "0.173926");
        assert_eq!(r.rates[1].rate, d("0.0034423"));
        assert!(r.skipped.is_empty());
    }

    #[test]
    fn the_refusal_in_the_body_is_recognised() {
        let a = parse(
            br#"<?xml version="1.0" encoding="utf-8" ?><ValCurs>Error in parameters</ValCurs>"#,
        )
        .unwrap();
        assert!(matches!(a, Answer::Refused(t) if t == "Error in parameters"));
    }

    #[test]
    fn windows_1251_is_decoded_as_declared_and_utf8_without_a_declaration() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1251
            .encode("<?xml version=\"1.0\" encoding=\"windows-1251\"?><ValCurs>Ошибка</ValCurs>");
        assert!(decode(&bytes).unwrap().contains("Ошибка"));
        assert!(decode("<ValCurs>Ошибка</ValCurs>".as_bytes())
            .unwrap()
            .contains("Ошибка"));
        // windows-1251 bytes without a declaration are not UTF-8.
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode("<ValCurs>Ошибка</ValCurs>");
        assert!(decode(&bytes).is_err());
        assert!(decode(b"<?xml version=\"1.0\" encoding=\"klingon\"?><ValCurs/>").is_err());
    }

    #[test]
    fn documents_that_are_not_the_rates_are_errors() {
        assert!(parse_text("<html><body>Сервис недоступен</body></html>").is_err());
        assert!(parse_text("").is_err());
        assert!(parse_text(r#"<ValCurs Date="01.04.2025"><Valute ID="R1"><CharCode>USD"#).is_err());
        assert!(parse_text(r#"<ValCurs Date="2025-04-01"></ValCurs>"#).is_err());
        assert!(parse_text(r#"<ValCurs></ValCurs>"#).is_err());
    }
}
