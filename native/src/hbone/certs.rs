//! The certificate store: this node's workload identities (leaf + intermediates + key) and the trust
//! bundle, validated on update and swapped atomically as one snapshot. Also builds the rustls client
//! and server configurations (ztunnel's settings, ring provider only) from a snapshot.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor};

use super::error::HboneError;
use super::verify::{self, ClientIdentityVerifier, ServerIdentityVerifier};

/// One workload identity this node can present.
#[derive(Clone, Debug)]
pub struct IdentityMaterial {
    /// `spiffe://<td>/ns/<ns>/sa/<sa>`: must be the leaf's only URI SAN.
    pub identity: String,
    /// Leaf first, then intermediates (never the root).
    pub cert_chain_pem: Vec<String>,
    /// PKCS#8 private key of the leaf (EC P-256 in production).
    pub key_pem: String,
}

pub(crate) struct LocalIdentity {
    pub(crate) key: Arc<CertifiedKey>,
    pub(crate) server: Arc<ServerConfig>,
    pub(crate) not_after: i64,
    /// changes when the leaf does (a renewal): pooled connections made with another leaf retire
    pub(crate) fingerprint: u64,
}

#[derive(Default)]
pub(crate) struct Snapshot {
    pub(crate) trust_domain: Option<Arc<str>>,
    pub(crate) roots: Arc<Vec<TrustAnchor<'static>>>,
    /// changes when the bundle does (a rotation step): pooled connections verified under another
    /// bundle retire
    pub(crate) roots_fingerprint: u64,
    pub(crate) identities: HashMap<String, Arc<LocalIdentity>>,
}

/// Identities and trust bundle, shared by the pool and the inbound listeners. Send + Sync.
#[derive(Default)]
pub struct CertStore {
    snap: RwLock<Arc<Snapshot>>,
}

/// ring with only the two TLS 1.3 AES-GCM suites, AES-256 first (as ztunnel). rustls 0.23.48
/// deprecates ring's provider because it has no post-quantum key exchange; X25519 and P-256 still
/// interoperate with ztunnel's aws-lc-rs default (which offers X25519MLKEM768 first).
#[allow(deprecated)]
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| {
        use rustls::crypto::ring::{cipher_suite, default_provider};
        Arc::new(CryptoProvider {
            cipher_suites: vec![
                cipher_suite::TLS13_AES_256_GCM_SHA384,
                cipher_suite::TLS13_AES_128_GCM_SHA256,
            ],
            ..default_provider()
        })
    })
    .clone()
}

/// A change detector over byte strings (not a security property: both sides were verified).
fn fingerprint<'a>(parts: impl Iterator<Item = &'a [u8]>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// Seconds since the Unix epoch (certificate validity is in these units).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn parse_certs(pem: &str, field: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut out = Vec::new();
    for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        out.push(c.map_err(|e| format!("{field}: not a PEM certificate: {e}"))?);
    }
    if out.is_empty() {
        return Err(format!("{field}: no PEM CERTIFICATE block"));
    }
    Ok(out)
}

impl CertStore {
    /// An empty store: no identity, no anchors (every handshake fails).
    pub fn new() -> CertStore {
        CertStore::default()
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        match self.snap.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Replaces everything at once; on error keeps the old contents and names the bad field.
    pub fn update(
        &self,
        trust_domain: &str,
        anchors_pem: &[String],
        identities: Vec<IdentityMaterial>,
    ) -> Result<(), String> {
        if trust_domain.is_empty() || trust_domain.contains('/') {
            return Err(format!(
                "trustDomain: invalid trust domain {trust_domain:?}"
            ));
        }
        let mut roots = Vec::new();
        for (i, pem) in anchors_pem.iter().enumerate() {
            let field = format!("anchorsPem[{i}]");
            for der in parse_certs(pem, &field)? {
                let ta = webpki::anchor_from_trusted_cert(&der)
                    .map_err(|e| format!("{field}: not a usable trust anchor: {e}"))?;
                roots.push(ta.to_owned());
            }
        }
        let roots_fingerprint = fingerprint(anchors_pem.iter().map(|a| a.as_bytes()));
        let roots = Arc::new(roots);
        let td: Arc<str> = Arc::from(trust_domain);
        let prov = provider();
        let mut map = HashMap::new();
        for (i, m) in identities.into_iter().enumerate() {
            let f = |name: &str| format!("identities[{i}].{name}");
            if map.contains_key(&m.identity) {
                return Err(format!(
                    "{}: duplicate identity {}",
                    f("identity"),
                    m.identity
                ));
            }
            if verify::spiffe_trust_domain(&m.identity).is_none() {
                return Err(format!(
                    "{}: not a SPIFFE ID (spiffe://td/ns/N/sa/S): {:?}",
                    f("identity"),
                    m.identity
                ));
            }
            if m.cert_chain_pem.is_empty() {
                return Err(format!("{}: empty", f("certChainPem")));
            }
            let mut chain = Vec::new();
            for (j, pem) in m.cert_chain_pem.iter().enumerate() {
                chain.extend(parse_certs(pem, &f(&format!("certChainPem[{j}]")))?);
            }
            let key_der = PrivateKeyDer::from_pem_slice(m.key_pem.as_bytes())
                .map_err(|e| format!("{}: not a PEM private key: {e}", f("keyPem")))?;
            let signer = prov
                .key_provider
                .load_private_key(key_der)
                .map_err(|e| format!("{}: unsupported private key: {e}", f("keyPem")))?;
            let leaf = verify::LeafInfo::parse(&chain[0])
                .map_err(|e| format!("{}: {e}", f("certChainPem[0]")))?;
            if leaf.uris.len() != 1 || leaf.uris[0] != m.identity {
                return Err(format!(
                    "{}: the leaf's URI SANs {:?} must be exactly [{:?}]",
                    f("certChainPem[0]"),
                    leaf.uris,
                    m.identity
                ));
            }
            let leaf_fp = fingerprint(chain.iter().take(1).map(|c| c.as_ref()));
            let key = CertifiedKey::new(chain, signer);
            key.keys_match().map_err(|e| {
                format!("{}: does not match the leaf certificate: {e}", f("keyPem"))
            })?;
            let key = Arc::new(key);
            let server = server_config(key.clone(), roots.clone(), td.clone())
                .map_err(|e| format!("{}: {e}", f("identity")))?;
            map.insert(
                m.identity,
                Arc::new(LocalIdentity {
                    key,
                    server,
                    not_after: leaf.not_after,
                    fingerprint: leaf_fp,
                }),
            );
        }
        let snap = Arc::new(Snapshot {
            trust_domain: Some(td),
            roots,
            roots_fingerprint,
            identities: map,
        });
        match self.snap.write() {
            Ok(mut g) => *g = snap,
            Err(p) => *p.into_inner() = snap,
        }
        Ok(())
    }

    pub fn has(&self, identity: &str) -> bool {
        self.snapshot().identities.contains_key(identity)
    }

    pub fn trust_domain(&self) -> Option<Arc<str>> {
        self.snapshot().trust_domain.clone()
    }

    /// Unix time (seconds) at which `identity`'s leaf expires.
    pub fn not_after(&self, identity: &str) -> Option<i64> {
        self.snapshot()
            .identities
            .get(identity)
            .map(|l| l.not_after)
    }
}

fn server_config(
    key: Arc<CertifiedKey>,
    roots: Arc<Vec<TrustAnchor<'static>>>,
    td: Arc<str>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let verifier = Arc::new(ClientIdentityVerifier::new(roots, td, provider()));
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(verify::FixedCert(key)));
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

impl Snapshot {
    pub(crate) fn server_config(&self, local: &str) -> Result<Arc<ServerConfig>, HboneError> {
        self.identities
            .get(local)
            .map(|l| l.server.clone())
            .ok_or_else(|| {
                HboneError::NoCertificate(format!("no certificate for local identity {local}"))
            })
    }

    /// Client config presenting `src` and accepting only a server whose URI SAN is `dst`.
    pub(crate) fn client_config(
        &self,
        src: &str,
        dst: &str,
    ) -> Result<Arc<ClientConfig>, HboneError> {
        let local = self.identities.get(src).ok_or_else(|| {
            HboneError::NoCertificate(format!("no certificate for source identity {src}"))
        })?;
        let verifier = Arc::new(ServerIdentityVerifier::new(
            self.roots.clone(),
            Arc::from(dst),
            provider(),
        ));
        let mut cfg = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| HboneError::Handshake(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(Arc::new(verify::FixedCert(local.key.clone())));
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        cfg.enable_sni = false;
        cfg.resumption = rustls::client::Resumption::disabled();
        Ok(Arc::new(cfg))
    }
}
