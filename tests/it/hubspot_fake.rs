//! The HubSpot fake speaks HubSpot's CRM wire format (`../shared/apis.md` §2): `after` pages that
//! cover every object once, property values as strings, the properties API with every type, batch
//! reads with 207 partial errors, owners, pipelines, associations in v3 objects, HubSpot's error body
//! and its rolling-window headers. The connector's tests rely on all of it.

use std::collections::BTreeSet;
use std::time::Duration;

use max_fake_saas::hubspot::{DEFAULT_TOKEN, HubSpot, HubSpotConfig, ObjectType, Size};
use serde_json::{Value, json};

async fn start(config: HubSpotConfig) -> (HubSpot, max_fake_saas::RunningServer) {
    let fake = HubSpot::new(config);
    let server = fake.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (fake, server)
}

/// GET `path` with the token; the status, the headers and the JSON body.
async fn get(server: &max_fake_saas::RunningServer, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", server.base_url()))
        .bearer_auth(DEFAULT_TOKEN)
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap())
}

async fn post(server: &max_fake_saas::RunningServer, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base_url()))
        .bearer_auth(DEFAULT_TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap())
}

#[tokio::test]
async fn pages_of_objects_cover_every_object_once_with_string_values() {
    let (fake, server) =
        start(HubSpotConfig { size: Size { contacts: 23, ..Size::default() }, ..Default::default() }).await;
    let (mut after, mut ids, mut pages) = (String::new(), Vec::new(), 0);
    loop {
        let path = format!(
            "/crm/v3/objects/contacts?limit=10&properties=email,loyalty_score&properties=is_champion&after={after}"
        );
        let (status, _, body) = get(&server, &path).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        for contact in body["results"].as_array().unwrap() {
            ids.push(contact["id"].as_str().unwrap().to_string());
            let properties = contact["properties"].as_object().unwrap();
            let names: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
            assert_eq!(
                names,
                BTreeSet::from([
                    "createdate",
                    "email",
                    "hs_object_id",
                    "is_champion",
                    "lastmodifieddate",
                    "loyalty_score"
                ]),
                "what was asked for, and the id and times HubSpot always adds"
            );
            assert!(properties.values().all(|v| v.is_string() || v.is_null()), "all values are strings: {contact}");
            assert_eq!(properties["hs_object_id"], contact["id"]);
            assert_eq!(contact["archived"], false);
        }
        match body["paging"]["next"]["after"].as_str() {
            Some(next) => after = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3, "23 contacts in pages of 10");
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (fake.counts()["contacts"], 23), "every contact once");
    let (status, _, body) = get(&server, "/crm/v3/objects/contacts?limit=101").await;
    assert_eq!((status, body["category"].as_str()), (400, Some("VALIDATION_ERROR")), "{body}");
}

#[tokio::test]
async fn archived_objects_are_listed_only_when_asked_for() {
    let (fake, server) = start(HubSpotConfig::default()).await;
    let archived = fake.with_data(|d| d.archive(ObjectType::Deals, 0));
    let (_, _, live) = get(&server, "/crm/v3/objects/deals?limit=100").await;
    let archived = archived.to_string();
    assert!(live["results"].as_array().unwrap().iter().all(|d| d["id"].as_str() != Some(archived.as_str())));
    let (_, _, gone) = get(&server, "/crm/v3/objects/deals?limit=100&archived=true").await;
    let gone = gone["results"].as_array().unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!((gone[0]["id"].as_str(), &gone[0]["archived"]), (Some(archived.as_str()), &json!(true)));
    assert!(gone[0]["archivedAt"].is_string());
}

#[tokio::test]
async fn the_properties_api_types_every_standard_and_custom_property() {
    let (_fake, server) = start(HubSpotConfig::default()).await;
    for object_type in ["contacts", "companies", "deals", "tickets"] {
        let (status, _, body) = get(&server, &format!("/crm/v3/properties/{object_type}")).await;
        assert_eq!(status, 200);
        let properties = body["results"].as_array().unwrap();
        let custom_types: BTreeSet<&str> =
            properties.iter().filter(|p| p["hubspotDefined"] == false).map(|p| p["type"].as_str().unwrap()).collect();
        assert_eq!(custom_types, BTreeSet::from(["bool", "date", "datetime", "enumeration", "number", "string"]));
        for property in properties {
            assert!(property["name"].is_string() && property["label"].is_string() && property["fieldType"].is_string());
            if property["type"] == "enumeration" && property["hubspotDefined"] == false {
                assert!(!property["options"].as_array().unwrap().is_empty(), "{property}");
            }
        }
    }
    let (_, _, deals) = get(&server, "/crm/v3/properties/deals").await;
    let amount = deals["results"].as_array().unwrap().iter().find(|p| p["name"] == "amount").unwrap();
    assert_eq!((amount["type"].as_str(), amount["fieldType"].as_str()), (Some("number"), Some("number")));
}

#[tokio::test]
async fn associations_come_with_objects_when_asked_and_read_the_same_both_ways() {
    let (_fake, server) = start(HubSpotConfig::default()).await;
    let (_, _, contacts) = get(&server, "/crm/v3/objects/contacts?limit=100&associations=companies").await;
    for contact in contacts["results"].as_array().unwrap() {
        let links = contact["associations"]["companies"]["results"].as_array().unwrap();
        let kinds: BTreeSet<&str> = links.iter().map(|l| l["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, BTreeSet::from(["contact_to_company", "contact_to_company_unlabeled"]), "{contact}");
        let company = links[0]["id"].as_str().unwrap();
        let (_, _, back) = get(&server, &format!("/crm/v3/objects/companies/{company}?associations=contacts")).await;
        let ids: Vec<&str> = back["associations"]["contacts"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&contact["id"].as_str().unwrap()), "{back}");
    }
}

#[tokio::test]
async fn a_batch_read_returns_what_exists_and_names_what_does_not() {
    let (_fake, server) = start(HubSpotConfig::default()).await;
    let (_, _, page) = get(&server, "/crm/v3/objects/companies?limit=3").await;
    let ids: Vec<Value> = page["results"].as_array().unwrap().iter().map(|c| json!({"id": c["id"]})).collect();
    let (status, body) =
        post(&server, "/crm/v3/objects/companies/batch/read", json!({"inputs": ids, "properties": ["name", "tier"]}))
            .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("COMPLETE")), "{body}");
    assert_eq!(body["results"].as_array().unwrap().len(), 3);
    assert!(body["results"][0]["properties"].as_object().unwrap().contains_key("tier"));
    let inputs = json!([ids[0], {"id": "999999999"}]);
    let (status, body) = post(&server, "/crm/v3/objects/companies/batch/read", json!({"inputs": inputs})).await;
    assert_eq!((status, body["numErrors"].as_u64()), (207, Some(1)), "{body}");
    assert_eq!(body["errors"][0]["context"]["ids"], json!(["999999999"]));
    let too_many: Vec<Value> = (0..101).map(|i| json!({"id": i.to_string()})).collect();
    let (status, _) = post(&server, "/crm/v3/objects/companies/batch/read", json!({"inputs": too_many})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn owners_pipelines_and_the_account_answer_in_hubspot_s_shapes() {
    let (fake, server) = start(HubSpotConfig::default()).await;
    let (_, _, owners) = get(&server, "/crm/v3/owners?limit=2").await;
    assert_eq!(owners["results"].as_array().unwrap().len(), 2);
    assert!(owners["results"][0]["id"].is_string() && owners["results"][0]["userId"].is_u64());
    assert!(owners["paging"]["next"]["after"].is_string());
    let (_, _, pipelines) = get(&server, "/crm/v3/pipelines/deals").await;
    let stages: Vec<&str> = pipelines["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["stages"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()))
        .collect();
    let deal_stages = fake.with_data(|d| {
        d.all(ObjectType::Deals).iter().map(|o| o.properties["dealstage"].clone()).collect::<BTreeSet<_>>()
    });
    assert!(deal_stages.iter().all(|s| stages.contains(&s.as_str())), "every deal's stage is a pipeline's");
    let (_, _, account) = get(&server, "/account-info/v3/details").await;
    assert!(account["portalId"].is_u64());
}

#[tokio::test]
async fn errors_carry_hubspot_s_body_and_the_window_its_headers() {
    let window = max_fake_saas::window::WindowLimit { max: 2, interval: Duration::from_secs(10) };
    let (_fake, server) = start(HubSpotConfig {
        faults: max_fake_saas::Faults { window: Some(window), ..Default::default() },
        ..Default::default()
    })
    .await;
    let response = reqwest::get(format!("{}/crm/v3/objects/contacts", server.base_url())).await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!((body["status"].as_str(), body["category"].as_str()), (Some("error"), Some("INVALID_AUTHENTICATION")));
    assert!(body["correlationId"].is_string() && body["message"].is_string());
    let (status, headers, body) = get(&server, "/crm/v3/objects/contacts/1").await;
    assert_eq!((status, body["category"].as_str()), (404, Some("OBJECT_NOT_FOUND")), "{body}");
    assert_eq!(headers["x-hubspot-ratelimit-max"], "2");
    assert_eq!(headers["x-hubspot-ratelimit-interval-milliseconds"], "10000");
    let (status, _, body) = get(&server, "/crm/v3/objects/contacts").await;
    assert_eq!((status, body["policyName"].as_str()), (429, Some("TEN_SECONDLY_ROLLING")), "{body}");
}

#[tokio::test]
async fn search_filters_pages_and_has_a_limit_of_its_own_without_the_window_s_headers() {
    let window = max_fake_saas::window::WindowLimit { max: 100, interval: Duration::from_secs(10) };
    let faults = max_fake_saas::Faults { window: Some(window), ..Default::default() };
    let (fake, server) = start(HubSpotConfig { faults, search_per_second: 3, ..Default::default() }).await;
    let request = |after: &str| {
        json!({
            "filterGroups": [{"filters": [{"propertyName": "amount", "operator": "GTE", "value": "1000"}]}],
            "sorts": [{"propertyName": "amount", "direction": "DESCENDING"}],
            "properties": ["amount", "dealname"], "limit": 4, "after": after,
        })
    };
    let response = reqwest::Client::new()
        .post(format!("{}/crm/v3/objects/deals/search", server.base_url()))
        .bearer_auth(DEFAULT_TOKEN)
        .header("content-type", "application/json")
        .body(request("").to_string())
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("x-hubspot-ratelimit-max").is_none(), "search has no window headers");
    assert!(response.headers().get("x-hubspot-ratelimit-daily").is_none(), "nor daily ones");
    let first: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let want = fake.with_data(|d| {
        d.all(ObjectType::Deals).iter().filter(|o| o.properties["amount"].parse::<f64>().unwrap() >= 1000.0).count()
    });
    assert_eq!(first["total"].as_u64(), Some(want as u64), "{first}");
    let (_, second) =
        post(&server, "/crm/v3/objects/deals/search", request(first["paging"]["next"]["after"].as_str().unwrap()))
            .await;
    let amounts: Vec<f64> = [&first, &second]
        .iter()
        .flat_map(|b| {
            b["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["properties"]["amount"].as_str().unwrap().parse().unwrap())
        })
        .collect();
    assert_eq!(amounts.len(), 8);
    assert!(amounts.windows(2).all(|w| w[0] >= w[1]) && amounts.iter().all(|a| *a >= 1000.0), "{amounts:?}");
    // Two searches so far this second; the limit is three.
    let (status, _) = post(&server, "/crm/v3/objects/deals/search", request("")).await;
    assert_eq!(status, 200);
    let (status, body) = post(&server, "/crm/v3/objects/deals/search", request("")).await;
    assert_eq!((status, body["policyName"].as_str()), (429, Some("SECONDLY")), "{body}");
}

#[tokio::test]
async fn v4_associations_list_and_batch_read_with_numeric_ids_and_their_types() {
    let (fake, server) = start(HubSpotConfig::default()).await;
    let (deal, contacts) = fake.with_data(|d| {
        let deal = d.all(ObjectType::Deals)[0].id;
        (
            deal,
            d.associations_of((ObjectType::Deals, deal), ObjectType::Contacts)
                .into_iter()
                .map(|(id, _)| id)
                .collect::<Vec<_>>(),
        )
    });
    let (status, _, body) = get(&server, &format!("/crm/v4/objects/deals/{deal}/associations/contacts")).await;
    assert_eq!(status, 200, "{body}");
    let listed: Vec<u64> =
        body["results"].as_array().unwrap().iter().map(|r| r["toObjectId"].as_u64().unwrap()).collect();
    assert_eq!(listed, contacts, "toObjectId is a number");
    assert_eq!(body["results"][0]["associationTypes"][0]["category"], "HUBSPOT_DEFINED");
    assert!(body["results"][0]["associationTypes"][0]["typeId"].is_u64());
    let inputs = json!([{"id": deal.to_string()}, {"id": "1"}]);
    let (status, body) =
        post(&server, "/crm/v4/associations/deals/companies/batch/read", json!({"inputs": inputs})).await;
    assert_eq!((status, body["numErrors"].as_u64()), (207, Some(1)), "{body}");
    let to = &body["results"][0]["to"][0];
    let labels: Vec<&Value> = to["associationTypes"].as_array().unwrap().iter().map(|t| &t["label"]).collect();
    assert_eq!(labels, [&json!("Primary"), &Value::Null], "a deal's primary company, and the unlabelled type");
}

#[tokio::test]
async fn oauth_refreshes_rotate_the_refresh_token_and_expired_tokens_say_so() {
    use max_fake_saas::oauth::OAuth;
    let oauth = OAuth { initial_token_ttl: Duration::ZERO, ..OAuth::named("hs", Duration::from_secs(1800)) };
    let (fake, server) = start(HubSpotConfig { oauth, ..Default::default() }).await;
    let client = reqwest::Client::new();
    let expired = client
        .get(format!("{}/crm/v3/objects/contacts", server.base_url()))
        .bearer_auth("hs_oauth_initial")
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
    let body: Value = serde_json::from_slice(&expired.bytes().await.unwrap()).unwrap();
    assert_eq!(body["category"], "EXPIRED_AUTHENTICATION", "{body}");
    let refresh = |token: &str| {
        client
            .post(format!("{}/oauth/v1/token", server.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=refresh_token&client_id=fake-client&client_secret=fake-secret&refresh_token={token}"
            ))
            .send()
    };
    let response = refresh("hs_refresh_initial").await.unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!((tokens["token_type"].as_str(), tokens["token_use"].as_str()), (Some("bearer"), Some("access_token")));
    assert_eq!(tokens["expires_in"], 1800);
    assert_eq!(tokens["hub_id"], fake.with_data(|d| d.portal_id));
    assert_ne!(tokens["refresh_token"], "hs_refresh_initial", "the refresh token rotates");
    let reused = refresh("hs_refresh_initial").await.unwrap();
    assert_eq!(reused.status(), 400);
    let body: Value = serde_json::from_slice(&reused.bytes().await.unwrap()).unwrap();
    assert_eq!(body["status"], "BAD_REFRESH_TOKEN", "{body}");
    let fresh = client
        .get(format!("{}/crm/v3/objects/contacts?limit=1", server.base_url()))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    assert!(fresh.headers().get("x-hubspot-ratelimit-daily").is_none(), "no daily headers for OAuth");
    let (_, first, _) = get(&server, "/crm/v3/objects/contacts?limit=1").await;
    let (_, second, _) = get(&server, "/crm/v3/objects/contacts?limit=1").await;
    let remaining = |h: &reqwest::header::HeaderMap| -> u64 {
        h["x-hubspot-ratelimit-daily-remaining"].to_str().unwrap().parse().unwrap()
    };
    assert_eq!(first["x-hubspot-ratelimit-daily"], "250000");
    assert_eq!(remaining(&first) - 1, remaining(&second), "the private-app token's daily budget counts down");
}

#[tokio::test]
async fn mutations_change_the_portal_between_syncs() {
    let (fake, server) =
        start(HubSpotConfig { size: Size { contacts: 12_500, ..Size::default() }, ..Default::default() }).await;
    let before = fake.with_data(|d| d.tick());
    let contact = fake.with_data(|d| d.all(ObjectType::Contacts)[0].id.to_string());
    let mutations = json!([
        {"op": "add_property", "type": "contacts", "name": "nps", "kind": "number", "label": "NPS"},
        {"op": "update", "type": "contacts", "id": contact, "properties": {"nps": "9", "firstname": "Ada"}},
        {"op": "touch", "type": "contacts", "count": 12_000, "at_once": true},
        {"op": "archive", "type": "contacts", "id": contact},
    ]);
    let response = reqwest::Client::new()
        .post(format!("{}/_fake/mutate", server.base_url()))
        .header("content-type", "application/json")
        .body(mutations.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, _, properties) = get(&server, "/crm/v3/properties/contacts").await;
    let nps = properties["results"].as_array().unwrap().iter().find(|p| p["name"] == "nps").expect("the new property");
    assert_eq!((nps["type"].as_str(), &nps["hubspotDefined"]), (Some("number"), &json!(false)));
    let search = json!({
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": before.to_string()}]}],
        "limit": 200,
    });
    let (status, body) = post(&server, "/crm/v3/objects/contacts/search", search).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 11_999, "the 12,000 touched, less the one archived since");
    let (_, _, archived) =
        get(&server, &format!("/crm/v3/objects/contacts/{contact}?archived=true&properties=nps")).await;
    assert_eq!((&archived["archived"], &archived["properties"]["nps"]), (&json!(true), &json!("9")));
    let refused = reqwest::Client::new()
        .post(format!("{}/_fake/mutate", server.base_url()))
        .header("content-type", "application/json")
        .body(json!({"op": "archive", "type": "contacts", "id": contact}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "an archived contact can't be archived again");
}
