//! Tests of [`PostWriter`]: upsert, deletion, checkpoints in commit payloads, crash
//! recovery, retention and locking.

use chrono::{TimeDelta, TimeZone};
use collector::Post;
use nlp::SentimentLabel;
use serde_json::json;
use tantivy::directory::RamDirectory;

use super::*;
use crate::schema::tests::analysed;
use crate::search::SearchQuery;

fn checkpoint(source: &str, position: u64) -> Checkpoint {
    Checkpoint {
        source: source.to_string(),
        cursor: json!({ "v": 1, "since_id": position }),
    }
}

fn post(key: &str, text: &str) -> AnalysedPost {
    analysed(key, text, SentimentLabel::Neutral, &[])
}

fn reopen(directory: &RamDirectory) -> (PostWriter, SearchIndex) {
    PostWriter::open_directory(directory.clone(), Path::new("<ram>")).expect("opens")
}

#[test]
fn adding_the_same_id_twice_stores_it_once() {
    let (mut writer, search) = PostWriter::open_in_ram().expect("opens");
    let first = post("1", "first version");
    let second = post("1", "edited version");
    writer.add(&first).expect("add");
    writer.add(&second).expect("add again");
    assert_eq!(writer.pending(), 2);
    writer.commit(CommitTrigger::DocLimit).expect("commit");
    assert_eq!(writer.pending(), 0);

    assert_eq!(search.count().expect("count"), 1);
    assert_eq!(search.ids().expect("ids"), vec!["mastodon:1".to_string()]);
    let stored = search.get(&first.post.id).expect("get").expect("stored");
    assert_eq!(stored.post.text, "edited version");

    // Re-delivery in a later commit is idempotent too.
    writer.add(&second).expect("re-delivery");
    writer.commit(CommitTrigger::Timeout).expect("commit");
    assert_eq!(search.ids().expect("ids"), vec!["mastodon:1".to_string()]);
}

#[test]
fn delete_removes_the_post_from_search() {
    let (mut writer, search) = PostWriter::open_in_ram().expect("opens");
    let kept = post("1", "facture incorrecte");
    let removed = post("2", "facture en retard");
    writer.add(&kept).expect("add");
    writer.add(&removed).expect("add");
    writer.commit(CommitTrigger::DocLimit).expect("commit");

    writer.delete(&removed.post.id).expect("delete");
    // Not visible before the commit.
    assert_eq!(search.count().expect("count"), 2);
    writer.commit(CommitTrigger::Timeout).expect("commit");

    let query = SearchQuery {
        text: Some("facture".into()),
        ..SearchQuery::default()
    };
    let results = search.search(&query).expect("search");
    let ids: Vec<&str> = results.hits.iter().map(|hit| hit.id.as_str()).collect();
    assert_eq!(ids, ["mastodon:1"]);
    assert_eq!(search.get(&removed.post.id).expect("get"), None);
}

#[test]
fn a_deletion_tombstone_removes_the_stored_post() {
    let (mut writer, search) = PostWriter::open_in_ram().expect("opens");
    let original = post("1", "message regretté");
    writer.add(&original).expect("add");
    writer.commit(CommitTrigger::DocLimit).expect("commit");

    let mut tombstone = original.clone();
    tombstone.post = Post::deletion(
        original.post.id.clone(),
        original.post.source,
        original.post.created_at,
    );
    writer.add(&tombstone).expect("tombstone");
    writer.commit(CommitTrigger::DocLimit).expect("commit");
    assert_eq!(search.count().expect("count"), 0);
}

#[test]
fn checkpoints_round_trip_through_the_commit_payload() {
    let directory = RamDirectory::create();
    {
        let (mut writer, _) = reopen(&directory);
        assert!(writer.committed_checkpoints().is_empty());
        writer.add(&post("1", "bonjour")).expect("add");
        writer.stage_checkpoint(checkpoint("mastodon-main", 10));
        writer.stage_checkpoint(checkpoint("feed-blog", 3));
        writer.commit(CommitTrigger::InputClosed).expect("commit");
    }
    let (mut writer, search) = reopen(&directory);
    assert_eq!(search.count().expect("count"), 1);
    let committed = writer.committed_checkpoints();
    assert_eq!(committed.len(), 2);
    assert_eq!(committed["mastodon-main"], checkpoint("mastodon-main", 10));
    assert_eq!(committed["feed-blog"], checkpoint("feed-blog", 3));

    // A checkpoint alone is worth a commit, and merges over the committed ones.
    writer.stage_checkpoint(checkpoint("mastodon-main", 11));
    writer.commit(CommitTrigger::Timeout).expect("commit");
    drop(writer);
    let (writer, _) = reopen(&directory);
    let committed = writer.committed_checkpoints();
    assert_eq!(committed["mastodon-main"], checkpoint("mastodon-main", 11));
    assert_eq!(committed["feed-blog"], checkpoint("feed-blog", 3));
}

#[test]
fn a_crash_before_commit_loses_posts_and_their_checkpoint_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index_dir = dir.path().join("index");
    {
        let (mut writer, _) = PostWriter::open(&index_dir).expect("opens");
        writer.add(&post("1", "committed")).expect("add");
        writer.stage_checkpoint(checkpoint("mastodon-main", 1));
        writer.commit(CommitTrigger::DocLimit).expect("commit");

        writer.add(&post("2", "never committed")).expect("add");
        writer.stage_checkpoint(checkpoint("mastodon-main", 2));
        // The process dies here: the writer is dropped without a commit.
    }
    let (writer, search) = PostWriter::open(&index_dir).expect("reopens");
    assert_eq!(search.ids().expect("ids"), vec!["mastodon:1".to_string()]);
    assert_eq!(
        writer.committed_checkpoints()["mastodon-main"],
        checkpoint("mastodon-main", 1),
        "the checkpoint never passes an uncommitted post"
    );
}

#[test]
fn commit_without_work_is_a_no_op() {
    let directory = RamDirectory::create();
    let (mut writer, _) = reopen(&directory);
    writer.commit(CommitTrigger::Timeout).expect("no-op");
    let metas = tantivy::Index::open(directory.clone())
        .expect("index")
        .load_metas()
        .expect("metas");
    assert_eq!(metas.payload, None, "nothing was committed");
}

#[test]
fn retention_deletes_old_posts_only() {
    let (mut writer, search) = PostWriter::open_in_ram().expect("opens");
    let now = Utc
        .with_ymd_and_hms(2025, 6, 30, 12, 0, 0)
        .single()
        .expect("valid date");
    let mut old = post("old", "ancien message");
    old.post.created_at = now - TimeDelta::days(40);
    let mut edge = post("edge", "message limite");
    edge.post.created_at = now - TimeDelta::days(30);
    let mut recent = post("recent", "message récent");
    recent.post.created_at = now - TimeDelta::days(2);
    for analysed_post in [&old, &edge, &recent] {
        writer.add(analysed_post).expect("add");
    }
    writer.commit(CommitTrigger::DocLimit).expect("commit");

    writer
        .delete_older_than(retention::cutoff(now, 30))
        .expect("retention");
    writer.commit(CommitTrigger::Retention).expect("commit");
    let mut ids = search.ids().expect("ids");
    ids.sort();
    assert_eq!(ids, ["mastodon:edge", "mastodon:recent"]);
}

#[test]
fn a_second_writer_on_the_same_directory_is_locked_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_writer, _) = PostWriter::open(dir.path()).expect("opens");
    let Err(error) = PostWriter::open(dir.path()) else {
        panic!("a second writer must be refused");
    };
    assert!(matches!(error, IndexError::Locked { .. }), "{error:?}");
}

#[test]
fn opening_a_directory_of_another_schema_version_fails_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (mut writer, _) = PostWriter::open(dir.path()).expect("opens");
        writer.add(&post("1", "x")).expect("add");
        writer.commit(CommitTrigger::InputClosed).expect("commit");
    }
    let version_file = dir.path().join(crate::schema::VERSION_FILE);
    std::fs::write(&version_file, r#"{"schema_version":3}"#).expect("write");
    let Err(error) = PostWriter::open(dir.path()) else {
        panic!("another schema version must be refused");
    };
    assert!(
        matches!(
            error,
            IndexError::SchemaMismatch {
                found: Some(3),
                expected: 2,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("schema version 3"));

    std::fs::remove_file(&version_file).expect("remove");
    let Err(error) = PostWriter::open(dir.path()) else {
        panic!("an index without version file must be refused");
    };
    assert!(
        matches!(error, IndexError::SchemaMismatch { found: None, .. }),
        "{error:?}"
    );
}

#[test]
fn undecodable_payload_is_corrupt() {
    let error = decode_payload(Some("not json"), Path::new("<ram>")).expect_err("corrupt");
    assert!(matches!(error, IndexError::Corrupt { .. }), "{error:?}");
    assert!(
        decode_payload(None, Path::new("<ram>"))
            .expect("empty")
            .is_empty()
    );
}

#[test]
fn a_schema_version_1_directory_keeps_its_posts_and_takes_new_ones() {
    // A directory as version 1 made it: its schema, its version file, and a post written
    // with every field version 1 filled.
    let directory = RamDirectory::create();
    directory
        .atomic_write(
            Path::new(crate::schema::VERSION_FILE),
            br#"{"schema_version":1}"#,
        )
        .expect("version file");
    let old_schema = crate::schema::schema_of_version(1).expect("version 1 is read");
    let old_index = tantivy::Index::create(
        directory.clone(),
        old_schema.clone(),
        tantivy::IndexSettings::default(),
    )
    .expect("version 1 index");
    crate::schema::register_tokenizer(&old_index);
    let old_post = analysed(
        "1",
        "la facture est fausse",
        SentimentLabel::Negative,
        &[("topic", "billing")],
    );
    {
        let fields = crate::schema::resolve_fields(&old_schema).expect("version 1 fields");
        let mut document = crate::schema::to_document(&fields, &old_post).expect("document");
        document.add_u64(old_schema.get_field("followers").expect("followers"), 1200);
        document.add_text(old_schema.get_field("source").expect("source"), "mastodon");
        document.add_text(old_schema.get_field("language").expect("language"), "fr");
        document.add_text(
            old_schema.get_field("sentiment").expect("sentiment"),
            "negative",
        );
        document.add_f64(
            old_schema.get_field("sentiment_score").expect("score"),
            -0.8,
        );
        let mut writer: tantivy::IndexWriter<TantivyDocument> = old_index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        writer.add_document(document).expect("add");
        writer.commit().expect("commit");
    }

    let (mut writer, search) = reopen(&directory);
    let new_post = analysed(
        "2",
        "facture en retard",
        SentimentLabel::Negative,
        &[("topic", "billing")],
    );
    writer.add(&new_post).expect("add");
    writer.commit(CommitTrigger::DocLimit).expect("commit");

    let text = search
        .search(&SearchQuery {
            text: Some("facture".into()),
            ..SearchQuery::default()
        })
        .expect("text search");
    assert_eq!(text.total, 2);
    let feed = search
        .search(&SearchQuery {
            sentiment: Some(SentimentLabel::Negative),
            categories: vec![("topic".into(), "billing".into())],
            since: Some(old_post.post.created_at),
            ..SearchQuery::default()
        })
        .expect("filtered feed");
    let mut ids: Vec<&str> = feed.hits.iter().map(|hit| hit.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["mastodon:1", "mastodon:2"]);
    assert_eq!(search.get(&old_post.post.id).expect("get"), Some(old_post));
    // The directory stays a version 1 one: an older veille still opens it.
    let bytes = directory
        .atomic_read(Path::new(crate::schema::VERSION_FILE))
        .expect("version file");
    assert_eq!(bytes, br#"{"schema_version":1}"#);
}
