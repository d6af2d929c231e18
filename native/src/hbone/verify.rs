//! Peer certificate verification for both ends: a webpki chain to the trust bundle (validity and
//! EKU checked), then the SPIFFE check: the client requires the server's URI SAN to equal the
//! expected destination identity; the server requires the client's to be in its trust domain.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use webpki::KeyUsage;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::error::IdentityRefusal;

/// What we read from a leaf with x509-parser: its URI SANs and its notAfter (Unix seconds).
pub(crate) struct LeafInfo {
    pub(crate) uris: Vec<String>,
    pub(crate) not_after: i64,
}

impl LeafInfo {
    pub(crate) fn parse(der: &CertificateDer<'_>) -> Result<LeafInfo, String> {
        let (_, cert) =
            X509Certificate::from_der(der.as_ref()).map_err(|e| format!("bad certificate: {e}"))?;
        let mut uris = Vec::new();
        let san = cert
            .subject_alternative_name()
            .map_err(|e| format!("bad subjectAltName: {e}"))?;
        if let Some(san) = san {
            for gn in &san.value.general_names {
                if let GeneralName::URI(u) = gn {
                    uris.push((*u).to_string());
                }
            }
        }
        Ok(LeafInfo {
            uris,
            not_after: cert.validity().not_after.timestamp(),
        })
    }
}

/// The trust domain of a well-formed `spiffe://<td>/ns/<ns>/sa/<sa>`, else None.
pub(crate) fn spiffe_trust_domain(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("spiffe://")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [td, "ns", ns, "sa", sa] if !td.is_empty() && !ns.is_empty() && !sa.is_empty() => Some(td),
        _ => None,
    }
}

/// The first SPIFFE URI SAN of `der` that lies in `td`.
pub(crate) fn identity_in_domain(der: &CertificateDer<'_>, td: &str) -> Option<String> {
    let info = LeafInfo::parse(der).ok()?;
    info.uris
        .into_iter()
        .find(|u| spiffe_trust_domain(u) == Some(td))
}

fn pki_error(e: webpki::Error) -> rustls::Error {
    use webpki::Error as W;
    let c = match e {
        W::CertExpired { .. } => CertificateError::Expired,
        W::CertNotValidYet { .. } => CertificateError::NotValidYet,
        W::UnknownIssuer => CertificateError::UnknownIssuer,
        W::CertRevoked => CertificateError::Revoked,
        W::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        W::BadDer | W::BadDerTime => CertificateError::BadEncoding,
        W::RequiredEkuNotFoundContext(_) => CertificateError::InvalidPurpose,
        other => CertificateError::Other(OtherError(Arc::new(other))),
    };
    rustls::Error::InvalidCertificate(c)
}

fn refuse(r: IdentityRefusal) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(r))))
}

fn verify_chain(
    prov: &CryptoProvider,
    roots: &[TrustAnchor<'static>],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    now: UnixTime,
    usage: KeyUsage,
) -> Result<LeafInfo, rustls::Error> {
    let ee = webpki::EndEntityCert::try_from(end_entity).map_err(pki_error)?;
    ee.verify_for_usage(
        prov.signature_verification_algorithms.all,
        roots,
        intermediates,
        now,
        usage,
        None,
        None,
    )
    .map_err(pki_error)?;
    LeafInfo::parse(end_entity)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))
}

/// Client side: chain to the bundle, then a URI SAN equal to the expected destination identity.
#[derive(Debug)]
pub(crate) struct ServerIdentityVerifier {
    roots: Arc<Vec<TrustAnchor<'static>>>,
    expected: Arc<str>,
    prov: Arc<CryptoProvider>,
}

impl ServerIdentityVerifier {
    pub(crate) fn new(
        roots: Arc<Vec<TrustAnchor<'static>>>,
        expected: Arc<str>,
        prov: Arc<CryptoProvider>,
    ) -> Self {
        ServerIdentityVerifier {
            roots,
            expected,
            prov,
        }
    }
}

impl ServerCertVerifier for ServerIdentityVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let leaf = verify_chain(
            &self.prov,
            &self.roots,
            end_entity,
            intermediates,
            now,
            KeyUsage::server_auth(),
        )?;
        if leaf.uris.iter().any(|u| **u == *self.expected) {
            return Ok(ServerCertVerified::assertion());
        }
        Err(refuse(IdentityRefusal::WrongIdentity(format!(
            "server presented {:?}, expected {}",
            leaf.uris, self.expected
        ))))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.prov.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.prov.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.prov
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Server side: a client certificate is mandatory; chain to the bundle, then some SPIFFE URI SAN
/// in our trust domain (namespace and service account are policy's business, not TLS's).
#[derive(Debug)]
pub(crate) struct ClientIdentityVerifier {
    roots: Arc<Vec<TrustAnchor<'static>>>,
    trust_domain: Arc<str>,
    prov: Arc<CryptoProvider>,
}

impl ClientIdentityVerifier {
    pub(crate) fn new(
        roots: Arc<Vec<TrustAnchor<'static>>>,
        trust_domain: Arc<str>,
        prov: Arc<CryptoProvider>,
    ) -> Self {
        ClientIdentityVerifier {
            roots,
            trust_domain,
            prov,
        }
    }
}

impl ClientCertVerifier for ClientIdentityVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let leaf = verify_chain(
            &self.prov,
            &self.roots,
            end_entity,
            intermediates,
            now,
            KeyUsage::client_auth(),
        )?;
        if leaf
            .uris
            .iter()
            .any(|u| spiffe_trust_domain(u) == Some(&*self.trust_domain))
        {
            return Ok(ClientCertVerified::assertion());
        }
        Err(refuse(IdentityRefusal::WrongTrustDomain(format!(
            "client presented {:?}, none in trust domain {}",
            leaf.uris, self.trust_domain
        ))))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.prov.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.prov.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.prov
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Always presents the same certified key (one identity per config).
#[derive(Debug)]
pub(crate) struct FixedCert(pub(crate) Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

impl ResolvesClientCert for FixedCert {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
