//! The SIP core task: owns the sans-IO [`Endpoint`] and the trunk
//! registrations, feeds them what the transport receives and the time,
//! carries out what they emit, and hands each call to its own task.
//!
//! One task, so the endpoint needs no lock; it never waits on a database or
//! a call: calls talk to it through channels.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use super::{CallContext, CallEvent, Command};
use crate::sip::endpoint::ClientTxId;
use crate::sip::registration::Registration;
use crate::sip::transport::{Inbound, SipTransport};
use crate::sip::{CallKey, Endpoint, Event, Flow, Output, Transport};

/// A trunk registration and where its registrar is.
pub struct Trunk {
    pub registration: Registration,
    pub registrar: SocketAddr,
    pending: Option<ClientTxId>,
}

impl Trunk {
    pub fn new(registration: Registration, registrar: SocketAddr) -> Self {
        Self {
            registration,
            registrar,
            pending: None,
        }
    }
}

pub struct Core {
    pub endpoint: Endpoint,
    pub transport: SipTransport,
    pub inbound: mpsc::Receiver<Inbound>,
    pub trunks: Vec<Trunk>,
    pub ctx: Arc<CallContext>,
    pub shutdown: watch::Receiver<bool>,
    pub grace: Duration,
}

impl Core {
    pub async fn run(mut self) {
        let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<Command>();
        let mut calls: HashMap<CallKey, mpsc::UnboundedSender<CallEvent>> = HashMap::new();
        let mut stopping: Option<Instant> = None;
        loop {
            self.flush(&mut calls, &cmd_tx).await;
            if let Some(since) = stopping {
                let settled = calls.is_empty()
                    && self.endpoint.call_count() == 0
                    && self.trunks.iter().all(|t| t.pending.is_none());
                if settled || since.elapsed() > self.grace {
                    if !settled {
                        warn!(
                            calls = calls.len(),
                            "shutdown grace over with calls still open"
                        );
                    }
                    break;
                }
            }
            let now = Instant::now().into_std();
            let deadline = [
                self.endpoint.poll_timeout(),
                self.trunks
                    .iter()
                    .filter_map(|t| t.registration.poll_timeout())
                    .min(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + Duration::from_secs(1))
            .min(now + Duration::from_secs(1));
            tokio::select! {
                inbound = self.inbound.recv() => {
                    let Some(inbound) = inbound else { break };
                    self.endpoint.handle_input(Instant::now().into_std(), inbound.flow, &inbound.bytes);
                }
                Some(cmd) = cmd_rx.recv() => self.command(cmd, &mut calls),
                _ = tokio::time::sleep_until(Instant::from_std(deadline)) => {
                    let now = Instant::now().into_std();
                    self.endpoint.handle_timeout(now);
                    for i in 0..self.trunks.len() {
                        if let Some(req) = self.trunks[i].registration.handle_timeout(now) {
                            self.send_register(i, req);
                        }
                    }
                }
                changed = self.shutdown.changed(), if stopping.is_none() => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        info!(calls = calls.len(), "shutting down: no new calls, hanging up active ones");
                        stopping = Some(Instant::now());
                        self.endpoint.stop_accepting();
                        for tx in calls.values() {
                            let _ = tx.send(CallEvent::Shutdown);
                        }
                        for i in 0..self.trunks.len() {
                            if let Some(req) = self.trunks[i].registration.unregister() {
                                self.send_register(i, req);
                            }
                        }
                    }
                }
            }
        }
        self.flush(&mut calls, &cmd_tx).await;
    }

    fn send_register(&mut self, i: usize, req: rsip::Request) {
        let flow = Flow {
            transport: Transport::Udp,
            remote: self.trunks[i].registrar,
        };
        let host = self.trunks[i].registration.contact_host().to_string();
        let id = self
            .endpoint
            .send_request(Instant::now().into_std(), flow, req, Some(&host));
        self.trunks[i].pending = Some(id);
    }

    fn command(
        &mut self,
        cmd: Command,
        calls: &mut HashMap<CallKey, mpsc::UnboundedSender<CallEvent>>,
    ) {
        let now = Instant::now().into_std();
        let result = match cmd {
            Command::Respond { key, code, body } => {
                let body = body.map(|b| ("application/sdp", b));
                self.endpoint.respond_to_call(now, &key, code, &[], body)
            }
            Command::RespondReInvite { key, code, body } => {
                let body = body.map(|b| ("application/sdp", b));
                self.endpoint.respond_to_reinvite(now, &key, code, body)
            }
            Command::Hangup { key } => self.endpoint.hangup(now, &key),
            Command::LocalHost { key, host } => self.endpoint.set_local_host(&key, host),
            Command::Done { key } => {
                calls.remove(&key);
                Ok(())
            }
        };
        if let Err(e) = result {
            // Races are normal here (the caller hung up while we answered).
            tracing::debug!(error = %e, "call command not applied");
        }
    }

    /// Carries out everything the endpoint has queued.
    async fn flush(
        &mut self,
        calls: &mut HashMap<CallKey, mpsc::UnboundedSender<CallEvent>>,
        cmd_tx: &mpsc::UnboundedSender<Command>,
    ) {
        while let Some(output) = self.endpoint.poll_output() {
            match output {
                Output::Transmit(t) => self.transport.send(t).await,
                Output::Event(event) => self.dispatch(event, calls, cmd_tx),
            }
        }
    }

    fn dispatch(
        &mut self,
        event: Event,
        calls: &mut HashMap<CallKey, mpsc::UnboundedSender<CallEvent>>,
        cmd_tx: &mpsc::UnboundedSender<Command>,
    ) {
        let (key, call_event) = match event {
            Event::IncomingCall {
                key,
                request,
                source,
            } => {
                let (tx, rx) = mpsc::unbounded_channel();
                calls.insert(key.clone(), tx);
                tokio::spawn(super::run(
                    self.ctx.clone(),
                    key,
                    request,
                    source,
                    rx,
                    cmd_tx.clone(),
                ));
                return;
            }
            Event::CallCancelled { key } => (key, CallEvent::Cancelled),
            Event::CallConfirmed { key, body } => (key, CallEvent::Confirmed { body }),
            Event::ReInvite { key, request } => (key, CallEvent::ReInvite { request }),
            Event::Info { key, request } => (key, CallEvent::Info { request }),
            Event::RemoteHangup { key } => (key, CallEvent::RemoteHangup),
            Event::CallTerminated { key } => (key, CallEvent::Terminated),
            Event::AckTimeout { key } => (key, CallEvent::AckTimeout),
            Event::Response { id, response } => {
                let now = Instant::now().into_std();
                if let Some(i) = self
                    .trunks
                    .iter()
                    .position(|t| t.pending.as_ref() == Some(&id))
                {
                    self.trunks[i].pending = None;
                    if let Some(req) = self.trunks[i].registration.on_response(now, &response) {
                        self.send_register(i, req);
                    }
                }
                return;
            }
            Event::RequestTimedOut { id } => {
                let now = Instant::now().into_std();
                if let Some(t) = self
                    .trunks
                    .iter_mut()
                    .find(|t| t.pending.as_ref() == Some(&id))
                {
                    t.pending = None;
                    t.registration.on_timeout(now);
                }
                return;
            }
        };
        if let Some(tx) = calls.get(&key) {
            let _ = tx.send(call_event);
        }
    }
}
