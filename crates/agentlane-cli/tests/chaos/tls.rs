//! TLS to PostgreSQL with libpq's `sslmode` (not chaos, but it needs a
//! private cluster: one with `ssl=on` and a certificate from a test CA). The
//! server logs each connection with its `application_name` and whether it
//! is encrypted, which is how the test knows what agentlane negotiated.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use crate::cluster::Cluster;
use crate::harness::{agentlane, expect_clean_exits, psql, read, serial, Lab};

/// A certificate authority that issues server certificates.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names` and its key, both PEM.
    fn issue(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        self.sign(CertificateParams::new(names).expect("server params"))
    }

    /// A client certificate for database user `user` (its common name).
    fn client(&self, user: &str) -> (String, String) {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name.push(DnType::CommonName, user);
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        (cert.pem(), key.serialize_pem())
    }
}

/// `agentlane --store URL ARGS...` in `lab`'s home.
fn run(lab: &Lab, url: &str, args: &[&str]) -> Output {
    Command::new(agentlane())
        .arg("--home")
        .arg(lab.path("home"))
        .arg("--config")
        .arg(&lab.config)
        .args(["--store", url])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("agentlane runs")
}

/// The server log's connection lines for `application_name=app`.
fn connections<'a>(log: &'a str, app: &str) -> Vec<&'a str> {
    let needle = format!("application_name={app}");
    log.lines()
        .filter(|l| l.contains("connection authorized") && l.contains(&needle))
        .collect()
}

#[test]
fn tls_to_postgres_follows_sslmode() {
    let _serial = serial();
    let ca = Ca::new("agentlane test CA");
    let stranger = Ca::new("a CA nobody trusts");
    let (cert, key) = ca.issue(&["localhost"]);
    let cluster = Cluster::start_with(
        "-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key -c ssl_ca_file=root.crt -c log_connections=on",
        |data: &Path| {
            // Database certdb takes only client certificates.
            let hba = data.join("pg_hba.conf");
            let rest = std::fs::read_to_string(&hba).unwrap();
            std::fs::write(
                &hba,
                format!("hostssl certdb all 127.0.0.1/32 cert\nhost certdb all 127.0.0.1/32 reject\n{rest}"),
            )
            .unwrap();
            std::fs::write(data.join("root.crt"), &ca.pem).unwrap();
            std::fs::write(data.join("server.crt"), &cert).unwrap();
            let key_file = data.join("server.key");
            std::fs::write(&key_file, &key).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        },
    );
    let lab = Lab::new(
        &cluster.url(),
        r#"
[queue]
poll = "20ms"
[routes.r]
profile = "generic"
program = "/bin/true"
[kinds.k]
routes = ["r"]
[lanes.main]
"#,
    );
    let ca_file = lab.path("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let stranger_file = lab.path("stranger.pem");
    std::fs::write(&stranger_file, &stranger.pem).unwrap();
    let (client_cert, client_key) = ca.client("postgres");
    let (client_cert_file, client_key_file) = (lab.path("client.crt"), lab.path("client.key"));
    std::fs::write(&client_cert_file, client_cert).unwrap();
    std::fs::write(&client_key_file, client_key).unwrap();
    let (ca_file, stranger_file) = (ca_file.to_str().unwrap(), stranger_file.to_str().unwrap());
    let client = format!(
        "sslcert={}&sslkey={}",
        client_cert_file.display(),
        client_key_file.display()
    );
    psql(&cluster.url(), "CREATE DATABASE certdb");
    let port = cluster.port;
    let url = |host: &str, app: &str, tls: &str| {
        let db = if tls.contains("sslcert=") || app.contains("cert") {
            "certdb"
        } else {
            "postgres"
        };
        format!("postgres://postgres@{host}:{port}/{db}?application_name={app}&{tls}")
    };

    // (host, application_name, TLS parameters, encrypted?) — those that connect.
    let accepted = [
        (
            "localhost",
            "al_full",
            format!("sslmode=verify-full&sslrootcert={ca_file}"),
            true,
        ),
        (
            "127.0.0.1",
            "al_ca",
            format!("sslmode=verify-ca&sslrootcert={ca_file}"),
            true,
        ),
        (
            "127.0.0.1",
            "al_require",
            "sslmode=require".to_string(),
            true,
        ),
        ("127.0.0.1", "al_default", String::new(), true),
        (
            "127.0.0.1",
            "al_disable",
            "sslmode=disable".to_string(),
            false,
        ),
        (
            "localhost",
            "al_client_cert",
            format!("sslmode=verify-full&sslrootcert={ca_file}&{client}"),
            true,
        ),
    ];
    for (host, app, tls, encrypted) in &accepted {
        let out = run(&lab, &url(host, app, tls), &["migrate"]);
        assert!(
            out.status.success(),
            "{app}: migrate over {tls:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = read(&cluster.log());
        let seen = connections(&log, app);
        assert!(
            !seen.is_empty(),
            "{app}: no connection in the server log:\n{log}"
        );
        for line in seen {
            assert_eq!(line.contains("SSL enabled"), *encrypted, "{app}: {line}");
        }
    }

    // Those refused, and what the message tells the user to do.
    let refused = [
        (
            "127.0.0.1",
            "al_wrong_host",
            format!("sslmode=verify-full&sslrootcert={ca_file}"),
            "does not name the host",
        ),
        (
            "localhost",
            "al_wrong_ca",
            format!("sslmode=verify-full&sslrootcert={stranger_file}"),
            "not signed by the roots",
        ),
        (
            "localhost",
            "al_no_roots",
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem".to_string(),
            "sslrootcert=/nonexistent/ca.pem",
        ),
        (
            "localhost",
            "al_cert_missing",
            format!("sslmode=verify-full&sslrootcert={ca_file}"),
            "certificate",
        ),
    ];
    for (host, app, tls, says) in &refused {
        let out = run(&lab, &url(host, app, tls), &["migrate"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{app}: connected over {tls:?}");
        assert!(
            stderr.contains(says),
            "{app}: the message does not say {says:?}:\n{stderr}"
        );
        assert!(
            connections(&read(&cluster.log()), app).is_empty(),
            "{app}: the server authorized a connection"
        );
    }

    // The whole path over verify-full: enqueue, a worker (its pool and its
    // LISTEN connection), status.
    let full = url(
        "localhost",
        "al_worker",
        &format!("sslmode=verify-full&sslrootcert={ca_file}"),
    );
    let lab = Lab { store: full, ..lab };
    lab.enqueue("k", "main", 20);
    let mut worker = lab.worker("w", 2, true);
    expect_clean_exits(std::slice::from_mut(&mut worker), Duration::from_secs(60));
    let status = lab.json(&["status", "--json"]);
    let succeeded = status["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["state"] == "succeeded")
        .map(|l| l["count"].as_u64().unwrap());
    assert_eq!(succeeded, Some(20), "{status}");
    let log = read(&cluster.log());
    let seen = connections(&log, "al_worker");
    assert!(
        seen.len() >= 2,
        "the worker's connections are not in the log:\n{log}"
    );
    assert!(seen.iter().all(|l| l.contains("SSL enabled")), "{seen:#?}");
}
