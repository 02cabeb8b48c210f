//! TLS to PostgreSQL: the URLs hosted databases hand out (`sslmode`, `sslrootcert`, client
//! certificates) against a real server that refuses unencrypted connections, and certificates that
//! must be refused.

use max_fake_saas::acme::{Acme, AcmeConfig};
use max_tests::{PgCluster, ServerTls, TestProject};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

/// A root of trust of its own, named `name`.
fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A certificate and its key (PEM) for `common_name` and the host `names`, signed by `authority`.
fn signed(
    authority: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    common_name: &str,
    purpose: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.extended_key_usages = vec![purpose];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, authority).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// What `max init --storage URL` said, and whether it worked, with no password but the URL's.
fn init(url: &str) -> (bool, String) {
    init_where(url, |_| ())
}

/// [`init`], with the command's environment set by `environment` (no `PGPASSWORD`, a `HOME` of its own).
fn init_where(url: &str, environment: impl FnOnce(&mut assert_cmd::Command)) -> (bool, String) {
    let project = TestProject::new();
    let mut command = project.max();
    command.env_remove("PGPASSWORD").env_remove("PGPASSFILE").env("HOME", project.home());
    environment(&mut command);
    let output = command.args(["init", "--storage", url]).output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn postgres_urls_with_sslmode_reach_a_server_that_speaks_only_tls_and_check_whom_they_reach() {
    let files = tempfile::tempdir().unwrap();
    let root = authority("Max test root");
    let stranger = authority("Someone else's root");
    let (cert, key) = signed(&root, &["localhost"], "localhost", ExtendedKeyUsagePurpose::ServerAuth);
    let (client_cert, client_key) = signed(&root, &[], "certified", ExtendedKeyUsagePurpose::ClientAuth);
    let file = |name: &str, text: &str| {
        let path = files.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let (root_pem, stranger_pem) = (file("root.pem", &root.pem()), file("stranger.pem", &stranger.pem()));
    let (client_cert, client_key) = (file("client.crt", &client_cert), file("client.key", &client_key));
    let hba = "local all all trust\n\
               hostssl all max 127.0.0.1/32 trust\n\
               hostssl all certified 127.0.0.1/32 cert\n\
               hostssl all secret 127.0.0.1/32 scram-sha-256\n\
               hostnossl all all 127.0.0.1/32 reject\n";
    let cluster = PgCluster::with_tls(&ServerTls { cert, key, client_roots: root.pem(), hba: hba.into() });
    cluster.psql("postgres", "CREATE ROLE certified LOGIN SUPERUSER");
    let database = cluster.database().rsplit('/').next().unwrap().to_string();
    let url = |user: &str, host: &str, settings: &str| {
        format!("postgres://{user}@{host}:{}/{database}{settings}", cluster.port)
    };

    // What psql does with each URL, Max does: a server that speaks only TLS is reached by default…
    for settings in ["", "?sslmode=prefer", "?sslmode=require"] {
        let (worked, said) = init(&url("max", "127.0.0.1", settings));
        assert!(worked, "{settings}: {said}");
    }
    // …and not without it, with the server's reason and what to do.
    let (worked, said) = init(&url("max", "127.0.0.1", "?sslmode=disable"));
    assert!(!worked && said.contains("can't connect") && said.contains("no encryption"), "{said}");
    assert!(said.contains("sslmode"), "the hint names the settings: {said}");

    // The certificate is checked against the roots named: the chain, and for verify-full the name.
    let verified = format!("?sslmode=verify-full&sslrootcert={root_pem}");
    let (worked, said) = init(&url("max", "127.0.0.1", &verified));
    assert!(!worked && said.contains("not valid for name"), "127.0.0.1 isn't the name on it: {said}");
    let (worked, said) = init(&url("max", "127.0.0.1", &format!("?sslmode=verify-ca&sslrootcert={root_pem}")));
    assert!(worked, "verify-ca checks the chain only: {said}");
    for mode in ["verify-full", "verify-ca", "require"] {
        let (worked, said) = init(&url("max", "localhost", &format!("?sslmode={mode}&sslrootcert={stranger_pem}")));
        assert!(!worked && said.contains("UnknownIssuer"), "{mode} with another root: {said}");
    }
    let (worked, said) = init(&url("max", "localhost", "?sslmode=verify-full&sslrootcert=system"));
    assert!(!worked && said.contains("UnknownIssuer"), "a private root isn't one browsers trust: {said}");

    // A server that authenticates clients by certificate.
    let (worked, said) = init(&url("certified", "localhost", &verified));
    assert!(!worked && said.contains("certificate"), "no client certificate: {said}");
    let with_client = format!("{verified}&sslcert={client_cert}&sslkey={client_key}");
    let (worked, said) = init(&url("certified", "localhost", &with_client));
    assert!(worked, "{said}");
    let (worked, said) = init(&url("certified", "localhost", &format!("{verified}&sslcert={client_cert}")));
    assert!(!worked && said.contains("sslcert and sslkey go together"), "{said}");

    // A password kept out of the URL, where libpq finds it: PGPASSWORD, else ~/.pgpass (0600 only).
    cluster.psql("postgres", "CREATE ROLE secret LOGIN SUPERUSER PASSWORD 'pa:ss\\word'");
    let secret = url("secret", "localhost", &verified);
    let (worked, said) = init(&secret);
    assert!(!worked && said.contains("password"), "no password: {said}");
    let (worked, said) = init_where(&secret, |c| {
        c.env("PGPASSWORD", "pa:ss\\word");
    });
    assert!(worked, "PGPASSWORD: {said}");
    let home = tempfile::tempdir().unwrap();
    let passfile = home.path().join(".pgpass");
    std::fs::write(&passfile, format!("localhost:{}:{database}:secret:pa\\:ss\\\\word\n", cluster.port)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for (mode, works) in [(0o600, true), (0o644, false)] {
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(mode)).unwrap();
        let (worked, said) = init_where(&secret, |c| {
            c.env("HOME", home.path());
        });
        assert_eq!(worked, works, "~/.pgpass {mode:o}: {said}");
    }

    // A verified URL carries a whole sync, its search, and a worker (which listens for work), all
    // run from the project's folder though the root's file was named from the one it is in.
    let fake = Acme::new(AcmeConfig::default());
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let project = TestProject::new();
    let relative = url("max", "localhost", "?sslmode=verify-full&sslrootcert=root.pem");
    project
        .max()
        .current_dir(files.path())
        .arg("-C")
        .arg(project.path())
        .args(["init", "--storage", &relative])
        .assert()
        .success();
    project.max().args(["connector", "install", "--yes"]).arg(max_tests::connector("acme")).assert().success();
    max_tests::connect_acme_to(&project, &server, "default", &[]);
    project.max().args(["sync", "acme"]).assert().success();
    let found = project.max().args(["search", "acme", "Project", "-o", "ndjson"]).output().unwrap();
    assert!(found.status.success() && !found.stdout.is_empty(), "{}", String::from_utf8_lossy(&found.stderr));
    let worker = project.max().args(["worker", "--exit-when-idle", "1s"]).output().unwrap();
    assert!(worker.status.success(), "{}", String::from_utf8_lossy(&worker.stderr));
}
