//! The works page as a feed (docs/web.md): Atom 1.0 (RFC 4287) and RSS
//! 2.0, one entry per announcement and per repair work, written from
//! plain values. No IO.

use chrono::{DateTime, Utc};
use quick_xml::escape::escape;

/// One entry of a feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Stable: `urn:uuid:…` of the announcement or the work.
    pub id: String,
    pub title: String,
    pub summary: String,
    pub updated: DateTime<Utc>,
    /// Where the entry is on the page.
    pub link: String,
}

/// The feed's own facts.
#[derive(Debug, Clone)]
pub struct Channel<'a> {
    pub title: &'a str,
    pub description: &'a str,
    /// The page the feed is of (absolute).
    pub page: &'a str,
    /// The feed's own address (absolute).
    pub own: &'a str,
}

/// Atom 1.0: `updated` is the newest entry's (or `now` without entries).
pub fn atom(channel: &Channel, items: &[Item], now: DateTime<Utc>) -> String {
    let updated = items.iter().map(|i| i.updated).max().unwrap_or(now);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"uk\">\n\
         <id>{own}</id>\n<title>{title}</title>\n<subtitle>{description}</subtitle>\n\
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{own}\"/>\n\
         <link rel=\"alternate\" type=\"text/html\" href=\"{page}\"/>\n\
         <updated>{updated}</updated>\n<author><name>{title}</name></author>\n",
        own = escape(channel.own),
        title = escape(channel.title),
        description = escape(channel.description),
        page = escape(channel.page),
        updated = updated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    for i in items {
        out.push_str(&format!(
            "<entry>\n<id>{id}</id>\n<title>{title}</title>\n\
             <link rel=\"alternate\" type=\"text/html\" href=\"{link}\"/>\n\
             <updated>{updated}</updated>\n<summary type=\"text\">{summary}</summary>\n</entry>\n",
            id = escape(&i.id),
            title = escape(&i.title),
            link = escape(&i.link),
            updated = i.updated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            summary = escape(&i.summary),
        ));
    }
    out.push_str("</feed>\n");
    out
}

/// RSS 2.0, dates in RFC 822 (as RFC 2822 writes them).
pub fn rss(channel: &Channel, items: &[Item], now: DateTime<Utc>) -> String {
    let updated = items.iter().map(|i| i.updated).max().unwrap_or(now);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n\
         <title>{title}</title>\n<link>{page}</link>\n<description>{description}</description>\n\
         <language>uk</language>\n<lastBuildDate>{updated}</lastBuildDate>\n\
         <atom:link href=\"{own}\" rel=\"self\" type=\"application/rss+xml\"/>\n",
        title = escape(channel.title),
        page = escape(channel.page),
        description = escape(channel.description),
        updated = updated.to_rfc2822(),
        own = escape(channel.own),
    );
    for i in items {
        out.push_str(&format!(
            "<item>\n<title>{title}</title>\n<link>{link}</link>\n<description>{summary}</description>\n\
             <guid isPermaLink=\"false\">{id}</guid>\n<pubDate>{updated}</pubDate>\n</item>\n",
            title = escape(&i.title),
            link = escape(&i.link),
            summary = escape(&i.summary),
            id = escape(&i.id),
            updated = i.updated.to_rfc2822(),
        ));
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Channel<'static>, Vec<Item>) {
        let channel = Channel {
            title: "15-80: роботи й оголошення",
            description: "Поточні й заплановані роботи <міста>",
            page: "https://1580.example/public/works",
            own: "https://1580.example/public/works.atom",
        };
        let items = vec![Item {
            id: "urn:uuid:6f1c0c1e-0000-4000-8000-000000000001".into(),
            title: "Аварійні роботи: водопостачання & каналізація".into(),
            summary: "вул. Соборна 1-9 — до 08.12 18:00".into(),
            updated: "2026-12-07T10:00:00Z".parse().unwrap(),
            link: "https://1580.example/public/works#w-1".into(),
        }];
        (channel, items)
    }

    #[test]
    fn atom_and_rss_are_escaped_and_dated() {
        let (channel, items) = sample();
        let now = "2026-12-07T12:00:00Z".parse().unwrap();
        let a = atom(&channel, &items, now);
        assert!(a.contains("<updated>2026-12-07T10:00:00Z</updated>"), "{a}");
        assert!(a.contains("водопостачання &amp; каналізація"), "{a}");
        assert!(a.contains("&lt;міста&gt;"), "{a}");
        let r = rss(&channel, &items, now);
        assert!(
            r.contains("<pubDate>Mon, 7 Dec 2026 10:00:00 +0000</pubDate>"),
            "{r}"
        );
        let empty = atom(&channel, &[], now);
        assert!(empty.contains("<updated>2026-12-07T12:00:00Z</updated>"));
    }
}
