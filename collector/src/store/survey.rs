//! Exit-survey answers (`survey_answers`, migration 0004): one row per
//! `survey_answered` event, inserted in the writer's transaction together
//! with the event (see [`super::events`]), and paged admin reads.
//!
//! The email column is filled only when the answer carries consent; the
//! table's CHECK constraint refuses an email without consent text and
//! version, so the rule holds even for rows written by other code.

use serde::Serialize;
use sqlx::Row;
use steadycart_protocol::{Event, EventBody};

use super::{events::EventRow, on_pool, Db, StoreError};

/// The columns of one answer, taken from a stored `survey_answered` event.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerRow {
    /// Path where the survey was answered.
    pub page: Option<String>,
    /// What showed the survey.
    pub trigger: String,
    /// Chosen option id.
    pub choice: Option<String>,
    /// Free text, verbatim.
    pub text: Option<String>,
    /// Rating 1..5.
    pub rating: Option<i64>,
    /// Email, only with consent.
    pub email: Option<String>,
    /// Consent text exactly as shown.
    pub consent_text: Option<String>,
    /// Consent text version.
    pub consent_version: Option<String>,
    /// Comma-separated troubled roles.
    pub trouble_roles: String,
    /// JSON array of `"METHOD /path"`.
    pub trouble_endpoints: String,
    /// Last troubled outcome.
    pub last_outcome: Option<String>,
    /// Last troubled status.
    pub last_status: Option<i64>,
}

impl AnswerRow {
    /// The answer columns of an event row, if it is a `survey_answered`.
    pub fn from_event_row(row: &EventRow) -> Option<AnswerRow> {
        if row.kind != "survey_answered" {
            return None;
        }
        let event: Event = serde_json::from_str(&row.body).ok()?;
        let EventBody::SurveyAnswered {
            trigger,
            answer,
            trouble,
        } = event.body
        else {
            return None;
        };
        // Validation already refused an email without consent; this is the
        // second lock on the same door.
        let email = answer.email.filter(|_| answer.consent.is_some());
        let (consent_text, consent_version) = match answer.consent {
            Some(c) => (Some(c.text), Some(c.version)),
            None => (None, None),
        };
        Some(AnswerRow {
            page: event.page,
            trigger,
            choice: answer.choice,
            text: answer.text,
            rating: answer.rating.map(i64::from),
            email,
            consent_text,
            consent_version,
            trouble_roles: trouble
                .roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(","),
            trouble_endpoints: serde_json::to_string(&trouble.endpoints)
                .unwrap_or_else(|_| "[]".into()),
            last_outcome: trouble.last_outcome.map(|o| o.as_str().to_string()),
            last_status: trouble.last_status.map(i64::from),
        })
    }
}

/// Insert one answer inside an open transaction `$tx` (either backend).
macro_rules! insert_answer {
    ($tx:expr, $row:expr, $a:expr) => {
        sqlx::query(
            "INSERT INTO survey_answers (site_id, event_id, session_id, page, answered_at, received_at, \
             exit_trigger, choice, free_text, rating, email, consent_text, consent_version, \
             trouble_roles, trouble_endpoints, last_outcome, last_status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
             ON CONFLICT (site_id, event_id) DO NOTHING",
        )
        .bind($row.site_id)
        .bind(&$row.event_id)
        .bind(&$row.session_id)
        .bind(&$a.page)
        .bind($row.client_ts)
        .bind($row.received_at)
        .bind(&$a.trigger)
        .bind(&$a.choice)
        .bind(&$a.text)
        .bind($a.rating)
        .bind(&$a.email)
        .bind(&$a.consent_text)
        .bind(&$a.consent_version)
        .bind(&$a.trouble_roles)
        .bind(&$a.trouble_endpoints)
        .bind(&$a.last_outcome)
        .bind($a.last_status)
        .execute(&mut *$tx)
        .await?
    };
}
pub(crate) use insert_answer;

/// Trouble context of a stored answer.
#[derive(Debug, Clone, Serialize)]
pub struct StoredTrouble {
    /// Roles whose calls failed or stalled.
    pub roles: Vec<String>,
    /// `"METHOD /path"` of the failing calls.
    pub endpoints: Vec<String>,
    /// Last troubled outcome.
    pub last_outcome: Option<String>,
    /// Last troubled status.
    pub last_status: Option<i64>,
}

/// One stored answer, as the admin API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredAnswer {
    /// Row id (the paging cursor).
    pub id: i64,
    /// The `survey_answered` event id.
    pub event_id: String,
    /// Session id (joins with events and incidents' sample sessions).
    pub session_id: String,
    /// Path where it was answered.
    pub page: Option<String>,
    /// Client time, ms.
    pub answered_at: i64,
    /// Server time, ms.
    pub received_at: i64,
    /// What showed the survey.
    pub trigger: String,
    /// Chosen option id.
    pub choice: Option<String>,
    /// Free text, verbatim (treat as untrusted text).
    pub text: Option<String>,
    /// Rating 1..5.
    pub rating: Option<i64>,
    /// Email, present only with consent.
    pub email: Option<String>,
    /// Consent text exactly as shown.
    pub consent_text: Option<String>,
    /// Version of the consent text.
    pub consent_version: Option<String>,
    /// The session's trouble before the survey.
    pub trouble: StoredTrouble,
}

impl Db {
    /// Up to `limit` answers of a site with id above `after`, oldest first;
    /// only those with a consented email when `with_email`.
    pub async fn survey_answers_page(
        &self,
        site_id: i64,
        after: i64,
        limit: i64,
        with_email: bool,
    ) -> Result<(Vec<StoredAnswer>, Option<i64>), StoreError> {
        let sql = if with_email {
            "SELECT * FROM survey_answers WHERE site_id = $1 AND id > $2 AND email IS NOT NULL ORDER BY id LIMIT $3"
        } else {
            "SELECT * FROM survey_answers WHERE site_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        };
        let answers = on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(site_id)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| -> Result<StoredAnswer, sqlx::Error> {
                    let roles: String = r.try_get("trouble_roles")?;
                    let endpoints: String = r.try_get("trouble_endpoints")?;
                    Ok(StoredAnswer {
                        id: r.try_get("id")?,
                        event_id: r.try_get("event_id")?,
                        session_id: r.try_get("session_id")?,
                        page: r.try_get("page")?,
                        answered_at: r.try_get("answered_at")?,
                        received_at: r.try_get("received_at")?,
                        trigger: r.try_get("exit_trigger")?,
                        choice: r.try_get("choice")?,
                        text: r.try_get("free_text")?,
                        rating: r.try_get("rating")?,
                        email: r.try_get("email")?,
                        consent_text: r.try_get("consent_text")?,
                        consent_version: r.try_get("consent_version")?,
                        trouble: StoredTrouble {
                            roles: roles
                                .split(',')
                                .filter(|s| !s.is_empty())
                                .map(String::from)
                                .collect(),
                            endpoints: serde_json::from_str(&endpoints).unwrap_or_default(),
                            last_outcome: r.try_get("last_outcome")?,
                            last_status: r.try_get("last_status")?,
                        },
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        let next = if answers.len() as i64 == limit {
            answers.last().map(|a| a.id)
        } else {
            None
        };
        Ok((answers, next))
    }
}
