//! TLS to an `https://` Mesos master: the certificate is verified by default, a private CA is
//! trusted when given, and the opt-out accepts anything but says so at WARN.
//!
//! The Mesos run here has no SSL, so the master is a stand-in for its TLS handshake only:
//! Python's `http.server` behind `ssl`, on 127.0.0.1, with a certificate for `IP:127.0.0.1`
//! signed by a private CA, both made by the `openssl` command, answering every operator call with a `GET_VERSION`
//! response. What is tested is tars' side of the handshake, not Mesos.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use tars_api::Backend;
use tars_backend_mesos::operator::OperatorClient;
use tars_backend_mesos::v1::master::CallType;
use tars_backend_mesos::{MesosBackend, MesosConfig, TlsSettings};
use tars_conformance::shown::Captured;

const SERVER: &str = r#"
import http.server, json, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"type": "GET_VERSION",
                           "get_version": {"version_info": {"version": "1.11.0"}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// The stand-in master; killed (by PID) when dropped.
struct TlsMaster {
    child: Child,
    url: String,
}

impl Drop for TlsMaster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A private CA (`ca.pem`) and a server certificate it signed for 127.0.0.1 (`cert.pem`,
/// `key.pem`) in `dir`, and the stand-in master serving with them.
fn tls_master(dir: &Path) -> TlsMaster {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "1", "-subj", "/CN=tars test CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca);
    let mut csr = vec![
        "req",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "cert.csr",
    ];
    csr.extend(ec);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext.cnf");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "cert.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ],
    );
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mut child = Command::new("python3")
        .args(["-c", SERVER])
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut port = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut port)
        .expect("the server's port");
    TlsMaster {
        child,
        url: format!("https://127.0.0.1:{}", port.trim()),
    }
}

#[tokio::test]
async fn an_https_master_is_verified_a_private_ca_trusted_and_the_opt_out_loud() {
    let dir = tempfile::tempdir().expect("tempdir");
    let master = tls_master(dir.path());

    // Verified by default: a certificate of an unknown CA is refused in the handshake.
    let err = OperatorClient::new(&master.url)
        .expect("client")
        .call(CallType::GetVersion)
        .await
        .expect_err("an unknown issuer must be refused");
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("certificate") || shown.contains("Certificate"),
        "not refused for its certificate: {shown}"
    );

    // Its CA given: the handshake succeeds and the call goes through.
    let trusted = TlsSettings::with_ca_file(dir.path().join("ca.pem"));
    let version = OperatorClient::with_tls(&master.url, &trusted)
        .expect("client")
        .call(CallType::GetVersion)
        .await
        .expect("trusted CA")
        .get_version
        .expect("GET_VERSION");
    assert_eq!(version.version_info.version, "1.11.0");

    // A CA file that holds no certificate is refused, naming the field.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let refused = OperatorClient::with_tls(&master.url, &TlsSettings::with_ca_file(&empty))
        .expect_err("no certificate in the CA file");
    assert!(refused.to_string().contains("tls.ca_file"), "{refused}");

    // The opt-out: anything goes, and the backend says so at WARN when it connects.
    let insecure = OperatorClient::with_tls(&master.url, &TlsSettings::insecure_skip_verify())
        .expect("client")
        .call(CallType::GetVersion)
        .await
        .expect("verification off");
    assert!(insecure.get_version.is_some());
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let backend = MesosBackend::connect(
        MesosConfig::new(&master.url).insecure_skip_tls_verify_for_test_clusters(),
    )
    .await
    .expect("connect");
    // Stops its tasks without the TEARDOWN call, which would wait for a subscription that
    // this stand-in (no event stream) never gives.
    let _ = backend.shutdown().await;
    let text = logs.text();
    assert!(
        text.contains("WARN") && text.contains("TLS verification is OFF"),
        "no loud warning: {text}"
    );
}
