//! Tests of the RSS/Atom decoder.

use super::*;
use crate::post::Relation;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn decode(contents: &str) -> DecodedFile {
    decode_feed("feed/test.xml", contents, now())
}

fn texts(decoded: &DecodedFile) -> Vec<&str> {
    decoded
        .posts
        .iter()
        .map(|record| record.post.text.as_str())
        .collect()
}

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:slash="http://purl.org/rss/1.0/modules/slash/">
<channel>
  <title>Lumio &amp; friends</title>
  <atom:link href="https://blog.example/feed.xml" rel="self" type="application/rss+xml"/>
  <link>https://blog.example/</link>
  <language>en-gb</language>
  <item>
    <title>Fibre &amp;amp; you</title>
    <link>https://blog.example/posts/1</link>
    <guid isPermaLink="false">blog.example:post:1</guid>
    <dc:creator>R. Ortiz</dc:creator>
    <pubDate>Fri, 20 Nov 2026 10:15:00 +0000</pubDate>
    <description>&lt;p&gt;Short version: &lt;b&gt;speed&lt;/b&gt;.&lt;/p&gt;</description>
    <slash:comments>4</slash:comments>
  </item>
  <item>
    <title>CDATA post</title>
    <guid>https://blog.example/posts/2</guid>
    <author>ed@blog.example (Ed Itor)</author>
    <pubDate>Fri, 20 Nov 2026 11:00:00 GMT</pubDate>
    <description><![CDATA[<p>Caf&eacute; <script>alert(1)</script>wifi</p>]]></description>
    <content:encoded><![CDATA[<p>Full &amp; longer text</p>]]></content:encoded>
  </item>
  <item>
    <title>No guid here</title>
    <link>https://blog.example/posts/3</link>
    <description>Plain &amp;lt;em&amp;gt;double&amp;lt;/em&amp;gt; escaped</description>
  </item>
  <item>
    <title>Neither guid nor link</title>
    <pubDate>not a date</pubDate>
  </item>
</channel>
</rss>
"#;

#[test]
fn rss_items_are_decoded() {
    let decoded = decode(RSS);
    assert!(decoded.failures.is_empty(), "{:?}", decoded.failures);
    assert_eq!(
        texts(&decoded),
        [
            "Fibre & you\nShort version: speed.",
            "CDATA post\nFull & longer text",
            "No guid here\nPlain double escaped",
            "Neither guid nor link",
        ]
    );
    let first = &decoded.posts[0].post;
    assert_eq!(
        first.id.as_str(),
        "feed:https://blog.example/#blog.example:post:1"
    );
    assert_eq!(first.url.as_deref(), Some("https://blog.example/posts/1"));
    assert_eq!(first.lang.as_deref(), Some("en-gb"));
    assert_eq!(first.author.name.as_deref(), Some("R. Ortiz"));
    assert!(first.author.maven.blog_author);
    assert_eq!(first.created_at.to_rfc3339(), "2026-11-20T10:15:00+00:00");
    assert_eq!(first.engagement.replies, Some(4));
    assert_eq!(decoded.posts[0].line, 8);

    let second = &decoded.posts[1].post;
    assert_eq!(second.url.as_deref(), Some("https://blog.example/posts/2"));
    assert_eq!(second.author.name.as_deref(), Some("Ed Itor"));
    assert_eq!(second.created_at.to_rfc3339(), "2026-11-20T11:00:00+00:00");
}

#[test]
fn items_without_guid_are_keyed_by_link_then_title_and_date() {
    let decoded = decode(RSS);
    assert_eq!(
        decoded.posts[2].post.id.as_str(),
        "feed:https://blog.example/#https://blog.example/posts/3"
    );
    let hashed = &decoded.posts[3];
    assert!(
        hashed.key.starts_with("https://blog.example/#h"),
        "{}",
        hashed.key
    );
    // The date was malformed: the post falls back to the time it was observed.
    assert_eq!(hashed.post.created_at, now());
    // The hash ignores the content, so an edited body keeps the id.
    let edited = RSS.replace(
        "<title>Neither guid nor link</title>",
        "<title>Neither guid nor link</title><description>edited</description>",
    );
    assert_eq!(decode(&edited).posts[3].post.id, hashed.post.id);
    // The author falls back to the feed.
    assert_eq!(hashed.post.author.name.as_deref(), Some("Lumio & friends"));
}

#[test]
fn feeds_without_a_link_are_namespaced_by_file() {
    let decoded =
        decode("<rss><channel><item><title>t</title><guid>g1</guid></item></channel></rss>");
    assert_eq!(decoded.posts[0].post.id.as_str(), "feed:feed/test.xml#g1");
    assert_eq!(decoded.posts[0].post.url, None);
}

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0" xml:lang="en">
  <title type="text">Forum</title>
  <link rel="self" href="https://forum.example/feed.atom"/>
  <link rel="alternate" href="https://forum.example/"/>
  <author><name>Forum team</name></author>
  <updated>2026-11-20T11:00:00Z</updated>
  <id>urn:uuid:feed</id>
  <entry xml:lang="fr">
    <title>Panne &amp; coupure</title>
    <id>tag:forum.example,2026:1</id>
    <link rel="alternate" href="https://forum.example/t/1"/>
    <link rel="replies" href="https://forum.example/t/1/replies"/>
    <published>2026-11-20T10:00:00+01:00</published>
    <updated>2026-11-20T10:30:00Z</updated>
    <author><name>Zoé</name><uri>https://forum.example/u/zoe</uri></author>
    <content type="html">&lt;p&gt;Plus de r&amp;eacute;seau&lt;/p&gt;</content>
  </entry>
  <entry>
    <title type="html">&lt;b&gt;Bold&lt;/b&gt; title</title>
    <id>tag:forum.example,2026:2</id>
    <updated>2026-11-20T10:45:00Z</updated>
    <thr:in-reply-to ref="tag:forum.example,2026:1"/>
    <summary>a &lt; b, plain</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>One &amp; <em>two</em></p><p>a &lt; b</p></div></content>
  </entry>
</feed>
"#;

#[test]
fn atom_entries_are_decoded() {
    let decoded = decode(ATOM);
    assert!(decoded.failures.is_empty(), "{:?}", decoded.failures);
    assert_eq!(
        texts(&decoded),
        [
            "Panne & coupure\nPlus de réseau",
            "Bold title\nOne & two\na < b"
        ]
    );
    let first = &decoded.posts[0].post;
    assert_eq!(
        first.id.as_str(),
        "feed:https://forum.example/#tag:forum.example,2026:1"
    );
    assert_eq!(first.url.as_deref(), Some("https://forum.example/t/1"));
    assert_eq!(first.lang.as_deref(), Some("fr"));
    assert_eq!(first.created_at.to_rfc3339(), "2026-11-20T09:00:00+00:00");
    assert_eq!(first.author.name.as_deref(), Some("Zoé"));
    assert_eq!(
        first.author.profile_url.as_deref(),
        Some("https://forum.example/u/zoe")
    );

    let second = &decoded.posts[1].post;
    assert_eq!(second.lang.as_deref(), Some("en"));
    assert_eq!(second.author.name.as_deref(), Some("Forum team"));
    assert_eq!(second.created_at.to_rfc3339(), "2026-11-20T10:45:00+00:00");
    assert_eq!(
        second.relation,
        Relation::Reply {
            parent: Some("tag:forum.example,2026:1".to_owned())
        }
    );
    assert_eq!(second.url, None);
}

#[test]
fn atom_text_summary_is_not_treated_as_html() {
    let decoded = decode(
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><title>x</title><summary>if a &lt;b&gt; c</summary></entry></feed>"#,
    );
    assert_eq!(texts(&decoded), ["x\nif a <b> c"]);
}

#[test]
fn external_entities_are_never_resolved() {
    let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY big "lots">]>
<rss><channel><item><guid>1</guid><title>t &xxe; &big;</title><description>d</description></item></channel></rss>"#;
    let decoded = decode(xxe);
    assert_eq!(texts(&decoded), ["t &xxe; &big;\nd"]);
}

#[test]
fn malformed_xml_keeps_earlier_items_and_names_the_line() {
    let broken = "<rss><channel>\n<item><guid>1</guid><title>ok</title></item>\n<item><guid>2</guid><title>bad</tilte></item>\n</channel></rss>";
    let decoded = decode(broken);
    assert_eq!(texts(&decoded), ["ok"]);
    assert_eq!(decoded.failures.len(), 1);
    assert_eq!(decoded.failures[0].line, 3);
    assert_eq!(decoded.failures[0].file, "feed/test.xml");
}

#[test]
fn items_with_no_text_or_no_key_are_failures() {
    let decoded = decode(
        "<rss><channel><item><guid>1</guid></item><item><description>d</description></item></channel></rss>",
    );
    assert!(decoded.posts.is_empty());
    assert_eq!(decoded.failures.len(), 2);
}

#[test]
fn odd_documents_never_panic() {
    let inputs = [
        "",
        "   ",
        "not xml at all",
        "<html><body>hi</body></html>",
        "<rss>",
        "<rss><channel><item><title>t</title>",
        "<feed><entry><id>1</id><title>t</title></entry>",
        "<rss><channel><item><title>&#0;&#xD800;&unknown;&</title><guid>&amp;</guid></item></channel></rss>",
        "\u{feff}<rss/>",
        "<?xml version=\"1.0\"?><!-- only a comment -->",
        "<a:rss xmlns:a=\"x\"><a:channel/></a:rss>",
    ];
    for input in inputs {
        let decoded = decode(input);
        assert!(
            decoded.posts.len() + decoded.failures.len() <= 2,
            "{input}: {:?}",
            decoded.failures
        );
    }
    assert_eq!(decode("").failures.len(), 1);
    assert_eq!(decode("<html/>").failures.len(), 1);
    assert_eq!(
        decode("<rss><channel><item><title>t</title>")
            .failures
            .len(),
        1
    );
}
