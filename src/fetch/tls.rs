//! TLS client settings, built once per process: one verifying configuration (Mozilla's roots from
//! `webpki-roots`, plus the system bundle or `SSL_CERT_FILE`), one that accepts any certificate
//! (`verify_tls: false`). Both offer HTTP/2 and HTTP/1.1 through ALPN.

use std::sync::{Arc, LazyLock};

use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// Where Debian, Ubuntu and Alpine keep the system's trusted certificates.
const SYSTEM_BUNDLES: [&str; 2] = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

fn builder() -> tokio_rustls::rustls::ConfigBuilder<ClientConfig, tokio_rustls::rustls::WantsVerifier> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
}

fn with_alpn(mut config: ClientConfig) -> Arc<ClientConfig> {
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The trusted roots: `webpki-roots`, then `SSL_CERT_FILE` when set, else the system bundle.
fn roots() -> RootCertStore {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let extra = match std::env::var_os("SSL_CERT_FILE") {
        Some(path) => std::fs::read(&path)
            .inspect_err(|e| tracing::warn!("could not read SSL_CERT_FILE {}: {e}", path.to_string_lossy()))
            .ok(),
        None => SYSTEM_BUNDLES.iter().find_map(|path| std::fs::read(path).ok()),
    };
    if let Some(pem) = extra {
        let certs = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok);
        roots.add_parsable_certificates(certs);
    }
    roots
}

static VERIFYING: LazyLock<Arc<ClientConfig>> =
    LazyLock::new(|| with_alpn(builder().with_root_certificates(roots()).with_no_client_auth()));

static ACCEPT_ANY: LazyLock<Arc<ClientConfig>> = LazyLock::new(|| {
    let verifier = Arc::new(AcceptAnyCertificate(provider()));
    with_alpn(builder().dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth())
});

/// The client configuration: verifying the server's certificate, or not.
pub(crate) fn config(verify: bool) -> Arc<ClientConfig> {
    if verify { VERIFYING.clone() } else { ACCEPT_ANY.clone() }
}

/// `verify_tls: false`: any certificate, any name, any date. Handshake signatures are still
/// checked, so the connection is TLS as usual — only the server's identity is not.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
