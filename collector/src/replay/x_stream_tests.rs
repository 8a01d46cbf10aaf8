use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

const POST: &str = r#"{"data":{"id":"1993000000000000001","text":"Lumio down again #lumiofail","author_id":"44","created_at":"2026-11-20T10:15:02.000Z","lang":"en","edit_history_tweet_ids":["1993000000000000001"],"public_metrics":{"retweet_count":2,"reply_count":1,"like_count":7,"quote_count":0,"impression_count":300}},"includes":{"users":[{"id":"44","username":"jane","name":"Jane D","public_metrics":{"followers_count":1830}}]},"matching_rules":[{"id":"1","tag":"brand:lumio"}]}"#;

fn post_of(item: StreamItem) -> (String, Post) {
    match item {
        StreamItem::Post { key, post, .. } => (key, *post),
        other => panic!("expected a post, got {other:?}"),
    }
}

#[test]
fn decodes_a_post_with_its_author() {
    let (key, post) = post_of(decode_line(POST.as_bytes(), now()).unwrap());
    assert_eq!(key, "1993000000000000001");
    assert_eq!(post.id.as_str(), "x:1993000000000000001");
    assert_eq!(post.text, "Lumio down again #lumiofail");
    assert_eq!(post.lang.as_deref(), Some("en"));
    assert_eq!(post.author.handle.as_deref(), Some("jane"));
    assert_eq!(post.author.followers, Some(1830));
    assert_eq!(
        post.author.profile_url.as_deref(),
        Some("https://x.com/jane")
    );
    assert_eq!(
        post.url.as_deref(),
        Some("https://x.com/jane/status/1993000000000000001")
    );
    assert_eq!(post.created_at.to_rfc3339(), "2026-11-20T10:15:02+00:00");
    assert_eq!(post.observed_at, now());
    assert_eq!(post.engagement.likes, Some(7));
    assert_eq!(post.engagement.views, Some(300));
    assert_eq!(post.change, Change::New);
    assert_eq!(post.relation, Relation::Original);
}

#[test]
fn keep_alives_are_not_errors() {
    for line in [&b""[..], b"   ", b"\t"] {
        assert_eq!(decode_line(line, now()).unwrap(), StreamItem::KeepAlive);
    }
    let stream = format!("\r\n{POST}\r\n\r\n\r\n");
    let decoded = decode_stream("x/s.jsonl", &stream, now());
    assert_eq!(decoded.posts.len(), 1);
    assert_eq!(decoded.posts[0].line, 2);
    assert!(decoded.failures.is_empty());
}

#[test]
fn crlf_framing_with_split_and_joined_objects() {
    let stream = format!("{POST}\r\n\r\n{POST}\r\n");
    let whole = LineFramer::new().push(stream.as_bytes());
    assert_eq!(whole.len(), 3);
    assert!(whole.iter().all(|frame| !frame.bytes.ends_with(b"\r")));

    for split in [1, 7, POST.len(), POST.len() + 1, stream.len() - 1] {
        let mut framer = LineFramer::new();
        let mut frames = framer.push(&stream.as_bytes()[..split]);
        frames.extend(framer.push(&stream.as_bytes()[split..]));
        assert_eq!(frames, whole, "split at {split}");
    }
    let mut framer = LineFramer::new();
    let mut frames = Vec::new();
    for byte in stream.as_bytes() {
        frames.extend(framer.push(std::slice::from_ref(byte)));
    }
    assert_eq!(frames, whole);
    assert_eq!(framer.finish(), None);
}

#[test]
fn unterminated_last_line_and_a_leading_bom_are_fine() {
    let stream = format!("\u{feff}{POST}\r\n{POST}");
    let decoded = decode_stream("x/s.jsonl", &stream, now());
    assert_eq!(decoded.posts.len(), 2);
    assert!(decoded.failures.is_empty());
}

#[test]
fn malformed_line_is_a_failure_with_file_and_line() {
    let stream = format!("{POST}\r\n{{\"data\":{{\"id\":\"19\r\n\r\n{POST}\r\n");
    let decoded = decode_stream("x/s.jsonl", &stream, now());
    assert_eq!(decoded.posts.len(), 2);
    assert_eq!(decoded.failures.len(), 1);
    assert_eq!(decoded.failures[0].file, "x/s.jsonl");
    assert_eq!(decoded.failures[0].line, 2);
    assert!(matches!(decoded.failures[0].error, DecodeError::Json(_)));
}

#[test]
fn numeric_ids_and_odd_shapes_are_failures_not_panics() {
    for line in [
        r#"{"data":{"id":1993000000000000001,"text":"x"}}"#,
        r#"{"data":{"id":"1","text":null,"author_id":"2"}}"#,
        r#"{"data":{"id":"","text":"x"}}"#,
        r#"{"matching_rules":[]}"#,
        r#"[1,2]"#,
        "\u{feff}",
        "nul\0l",
    ] {
        assert!(decode_line(line.as_bytes(), now()).is_err(), "{line}");
    }
    assert!(decode_line(&[0xff, 0xfe, b'{'], now()).is_err());
}

#[test]
fn errors_objects_are_notices() {
    let line = r#"{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect","detail":"x","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}"#;
    assert_eq!(
        decode_line(line.as_bytes(), now()).unwrap(),
        StreamItem::Errors {
            titles: vec!["operational-disconnect".to_owned()]
        }
    );
    let decoded = decode_stream("x/s.jsonl", &format!("{line}\r\n{POST}\r\n"), now());
    assert_eq!(decoded.stream_errors, 1);
    assert_eq!(decoded.posts.len(), 1);
    assert!(decoded.failures.is_empty());

    // A post that carries errors next to data is still a post.
    let with_errors = POST.replacen('{', r#"{"errors":[{"title":"Not Found Error"}],"#, 1);
    assert!(matches!(
        decode_line(with_errors.as_bytes(), now()).unwrap(),
        StreamItem::Post { .. }
    ));
}

#[test]
fn edits_are_keyed_by_first_edit_id() {
    let edited = r#"{"data":{"id":"1993000000000000009","text":"fixed typo","author_id":"44","created_at":"2026-11-20T10:20:00.000Z","edit_history_tweet_ids":["1993000000000000001","1993000000000000009"]}}"#;
    let (key, post) = post_of(decode_line(edited.as_bytes(), now()).unwrap());
    assert_eq!(key, "1993000000000000001");
    assert_eq!(post.id.as_str(), "x:1993000000000000001");
    assert_eq!(post.change, Change::Edit);
    // The link points at the version we saw; the author is unknown here.
    assert_eq!(
        post.url.as_deref(),
        Some("https://x.com/i/web/status/1993000000000000009")
    );
    // The first version of a post that was later edited is not an edit.
    let first = edited.replace(
        r#""id":"1993000000000000009""#,
        r#""id":"1993000000000000001""#,
    );
    let (_, post) = post_of(decode_line(first.as_bytes(), now()).unwrap());
    assert_eq!(post.change, Change::New);
}

#[test]
fn note_tweet_text_wins() {
    let line = r#"{"data":{"id":"5","text":"Long story short…","note_tweet":{"text":"Long story short: the whole thing"},"lang":"und","created_at":"bad"}}"#;
    let (_, post) = post_of(decode_line(line.as_bytes(), now()).unwrap());
    assert_eq!(post.text, "Long story short: the whole thing");
    assert_eq!(post.lang, None);
    assert_eq!(post.created_at, now());
}

#[test]
fn relations_and_repost_text() {
    let reply = r#"{"data":{"id":"6","text":"@lumio_help same","referenced_tweets":[{"type":"quoted","id":"3"},{"type":"replied_to","id":"4"}]}}"#;
    let (_, post) = post_of(decode_line(reply.as_bytes(), now()).unwrap());
    assert_eq!(
        post.relation,
        Relation::Reply {
            parent: Some("4".to_owned())
        }
    );
    let repost = r#"{"data":{"id":"7","text":"RT @jane: Lumio down ag…","referenced_posts":[{"type":"retweeted","id":"3"}]},"includes":{"posts":[{"id":"3","text":"Lumio down again, third time this week"}]}}"#;
    let (_, post) = post_of(decode_line(repost.as_bytes(), now()).unwrap());
    assert_eq!(post.relation, Relation::Repost { of: "3".to_owned() });
    assert_eq!(post.text, "Lumio down again, third time this week");
}
