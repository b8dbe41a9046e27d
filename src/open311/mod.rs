//! Open311 GeoReport v2 under `/open311/v2/` (docs/open311.md): the open
//! standard that civic applications and other cities' systems file and
//! follow service requests through. The classifier's types are the
//! services; a card is a request; applications file with a key that an
//! admin issues (`hotline apikey`).
//!
//! Layout, pure rules first:
//! * [`wire`]: formats, documents, errors, a POST's checks;
//! * [`store`]: keys, the requests' origins, the public list;
//! * [`routes`]: the HTTP edge.

pub mod routes;
pub mod store;
pub mod wire;

use serde::Deserialize;

/// `[public.open311]` in the configuration.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Open311Settings {
    /// Serve `/open311/v2/` (`false`: every path answers 404).
    pub enabled: bool,
    /// The jurisdiction (the city's site without `www`, `zp.gov.ua`). A
    /// request that names another is refused; one that names none is
    /// taken (this endpoint serves one jurisdiction).
    pub jurisdiction_id: String,
    /// Discovery's contact and how to get a key, for people.
    pub contact: String,
    pub key_service: String,
    /// The endpoint's address as applications reach it, for discovery
    /// (`https://1580.zp.gov.ua/open311/v2`); without it, the address the
    /// request came to.
    pub url: String,
    /// Requests one application's key may file per hour (a client's bug
    /// or a stolen key cannot flood the executors).
    pub requests_per_key_hour: u32,
    /// GETs one client address may make per minute.
    pub reads_per_address_minute: u32,
}

impl Default for Open311Settings {
    fn default() -> Self {
        Open311Settings {
            enabled: true,
            jurisdiction_id: String::new(),
            contact: "Контакт-центр міської гарячої лінії".into(),
            key_service: "Ключ API видає адміністратор гарячої лінії (hotline apikey add)".into(),
            url: String::new(),
            requests_per_key_hour: 600,
            reads_per_address_minute: 120,
        }
    }
}

impl Open311Settings {
    pub fn check(&self) -> Result<(), String> {
        if self.requests_per_key_hour == 0 || self.reads_per_address_minute == 0 {
            return Err(
                "[public.open311] requests_per_key_hour and reads_per_address_minute must be at least 1"
                    .into(),
            );
        }
        let url = self.url.trim();
        if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
            return Err("[public.open311] url must be an http(s) address".into());
        }
        if self.jurisdiction_id.contains(char::is_whitespace) {
            return Err("[public.open311] jurisdiction_id has no spaces (e.g. zp.gov.ua)".into());
        }
        Ok(())
    }
}
