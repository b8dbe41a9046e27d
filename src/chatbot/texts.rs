//! What the bot says, in the city's language: `ivr-scripts/chatbot/uk.toml`
//! (`[ivr] language`) beside the voice menu's files, so a city edits its
//! words without a build. Every text the conversation uses is a field here, so a file that
//! lacks one is refused when the server starts, not when a citizen reaches
//! that step. `{name}` in a text is filled in ([`fill`]).

use std::path::Path;

use serde::Deserialize;

/// The folder of the texts under the IVR's scripts folder, a file per
/// language.
pub const DIR: &str = "chatbot";

/// Every text of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub welcome: String,
    pub menu: String,
    pub button_new: String,
    pub button_mine: String,
    pub button_news: String,
    pub button_subscribe: String,
    pub button_unsubscribe: String,
    pub button_menu: String,
    pub button_skip: String,
    pub button_next: String,
    pub button_back: String,
    pub button_unknown: String,
    pub button_register: String,
    pub button_restart: String,
    pub button_cancel: String,
    pub button_continue: String,
    pub button_share_contact: String,
    pub button_share_location: String,
    pub button_reply: String,
    pub button_yes: String,
    pub button_no: String,
    pub blocked: String,
    pub expired: String,
    pub resume: String,
    pub not_understood: String,
    pub ask_name: String,
    pub bad_name: String,
    pub ask_address: String,
    pub bad_address: String,
    pub ask_contact: String,
    pub contact_typed: String,
    pub contact_not_own: String,
    pub bad_contact: String,
    pub contact_known: String,
    pub ask_essence: String,
    pub bad_essence: String,
    pub ask_kind: String,
    pub kind_statement: String,
    pub kind_complaint: String,
    pub kind_proposal: String,
    pub kind_remark: String,
    pub kind_request: String,
    pub kind_demand: String,
    pub ask_section: String,
    pub ask_type: String,
    pub no_classifier: String,
    pub ask_photos: String,
    pub photo_added: String,
    pub too_many_photos: String,
    pub ask_location: String,
    pub summary: String,
    pub summary_unknown_category: String,
    pub summary_photos: String,
    pub summary_place: String,
    pub registered: String,
    pub not_registered: String,
    pub too_many_appeals: String,
    pub photos_lost: String,
    pub cancelled: String,
    pub no_appeals: String,
    pub appeals_head: String,
    pub appeal_line: String,
    pub news_head: String,
    pub news_none: String,
    pub news_work: String,
    pub news_announcement: String,
    pub ask_street: String,
    pub bad_street: String,
    pub subscribed: String,
    pub unsubscribed: String,
    pub new_work: String,
    pub status_changed: String,
    pub question: String,
    pub ask_reply: String,
    pub replied: String,
    pub answer_late: String,
    pub verify_question: String,
    pub ask_rating: String,
    pub ask_why: String,
    pub verified: String,
    pub verify_late: String,
}

impl Texts {
    /// The texts in `scripts_dir`/[`DIR`]/`language`.toml.
    pub fn load(scripts_dir: &Path, language: &str) -> Result<Texts, String> {
        let path = scripts_dir.join(DIR).join(format!("{language}.toml"));
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Texts::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Texts, String> {
        let texts: Texts = toml::from_str(text).map_err(|e| e.to_string())?;
        Ok(texts)
    }
}

/// The shipped Ukrainian texts, for tests.
#[cfg(test)]
pub fn shipped() -> Texts {
    Texts::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("ivr-scripts"),
        "uk",
    )
    .expect("the shipped texts")
}

/// `text` with each `{name}` replaced by its value.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_texts_load_and_name_their_blanks() {
        let texts = Texts::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("ivr-scripts"),
            "uk",
        )
        .expect("the texts");
        assert!(texts.registered.contains("{number}"));
        assert!(texts.registered.contains("{deadline}"));
        assert!(texts.question.contains("{text}"));
        assert_eq!(
            fill(
                "№ {number} до {deadline}",
                &[("number", "1"), ("deadline", "2")]
            ),
            "№ 1 до 2"
        );
    }

    #[test]
    fn a_file_without_a_text_is_refused_by_name() {
        let err = Texts::parse("welcome = \"Вітаємо\"").unwrap_err();
        assert!(err.contains("missing field"), "{err}");
    }
}
