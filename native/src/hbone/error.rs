//! Errors of the HBONE tunnel, their stable `MESH_ERR_*` codes, and the process-wide handshake
//! counters (by side and by refusal reason). TLS failures are classified here from the rustls
//! error, so both sides count the same reasons the same way.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

/// A failure to open, accept or carry an HBONE stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HboneError {
    /// The store has no certificate for the identity this side must present.
    NoCertificate(String),
    /// The TLS handshake failed (chain, validity, protocol, or the peer refused us).
    Handshake(String),
    /// The peer's chain is fine but its SPIFFE identity is not the one expected.
    PeerIdentity(String),
    /// TCP connect, or the HTTP/2 connection under the stream, failed.
    Connect(String),
    /// The server answered the CONNECT with this non-200 status.
    Status(u16),
    /// An HTTP/2 protocol violation or an unexpected stream reset.
    Protocol(String),
    /// A connect, handshake or response deadline passed.
    Timeout,
}

impl HboneError {
    pub fn code(&self) -> &'static str {
        match self {
            HboneError::NoCertificate(_) => "MESH_ERR_NO_CERTIFICATE",
            HboneError::Handshake(_) => "MESH_ERR_TLS_HANDSHAKE",
            HboneError::PeerIdentity(_) => "MESH_ERR_PEER_IDENTITY",
            HboneError::Connect(_) => "MESH_ERR_TUNNEL_CONNECT",
            HboneError::Status(401) => "MESH_ERR_AUTHZ_DENIED",
            HboneError::Status(_) => "MESH_ERR_TUNNEL_REFUSED",
            HboneError::Protocol(_) => "MESH_ERR_TUNNEL_PROTOCOL",
            HboneError::Timeout => "MESH_ERR_TUNNEL_TIMEOUT",
        }
    }

    pub fn message(&self) -> String {
        match self {
            HboneError::NoCertificate(m) => format!("no certificate: {m}"),
            HboneError::Handshake(m) => format!("TLS handshake failed: {m}"),
            HboneError::PeerIdentity(m) => format!("peer identity rejected: {m}"),
            HboneError::Connect(m) => format!("tunnel connect failed: {m}"),
            HboneError::Status(401) => {
                "tunnel refused by the destination's authorization policy (401)".into()
            }
            HboneError::Status(s) => {
                format!("tunnel refused by the destination with HTTP status {s}")
            }
            HboneError::Protocol(m) => format!("tunnel protocol error: {m}"),
            HboneError::Timeout => "tunnel connect or handshake timed out".into(),
        }
    }
}

impl fmt::Display for HboneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl StdError for HboneError {}

/// Why a handshake ended, as counted by [`handshake_counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Ok,
    Expired,
    NotYetValid,
    UnknownIssuer,
    BadChain,
    WrongTrustDomain,
    WrongIdentity,
    NoClientCert,
    PeerRefused,
    Timeout,
    Other,
}

const REASONS: [Reason; 11] = [
    Reason::Ok,
    Reason::Expired,
    Reason::NotYetValid,
    Reason::UnknownIssuer,
    Reason::BadChain,
    Reason::WrongTrustDomain,
    Reason::WrongIdentity,
    Reason::NoClientCert,
    Reason::PeerRefused,
    Reason::Timeout,
    Reason::Other,
];

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::UnknownIssuer => "unknown_issuer",
            Reason::BadChain => "bad_chain",
            Reason::WrongTrustDomain => "wrong_trust_domain",
            Reason::WrongIdentity => "wrong_identity",
            Reason::NoClientCert => "no_client_cert",
            Reason::PeerRefused => "peer_refused",
            Reason::Timeout => "timeout",
            Reason::Other => "other",
        }
    }

    fn index(self) -> usize {
        REASONS
            .iter()
            .position(|r| *r == self)
            .unwrap_or(REASONS.len() - 1)
    }
}

/// Which end of the handshake counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);
static COUNTERS: [[AtomicU64; REASONS.len()]; 2] = [[ZERO; REASONS.len()], [ZERO; REASONS.len()]];

pub(crate) fn count(side: Side, reason: Reason) {
    COUNTERS[side as usize][reason.index()].fetch_add(1, Ordering::Relaxed);
}

/// Process-wide handshake counters: (side, reason, count) for every side and reason, zeros included.
pub fn handshake_counters() -> Vec<(&'static str, &'static str, u64)> {
    let mut out = Vec::with_capacity(2 * REASONS.len());
    for (side, name) in [(Side::Client, "client"), (Side::Server, "server")] {
        for r in REASONS {
            out.push((
                name,
                r.as_str(),
                COUNTERS[side as usize][r.index()].load(Ordering::Relaxed),
            ));
        }
    }
    out
}

/// Our own verifier's identity refusals, carried through rustls as `CertificateError::Other`.
#[derive(Debug)]
pub(crate) enum IdentityRefusal {
    WrongTrustDomain(String),
    WrongIdentity(String),
}

impl fmt::Display for IdentityRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityRefusal::WrongTrustDomain(m) | IdentityRefusal::WrongIdentity(m) => {
                f.write_str(m)
            }
        }
    }
}

impl StdError for IdentityRefusal {}

/// Classifies a rustls error into a counted reason.
pub(crate) fn classify_tls(e: &rustls::Error) -> Reason {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired | C::ExpiredContext { .. } => Reason::Expired,
            C::NotValidYet | C::NotValidYetContext { .. } => Reason::NotYetValid,
            C::UnknownIssuer => Reason::UnknownIssuer,
            C::Other(o) => match o.0.downcast_ref::<IdentityRefusal>() {
                Some(IdentityRefusal::WrongTrustDomain(_)) => Reason::WrongTrustDomain,
                Some(IdentityRefusal::WrongIdentity(_)) => Reason::WrongIdentity,
                None => Reason::BadChain,
            },
            _ => Reason::BadChain,
        },
        rustls::Error::NoCertificatesPresented => Reason::NoClientCert,
        rustls::Error::AlertReceived(_) => Reason::PeerRefused,
        _ => Reason::Other,
    }
}

/// The rustls error inside an I/O error from tokio-rustls, if there is one.
pub(crate) fn tls_error_of(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// Counts a failed handshake and turns it into the caller-facing error.
pub(crate) fn handshake_failed(side: Side, e: &io::Error) -> HboneError {
    let (reason, msg) = match tls_error_of(e) {
        Some(t) => (classify_tls(t), t.to_string()),
        None => (Reason::Other, e.to_string()),
    };
    count(side, reason);
    let msg = format!("{} ({})", msg, reason.as_str());
    match reason {
        Reason::WrongIdentity | Reason::WrongTrustDomain => HboneError::PeerIdentity(msg),
        _ => HboneError::Handshake(msg),
    }
}

/// Maps an h2 error on an established connection; a TLS alert there means the peer refused us late
/// (TLS 1.3 servers check the client certificate after the client has finished).
pub(crate) fn from_h2(e: h2::Error) -> HboneError {
    if let Some(io) = e.get_io() {
        if let Some(t) = tls_error_of(io) {
            return HboneError::Handshake(format!("{t} ({})", classify_tls(t).as_str()));
        }
        return HboneError::Connect(io.to_string());
    }
    if e.is_go_away() {
        return HboneError::Connect(format!("connection closed by peer: {e}"));
    }
    HboneError::Protocol(e.to_string())
}
