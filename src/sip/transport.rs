//! The SIP sockets: one UDP socket and one TCP listener on the same address,
//! turning datagrams and framed stream messages into [`Inbound`] items for
//! the core, and carrying [`Transmit`]s back out.
//!
//! The only IO in the SIP stack. TCP connections are capped by a semaphore
//! (as in mini-redis); a connection whose stream cannot be framed is closed,
//! and nothing a peer sends can stop the listener.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tracing::{debug, warn};

use super::wire::{self, Frame};
use super::{Flow, Transmit, Transport};

/// Open TCP connections at most; more wait to be accepted.
const MAX_TCP_CONNECTIONS: usize = 1024;

/// How long opening an outgoing TCP connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A TCP connection silent this long is closed (clients keep theirs open
/// with CRLF pings, RFC 5626 §3.5.1, which we answer).
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Inbound messages queued for the core before readers wait.
const INBOUND_QUEUE: usize = 4096;

#[derive(Debug)]
pub struct Inbound {
    pub flow: Flow,
    pub bytes: Vec<u8>,
}

type Connections = Arc<Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>>>;

#[derive(Clone)]
pub struct SipTransport {
    udp: Arc<UdpSocket>,
    connections: Connections,
    inbound: mpsc::Sender<Inbound>,
    local: SocketAddr,
}

impl SipTransport {
    /// Binds UDP and TCP on `addr`. With port 0, the system picks a port
    /// free for both (retrying a few times if TCP's is taken).
    pub async fn bind(
        addr: SocketAddr,
    ) -> std::io::Result<(SipTransport, mpsc::Receiver<Inbound>)> {
        let mut last_err = None;
        for _ in 0..20 {
            let udp = UdpSocket::bind(addr).await?;
            let local = udp.local_addr()?;
            match TcpListener::bind(local).await {
                Ok(tcp) => return Ok(Self::start(udp, tcp, local)),
                Err(e) if addr.port() == 0 => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| std::io::Error::other("no port free for both UDP and TCP")))
    }

    fn start(
        udp: UdpSocket,
        tcp: TcpListener,
        local: SocketAddr,
    ) -> (SipTransport, mpsc::Receiver<Inbound>) {
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        let transport = SipTransport {
            udp: Arc::new(udp),
            connections: Arc::new(Mutex::new(HashMap::new())),
            inbound: tx,
            local,
        };
        tokio::spawn(udp_reader(transport.udp.clone(), transport.inbound.clone()));
        tokio::spawn(tcp_acceptor(tcp, transport.clone()));
        (transport, rx)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends, never waiting on a slow peer: UDP is fire-and-forget, TCP
    /// writes are queued to the connection's writer task.
    pub async fn send(&self, t: Transmit) {
        match t.flow.transport {
            Transport::Udp => {
                if let Err(e) = self.udp.send_to(&t.bytes, t.flow.remote).await {
                    debug!(remote = %t.flow.remote, error = %e, "UDP send failed");
                }
            }
            Transport::Tcp => {
                let existing = self
                    .connections
                    .lock()
                    .map(|c| c.get(&t.flow.remote).cloned())
                    .ok()
                    .flatten();
                match existing {
                    Some(conn) if conn.send(t.bytes.clone()).is_ok() => {}
                    // Connecting may take long (a peer behind NAT that
                    // drops SYNs): never in the caller's task.
                    _ => {
                        let this = self.clone();
                        tokio::spawn(async move { this.connect_and_send(t).await });
                    }
                }
            }
        }
    }

    async fn connect_and_send(&self, t: Transmit) {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(t.flow.remote)).await {
            Ok(Ok(stream)) => {
                let writer = self.adopt(stream, t.flow.remote, None);
                let _ = writer.send(t.bytes);
            }
            Ok(Err(e)) => warn!(remote = %t.flow.remote, error = %e, "cannot open TCP connection"),
            Err(_) => warn!(remote = %t.flow.remote, "TCP connection timed out"),
        }
    }

    /// Starts the reader and writer tasks of a connection; an accepted
    /// connection holds its place under the cap until its reader ends.
    fn adopt(
        &self,
        stream: TcpStream,
        remote: SocketAddr,
        permit: Option<OwnedSemaphorePermit>,
    ) -> mpsc::UnboundedSender<Vec<u8>> {
        let (read, mut write) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        if let Ok(mut c) = self.connections.lock() {
            c.insert(remote, tx.clone());
        }
        tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if write.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        });
        let this = self.clone();
        let pong = tx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tcp_reader(read, remote, this.inbound.clone(), pong).await;
            if let Ok(mut c) = this.connections.lock() {
                c.remove(&remote);
            }
        });
        tx
    }
}

async fn udp_reader(socket: Arc<UdpSocket>, inbound: mpsc::Sender<Inbound>) {
    let mut buf = vec![0u8; wire::MAX_MESSAGE + 1];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                // Keep-alive CRLFs and other tiny datagrams carry no message.
                if !(4..=wire::MAX_MESSAGE).contains(&n) {
                    continue;
                }
                let flow = Flow {
                    transport: Transport::Udp,
                    remote: from,
                };
                if inbound
                    .send(Inbound {
                        flow,
                        bytes: buf[..n].to_vec(),
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            // ICMP port-unreachable from an earlier send surfaces here on
            // some systems; it says nothing about this socket.
            Err(e) => debug!(error = %e, "UDP receive error"),
        }
    }
}

async fn tcp_acceptor(listener: TcpListener, transport: SipTransport) {
    let limit = Arc::new(Semaphore::new(MAX_TCP_CONNECTIONS));
    loop {
        // The semaphore is never closed, so acquire cannot fail.
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                transport.adopt(stream, remote, Some(permit));
            }
            Err(e) => {
                warn!(error = %e, "TCP accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Reads a stream, cutting it into messages by Content-Length before any
/// parsing; a stream that cannot be framed is closed.
async fn tcp_reader(
    mut read: tokio::net::tcp::OwnedReadHalf,
    remote: SocketAddr,
    inbound: mpsc::Sender<Inbound>,
    writer: mpsc::UnboundedSender<Vec<u8>>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 8192];
    loop {
        loop {
            match wire::check_frame(&buf) {
                Ok(Frame::Incomplete) => break,
                Ok(Frame::KeepAlive(n)) => {
                    // A double-CRLF ping gets a CRLF pong (RFC 5626 §3.5.1).
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        let _ = writer.send(b"\r\n".to_vec());
                    }
                    buf.drain(..n);
                }
                Ok(Frame::Complete(n)) => {
                    let bytes: Vec<u8> = buf.drain(..n).collect();
                    let flow = Flow {
                        transport: Transport::Tcp,
                        remote,
                    };
                    if inbound.send(Inbound { flow, bytes }).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    // The request still gets its answer (513 for one too
                    // large, 400 for ambiguous framing) before the close.
                    if let Some(answer) = wire::error_response(&buf, &e) {
                        let _ = writer.send(answer);
                    }
                    warn!(%remote, error = %e, "closing TCP connection that cannot be framed");
                    return;
                }
            }
        }
        match tokio::time::timeout(IDLE_TIMEOUT, read.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {
                debug!(%remote, "closing idle TCP connection");
                return;
            }
        }
    }
}
