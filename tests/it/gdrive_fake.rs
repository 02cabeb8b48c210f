//! The Google Drive fake speaks Drive v3's wire format (`../shared/apis.md` §3): pages that cover every
//! file once, partial responses that hold only the fields asked for, `q`, shared drives behind their
//! two flags, export and downloads, the changes feed with its tokens, Google's OAuth (no new refresh
//! token) and its error bodies. The connector's tests rely on all of it.

use std::collections::BTreeSet;

use max_fake_saas::Faults;
use max_fake_saas::gdrive::{Body, DOCUMENT, DriveConfig, GoogleDrive, Mutation, SPREADSHEET, Size};
use serde_json::{Value, json};

const TOKEN: &str = "ya29_oauth_initial";

async fn start(config: DriveConfig) -> (GoogleDrive, max_fake_saas::RunningServer) {
    let fake = GoogleDrive::new(config);
    let server = fake.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (fake, server)
}

/// GET `/drive/v3{path}` with the token: the status, the headers and the body.
async fn get_raw(server: &max_fake_saas::RunningServer, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(format!("{}/drive/v3{path}", server.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.bytes().await.unwrap().to_vec())
}

async fn get(server: &max_fake_saas::RunningServer, path: &str) -> (u16, Value) {
    let (status, _, body) = get_raw(server, path).await;
    (status, serde_json::from_slice(&body).unwrap())
}

/// Every key of every object in `value`, as `a/b` paths.
fn keys(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}/{key}") };
                out.insert(path.clone());
                keys(inner, &path, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| keys(item, prefix, out)),
        _ => {}
    }
}

#[tokio::test]
async fn pages_cover_every_file_once_with_only_the_fields_asked_for() {
    let (fake, server) =
        start(DriveConfig { size: Size { files: 20, ..Size::default() }, ..DriveConfig::default() }).await;
    let fields = "nextPageToken,files(id,name,parents,size,owners(emailAddress))";
    let (mut token, mut ids, mut pages, mut seen) = (String::new(), Vec::new(), 0, BTreeSet::new());
    loop {
        let (status, body) = get(&server, &format!("/files?pageSize=7&fields={fields}&pageToken={token}")).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        keys(&body, "", &mut seen);
        ids.extend(body["files"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()));
        match body["nextPageToken"].as_str() {
            Some(next) => token = next.to_string(),
            None => break,
        }
    }
    let allowed: BTreeSet<String> = [
        "nextPageToken",
        "files",
        "files/id",
        "files/name",
        "files/parents",
        "files/size",
        "files/owners",
        "files/owners/emailAddress",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    assert!(seen.is_subset(&allowed), "only what was asked for: {:?}", seen.difference(&allowed).collect::<Vec<_>>());
    assert!(seen.contains("files/size") && seen.contains("files/owners/emailAddress"), "{seen:?}");
    let expected: BTreeSet<String> =
        fake.with_data(|d| d.all().iter().filter(|f| f.drive.is_none()).map(|f| f.id.clone()).collect());
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(ids.len(), expected.len(), "each once");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), expected);

    // Sizes are strings; more than 1000 a page is 1000; no page size or a foreign token is refused.
    let (_, all) = get(&server, "/files?pageSize=5000&fields=files(id,size)").await;
    assert_eq!(all["files"].as_array().unwrap().len(), expected.len());
    assert!(all["files"].as_array().unwrap().iter().filter_map(|f| f.get("size")).all(Value::is_string));
    let (status, body) = get(&server, "/files?pageSize=0").await;
    assert_eq!((status, body["error"]["errors"][0]["location"].as_str()), (400, Some("pageSize")), "{body}");
    let (status, _) = get(&server, &format!("/files?pageSize=7&q=trashed%3Dfalse&pageToken={token}")).await;
    assert_eq!(status, 400, "a token belongs to its query");
    // Without `fields`, Google's default subset.
    let (_, plain) = get(&server, "/files?pageSize=2").await;
    let mut plain_keys = BTreeSet::new();
    keys(&plain["files"], "", &mut plain_keys);
    assert_eq!(plain_keys, ["id", "kind", "mimeType", "name"].iter().map(|k| k.to_string()).collect());
    // A field that doesn't exist is refused.
    let (status, body) = get(&server, "/files?fields=files(id,sizes)").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "Invalid field selection files/sizes");
}

#[tokio::test]
async fn shared_drives_q_and_folders_behave_as_drive_does() {
    let (fake, server) = start(DriveConfig::default()).await;
    let drive = fake.with_data(|d| d.drives[0].id.clone());
    let (status, body) = get(&server, "/files?corpora=allDrives").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = get(&server, "/files?corpora=allDrives&includeItemsFromAllDrives=true").await;
    assert_eq!(status, 400, "includeItemsFromAllDrives needs supportsAllDrives");
    let path = format!(
        "/files?corpora=drive&driveId={drive}&includeItemsFromAllDrives=true&supportsAllDrives=true&fields=files(id,driveId,owners)&pageSize=1000"
    );
    let (status, body) = get(&server, &path).await;
    assert_eq!(status, 200, "{body}");
    let files = body["files"].as_array().unwrap();
    let expected = fake.with_data(|d| d.all().iter().filter(|f| f.drive.as_deref() == Some(drive.as_str())).count());
    assert_eq!(files.len(), expected);
    assert!(
        files.iter().all(|f| f["driveId"] == json!(drive) && f.get("owners").is_none()),
        "no owners in shared drives"
    );
    // The drive's root folder is a file to those who support shared drives, and not found to others.
    let (status, root) =
        get(&server, &format!("/files/{drive}?supportsAllDrives=true&fields=id,name,mimeType,driveId")).await;
    assert_eq!((status, root["name"].as_str()), (200, Some("Engineering")), "{root}");
    assert_eq!(get(&server, &format!("/files/{drive}")).await.0, 404);
    let (_, my_root) = get(&server, "/files/root?fields=id,name").await;
    assert_eq!(my_root["name"], "My Drive");
    // A folder's children, not trashed.
    let folder = fake.with_data(|d| d.all().iter().find(|f| f.is_folder() && f.drive.is_none()).unwrap().id.clone());
    let q = format!("'{folder}' in parents and trashed = false");
    let (_, children) = get(&server, &format!("/files?pageSize=1000&fields=files(id)&q={}", urlencode(&q))).await;
    let found: BTreeSet<&str> =
        children["files"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    let expected: BTreeSet<String> = fake.with_data(|d| {
        d.all().iter().filter(|f| f.parent.as_deref() == Some(folder.as_str())).map(|f| f.id.clone()).collect()
    });
    assert_eq!(found, expected.iter().map(String::as_str).collect());
    let (status, body) = get(&server, &format!("/files?q={}", urlencode("name contains"))).await;
    assert_eq!((status, body["error"]["errors"][0]["location"].as_str()), (400, Some("q")));
}

/// `text` as a query-string value.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn docs_export_as_text_and_binary_files_download_with_their_md5() {
    let (fake, server) = start(DriveConfig::default()).await;
    let (doc, sheet, text_file, pdf) = fake.with_data(|d| {
        let find =
            |test: &dyn Fn(&max_fake_saas::gdrive::File) -> bool| d.all().iter().find(|f| test(f)).unwrap().clone();
        (
            find(&|f| f.mime_type == DOCUMENT),
            find(&|f| f.mime_type == SPREADSHEET),
            find(&|f| f.mime_type == "text/plain"),
            find(&|f| f.mime_type == "application/pdf"),
        )
    });
    let (status, headers, body) = get_raw(&server, &format!("/files/{}/export?mimeType=text/plain", doc.id)).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = String::from_utf8(body).unwrap();
    let Body::Native(words) = &doc.body else { panic!("a doc has text") };
    assert!(text.starts_with('\u{feff}') && text.contains(words.lines().next().unwrap()), "{text:?}");
    let (status, _, csv) = get_raw(&server, &format!("/files/{}/export?mimeType=text/csv", sheet.id)).await;
    assert!(status == 200 && String::from_utf8(csv).unwrap().starts_with("Item,Owner,Amount"));
    let (status, body) = get(&server, &format!("/files/{}/export?mimeType=text/plain", pdf.id)).await;
    assert_eq!((status, body["error"]["errors"][0]["reason"].as_str()), (403, Some("fileNotExportable")));
    let (status, body) = get(&server, &format!("/files/{}?alt=media", doc.id)).await;
    assert_eq!((status, body["error"]["errors"][0]["reason"].as_str()), (403, Some("fileNotDownloadable")));
    let (status, _, bytes) = get_raw(&server, &format!("/files/{}?alt=media", text_file.id)).await;
    assert_eq!(status, 200);
    let (_, meta) = get(&server, &format!("/files/{}?fields=md5Checksum,size,version", text_file.id)).await;
    assert_eq!(meta["md5Checksum"], max_fake_saas::gdrive::md5_hex(&bytes));
    assert_eq!(meta["size"], bytes.len().to_string());
    assert!(meta["version"].is_string());
    assert_eq!(fake.stats()["exports"], 2);
    assert_eq!(fake.stats()["downloads"], 1);
}

#[tokio::test]
async fn the_changes_feed_reports_edits_trash_removals_and_new_files_then_a_new_start_token() {
    let (fake, server) = start(DriveConfig::default()).await;
    let (_, start) = get(&server, "/changes/startPageToken").await;
    let start = start["startPageToken"].as_str().unwrap().to_string();
    let ids: Vec<String> = fake.with_data(|d| {
        d.all().iter().filter(|f| !f.is_folder() && f.drive.is_none()).take(3).map(|f| f.id.clone()).collect()
    });
    let created = fake.with_data(|d| {
        d.mutate(&Mutation::Edit { id: ids[0].clone(), text: "Edited".into() }).unwrap();
        d.mutate(&Mutation::Trash { id: ids[1].clone() }).unwrap();
        d.mutate(&Mutation::Delete { id: ids[2].clone() }).unwrap();
        let root = d.root_id.clone();
        d.mutate(&Mutation::Create {
            name: "New plan".into(),
            mime_type: DOCUMENT.into(),
            parent: Some(root),
            text: Some("Quarterly plan".into()),
        })
        .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    });
    let (mut token, mut changes, mut pages) = (start.clone(), Vec::new(), 0);
    let new_start = loop {
        let path = format!(
            "/changes?pageToken={token}&pageSize=2&fields=nextPageToken,newStartPageToken,changes(fileId,removed,time,file(id,trashed,version))"
        );
        let (status, body) = get(&server, &path).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        changes.extend(body["changes"].as_array().unwrap().iter().cloned());
        match (body["nextPageToken"].as_str(), body["newStartPageToken"].as_str()) {
            (Some(next), None) => token = next.to_string(),
            (None, Some(new_start)) => break new_start.to_string(),
            other => panic!("a page has one of the two tokens: {other:?}"),
        }
    };
    assert_eq!(pages, 2);
    let by_id = |id: &str| changes.iter().find(|c| c["fileId"] == json!(id)).unwrap().clone();
    assert_eq!(by_id(&ids[1])["file"]["trashed"], true, "trashing is a change, not a removal");
    assert_eq!(by_id(&ids[2])["removed"], true);
    assert!(by_id(&ids[2]).get("file").is_none(), "a removal has no file");
    assert_eq!(by_id(&created)["removed"], false);
    assert!(by_id(&ids[0])["file"]["version"].is_string());
    let (_, after) = get(&server, &format!("/changes?pageToken={new_start}")).await;
    assert_eq!(after["changes"], json!([]));
    assert_eq!(after["newStartPageToken"].as_str(), Some(new_start.as_str()));
    assert_eq!(get(&server, "/changes").await.0, 400, "pageToken is required");
    assert_eq!(get(&server, "/changes?pageToken=99999999").await.0, 400);
}

#[tokio::test]
async fn oauth_keeps_the_refresh_token_and_errors_are_googles() {
    let oauth = max_fake_saas::oauth::OAuth {
        initial_token_ttl: std::time::Duration::ZERO,
        ..max_fake_saas::gdrive::default_oauth()
    };
    let (_fake, server) = start(DriveConfig { oauth, ..DriveConfig::default() }).await;
    let (status, body) = get(&server, "/files").await;
    assert_eq!((status, body["error"]["errors"][0]["reason"].as_str()), (401, Some("authError")), "expired");
    let refresh = |token: &'static str| {
        let url = format!("{}/token", server.base_url());
        async move {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", "fake-client"),
                ("client_secret", "fake-secret"),
            ];
            let response = reqwest::Client::new().post(url).form(&form).send().await.unwrap();
            let status = response.status().as_u16();
            (status, serde_json::from_slice::<Value>(&response.bytes().await.unwrap()).unwrap())
        }
    };
    let (status, first) = refresh("ya29_refresh_initial").await;
    assert_eq!(status, 200, "{first}");
    assert!(first.get("refresh_token").is_none(), "Google keeps the refresh token: {first}");
    assert_eq!(first["token_type"], "Bearer");
    let (status, _) = refresh("ya29_refresh_initial").await;
    assert_eq!(status, 200, "the same refresh token works again");
    let (status, refused) = refresh("revoked").await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn throttled_requests_are_403_or_429_with_nothing_to_read_in_headers() {
    let faults = Faults { throttle_rate: 1.0, ..Faults::default() };
    let (_fake, server) = start(DriveConfig { faults, ..DriveConfig::default() }).await;
    let mut reasons = Vec::new();
    for _ in 0..2 {
        let (status, headers, body) = get_raw(&server, "/files").await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        reasons.push((status, body["error"]["errors"][0]["reason"].as_str().unwrap().to_string()));
        assert!(headers.get("retry-after").is_none() && !headers.keys().any(|k| k.as_str().contains("ratelimit")));
    }
    assert_eq!(reasons, [(403, "userRateLimitExceeded".to_string()), (429, "rateLimitExceeded".to_string())]);
}
