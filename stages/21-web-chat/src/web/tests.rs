use super::*;

#[test]
fn a_line_frame_escapes_what_json_must() {
    assert_eq!(line_frame("bob> hi"), r#"{"type":"line","text":"bob> hi"}"#);
    assert_eq!(
        line_frame("a \"quote\" \\ and \u{1} zoë"),
        r#"{"type":"line","text":"a \"quote\" \\ and \u0001 zoë"}"#
    );
}

#[test]
fn a_members_frame_lists_the_nicks_in_order() {
    assert_eq!(members_frame(&[]), r#"{"type":"members","nicks":[]}"#);
    let nicks = ["alice".to_string(), "b\"ob".to_string()];
    assert_eq!(
        members_frame(&nicks),
        r#"{"type":"members","nicks":["alice","b\"ob"]}"#
    );
}

#[test]
fn a_request_is_its_method_path_and_websocket_key() {
    let head = "GET /ws?x=1 HTTP/1.1\r\nHost: a\r\nUPGRADE: WebSocket\r\n\
                sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let request = Request::parse(head).unwrap();
    assert_eq!((request.method, request.path), ("GET", "/ws"));
    assert_eq!(request.websocket_key, Some("dGhlIHNhbXBsZSBub25jZQ=="));
    // A key without `Upgrade: websocket` is no upgrade.
    let plain = Request::parse("GET / HTTP/1.1\r\nSec-WebSocket-Key: k\r\n\r\n").unwrap();
    assert_eq!(plain.websocket_key, None);
    assert!(Request::parse("GET /\r\n\r\n").is_none());
    assert!(Request::parse("GET / HTTP/1.1\r\nno colon\r\n\r\n").is_none());
}

#[test]
fn the_accept_key_is_rfc_6455s_example() {
    assert_eq!(
        derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn notices_that_may_change_who_is_online() {
    for notice in [
        "* bob joined",
        "* bob left",
        "* bob is now al",
        "* you are now al",
    ] {
        assert!(may_change_members(notice), "{notice}");
    }
    for line in ["bob> joined", "* online (1): bob", "* bye"] {
        assert!(!may_change_members(line), "{line}");
    }
}
