//! TLS to PostgreSQL, with libpq's meaning of `sslmode`, `sslrootcert`,
//! `sslcert` and `sslkey` in the store URL, so a URL that works with `psql`
//! works with agentlane (managed servers often refuse anything but TLS).
//!
//! | `sslmode` | encrypts | verifies the certificate |
//! | --- | --- | --- |
//! | `disable` | never | – |
//! | `allow`, `prefer` (default) | when the server offers it | no |
//! | `require` | always | no; as `verify-ca` when `sslrootcert` is given (libpq does the same) |
//! | `verify-ca` | always | its chain, against `sslrootcert` |
//! | `verify-full` | always | its chain and that it names the host |
//!
//! `sslrootcert` is a PEM file, or `system` for the machine's trusted roots;
//! without it, `verify-*` use `~/.postgresql/root.crt` as libpq does.
//! `sslcert` and `sslkey` are a client certificate and its key (PEM).
//! `allow` tries TLS first (libpq tries it second): never less safe.
//!
//! [`split`] and [`decide`] are pure; [`connector`] reads the files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `disable`
    Disable,
    /// `allow`
    Allow,
    /// `prefer`
    Prefer,
    /// `require`
    Require,
    /// `verify-ca`
    VerifyCa,
    /// `verify-full`
    VerifyFull,
}

/// The TLS parameters of a store URL, as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params {
    /// `sslmode`
    pub mode: Option<Mode>,
    /// `sslrootcert`
    pub rootcert: Option<String>,
    /// `sslcert`
    pub cert: Option<String>,
    /// `sslkey`
    pub key: Option<String>,
}

/// Where the roots that verify the server's certificate come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// The machine's trusted roots (`sslrootcert=system`).
    System,
    /// A PEM file.
    File(PathBuf),
}

/// What a connection does about TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// What tokio-postgres negotiates.
    pub negotiate: SslMode,
    /// `None`: encrypt without verifying (libpq's `prefer` and `require`).
    pub verify: Option<(Roots, Check)>,
    /// A client certificate and its key.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// How much of the certificate is checked against the roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The chain only (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`).
    ChainAndHost,
}

/// Separates the TLS parameters from a `postgres://` URL: the URL without
/// them (tokio-postgres knows only `disable`, `prefer` and `require`, and
/// none of the files), and the parameters. Errors name the parameter.
pub fn split(url: &str) -> Result<(String, Params), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), Params::default()));
    };
    let mut params = Params::default();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| format!("{key}: the value is not UTF-8 once percent-decoded"))?
            .into_owned();
        match key {
            "sslmode" => {
                params.mode = Some(match value.as_str() {
                    "disable" => Mode::Disable,
                    "allow" => Mode::Allow,
                    "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode={other} is not a TLS mode: use disable, allow, prefer, require, verify-ca or verify-full"
                        ))
                    }
                })
            }
            "sslrootcert" => params.rootcert = Some(value),
            "sslcert" => params.cert = Some(value),
            "sslkey" => params.key = Some(value),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, params))
}

/// Decides the plan from the parameters; `home` is the user's home, for
/// libpq's default root file, and `exists` says whether a file exists.
pub fn decide(
    p: &Params,
    home: Option<&Path>,
    exists: impl Fn(&Path) -> bool,
) -> Result<Plan, String> {
    let mode = p.mode.unwrap_or(Mode::Prefer);
    let client = match (&p.cert, &p.key) {
        (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
        (None, None) => None,
        (Some(_), None) => {
            return Err("sslcert is set without sslkey: give both, or neither".into())
        }
        (None, Some(_)) => {
            return Err("sslkey is set without sslcert: give both, or neither".into())
        }
    };
    let given = p.rootcert.as_deref().map(|r| match r {
        "system" => Roots::System,
        file => Roots::File(PathBuf::from(file)),
    });
    let negotiate = match mode {
        Mode::Disable => SslMode::Disable,
        Mode::Allow | Mode::Prefer => SslMode::Prefer,
        Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
    };
    let check = match mode {
        Mode::Disable | Mode::Allow | Mode::Prefer => None,
        Mode::Require => given.as_ref().map(|_| Check::Chain),
        Mode::VerifyCa => Some(Check::Chain),
        Mode::VerifyFull => Some(Check::ChainAndHost),
    };
    let verify = match check {
        None => None,
        Some(check) => {
            let roots = match given {
                Some(roots) => roots,
                None => {
                    let default = home.map(|h| h.join(".postgresql/root.crt"));
                    match default {
                        Some(file) if exists(&file) => Roots::File(file),
                        _ => {
                            return Err(format!(
                                "sslmode={} verifies the server's certificate, but no roots are given and {} does not exist: add sslrootcert=/path/to/ca.pem (or sslrootcert=system for the machine's trusted roots), or sslmode=require to encrypt without verifying",
                                if check == Check::Chain { "verify-ca" } else { "verify-full" },
                                home.map(|h| h.join(".postgresql/root.crt").display().to_string())
                                    .unwrap_or_else(|| "~/.postgresql/root.crt".into())
                            ))
                        }
                    }
                }
            };
            Some((roots, check))
        }
    };
    Ok(Plan {
        negotiate,
        verify,
        client,
    })
}

/// The TLS connector for a plan: reads the roots and the client's files.
pub fn connector(plan: &Plan) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match &plan.verify {
        None => Arc::new(Unverified(provider.clone())),
        Some((roots, check)) => {
            let mut store = RootCertStore::empty();
            match roots {
                Roots::System => {
                    let found = rustls_native_certs::load_native_certs();
                    for cert in found.certs {
                        let _ = store.add(cert);
                    }
                    if store.is_empty() {
                        return Err("sslrootcert=system: this machine has no trusted root certificates (install ca-certificates), or give sslrootcert=/path/to/ca.pem".into());
                    }
                }
                Roots::File(file) => {
                    let certs = CertificateDer::pem_file_iter(file)
                        .map_err(|e| format!("sslrootcert={}: {e}", file.display()))?;
                    for cert in certs {
                        let cert =
                            cert.map_err(|e| format!("sslrootcert={}: {e}", file.display()))?;
                        store
                            .add(cert)
                            .map_err(|e| format!("sslrootcert={}: {e}", file.display()))?;
                    }
                    if store.is_empty() {
                        return Err(format!(
                            "sslrootcert={}: no certificate in the file (it must be PEM: -----BEGIN CERTIFICATE-----)",
                            file.display()
                        ));
                    }
                }
            }
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                    .build()
                    .map_err(|e| format!("TLS roots: {e}"))?;
            match check {
                Check::ChainAndHost => webpki,
                Check::Chain => Arc::new(ChainOnly(webpki)),
            }
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match &plan.client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("sslcert={}: {e}", cert.display()))?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("sslkey={}: {e}", key.display()))?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                format!(
                    "sslcert={} with sslkey={}: {e}",
                    cert.display(),
                    key.display()
                )
            })?
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

/// A hint for an error that happened while connecting, when it is about TLS.
pub fn hint(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if any(&[
        "unknownissuer",
        "unknown issuer",
        "badsignature",
        "bad signature",
    ]) {
        Some("the server's certificate is not signed by the roots in sslrootcert: give the file of the CA that signed it, or sslmode=require to encrypt without verifying")
    } else if any(&["notvalidforname", "not valid for name"]) {
        Some("the server's certificate does not name the host in the URL: connect by a name the certificate lists, or use sslmode=verify-ca to check only its chain")
    } else if any(&["server does not support tls"]) {
        Some("the URL requires TLS (sslmode=require or verify-*) and this server does not offer it: enable ssl on the server, or use sslmode=prefer")
    } else if any(&["certificaterequired", "certificate required"]) {
        Some("the server asks for a client certificate: add sslcert=/path/client.crt&sslkey=/path/client.key")
    } else {
        None
    }
}

/// libpq's `prefer` and `require`: the connection is encrypted, the
/// certificate is not checked. The handshake's signatures still are.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// libpq's `verify-ca`: the chain must lead to a trusted root; the name in
/// the certificate is not compared with the host.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_takes_the_tls_parameters_out_and_keeps_the_rest() {
        let cases: &[(&str, &str, Params)] = &[
            ("postgres://h/db", "postgres://h/db", Params::default()),
            (
                "postgres://u:p@h:5/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
                "postgres://u:p@h:5/db",
                Params {
                    mode: Some(Mode::VerifyFull),
                    rootcert: Some("/etc/ca.pem".into()),
                    ..Params::default()
                },
            ),
            (
                "postgres://h/db?application_name=a&sslmode=require&connect_timeout=3",
                "postgres://h/db?application_name=a&connect_timeout=3",
                Params {
                    mode: Some(Mode::Require),
                    ..Params::default()
                },
            ),
            (
                "postgres://h/db?sslcert=/c.pem&sslkey=/k.pem&options=-c%20x%3Dy",
                "postgres://h/db?options=-c%20x%3Dy",
                Params {
                    cert: Some("/c.pem".into()),
                    key: Some("/k.pem".into()),
                    ..Params::default()
                },
            ),
            (
                "postgres://h/db?sslmode=disable",
                "postgres://h/db",
                Params {
                    mode: Some(Mode::Disable),
                    ..Params::default()
                },
            ),
        ];
        for (url, rest, params) in cases {
            assert_eq!(
                split(url).unwrap(),
                (rest.to_string(), params.clone()),
                "{url}"
            );
        }
    }

    #[test]
    fn split_names_an_unknown_sslmode() {
        let e = split("postgres://h/db?sslmode=verify").unwrap_err();
        assert!(
            e.contains("sslmode=verify") && e.contains("verify-full"),
            "{e}"
        );
    }

    fn params(mode: Option<Mode>, rootcert: Option<&str>) -> Params {
        Params {
            mode,
            rootcert: rootcert.map(str::to_string),
            ..Params::default()
        }
    }

    #[test]
    fn decide_follows_libpq() {
        let home = Path::new("/home/w");
        let default_root = PathBuf::from("/home/w/.postgresql/root.crt");
        let file = |p: &str| Roots::File(PathBuf::from(p));
        // (mode, sslrootcert, default root exists, negotiate, verify)
        type Case<'a> = (
            Option<Mode>,
            Option<&'a str>,
            bool,
            SslMode,
            Option<(Roots, Check)>,
        );
        let cases: Vec<Case> = vec![
            (None, None, true, SslMode::Prefer, None),
            (
                Some(Mode::Disable),
                Some("/ca.pem"),
                true,
                SslMode::Disable,
                None,
            ),
            (Some(Mode::Allow), None, false, SslMode::Prefer, None),
            (
                Some(Mode::Prefer),
                Some("/ca.pem"),
                false,
                SslMode::Prefer,
                None,
            ),
            (Some(Mode::Require), None, true, SslMode::Require, None),
            (
                Some(Mode::Require),
                Some("/ca.pem"),
                false,
                SslMode::Require,
                Some((file("/ca.pem"), Check::Chain)),
            ),
            (
                Some(Mode::VerifyCa),
                Some("system"),
                false,
                SslMode::Require,
                Some((Roots::System, Check::Chain)),
            ),
            (
                Some(Mode::VerifyCa),
                None,
                true,
                SslMode::Require,
                Some((Roots::File(default_root.clone()), Check::Chain)),
            ),
            (
                Some(Mode::VerifyFull),
                Some("/ca.pem"),
                false,
                SslMode::Require,
                Some((file("/ca.pem"), Check::ChainAndHost)),
            ),
            (
                Some(Mode::VerifyFull),
                None,
                true,
                SslMode::Require,
                Some((Roots::File(default_root.clone()), Check::ChainAndHost)),
            ),
        ];
        for (mode, root, exists, negotiate, verify) in cases {
            let plan = decide(&params(mode, root), Some(home), |_| exists).unwrap();
            assert_eq!(
                (plan.negotiate, plan.verify),
                (negotiate, verify),
                "{mode:?} {root:?} {exists}"
            );
        }
    }

    #[test]
    fn verifying_without_roots_says_how_to_give_them() {
        for mode in [Mode::VerifyCa, Mode::VerifyFull] {
            let e = decide(
                &params(Some(mode), None),
                Some(Path::new("/home/w")),
                |_| false,
            )
            .unwrap_err();
            assert!(
                e.contains("/home/w/.postgresql/root.crt")
                    && e.contains("sslrootcert=system")
                    && e.contains("sslmode=require"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let mut p = params(Some(Mode::Require), None);
        p.cert = Some("/c.pem".into());
        assert!(decide(&p, None, |_| false).unwrap_err().contains("sslkey"));
        p.key = Some("/k.pem".into());
        let plan = decide(&p, None, |_| false).unwrap();
        assert_eq!(
            plan.client,
            Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
        );
    }

    #[test]
    fn a_missing_root_file_is_named() {
        let plan = decide(
            &params(Some(Mode::VerifyFull), Some("/nonexistent/ca.pem")),
            None,
            |_| false,
        )
        .unwrap();
        let e = match connector(&plan) {
            Err(e) => e,
            Ok(_) => panic!("a missing root file was accepted"),
        };
        assert!(e.contains("sslrootcert=/nonexistent/ca.pem"), "{e}");
    }
}
