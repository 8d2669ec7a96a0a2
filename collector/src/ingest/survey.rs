//! Validation of the survey events (`survey_shown`, `survey_dismissed`,
//! `survey_answered`): the shared checks of [`steadycart_protocol::survey`]
//! (text caps, email syntax and length, no email without consent, complete
//! consent) with errors naming the field (`events[2].answer.email`).

use steadycart_protocol::{
    survey::{check_answer, check_trouble, is_valid_token, Answer, Trouble},
    EventBody,
};

use super::validate::FieldError;

/// Check a survey event; other events pass. `at` turns a field name into
/// its JSON path.
pub fn check(body: &EventBody, at: &dyn Fn(&str) -> String) -> Result<(), FieldError> {
    let (token_field, token, trouble, answer): (&str, &str, &Trouble, Option<&Answer>) = match body
    {
        EventBody::SurveyShown { trigger, trouble } => ("trigger", trigger, trouble, None),
        EventBody::SurveyDismissed { reason, trouble } => ("reason", reason, trouble, None),
        EventBody::SurveyAnswered {
            trigger,
            answer,
            trouble,
        } => ("trigger", trigger, trouble, Some(answer)),
        _ => return Ok(()),
    };
    if !is_valid_token(token) {
        return Err(FieldError::new(
            at(token_field),
            "must be 1-64 characters of [0-9A-Za-z_.-]",
        ));
    }
    check_trouble(trouble).map_err(|e| FieldError::new(at(e.field), e.message))?;
    if let Some(answer) = answer {
        check_answer(answer)
            .map_err(|e| FieldError::new(at(&format!("answer.{}", e.field)), e.message))?;
    }
    Ok(())
}
