//! SIP dialogs (RFC 3261 §12): the state two user agents share for a call,
//! and the requests sent inside it.
//!
//! Pure data and functions: building an in-dialog request picks the
//! Request-URI and Route headers from the route set (loose or strict
//! routing, §12.2.1.1) and numbers it with the local CSeq.

use rsip::headers::UntypedHeader;
use rsip::{Header, Method, Request};

use super::{Flow, USER_AGENT, msg};

/// A dialog in which we are the UAS (the citizen called us).
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
    /// Our To value as the peer knows it, with our tag: the From of our requests.
    pub local_party: String,
    /// The peer's From value, with its tag: the To of our requests.
    pub remote_party: String,
    pub local_seq: u32,
    pub remote_seq: u32,
    /// The peer's Contact URI.
    pub remote_target: String,
    /// Record-Route values in the order received; a UAS uses them as they are.
    pub route_set: Vec<String>,
    /// The flow the dialog was created on. In-dialog requests go back along
    /// it (as RFC 5626 flows do), which is what works through NAT and with
    /// trunks that send from a different address than their Contact.
    pub flow: Flow,
}

impl Dialog {
    /// The dialog a UAS creates when it sends a 2xx to `invite` (§12.1.1).
    pub fn from_invite(
        invite: &Request,
        local_tag: &str,
        flow: Flow,
    ) -> Result<Dialog, msg::MessageError> {
        let call_id = msg::call_id(invite)?;
        let remote_tag = msg::from_tag(invite)?.unwrap_or_default();
        let from = header_value(invite, |h| matches!(h, Header::From(_)))
            .ok_or(msg::MessageError::Missing("From"))?;
        let to = header_value(invite, |h| matches!(h, Header::To(_)))
            .ok_or(msg::MessageError::Missing("To"))?;
        let (remote_seq, _) = msg::cseq(invite)?;
        let remote_target = msg::first_header(invite, "Contact")
            .as_deref()
            .and_then(msg::addr_uri)
            .map(str::to_string)
            // No Contact (broken peer): fall back to the From URI.
            .or_else(|| msg::addr_uri(&from).map(str::to_string))
            .ok_or(msg::MessageError::Missing("Contact"))?;
        Ok(Dialog {
            call_id,
            local_tag: local_tag.to_string(),
            remote_tag,
            local_party: format!("{to};tag={local_tag}"),
            remote_party: from,
            // Our first request gets a fresh random-ish start (§8.1.1.5 allows any).
            local_seq: rand::random::<u16>() as u32 + 1,
            remote_seq,
            remote_target,
            route_set: msg::header_values(invite, "Record-Route"),
            flow,
        })
    }

    /// The dialog a UAC creates from a 2xx (or 1xx with a To tag) to its
    /// `invite` (§12.1.2): the route set is the response's Record-Route in
    /// reverse, the remote target its Contact, our CSeq the INVITE's.
    pub fn from_response(
        invite: &Request,
        response: &rsip::Response,
        flow: Flow,
    ) -> Result<Dialog, msg::MessageError> {
        let call_id = msg::call_id(invite)?;
        let local_tag = msg::from_tag(invite)?.unwrap_or_default();
        let remote_tag = msg::to_tag(response)?.ok_or(msg::MessageError::Missing("To tag"))?;
        let local_party = header_value(invite, |h| matches!(h, Header::From(_)))
            .ok_or(msg::MessageError::Missing("From"))?;
        let remote_party =
            msg::first_header(response, "To").ok_or(msg::MessageError::Missing("To"))?;
        let (local_seq, _) = msg::cseq(invite)?;
        let remote_target = msg::first_header(response, "Contact")
            .as_deref()
            .and_then(msg::addr_uri)
            .map(str::to_string)
            .unwrap_or_else(|| invite.uri.to_string());
        let mut route_set = msg::header_values(response, "Record-Route");
        route_set.reverse();
        Ok(Dialog {
            call_id,
            local_tag,
            remote_tag,
            local_party,
            remote_party,
            local_seq,
            remote_seq: 0,
            remote_target,
            route_set,
            flow,
        })
    }

    /// Updates the remote target from a target refresh (re-INVITE, §12.2.2).
    pub fn refresh_target(&mut self, request: &Request) {
        if let Some(uri) = msg::first_header(request, "Contact")
            .as_deref()
            .and_then(msg::addr_uri)
        {
            self.remote_target = uri.to_string();
        }
    }

    /// Builds the next in-dialog request from us (§12.2.1.1).
    pub fn request(&mut self, method: Method, via_host: &str, branch: &str) -> Request {
        self.local_seq += 1;
        let transport = self.flow.transport.via_name();
        let (uri, routes) = self.target_and_routes();
        let mut headers = rsip::Headers::default();
        headers.push(Header::Via(rsip::headers::Via::new(format!(
            "SIP/2.0/{transport} {via_host};branch={branch};rport"
        ))));
        headers.push(Header::MaxForwards(rsip::headers::MaxForwards::new("70")));
        for route in routes {
            headers.push(Header::Route(rsip::headers::Route::new(route)));
        }
        headers.push(Header::From(rsip::headers::From::new(
            self.local_party.clone(),
        )));
        headers.push(Header::To(rsip::headers::To::new(
            self.remote_party.clone(),
        )));
        headers.push(Header::CallId(rsip::headers::CallId::new(
            self.call_id.clone(),
        )));
        headers.push(Header::CSeq(rsip::headers::CSeq::new(format!(
            "{} {method}",
            self.local_seq
        ))));
        headers.push(Header::UserAgent(rsip::headers::UserAgent::new(USER_AGENT)));
        Request {
            method,
            // An unparsable target cannot be fixed by us; the default URI
            // yields a request the peer rejects, which the TU sees as a failure.
            uri: rsip::Uri::try_from(uri.as_str()).unwrap_or_default(),
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        }
    }

    /// A BYE in this dialog with a fresh branch, and that branch (for its
    /// client transaction).
    pub fn bye(&mut self, via_host: &str) -> (Request, String) {
        let branch = msg::new_branch();
        (self.request(Method::Bye, via_host, &branch), branch)
    }

    /// Request-URI and Route values: loose routing when the first route has
    /// `;lr`, strict routing (the first route becomes the Request-URI and the
    /// remote target goes last) otherwise.
    fn target_and_routes(&self) -> (String, Vec<String>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let first_uri = msg::addr_uri(first).unwrap_or(first);
        let loose = first_uri.split(';').skip(1).any(|p| {
            p.split('=')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("lr")
        });
        if loose {
            (self.remote_target.clone(), self.route_set.clone())
        } else {
            let mut routes: Vec<String> = self.route_set[1..].to_vec();
            routes.push(format!("<{}>", self.remote_target));
            (first_uri.to_string(), routes)
        }
    }
}

fn header_value(req: &Request, pick: impl Fn(&Header) -> bool) -> Option<String> {
    use rsip::message::HasHeaders;
    req.headers().iter().find(|h| pick(h)).map(|h| {
        let text = h.to_string();
        text.split_once(':')
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Transport, wire};
    use rsip::prelude::*;

    fn invite(record_route: &str) -> Request {
        let raw = format!(
            "INVITE sip:1580@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             {record_route}\
             From: \"Citizen\" <sip:0611234567@127.0.0.1>;tag=ft\r\n\
             To: <sip:1580@127.0.0.1>\r\n\
             Call-ID: cid\r\nCSeq: 10 INVITE\r\n\
             Contact: <sip:caller@127.0.0.1:5070;transport=udp>\r\nContent-Length: 0\r\n\r\n"
        );
        match wire::parse(raw.as_bytes()).unwrap() {
            rsip::SipMessage::Request(r) => r,
            _ => unreachable!(),
        }
    }

    fn flow() -> Flow {
        Flow {
            transport: Transport::Udp,
            remote: "127.0.0.1:5070".parse().unwrap(),
        }
    }

    #[test]
    fn uas_dialog_swaps_parties_and_uses_contact() {
        let mut d = Dialog::from_invite(&invite(""), "lt", flow()).unwrap();
        assert_eq!((d.remote_tag.as_str(), d.remote_seq), ("ft", 10));
        let seq = d.local_seq;
        let bye = d.request(Method::Bye, "127.0.0.1:5060", "z9hG4bKb");
        // rsip prints the transport parameter in upper case; values of
        // `transport` compare case-insensitively (RFC 3261 §19.1.4).
        assert!(
            bye.uri
                .to_string()
                .eq_ignore_ascii_case("sip:caller@127.0.0.1:5070;transport=udp")
        );
        assert_eq!(msg::from_tag(&bye).unwrap().as_deref(), Some("lt"));
        assert_eq!(msg::to_tag(&bye).unwrap().as_deref(), Some("ft"));
        assert_eq!(msg::cseq(&bye).unwrap(), (seq + 1, Method::Bye));
        assert_eq!(bye.call_id_header().unwrap().value(), "cid");
    }

    #[test]
    fn loose_route_set_is_kept_in_order() {
        let rr = "Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\n";
        let mut d = Dialog::from_invite(&invite(rr), "lt", flow()).unwrap();
        let bye = d.request(Method::Bye, "h", "z9hG4bKb");
        assert_eq!(
            msg::header_values(&bye, "Route"),
            vec!["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
        );
        assert!(bye.uri.to_string().starts_with("sip:caller@"));
    }

    #[test]
    fn strict_route_puts_first_route_in_request_uri() {
        let rr = "Record-Route: <sip:p1.example>, <sip:p2.example;lr>\r\n";
        let mut d = Dialog::from_invite(&invite(rr), "lt", flow()).unwrap();
        let bye = d.request(Method::Bye, "h", "z9hG4bKb");
        assert_eq!(bye.uri.to_string(), "sip:p1.example");
        assert_eq!(
            msg::header_values(&bye, "Route"),
            vec![
                "<sip:p2.example;lr>".to_string(),
                "<sip:caller@127.0.0.1:5070;transport=udp>".to_string()
            ]
        );
    }

    #[test]
    fn uac_dialog_from_a_2xx_reverses_the_route_set() {
        let invite = match wire::parse(
            b"INVITE sip:1001@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKo\r\n\
              From: <sip:hotline@127.0.0.1>;tag=ours\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: leg\r\n\
              CSeq: 4 INVITE\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap()
        {
            rsip::SipMessage::Request(r) => r,
            _ => unreachable!(),
        };
        let ok = match wire::parse(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKo\r\n\
              Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\n\
              From: <sip:hotline@127.0.0.1>;tag=ours\r\nTo: <sip:1001@127.0.0.1>;tag=phone\r\nCall-ID: leg\r\n\
              CSeq: 4 INVITE\r\nContact: <sip:1001@10.0.0.7:5062>\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap()
        {
            rsip::SipMessage::Response(r) => r,
            _ => unreachable!(),
        };
        let mut d = Dialog::from_response(&invite, &ok, flow()).unwrap();
        assert_eq!(
            (d.local_tag.as_str(), d.remote_tag.as_str(), d.local_seq),
            ("ours", "phone", 4)
        );
        assert_eq!(
            d.route_set,
            vec![
                "<sip:p2.example;lr>".to_string(),
                "<sip:p1.example;lr>".to_string()
            ]
        );
        let bye = d.request(Method::Bye, "127.0.0.1:5060", "z9hG4bKb");
        assert_eq!(bye.uri.to_string(), "sip:1001@10.0.0.7:5062");
        assert_eq!(msg::cseq(&bye).unwrap(), (5, Method::Bye));
        assert_eq!(msg::to_tag(&bye).unwrap().as_deref(), Some("phone"));
        assert_eq!(msg::from_tag(&bye).unwrap().as_deref(), Some("ours"));
        assert_eq!(msg::header_values(&bye, "Route")[0], "<sip:p2.example;lr>");
    }
}
