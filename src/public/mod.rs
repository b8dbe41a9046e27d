//! The citizens' own pages, without signing in (docs/web.md): the appeal
//! form (`/public/appeal`), an appeal's status by its number and the last
//! digits of the contact phone (`/public/status`), current and planned
//! works with staff's announcements (`/public/works`, with Atom and RSS
//! feeds), and their JSON under `/public/api/`.
//!
//! Layout, pure rules first:
//! * [`limits`]: how often one address or one contact may use them, and
//!   the client's address behind the city's reverse proxy.
//! * [`status`]: what the status page tells: public steps only.
//! * [`announcements`]: what staff publish to residents, checked, and its
//!   rows.
//! * [`feed`]: the works page as Atom and RSS.
//! * [`outbox`]: the e-mail confirming an appeal, queued and sent.
//! * [`routes`], [`works`]: the HTTP edge (the form, the status, the works
//!   page and its feeds).

pub mod announcements;
pub mod feed;
pub mod limits;
pub mod outbox;
pub mod routes;
pub mod status;
pub mod works;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// All the text fields of one form together, in bytes; past it the form
/// is refused whole (413).
pub const MAX_TEXT_BYTES: usize = 256 * 1024;

/// `[public]` in the configuration.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublicSettings {
    /// Serve the public pages and their API (`false`: every `/public`
    /// path answers 404).
    pub enabled: bool,
    /// Appeals registered from one address (the client's, see
    /// `trusted_proxies`) per hour.
    pub appeals_per_address_hour: u32,
    /// Appeals registered with one contact phone or e-mail per day.
    pub appeals_per_contact_day: u32,
    /// Forms sent from one address per hour, accepted or not (a script
    /// trying field values).
    pub attempts_per_address_hour: u32,
    /// Wrong number-and-digits pairs from one address per hour on the
    /// status page.
    pub status_failures_per_address_hour: u32,
    /// Wrong digits per registration number per hour, from any address (a
    /// guesser spread over many addresses). Past it, that number's status
    /// waits; the citizen can still call.
    pub status_failures_per_number_hour: u32,
    /// Files one appeal may carry, and each one's size in MiB (the types
    /// are the cards' own: photos, video, PDF and office documents).
    pub max_files: usize,
    pub file_max_mb: u64,
    /// The reverse proxies in front (their `X-Forwarded-For` is believed);
    /// empty when clients connect directly.
    pub trusted_proxies: Vec<IpAddr>,
    /// The site's address as citizens reach it (`https://1580.zp.gov.ua`),
    /// for the link in the confirmation e-mail; none without it.
    pub site_url: String,
    /// The map on the form.
    pub map: MapSettings,
    /// Open311 GeoReport v2 (docs/open311.md).
    pub open311: crate::open311::Open311Settings,
}

impl Default for PublicSettings {
    fn default() -> Self {
        PublicSettings {
            enabled: true,
            appeals_per_address_hour: 5,
            appeals_per_contact_day: 3,
            attempts_per_address_hour: 30,
            status_failures_per_address_hour: 10,
            status_failures_per_number_hour: 10,
            max_files: 5,
            file_max_mb: 10,
            trusted_proxies: Vec::new(),
            site_url: String::new(),
            map: MapSettings::default(),
            open311: crate::open311::Open311Settings::default(),
        }
    }
}

/// `[public.map]`: the tile server of the form's map. Without one
/// (`tiles = ""`) the form asks for coordinates as numbers.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MapSettings {
    /// A tile URL template with `{z}`, `{x}` and `{y}`, https.
    pub tiles: String,
    /// The tiles' attribution, as their licence asks.
    pub attribution: String,
    /// Where the map opens: the city's centre, and the zoom level.
    pub latitude: f64,
    pub longitude: f64,
    pub zoom: u8,
}

impl Default for MapSettings {
    fn default() -> Self {
        MapSettings {
            tiles: String::new(),
            attribution: String::new(),
            latitude: 47.8388,
            longitude: 35.1396,
            zoom: 12,
        }
    }
}

impl PublicSettings {
    /// The first problem with the settings.
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("appeals_per_address_hour", self.appeals_per_address_hour),
            ("appeals_per_contact_day", self.appeals_per_contact_day),
            ("attempts_per_address_hour", self.attempts_per_address_hour),
            (
                "status_failures_per_address_hour",
                self.status_failures_per_address_hour,
            ),
            (
                "status_failures_per_number_hour",
                self.status_failures_per_number_hour,
            ),
        ] {
            if value == 0 {
                return Err(format!("[public] {name} must be at least 1"));
            }
        }
        if !(1..=20).contains(&self.max_files) {
            return Err("[public] max_files must be 1 to 20".into());
        }
        if !(1..=100).contains(&self.file_max_mb) {
            return Err("[public] file_max_mb must be 1 to 100".into());
        }
        let site = self.site_url.trim();
        if !site.is_empty()
            && (!(site.starts_with("https://") || site.starts_with("http://127.0.0.1"))
                || site.contains(char::is_whitespace))
        {
            return Err("[public] site_url must be the site's https address".into());
        }
        self.open311.check()?;
        self.map.check()
    }

    /// The largest form the server reads, in bytes: every file at its
    /// largest, and the fields.
    pub fn max_body(&self) -> usize {
        self.max_files * (self.file_max_mb as usize) * 1024 * 1024 + MAX_TEXT_BYTES
    }

    pub fn file_max_bytes(&self) -> u64 {
        self.file_max_mb * 1024 * 1024
    }
}

impl MapSettings {
    fn check(&self) -> Result<(), String> {
        let tiles = self.tiles.trim();
        if !tiles.is_empty() {
            let https = tiles.starts_with("https://") || tiles.starts_with("http://127.0.0.1");
            if !https || !["{z}", "{x}", "{y}"].iter().all(|p| tiles.contains(p)) {
                return Err("[public.map] tiles must be an https URL with {z}, {x} and {y}".into());
            }
            if tiles.contains(['"', '\'', ' ', ';']) {
                return Err("[public.map] tiles must be a plain URL".into());
            }
        }
        if !(-90.0..=90.0).contains(&self.latitude) || !(-180.0..=180.0).contains(&self.longitude) {
            return Err("[public.map] latitude and longitude are degrees in range".into());
        }
        if self.zoom > 19 {
            return Err("[public.map] zoom must be 0 to 19".into());
        }
        Ok(())
    }

    /// The tile server's origin (`https://tile.example.org`), for the
    /// public pages' content security policy; `None` without tiles.
    pub fn tile_origin(&self) -> Option<String> {
        let tiles = self.tiles.trim();
        let rest = tiles.split_once("://")?.1;
        let host = rest.split('/').next()?;
        // Sub-domain templates ({s}.tile…) take every sub-domain.
        let host = host.replace("{s}", "*");
        Some(format!("{}://{host}", tiles.split_once("://")?.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert_eq!(PublicSettings::default().check(), Ok(()));
        let mut s = PublicSettings::default();
        s.map.tiles = "https://tile.openstreetmap.org/{z}/{x}/{y}.png".into();
        assert_eq!(s.check(), Ok(()));
        assert_eq!(
            s.map.tile_origin().as_deref(),
            Some("https://tile.openstreetmap.org")
        );
        s.map.tiles = "https://{s}.tile.example.org/{z}/{x}/{y}.png".into();
        assert_eq!(
            s.map.tile_origin().as_deref(),
            Some("https://*.tile.example.org")
        );
        s.map.tiles = "ftp://tiles/{z}/{x}/{y}".into();
        assert!(s.check().unwrap_err().contains("tiles"));
        s.map.tiles = "https://tiles.example.org/{z}/{x}/{y}.png; script-src *".into();
        assert!(s.check().is_err(), "nothing slips into the page's policy");
        let s = PublicSettings {
            max_files: 0,
            ..PublicSettings::default()
        };
        assert!(s.check().unwrap_err().contains("max_files"));
        assert_eq!(PublicSettings::default().map.tile_origin(), None);
    }
}
