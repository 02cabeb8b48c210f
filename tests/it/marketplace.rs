//! Connectors through a real OCI registry (the distribution `registry` server on loopback), through
//! the real `max` binary: publish, install by tag and from the lock file on another project (the same
//! bytes), the artifact's shape as the ecosystem's tools read it, and every way a download can be
//! wrong refused clearly with nothing installed.

use max_tests::{OciRegistry, TestProject, connector};
use serde_json::Value;

/// A project that trusts the publisher key `key` (a `.pub` file).
fn trusting(key: &std::path::Path) -> TestProject {
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["trust", "add"]).arg(key).assert().success();
    project
}

/// A publisher key pair in `dir`: (secret, public).
fn keypair(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let out = dir.join(name);
    TestProject::new().max().args(["connector", "keygen", "--out"]).arg(&out).assert().success();
    (out.with_extension("key"), out.with_extension("pub"))
}

/// `max connector publish FILE REFERENCE [--key KEY] -o json`.
fn publish(file: &std::path::Path, reference: &str, key: Option<&std::path::Path>) -> Value {
    let publisher = TestProject::new();
    let mut command = publisher.max();
    command.args(["connector", "publish"]).arg(file).arg(reference).args(["-o", "json"]);
    if let Some(key) = key {
        command.arg("--key").arg(key);
    }
    let output = command.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&output).unwrap()
}

fn lock_of(project: &TestProject) -> Value {
    serde_json::from_slice(&std::fs::read(project.path().join(".max/connectors.lock")).unwrap()).unwrap()
}

fn installed_sha256(project: &TestProject) -> Vec<String> {
    let listed = project.max().args(["connector", "list", "-o", "json"]).assert().success().get_output().stdout.clone();
    let listed: Value = serde_json::from_slice(&listed).unwrap();
    listed.as_array().unwrap().iter().map(|c| c["sha256"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_published_connector_installs_by_tag_and_from_the_lock_file_with_the_same_bytes() {
    let registry = OciRegistry::start();
    let keys = tempfile::tempdir().unwrap();
    let (secret, public) = keypair(keys.path(), "acme-publisher");
    let reference = registry.reference("max/acme:0.1.0");
    let published = publish(&connector("acme"), &reference, Some(&secret));
    assert_eq!(published["annotations"]["name"], "acme");
    let manifest = published["manifest_digest"].as_str().unwrap().to_string();

    let first = trusting(&public);
    let installed = first.max().args(["connector", "install", &reference, "--yes"]).assert().success();
    let said = String::from_utf8_lossy(&installed.get_output().stderr).into_owned();
    assert!(said.contains("Signed by acme-publisher, a key you trust"), "{said}");
    assert!(said.contains("HTTPS to api.acme.dev"), "the permissions are shown: {said}");
    let lock = lock_of(&first);
    let entry = &lock["connectors"][0];
    assert_eq!((entry["name"].as_str(), entry["reference"].as_str()), (Some("acme"), Some(reference.as_str())));
    assert_eq!(entry["manifest"], manifest.as_str());
    let component = entry["component"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    assert_eq!(component, max_host::format::sha256_hex(&std::fs::read(connector("acme")).unwrap()));
    assert_eq!(installed_sha256(&first), std::slice::from_ref(&component));

    // Another machine: the lock file (committed beside the project) installs exactly those bytes.
    let second = trusting(&public);
    std::fs::copy(first.path().join(".max/connectors.lock"), second.path().join(".max/connectors.lock")).unwrap();
    second.max().args(["connector", "install", "--yes"]).assert().success();
    assert_eq!(installed_sha256(&second), [component]);

    // By digest too.
    let third = trusting(&public);
    let pinned = reference.replace(":0.1.0", &format!("@{manifest}"));
    third.max().args(["connector", "install", &pinned, "--yes"]).assert().success();
    assert_eq!(installed_sha256(&third), installed_sha256(&first));
}

/// What `max connector publish` pushes is what the Wasm OCI artifact layout specifies (config
/// `application/vnd.wasm.config.v0+json`, one `application/wasm` layer), with the annotations users
/// and tools read, and a cosign-style signature under `sha256-<digest>.sig`.
#[test]
fn the_artifact_has_the_wasm_oci_layout_and_a_cosign_style_signature() {
    let registry = OciRegistry::start();
    let keys = tempfile::tempdir().unwrap();
    let (secret, public) = keypair(keys.path(), "publisher");
    let published = publish(&connector("acme"), &registry.reference("max/acme:0.1.0"), Some(&secret));
    let oci = "application/vnd.oci.image.manifest.v1+json";
    let (status, body) = registry.get_with("/v2/max/acme/manifests/0.1.0", oci).unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        format!("sha256:{}", max_host::format::sha256_hex(&body)),
        published["manifest_digest"].as_str().unwrap()
    );
    let manifest: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["mediaType"], oci);
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.wasm.config.v0+json");
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(layers[0]["digest"], published["component_digest"]);
    let annotations = &manifest["annotations"];
    assert_eq!(annotations["org.opencontainers.image.title"], "acme");
    assert_eq!(annotations["org.opencontainers.image.version"], "0.1.0");
    assert_eq!(annotations["dev.max.connector.contract"], max_host::CONTRACT_VERSION.to_string());
    let permissions: Vec<String> =
        serde_json::from_str(annotations["dev.max.connector.permissions"].as_str().unwrap()).unwrap();
    assert!(permissions.contains(&"HTTPS to api.acme.dev".to_string()), "{permissions:?}");
    let (_, config) =
        registry.get(&format!("/v2/max/acme/blobs/{}", manifest["config"]["digest"].as_str().unwrap())).unwrap();
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!((config["architecture"].as_str(), config["os"].as_str()), (Some("wasm"), Some("wasip2")));
    assert_eq!(config["layerDigests"][0], layers[0]["digest"]);
    assert!(
        config["component"]["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("max:connector/source@"))
    );

    let tag = published["signature_tag"].as_str().unwrap();
    assert_eq!(tag, format!("{}.sig", published["manifest_digest"].as_str().unwrap().replace(':', "-")));
    let (status, body) = registry.get_with(&format!("/v2/max/acme/manifests/{tag}"), oci).unwrap();
    assert_eq!(status, 200);
    let signature: Value = serde_json::from_slice(&body).unwrap();
    let layer = &signature["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.dev.cosign.simplesigning.v1+json");
    assert!(layer["annotations"]["dev.cosignproject.cosign/signature"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(layer["annotations"]["dev.max.signer"], std::fs::read_to_string(&public).unwrap().trim());
    let (_, payload) = registry.get(&format!("/v2/max/acme/blobs/{}", layer["digest"].as_str().unwrap())).unwrap();
    let payload: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(payload["critical"]["image"]["docker-manifest-digest"], published["manifest_digest"]);
    assert_eq!(payload["critical"]["type"], "cosign container image signature");
}

/// `max connector install REFERENCE` refused with `says`; nothing installed, no lock entry.
fn refused(project: &TestProject, args: &[&str], says: &str) {
    let before = project.files_under(&project.path().join(".max/connectors"));
    let output = project.max().args(["connector", "install"]).args(args).assert().failure();
    let stderr = String::from_utf8_lossy(&output.get_output().stderr).into_owned();
    assert!(stderr.contains(says), "`{}`: {stderr}", args.join(" "));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(project.files_under(&project.path().join(".max/connectors")), before, "nothing installed: {args:?}");
}

#[test]
fn wrong_artifacts_are_refused_clearly_and_nothing_is_installed() {
    let registry = OciRegistry::start();
    let keys = tempfile::tempdir().unwrap();
    let (secret, public) = keypair(keys.path(), "trusted");
    let (stranger, _) = keypair(keys.path(), "stranger");
    let project = trusting(&public);

    // Unsigned: refused, unless allowed.
    let unsigned = registry.reference("max/unsigned:1.0.0");
    publish(&connector("acme"), &unsigned, None);
    refused(&project, &[&unsigned, "--yes"], "is not signed by its publisher");
    // Signed by a key the project doesn't trust.
    let foreign = registry.reference("max/foreign:1.0.0");
    publish(&connector("acme"), &foreign, Some(&stranger));
    refused(&project, &[&foreign, "--yes"], "signed by a key you don't trust");
    // A tag or repository that isn't there; a registry that isn't there.
    refused(&project, &[&registry.reference("max/acme:9.9.9"), "--yes"], "not in the registry");
    refused(&project, &["oci://127.0.0.1:9/max/acme:1.0.0", "--yes"], "registry 127.0.0.1:9");
    // Not a component artifact: the signature artifact is an OCI image of another kind.
    let signed = registry.reference("max/acme:1.0.0");
    let published = publish(&connector("acme"), &signed, Some(&secret));
    let sig = registry.reference(&format!("max/acme:{}", published["signature_tag"].as_str().unwrap()));
    refused(&project, &[&sig, "--yes", "--allow-unsigned"], "is not a connector artifact");
    // Larger than the download limit, refused from what the manifest announces.
    let python = registry.reference("max/acme-python:1.0.0");
    publish(&connector("acme-python"), &python, Some(&secret));
    refused(&project, &[&python, "--yes", "--max-mib", "4"], "more than the 4194304 allowed");

    // A tampered layer: the registry serves other bytes under the component's digest.
    let component = published["component_digest"].as_str().unwrap();
    let blob = registry.blob_file(component);
    let original = std::fs::read(&blob).unwrap();
    let mut tampered = original.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0xff;
    std::fs::write(&blob, &tampered).unwrap();
    refused(&project, &[&signed, "--yes"], "the component downloaded has digest");
    // Longer than it announces: cut off while it downloads.
    tampered = original.clone();
    tampered.extend_from_slice(&[0u8; 4096]);
    std::fs::write(&blob, &tampered).unwrap();
    refused(&project, &[&signed, "--yes"], "more than the");
    std::fs::write(&blob, &original).unwrap();

    // The untampered one installs; then its tag is re-pushed with other bytes, and the lock file
    // catches it on a machine that installs from it.
    project.max().args(["connector", "install", &signed, "--yes"]).assert().success();
    publish(&connector("linear"), &signed, Some(&secret));
    let other = trusting(&public);
    std::fs::copy(project.path().join(".max/connectors.lock"), other.path().join(".max/connectors.lock")).unwrap();
    refused(&other, &["--yes"], "now points at");
    // --allow-unsigned lets an unsigned one in, and says so.
    let allowed =
        project.max().args(["connector", "install", &unsigned, "--yes", "--allow-unsigned"]).assert().success();
    let said = String::from_utf8_lossy(&allowed.get_output().stderr).into_owned();
    assert!(said.contains("Not signed by a key you trust"), "{said}");
}

#[test]
fn the_trust_policy_lists_adds_and_removes_keys() {
    let keys = tempfile::tempdir().unwrap();
    let (_, public) = keypair(keys.path(), "acme-publisher");
    let project = trusting(&public);
    let listed = project.max().args(["trust", "list", "-o", "json"]).assert().success().get_output().stdout.clone();
    let listed: Value = serde_json::from_slice(&listed).unwrap();
    assert_eq!(listed[0]["name"], "acme-publisher");
    assert_eq!(listed[0]["key"], std::fs::read_to_string(&public).unwrap().trim());
    // A secret key is not a public key.
    let secret = public.with_extension("key");
    let refused = project.max().args(["trust", "add"]).arg(&secret).assert().failure();
    assert!(String::from_utf8_lossy(&refused.get_output().stderr).contains("not a public key"));
    project.max().args(["trust", "remove", "acme-publisher"]).assert().success();
    let listed = project.max().args(["trust", "list", "-o", "json"]).assert().success().get_output().stdout.clone();
    assert_eq!(serde_json::from_slice::<Value>(&listed).unwrap(), serde_json::json!([]));
}

/// `max connector search` lists what a registry holds (its catalog, each connector's newest
/// version); `max connector upgrade` finds the newer tag, shows what it asks for beyond the
/// installed version, and records it in the lock file.
#[test]
fn search_lists_a_registry_and_upgrade_shows_the_permission_diff() {
    let registry = OciRegistry::start();
    let keys = tempfile::tempdir().unwrap();
    let (secret, public) = keypair(keys.path(), "acme-publisher");
    let old = registry.reference("max/acme:0.1.0");
    publish(&connector("acme"), &old, Some(&secret));
    publish(&connector("linear"), &registry.reference("max/linear:0.3.0"), Some(&secret));

    let project = trusting(&public);
    let found = project
        .max()
        .args(["connector", "search", "acme", "--registry", &registry.address, "-o", "json"])
        .assert()
        .success();
    let found: Value = serde_json::from_slice(&found.get_output().stdout).unwrap();
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["annotations"]["name"], "acme");
    assert_eq!(found[0]["reference"], old.as_str());
    let everything = project.max().args(["connector", "search", "--registry", &registry.address]).assert().success();
    let table = String::from_utf8_lossy(&everything.get_output().stdout).into_owned();
    assert!(table.contains("acme") && table.contains("linear"), "{table}");

    project.max().args(["connector", "install", &old, "--yes"]).assert().success();
    let none = project.max().args(["connector", "upgrade", "acme", "--yes"]).assert().success();
    assert!(String::from_utf8_lossy(&none.get_output().stdout).contains("is the newest version"));

    // 0.2.0 asks to reach another host (the same component with its host renamed).
    let mut patched = std::fs::read(connector("acme")).unwrap();
    let (from, to) = (b"api.acme.dev", b"api.acme.net");
    let places: Vec<usize> =
        patched.windows(from.len()).enumerate().filter(|(_, w)| w == from).map(|(i, _)| i).collect();
    assert!(!places.is_empty(), "the component names its host");
    for at in places {
        patched[at..at + to.len()].copy_from_slice(to);
    }
    let newer = keys.path().join("acme.wasm");
    std::fs::write(&newer, &patched).unwrap();
    publish(&newer, &registry.reference("max/acme:0.2.0"), Some(&secret));
    let upgraded = project.max().args(["connector", "upgrade", "acme", "--yes"]).assert().success();
    let said = String::from_utf8_lossy(&upgraded.get_output().stderr).into_owned();
    assert!(said.contains("It asks for more than the installed version was granted"), "{said}");
    assert!(said.contains("+ HTTPS to api.acme.net"), "{said}");
    let lock = lock_of(&project);
    assert_eq!(lock["connectors"][0]["reference"], registry.reference("max/acme:0.2.0").as_str());
    assert_eq!(installed_sha256(&project), [max_host::format::sha256_hex(&patched)]);
}

/// A registry that wants a login: `--username` with `--password-stdin`, or the user's Docker
/// credentials (`$DOCKER_CONFIG/config.json`, as `docker login` writes it), get in; none, or a wrong
/// password, are refused clearly with nothing installed; and the project keeps no credential.
#[test]
fn a_registry_that_wants_a_login_takes_docker_credentials_or_flags_and_refuses_bad_ones() {
    use base64::Engine as _;
    let registry = OciRegistry::start_with_login();
    let keys = tempfile::tempdir().unwrap();
    let (secret, public) = keypair(keys.path(), "acme-publisher");
    let reference = registry.reference("max/acme:0.1.0");
    let nowhere = tempfile::tempdir().unwrap();
    let (user, password) = (OciRegistry::USER, OciRegistry::PASSWORD);

    // Publishing without credentials is refused; with them it works.
    let publisher = TestProject::new();
    let publish = |login: &[&str], stdin: &str| {
        let mut command = publisher.max();
        command.env("DOCKER_CONFIG", nowhere.path()).args(["connector", "publish"]).arg(connector("acme"));
        command.arg(&reference).arg("--key").arg(&secret).args(login).write_stdin(stdin.to_string());
        command.assert()
    };
    let denied = publish(&[], "").failure();
    let said = String::from_utf8_lossy(&denied.get_output().stderr).into_owned();
    assert!(said.contains(&format!("registry {} refused access", registry.address)), "{said}");
    assert!(said.contains("docker login"), "the hint says how to log in: {said}");
    publish(&["--username", user, "--password-stdin"], &format!("{password}\n")).success();

    let project = trusting(&public);
    let install = |login: &[&str], stdin: &str, docker: &std::path::Path| {
        let mut command = project.max();
        command.env("DOCKER_CONFIG", docker).args(["connector", "install", &reference, "--yes"]).args(login);
        command.write_stdin(stdin.to_string()).assert()
    };
    for (login, stdin) in [(&[][..], ""), (&["--username", user, "--password-stdin"][..], "not-the-password\n")] {
        let refused = install(login, stdin, nowhere.path()).failure();
        let said = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
        assert!(said.contains("refused access"), "{login:?}: {said}");
        assert!(!said.contains("not-the-password"), "{said}");
        assert!(project.files_under(&project.path().join(".max/connectors")).is_empty(), "nothing installed");
    }

    // `docker login`'s record of the registry is used as it is.
    let docker = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let config = serde_json::json!({ "auths": { registry.address.clone(): { "auth": auth } } });
    std::fs::write(docker.path().join("config.json"), config.to_string()).unwrap();
    install(&[], "", docker.path()).success();
    assert_eq!(installed_sha256(&project).len(), 1);
    for file in project.files_under(project.path()) {
        let text = std::fs::read(project.path().join(&file)).unwrap();
        assert!(!String::from_utf8_lossy(&text).contains(password), "{file} holds the registry password");
    }
}

/// A registry that never stops sending (a manifest, a catalog) is cut off at a few MiB with a clear
/// error, not read into memory until the machine runs out.
#[test]
fn a_registry_that_sends_without_end_is_cut_off() {
    use axum::Router;
    use axum::routing::get;
    fn endless() -> axum::body::Body {
        // 256 MiB in 64 KiB chunks: far past every cap, and still bounded.
        let chunks = futures::stream::iter((0..4096).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 << 10])));
        axum::body::Body::from_stream(chunks)
    }
    let router = || {
        Router::new()
            .route("/v2/", get(|| async { "{}" }))
            .route("/v2/max/endless/manifests/{name}", get(|| async { endless() }))
            .route("/v2/_catalog", get(|| async { endless() }))
    };
    let server = max_fake_saas::RunningServer::spawn(router, "127.0.0.1:0".parse().unwrap()).unwrap();
    let address = server.base_url().trim_start_matches("http://").trim_end_matches('/').to_string();
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    refused(&project, &[&format!("oci://{address}/max/endless:1.0.0"), "--yes"], "more than 4096 KiB");
    let searched = project.max().args(["connector", "search", "--registry", &address]).assert().failure();
    let said = String::from_utf8_lossy(&searched.get_output().stderr).into_owned();
    assert!(said.contains("more than 4096 KiB"), "{said}");
}

/// `max connector sign oci://…` signs what is already published, beside the signatures other keys
/// attached (re-signing with a key replaces its own); a project trusting any one of them installs it.
#[test]
fn a_published_connector_can_be_countersigned_and_any_trusted_signature_admits_it() {
    let registry = OciRegistry::start();
    let keys = tempfile::tempdir().unwrap();
    let (publisher, publisher_pub) = keypair(keys.path(), "publisher");
    let (reviewer, reviewer_pub) = keypair(keys.path(), "reviewer");
    let reference = registry.reference("max/acme:1.0.0");
    let published = publish(&connector("acme"), &reference, None);
    let digest = published["manifest_digest"].as_str().unwrap();

    let reviewed = trusting(&reviewer_pub);
    refused(&reviewed, &[&reference, "--yes"], "is not signed by its publisher");
    let sign = |key: &std::path::Path| {
        let output = TestProject::new()
            .max()
            .args(["connector", "sign", &reference, "--key"])
            .arg(key)
            .args(["-o", "json"])
            .assert();
        serde_json::from_slice::<Value>(&output.success().get_output().stdout).unwrap()
    };
    for key in [&publisher, &reviewer, &publisher] {
        let signed = sign(key);
        assert_eq!(signed["manifest_digest"], digest);
    }
    let tag = max_host::registry::signature::tag_for(digest);
    let (_, body) = registry
        .get_with(&format!("/v2/max/acme/manifests/{tag}"), "application/vnd.oci.image.manifest.v1+json")
        .unwrap();
    let signatures: Value = serde_json::from_slice(&body).unwrap();
    let signers: std::collections::BTreeSet<&str> = signatures["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["annotations"]["dev.max.signer"].as_str().unwrap())
        .collect();
    let key = |path: &std::path::Path| std::fs::read_to_string(path).unwrap().trim().to_string();
    assert_eq!(
        signers,
        [key(&publisher_pub), key(&reviewer_pub)].iter().map(String::as_str).collect(),
        "one signature per key"
    );

    let installed = reviewed.max().args(["connector", "install", &reference, "--yes"]).assert().success();
    assert!(String::from_utf8_lossy(&installed.get_output().stderr).contains("Signed by reviewer, a key you trust"));
    let original = trusting(&publisher_pub);
    let installed = original.max().args(["connector", "install", &reference, "--yes"]).assert().success();
    assert!(String::from_utf8_lossy(&installed.get_output().stderr).contains("Signed by publisher, a key you trust"));
}
