//! A supervisor joined to a conversation (Asterisk's ChanSpy, FreeSWITCH's
//! eavesdrop), as plain code: the call's machine owns one [`Monitor`] while
//! a supervisor's phone rings or listens, and hands it what the console asks
//! ([`MonitorRequest`]) and what the supervisor's leg does; it answers with
//! the call's usual [`Action`]s (place the leg, join its media, switch the
//! mode, end it, put each step on file).
//!
//! ```text
//!   start ──leg placed──▶ Ringing ──answered──▶ Joined ──mode──▶ Joined
//!     │                     │                     │
//!     └─no phone─▶ gone     └─failed─▶ gone       └─stop, hang-up, silence,
//!                                                   conversation over─▶ gone
//! ```
//!
//! One supervisor at a time per call; only they switch its mode or end it.
//! The conversation ending (the operator's leg gone, a transfer, the call's
//! end) ends the monitoring too: a supervisor never stays alone with a
//! caller.

use super::machine::{Action, MediaAction, RtpPort};
use super::{CODECS, Command};
use crate::rtp::engine::MonitorMode;
use crate::rtp::session::MediaParams;
use crate::sdp::{self, LocalMedia, SessionDescription};
use crate::sip::LegKey;

/// The supervisor who asks, and the phone of theirs that is rung.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supervisor {
    pub login: String,
    pub extension: String,
}

/// What the console asks of a call's monitoring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorRequest {
    /// Ring the supervisor's phone and join it in `mode` when answered.
    Start {
        supervisor: Supervisor,
        mode: MonitorMode,
    },
    /// Switch the mode (the supervisor who started it).
    Mode { by: String, mode: MonitorMode },
    /// End it (the supervisor who started it).
    Stop { by: String },
}

/// Why a monitoring request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonitorRefusal {
    #[error("the call is not in a conversation with an operator")]
    NotTalking,
    #[error("{by} already monitors this call")]
    Taken { by: String },
    #[error("nobody monitors this call")]
    NotMonitored,
    #[error("{by} monitors this call, not you")]
    NotYours { by: String },
    #[error("no RTP port is free for the supervisor's phone")]
    NoPort,
    #[error("no phone is registered for extension {0}")]
    NoPhone(String),
}

/// Where the supervisor's phone is.
#[derive(Debug)]
enum Leg<P> {
    /// The SIP core is placing the leg: its key comes with
    /// [`Monitor::dialled`], before any other input.
    Dialling {
        port: P,
    },
    Ringing {
        leg: LegKey,
        port: P,
    },
    Joined {
        leg: LegKey,
    },
    /// Over: what it held is dropped (its port freed).
    Gone,
}

/// A supervisor on a call.
#[derive(Debug)]
pub struct Monitor<P> {
    supervisor: Supervisor,
    mode: MonitorMode,
    leg: Leg<P>,
}

/// What the monitoring's state now is, for the live views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monitoring {
    Ringing,
    Joined(MonitorMode),
    Ended,
}

impl Monitoring {
    pub fn as_str(self) -> &'static str {
        match self {
            Monitoring::Ringing => "ringing",
            Monitoring::Joined(mode) => mode.as_str(),
            Monitoring::Ended => "ended",
        }
    }
}

impl<P: RtpPort> Monitor<P> {
    /// A new monitoring: the supervisor's phone is to be rung from `port`
    /// (`local` is our side of its SDP), showing `caller`.
    pub fn start(
        supervisor: Supervisor,
        mode: MonitorMode,
        port: P,
        local: &LocalMedia,
        caller: &str,
        out: &mut Vec<Action<P>>,
    ) -> Monitor<P> {
        out.push(Action::DialMonitor {
            extension: supervisor.extension.clone(),
            caller: caller.to_string(),
            sdp: sdp::offer(local, &CODECS).into_bytes(),
        });
        // "Ringing" is told once the leg is placed ([`Monitor::dialled`]).
        Monitor {
            supervisor,
            mode,
            leg: Leg::Dialling { port },
        }
    }

    pub fn supervisor(&self) -> &str {
        &self.supervisor.login
    }

    /// The leg the SIP core placed (the live views hear it rings), or
    /// `None` when the supervisor's extension has no registered phone:
    /// then the monitoring is over (`false`).
    pub fn dialled(&mut self, leg: Option<LegKey>, out: &mut Vec<Action<P>>) -> bool {
        let Some(leg) = leg else {
            self.log(out, "monitor-failed", Some("480"));
            self.tell(Monitoring::Ended, out);
            return false;
        };
        if let Leg::Dialling { port } = std::mem::replace(&mut self.leg, Leg::Gone) {
            self.leg = Leg::Ringing { leg, port };
            self.tell(Monitoring::Ringing, out);
        }
        true
    }

    /// The console switches the mode; refused unless by the supervisor
    /// who monitors. Applied at once when joined, else when answered.
    pub fn switch(
        &mut self,
        by: &str,
        mode: MonitorMode,
        out: &mut Vec<Action<P>>,
    ) -> Result<(), MonitorRefusal> {
        self.owned_by(by)?;
        if mode == self.mode {
            return Ok(());
        }
        self.mode = mode;
        if let Leg::Joined { .. } = self.leg {
            out.push(Action::Media(MediaAction::MonitorMode(mode)));
            self.log(out, "monitor-mode", Some(mode.as_str()));
            self.tell(Monitoring::Joined(mode), out);
        }
        Ok(())
    }

    /// Refused unless `by` is the supervisor who monitors.
    pub fn owned_by(&self, by: &str) -> Result<(), MonitorRefusal> {
        if by == self.supervisor.login {
            Ok(())
        } else {
            Err(MonitorRefusal::NotYours {
                by: self.supervisor.login.clone(),
            })
        }
    }

    /// An event of the supervisor's leg; `false` when the monitoring is
    /// over.
    pub fn on_leg(&mut self, event: super::CallEvent, out: &mut Vec<Action<P>>) -> bool {
        use super::CallEvent;
        match event {
            CallEvent::Answered { body } => self.answered(&body, out),
            CallEvent::Failed { code } => {
                self.log(out, "monitor-failed", Some(&code.to_string()));
                self.tell(Monitoring::Ended, out);
                false
            }
            CallEvent::RemoteHangup | CallEvent::Terminated => {
                self.close(out, "monitor-ended", false);
                false
            }
            _ => true,
        }
    }

    fn answered(&mut self, body: &[u8], out: &mut Vec<Action<P>>) -> bool {
        let Leg::Ringing { leg, port } = std::mem::replace(&mut self.leg, Leg::Gone) else {
            return true;
        };
        let negotiated = SessionDescription::parse(body)
            .ok()
            .and_then(|sd| sdp::negotiate(&sd, &CODECS).ok());
        let Some(negotiated) = negotiated else {
            out.push(Action::Sip(Command::EndLeg { leg }));
            self.log(out, "monitor-failed", Some("488"));
            self.tell(Monitoring::Ended, out);
            return false;
        };
        self.leg = Leg::Joined { leg };
        out.push(Action::Media(MediaAction::Monitor {
            params: MediaParams::from(&negotiated),
            port,
            mode: self.mode,
        }));
        self.log(out, "monitor-joined", Some(self.mode.as_str()));
        self.tell(Monitoring::Joined(self.mode), out);
        true
    }

    /// The monitoring ends (asked, the phone silent, the conversation
    /// over): the leg is hung up, its media leaves the call; `why` goes on
    /// file.
    pub fn end(&mut self, out: &mut Vec<Action<P>>, why: &'static str) {
        self.close(out, why, true);
    }

    /// As [`Monitor::end`]; `hang_up`: the leg is still there to end.
    fn close(&mut self, out: &mut Vec<Action<P>>, why: &'static str, hang_up: bool) {
        let leg = match std::mem::replace(&mut self.leg, Leg::Gone) {
            Leg::Joined { leg } => {
                out.push(Action::Media(MediaAction::Unmonitor));
                Some(leg)
            }
            Leg::Ringing { leg, .. } => Some(leg),
            Leg::Dialling { .. } | Leg::Gone => None,
        };
        if let Some(leg) = leg.filter(|_| hang_up) {
            out.push(Action::Sip(Command::EndLeg { leg }));
        }
        self.log(out, why, None);
        self.tell(Monitoring::Ended, out);
    }

    /// On file: `<login> [<detail>]`.
    fn log(&self, out: &mut Vec<Action<P>>, kind: &'static str, detail: Option<&str>) {
        let detail = match detail {
            Some(d) => format!("{} {d}", self.supervisor.login),
            None => self.supervisor.login.clone(),
        };
        out.push(Action::Log { kind, detail });
    }

    fn tell(&self, state: Monitoring, out: &mut Vec<Action<P>>) {
        out.push(Action::Monitored {
            supervisor: self.supervisor.login.clone(),
            state,
        });
    }
}
