//! Redaction rules: secrets, restricted headers, restricted URL parameters, userinfo passwords.

use std::borrow::Cow;

use aviary::har::{self, Har, Header};
use aviary::step::redact::Redactor;
use base64::prelude::{BASE64_STANDARD, Engine};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn redactor(secrets: &[&str], headers: &[&str], params: &[&str]) -> Redactor {
    Redactor::new(&strings(secrets), &strings(headers), &strings(params))
}

fn header(name: &str, value: &str) -> Header {
    Header { name: name.into(), value: value.into() }
}

fn entry(url: &str) -> har::Entry {
    har::Entry {
        pageref: None,
        started_date_time: "2025-01-01T00:00:00.000Z".into(),
        time: 1.0,
        request: har::Request {
            method: "GET".into(),
            url: url.into(),
            http_version: "HTTP/1.1".into(),
            cookies: vec![],
            headers: vec![],
            query_string: har::Request::query_of(url),
            post_data: None,
            headers_size: -1,
            body_size: -1,
        },
        response: har::Response {
            status: 200,
            status_text: "OK".into(),
            http_version: "HTTP/1.1".into(),
            cookies: vec![],
            headers: vec![],
            content: har::Content { size: 0, mime_type: "text/plain".into(), text: None, encoding: None },
            redirect_url: String::new(),
            headers_size: -1,
            body_size: -1,
        },
        cache: har::Cache::default(),
        timings: har::Timings::default(),
        server_ip_address: None,
        connection: None,
        resource_type: None,
        error: None,
    }
}

#[test]
fn text_without_secrets_is_borrowed() {
    let r = redactor(&["s3cr3t-value"], &[], &[]);
    assert!(matches!(r.redact_text("nothing to see here"), Cow::Borrowed("nothing to see here")));
    assert!(matches!(r.redact_text(""), Cow::Borrowed("")));
    let none = redactor(&[], &[], &[]);
    assert!(matches!(none.redact_text("s3cr3t-value"), Cow::Borrowed(_)));
    assert!(!none.has_secrets());
}

#[test]
fn every_occurrence_of_a_secret_is_masked() {
    let r = redactor(&["hunter2", ""], &[], &[]);
    let text = r.redact_text("password hunter2 then hunter2hunter2 end");
    assert!(matches!(text, Cow::Owned(_)));
    assert_eq!(text, "password *** then *** end");
    assert_eq!(r.redact_text("héllo hunter2 wörld"), "héllo *** wörld");
}

#[test]
fn overlapping_and_nested_secrets_are_fully_covered() {
    let r = redactor(&["pass", "password123"], &[], &[]);
    assert_eq!(r.redact_text("x password123 y pass z"), "x *** y *** z");
    let r = redactor(&["abcdef", "defghi"], &[], &[]);
    let out = r.redact_text("[abcdefghi]");
    assert_eq!(out, "[***]");
    let r = redactor(&["aa"], &[], &[]);
    assert_eq!(r.redact_text("aaa"), "***");
}

#[test]
fn encoded_forms_of_a_secret_are_masked() {
    let secret = "p@ss w/rd+1\"x";
    let r = redactor(&[secret], &[], &[]);
    for encoded in [
        "p%40ss+w%2Frd%2B1%22x",   // form encoding
        "p%40ss%20w%2Frd%2B1%22x", // percent encoding
        "p%40ss%20w%2frd%2b1%22x", // lower-case hex
        "p@ss w/rd+1\\\"x",        // JSON string escape
    ] {
        let text = format!("<{encoded}>");
        assert_eq!(r.redact_text(&text), "<***>", "{encoded}");
    }
    // Base64, also inside a longer base64 text (a Basic credential).
    let basic = BASE64_STANDARD.encode(format!("user:{secret}"));
    let redacted = r.redact_text(&basic);
    assert!(redacted.contains("***"), "{redacted}");
    let core_of_secret = BASE64_STANDARD.encode(&secret.as_bytes()[1..10]);
    assert!(!redacted.contains(&core_of_secret), "{redacted}");
}

#[test]
fn secrets_in_urls_are_masked_even_when_encoded() {
    let r = redactor(&["tok en/42"], &[], &[]);
    assert_eq!(r.redact_url("https://h.test/a?q=tok+en%2F42&x=1"), "https://h.test/a?q=***&x=1");
    assert_eq!(r.redact_url("https://h.test/a?q=tok%20en%2f42"), "https://h.test/a?q=***");
    // Decoded differently than any fixed form (`/` left raw): caught by decoding the pair.
    assert_eq!(r.redact_url("https://h.test/a?q=tok%20en/42&x=1"), "https://h.test/a?q=***&x=1");
    assert_eq!(r.redact_url("https://h.test/tok%20en%2F42/b"), "https://h.test/***/b");
}

/// Every form the secret of the hostile-input report can take on disk: raw, as a URL parser
/// leaves it (`a%20b+c`), fully percent-encoded, form-encoded, JSON-escaped, and inside a Basic
/// credential.
#[test]
fn every_form_of_a_hostile_secret_is_masked() {
    let secret = "Sp3c!@l pa+ss/&=?#%";
    let r = redactor(&[secret], &[], &[]);
    let basic = base64::prelude::Engine::encode(&base64::prelude::BASE64_STANDARD, format!("user:{secret}"));
    for text in [
        secret.to_string(),
        "Sp3c%21%40l%20pa%2Bss%2F%26%3D%3F%23%25".to_string(),
        "Sp3c%21%40l+pa%2Bss%2F%26%3D%3F%23%25".to_string(),
        serde_json::to_string(secret).unwrap(),
        format!("Basic {basic}"),
        "Sp3c!@l%20pa+ss/&=?%23%".to_string(),
    ] {
        let redacted = r.redact_text(&text);
        assert!(!redacted.contains("Sp3c") && !redacted.contains("pa+ss"), "{text} -> {redacted}");
    }
}

#[test]
fn restricted_url_parameters_are_masked_case_insensitively() {
    let r = redactor(&[], &[], &["token", "Sig"]);
    assert_eq!(
        r.redact_url("https://h.test/p?TOKEN=abc&keep=1&sig=zz&tok=2#frag"),
        "https://h.test/p?TOKEN=***&keep=1&sig=***&tok=2#frag"
    );
    // Percent-encoded names are decoded before matching.
    assert_eq!(r.redact_url("https://h.test/p?%74oken=abc"), "https://h.test/p?%74oken=***");
    // Relative URLs (`:path`, `Location`) too.
    assert_eq!(r.redact_url("/p?token=abc"), "/p?token=***");
    assert!(r.is_restricted_parameter("Token"));
    assert!(!r.is_restricted_parameter("keep"));
}

#[test]
fn star_masks_every_parameter() {
    let r = redactor(&[], &[], &["*"]);
    assert_eq!(r.redact_url("https://h.test/p?a=1&b=two&flag#x"), "https://h.test/p?a=***&b=***&flag#x");
}

#[test]
fn urls_with_nothing_to_mask_are_unchanged() {
    let r = redactor(&["s3cr3t-value"], &[], &["token"]);
    for url in ["https://h.test", "https://h.test/a%2Fb?x=1+2&y=%41", "not a url", "https://user@h.test/"] {
        assert_eq!(r.redact_url(url), url);
    }
}

#[test]
fn a_userinfo_password_is_always_masked() {
    let r = redactor(&[], &[], &[]);
    assert_eq!(r.redact_url("http://user:pw@host.test/x?y=1"), "http://user:***@host.test/x?y=1");
    assert_eq!(r.redact_url("ftp://me:p@ss@host.test"), "ftp://me:***@host.test");
    assert_eq!(r.redact_url("http://user@host.test/"), "http://user@host.test/");
    // `@` after the authority is not userinfo.
    assert_eq!(r.redact_url("http://host.test/a:b@c"), "http://host.test/a:b@c");
}

#[test]
fn restricted_headers_keep_their_name_and_lose_their_value() {
    let r = redactor(&["s3cr3t-value"], &["X-Api-Key"], &["token"]);
    let mut headers = vec![
        header("Authorization", "Bearer abc"),
        header("COOKIE", "a=b"),
        header("set-cookie", "sid=1; HttpOnly"),
        header("Proxy-Authorization", "Basic xyz"),
        header("x-api-key", "k"),
        header("X-API-KEY", "k2"),
        header("Accept", "text/html"),
        header("X-Echo", "value s3cr3t-value here"),
        header("Location", "https://h.test/next?token=abc&x=1"),
        header("referer", "https://u:pw@h.test/"),
    ];
    r.redact_headers(&mut headers);
    let got: Vec<(&str, &str)> = headers.iter().map(|h| (h.name.as_str(), h.value.as_str())).collect();
    assert_eq!(
        got,
        [
            ("Authorization", "***"),
            ("COOKIE", "***"),
            ("set-cookie", "***"),
            ("Proxy-Authorization", "***"),
            ("x-api-key", "***"),
            ("X-API-KEY", "***"),
            ("Accept", "text/html"),
            ("X-Echo", "value *** here"),
            ("Location", "https://h.test/next?token=***&x=1"),
            ("referer", "https://u:***@h.test/"),
        ]
    );
    assert!(r.is_restricted_header("AUTHORIZATION"));
    assert!(r.is_restricted_header("x-Api-key"));
    assert!(!r.is_restricted_header("accept"));
    assert!(redactor(&[], &[], &[]).is_restricted_header("Set-Cookie"), "always restricted");
}

#[test]
fn json_strings_and_keys_are_redacted() {
    let r = redactor(&["s3cr3t-value"], &[], &[]);
    let mut value = serde_json::json!({
        "reason": "GET /login?p=s3cr3t-value: expected 200",
        "steps": [{"name": "ok", "url": "https://h.test/?k=s3cr3t-value"}, 42, null, true],
        "s3cr3t-value": "as a key",
    });
    assert!(r.redact_json(&mut value));
    assert_eq!(
        value,
        serde_json::json!({
            "reason": "GET /login?p=***: expected 200",
            "steps": [{"name": "ok", "url": "https://h.test/?k=***"}, 42, null, true],
            "***": "as a key",
        })
    );
    let mut clean = serde_json::json!({"a": ["b"]});
    assert!(!r.redact_json(&mut clean));
    assert_eq!(clean, serde_json::json!({"a": ["b"]}));
}

#[test]
fn a_har_is_redacted_throughout() {
    let secret = "s3cr3t-value";
    let r = redactor(&[secret], &["x-api-key"], &["token"]);
    let mut e = entry("https://u:pw@h.test/api?token=t0k&q=s3cr3t-value&n=1");
    e.request.headers = vec![
        header("Authorization", "Bearer zzz"),
        header("x-api-key", "kkk"),
        header("X-Trace", "s3cr3t-value"),
    ];
    e.request.cookies = vec![har::Cookie { name: "sid".into(), value: "abc".into() }];
    e.request.post_data = Some(har::PostData {
        mime_type: "application/json".into(),
        text: r#"{"password":"s3cr3t-value"}"#.into(),
    });
    e.response.headers = vec![header("Set-Cookie", "sid=abc"), header("Location", "/next?token=t0k")];
    e.response.cookies = vec![har::Cookie { name: "sid".into(), value: "abc".into() }];
    e.response.redirect_url = "https://h.test/next?token=t0k".into();
    e.response.content.text = Some("hello s3cr3t-value".into());
    e.error = Some("failed near s3cr3t-value".into());

    let mut form = entry("https://h.test/login");
    form.request.post_data = Some(har::PostData {
        mime_type: "application/x-www-form-urlencoded; charset=UTF-8".into(),
        text: "user=me&token=abc&pw=s3cr3t-value".into(),
    });
    form.response.content.encoding = Some("base64".into());
    form.response.content.text = Some(BASE64_STANDARD.encode("body with s3cr3t-value inside"));

    let mut har = Har::new(
        vec![har::Page {
            started_date_time: "2025-01-01T00:00:00.000Z".into(),
            id: "page_1".into(),
            title: "Welcome s3cr3t-value".into(),
            page_timings: har::PageTimings::default(),
        }],
        vec![e, form],
    );
    r.redact_har(&mut har);

    let e = &har.log.entries[0];
    assert_eq!(e.request.url, "https://u:***@h.test/api?token=***&q=***&n=1");
    let query: Vec<(&str, &str)> =
        e.request.query_string.iter().map(|p| (p.name.as_str(), p.value.as_str())).collect();
    assert_eq!(query, [("token", "***"), ("q", "***"), ("n", "1")]);
    let headers: Vec<&str> = e.request.headers.iter().map(|h| h.value.as_str()).collect();
    assert_eq!(headers, ["***", "***", "***"]);
    assert_eq!(e.request.cookies[0].value, "***");
    assert_eq!(e.request.cookies[0].name, "sid");
    assert_eq!(e.request.post_data.as_ref().unwrap().text, r#"{"password":"***"}"#);
    assert_eq!(e.response.headers[0].value, "***");
    assert_eq!(e.response.headers[1].value, "/next?token=***");
    assert_eq!(e.response.cookies[0].value, "***");
    assert_eq!(e.response.redirect_url, "https://h.test/next?token=***");
    assert_eq!(e.response.content.text.as_deref(), Some("hello ***"));
    assert_eq!(e.error.as_deref(), Some("failed near ***"));
    assert_eq!(har.log.pages[0].title, "Welcome ***");

    let form = &har.log.entries[1];
    assert_eq!(form.request.post_data.as_ref().unwrap().text, "user=me&token=***&pw=***");
    let body = BASE64_STANDARD.decode(form.response.content.text.as_deref().unwrap()).unwrap();
    assert_eq!(String::from_utf8(body).unwrap(), "body with *** inside");

    let whole = serde_json::to_string(&har).unwrap();
    for leaked in [secret, "t0k", "Bearer zzz", "kkk", ":pw@"] {
        assert!(!whole.contains(leaked), "`{leaked}` left in the HAR");
    }
}

#[test]
fn a_har_without_secrets_still_masks_headers_and_parameters() {
    let r = redactor(&[], &[], &["token"]);
    let mut e = entry("https://h.test/?token=abc");
    e.request.headers = vec![header("Cookie", "a=b"), header("Accept", "*/*")];
    e.response.content.text = Some("untouched".into());
    let mut har = Har::new(vec![], vec![e]);
    r.redact_har(&mut har);
    let e = &har.log.entries[0];
    assert_eq!(e.request.url, "https://h.test/?token=***");
    assert_eq!(e.request.query_string[0].value, "***");
    assert_eq!(e.request.headers[0].value, "***");
    assert_eq!(e.request.headers[1].value, "*/*");
    assert_eq!(e.response.content.text.as_deref(), Some("untouched"));
}
