//! The marketing export as CSV, safe to open in a spreadsheet.
//!
//! Columns follow what common email tools import: `Email` first (Klaviyo
//! wants it first, Mailchimp needs only it), then `Email Marketing Consent`
//! and its timestamp in Klaviyo's vocabulary, and our own context. Quoting
//! per RFC 4180 is the `csv` crate's; on top, every cell that a spreadsheet
//! would read as a formula (first character `=`, `+`, `-`, `@`, tab, CR or
//! NUL; OWASP "CSV injection", CWE-1236) gets a leading `'`, which
//! spreadsheets show as text. Numbers we write ourselves (cart value) are
//! never negative, so neutralising never changes one of ours.

use std::borrow::Cow;

/// One exported recovery contact.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExportRow {
    /// The shopper's email address as given with consent.
    pub email: String,
    /// When the contact was first seen (RFC 3339).
    pub first_seen: String,
    /// Consent state in Klaviyo's words: always `Subscribed` here, because
    /// unsubscribed contacts are never exported.
    pub consent: String,
    /// When consent was given (RFC 3339).
    pub consent_at: String,
    /// The consent text version shown to the shopper.
    pub consent_version: String,
    /// Cart value in major units (`"59.97"`), empty when unknown.
    pub cart_value: String,
    /// ISO 4217 currency of `cart_value`, empty when unknown.
    pub currency: String,
    /// Cart items, `2 × Name; 1 × Other`.
    pub items: String,
    /// Why the shopper left: the survey answer and the trouble that hit them.
    pub reason: String,
    /// `pending`, `emailed`, `recovered` (completed checkout later) or
    /// `bounced` (the address was refused); unsubscribed contacts are deleted.
    pub status: String,
}

/// The header row, in column order.
pub const HEADER: [&str; 10] = [
    "Email",
    "First Seen",
    "Email Marketing Consent",
    "Email Marketing Consent Timestamp",
    "Consent Version",
    "Cart Value",
    "Currency",
    "Items",
    "Reason",
    "Status",
];

/// `cell`, with a leading `'` if a spreadsheet would take it for a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\0') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// A CSV writer that emits [`HEADER`] first when `with_header` (the first
/// page of an export) and neutralised rows after.
pub fn write(rows: &[ExportRow], with_header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    if with_header {
        out.write_record(HEADER)?;
    }
    for row in rows {
        let cells = [
            &row.email,
            &row.first_seen,
            &row.consent,
            &row.consent_at,
            &row.consent_version,
            &row.cart_value,
            &row.currency,
            &row.items,
            &row.reason,
            &row.status,
        ];
        out.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(email: &str, items: &str, reason: &str) -> ExportRow {
        ExportRow {
            email: email.into(),
            first_seen: "2026-11-28T14:05:00Z".into(),
            consent: "Subscribed".into(),
            consent_at: "2026-11-28T14:06:00Z".into(),
            consent_version: "v1".into(),
            cart_value: "59.97".into(),
            currency: "EUR".into(),
            items: items.into(),
            reason: reason.into(),
            status: "pending".into(),
        }
    }

    #[test]
    fn neutralises_each_formula_lead() {
        for lead in ["=", "+", "-", "@", "\t", "\r", "\0"] {
            let cell = format!("{lead}1+1");
            assert_eq!(neutralise(&cell), format!("'{cell}"));
        }
        assert_eq!(neutralise("plain"), "plain");
        assert_eq!(neutralise(""), "");
        assert_eq!(neutralise(" =1"), " =1");
    }

    #[test]
    fn hostile_rows_round_trip_through_a_csv_parser() {
        let hostile = [
            row(
                "=HYPERLINK(\"http://evil\",\"x\")@a.example",
                "2 × \"Quoted\", comma",
                "-2+3",
            ),
            row("+cmd@a.example", "line\nbreak", "@SUM(A1:A9)"),
            row("\tTAB@a.example", "\rcr", "ok; reason"),
        ];
        let bytes = write(&hostile, true).unwrap();
        let mut reader = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
        assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), HEADER);
        let parsed: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(parsed.len(), hostile.len());
        for (record, original) in parsed.iter().zip(&hostile) {
            // Every cell parses back to the neutralised original, so the
            // data survives and nothing starts like a formula.
            assert_eq!(record.get(0).unwrap(), format!("'{}", original.email));
            assert_eq!(record.get(7).unwrap(), neutralise(&original.items));
            assert_eq!(record.get(8).unwrap(), neutralise(&original.reason));
            for cell in record.iter() {
                assert!(
                    !matches!(
                        cell.as_bytes().first(),
                        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
                    ),
                    "{cell:?}"
                );
            }
        }
        assert_eq!(parsed[0].get(7).unwrap(), "2 × \"Quoted\", comma");
        assert_eq!(parsed[1].get(7).unwrap(), "line\nbreak");
    }

    #[test]
    fn later_pages_have_no_header() {
        let bytes = write(&[row("a@b.example", "1 × X", "price")], false).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text, "a@b.example,2026-11-28T14:05:00Z,Subscribed,2026-11-28T14:06:00Z,v1,59.97,EUR,1 × X,price,pending\r\n");
    }
}
