//! The TLS server configuration every TCP listener shares, from PEM files. The
//! certificate and key are read again on `Certificate::reload` (SIGHUP), so a
//! renewed certificate takes effect for new connections without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The certificate chain and key every handshake presents, read from two files.
#[derive(Debug)]
pub struct Certificate {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificate {
    /// Reads the files again and, if they hold a valid chain and a key that
    /// matches it, presents them from the next handshake on. On an error the
    /// certificate in use stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let loaded = load(&self.cert_file, &self.key_file, &self.provider)?;
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(loaded);
        Ok(())
    }

    pub fn cert_file(&self) -> &Path {
        &self.cert_file
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        ))
    }
}

/// Reads a certificate chain and its private key (PKCS#8, PKCS#1 or SEC1) and offers
/// HTTP/2 (gRPC needs it) and HTTP/1.1 by ALPN. The `Certificate` reloads them.
pub fn server_config(
    cert_file: &Path,
    key_file: &Path,
) -> anyhow::Result<(Arc<rustls::ServerConfig>, Arc<Certificate>)> {
    // ring, not aws-lc-rs: the image's build stage has no cmake or clang. rustls
    // marks ring's provider deprecated for lacking post-quantum key exchange;
    // the classical suites it offers are those every OTLP client speaks.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certificate = Arc::new(Certificate {
        cert_file: cert_file.to_owned(),
        key_file: key_file.to_owned(),
        current: RwLock::new(Arc::new(load(cert_file, key_file, &provider)?)),
        provider: Arc::clone(&provider),
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(certificate.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), certificate))
}

fn load(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> anyhow::Result<CertifiedKey> {
    let certs = CertificateDer::pem_file_iter(cert_file)
        .with_context(|| format!("cannot read TLS certificates from {}", cert_file.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("bad PEM certificate in {}", cert_file.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "{} holds no PEM certificate",
        cert_file.display()
    );
    let key = PrivateKeyDer::from_pem_file(key_file)
        .with_context(|| format!("cannot read a PEM private key from {}", key_file.display()))?;
    CertifiedKey::from_der(certs, key, provider)
        .context("the TLS key does not match the certificate, or is unsupported")
}
