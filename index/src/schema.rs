//! The versioned tantivy schema, and the one mapping from [`AnalysedPost`] to a document.
//!
//! Promises:
//! * every index directory holds [`VERSION_FILE`] with the [`SCHEMA_VERSION`] it was created
//!   with, written before the index itself; opening a directory of an unknown version, or a
//!   tantivy index without that file, is [`IndexError::SchemaMismatch`], never a silent
//!   misread;
//! * directories of schema version 1 open as they are: version 2 only stopped writing
//!   fields nothing read (`followers`, `source`, `language`, `sentiment`,
//!   `sentiment_score`, and the stored copy of `created`; the facets and the stored post
//!   hold the same facts), so new posts leave them empty and every search works alike;
//! * `to_document` is the only place a post becomes a document; the whole post is stored
//!   as JSON in the `doc` field, so a hit gives back exactly the post that was added;
//! * text and author are tokenized by [`TEXT_TOKENIZER`]: words, lowercased and ASCII-folded,
//!   so `Résiliation` matches `resiliation`.
//!
//! Facet paths in the `labels` field (the filters and facet counts of [`crate::search`]):
//! `/source/<source>`, `/lang/<code>`, `/sentiment/<label>`, `/brand/<brand>`,
//! `/axis/<axis>/<category>` and `/influence/<kind>` (`connector`, `maven`: the author's
//! influence badges when the post was analysed).

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use nlp::AnalysedPost;
use serde::{Deserialize, Serialize};
use tantivy::directory::Directory;
use tantivy::directory::error::OpenReadError;
use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED,
    STRING, Schema, SchemaBuilder, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{Index, IndexSettings, TantivyDocument, Term};

use crate::error::IndexError;

/// Version of the schema below. Bump it whenever a field, its options or the tokenizer
/// change: older directories are then refused instead of misread, unless
/// this module still knows how to read them (`schema_of_version`).
pub const SCHEMA_VERSION: u32 = 2;

/// Name of the file, in the index directory, that records the schema version.
pub const VERSION_FILE: &str = "veille-index.json";

/// Name under which the text analyzer is registered on every opened index.
pub const TEXT_TOKENIZER: &str = "veille_text";

/// Words longer than this (in bytes) are not indexed (URLs glued to text, base64...).
const MAX_TOKEN_BYTES: usize = 40;

/// Facet roots of the `labels` field.
pub(crate) const FACET_SOURCE: &str = "source";
pub(crate) const FACET_LANGUAGE: &str = "lang";
pub(crate) const FACET_SENTIMENT: &str = "sentiment";
pub(crate) const FACET_BRAND: &str = "brand";
pub(crate) const FACET_AXIS: &str = "axis";
pub(crate) const FACET_INFLUENCE: &str = "influence";

/// The fields of the schema, resolved once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub(crate) id: Field,
    pub(crate) text: Field,
    pub(crate) author: Field,
    pub(crate) created: Field,
    pub(crate) labels: Field,
    pub(crate) doc: Field,
}

/// Builds the schema of [`SCHEMA_VERSION`].
pub(crate) fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let fields = add_fields(&mut builder);
    (builder.build(), fields)
}

/// The schema of an index directory of `version`, if this build reads that version.
pub(crate) fn schema_of_version(version: u32) -> Option<Schema> {
    let mut builder = Schema::builder();
    match version {
        SCHEMA_VERSION => {
            add_fields(&mut builder);
        }
        1 => {
            // Version 1, in its field order: the fields of today with a stored `created`,
            // and five fields written but never read since.
            let text_options = text_options();
            builder.add_text_field("id", STRING | STORED);
            builder.add_text_field("text", text_options.clone());
            builder.add_text_field("author", text_options);
            builder.add_u64_field("followers", FAST | STORED | INDEXED);
            builder.add_date_field("created", date_options().set_stored());
            builder.add_text_field("source", STRING | FAST);
            builder.add_text_field("language", STRING | FAST);
            builder.add_text_field("sentiment", STRING | FAST);
            builder.add_f64_field("sentiment_score", FAST);
            builder.add_facet_field("labels", FacetOptions::default());
            builder.add_text_field("doc", STORED);
        }
        _ => return None,
    }
    Some(builder.build())
}

/// The fields of [`SCHEMA_VERSION`], in order.
fn add_fields(builder: &mut SchemaBuilder) -> Fields {
    let text_options = text_options();
    Fields {
        id: builder.add_text_field("id", STRING | STORED),
        text: builder.add_text_field("text", text_options.clone()),
        author: builder.add_text_field("author", text_options),
        created: builder.add_date_field("created", date_options()),
        labels: builder.add_facet_field("labels", FacetOptions::default()),
        doc: builder.add_text_field("doc", STORED),
    }
}

/// Text and author: words with positions, through [`TEXT_TOKENIZER`].
fn text_options() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TEXT_TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

/// `created`: indexed (retention's range deletes, time windows of text searches) and fast
/// (time windows and newest-first order of feeds), to the microsecond.
fn date_options() -> DateOptions {
    DateOptions::default()
        .set_indexed()
        .set_fast()
        .set_precision(DateTimePrecision::Microseconds)
}

/// Resolves the fields of an opened index.
pub(crate) fn resolve_fields(schema: &Schema) -> Result<Fields, IndexError> {
    let field = |name: &str| {
        schema
            .get_field(name)
            .map_err(IndexError::tantivy("resolving schema fields"))
    };
    Ok(Fields {
        id: field("id")?,
        text: field("text")?,
        author: field("author")?,
        created: field("created")?,
        labels: field("labels")?,
        doc: field("doc")?,
    })
}

/// Contents of [`VERSION_FILE`].
#[derive(Debug, Serialize, Deserialize)]
struct VersionFile {
    schema_version: u32,
}

/// Opens the index in `directory`, or creates it there, after checking its schema version.
///
/// `location` only names the directory in errors. The version file is written through the
/// raw directory, so tantivy's garbage collection never sees (nor deletes) it.
pub(crate) fn open_or_create<D>(
    directory: D,
    location: &Path,
) -> Result<(Index, Fields), IndexError>
where
    D: Directory + Clone,
{
    let version_path = Path::new(VERSION_FILE);
    let found = match directory.atomic_read(version_path) {
        Ok(bytes) => {
            let file: VersionFile =
                serde_json::from_slice(&bytes).map_err(|source| IndexError::Corrupt {
                    what: format!("{VERSION_FILE} in {}", location.display()),
                    source,
                })?;
            Some(file.schema_version)
        }
        Err(OpenReadError::FileDoesNotExist(_)) => None,
        Err(error) => {
            return Err(IndexError::Tantivy {
                context: "reading the schema version file",
                source: error.into(),
            });
        }
    };
    let index_exists = Index::exists(&directory).map_err(|error| IndexError::Tantivy {
        context: "looking for an existing index",
        source: error.into(),
    })?;
    let mismatch = |found| IndexError::SchemaMismatch {
        found,
        expected: SCHEMA_VERSION,
        path: location.to_path_buf(),
    };
    // The schema a directory of the version found must have: a version this build does
    // not read is refused, index or not.
    let expected = match found {
        Some(version) => Some(schema_of_version(version).ok_or_else(|| mismatch(found))?),
        None => None,
    };
    let index = if index_exists {
        let Some(expected) = expected else {
            return Err(mismatch(None));
        };
        let index = Index::open(directory).map_err(IndexError::tantivy("opening the index"))?;
        if index.schema() != expected {
            // Same version, other fields: the schema changed without a version bump.
            return Err(mismatch(found));
        }
        index
    } else {
        // No index yet (a version file alone is a creation cut short): today's schema.
        let version = serde_json::to_vec(&VersionFile {
            schema_version: SCHEMA_VERSION,
        })
        .map_err(|source| IndexError::Encode {
            what: VERSION_FILE.to_string(),
            source,
        })?;
        directory
            .atomic_write(version_path, &version)
            .map_err(|source| IndexError::Io {
                path: location.join(VERSION_FILE),
                source,
            })?;
        Index::create(directory, build_schema().0, IndexSettings::default())
            .map_err(IndexError::tantivy("creating the index"))?
    };
    register_tokenizer(&index);
    let fields = resolve_fields(&index.schema())?;
    Ok((index, fields))
}

/// Registers [`TEXT_TOKENIZER`]: words, without very long ones, lowercased, ASCII-folded.
pub(crate) fn register_tokenizer(index: &Index) {
    let analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build();
    index.tokenizers().register(TEXT_TOKENIZER, analyzer);
}

/// Converts a timestamp to tantivy's, at the microsecond precision of the `created` field.
pub(crate) fn to_tantivy_date(at: DateTime<Utc>) -> tantivy::DateTime {
    tantivy::DateTime::from_timestamp_micros(at.timestamp_micros())
}

/// The facet of a source, language, sentiment or brand: `/<root>/<value>`.
pub(crate) fn label_facet(root: &str, value: &str) -> tantivy::schema::Facet {
    tantivy::schema::Facet::from_path([root, value])
}

/// The facet of a category on an axis: `/axis/<axis>/<category>`.
pub(crate) fn category_facet(axis: &str, category: &str) -> tantivy::schema::Facet {
    tantivy::schema::Facet::from_path([FACET_AXIS, axis, category])
}

/// The term that identifies a post (the delete/upsert key).
pub(crate) fn id_term(fields: &Fields, id: &str) -> Term {
    Term::from_field_text(fields.id, id)
}

/// Maps a post to its document: the one place this mapping lives.
pub(crate) fn to_document(
    fields: &Fields,
    analysed: &AnalysedPost,
) -> Result<TantivyDocument, IndexError> {
    let post = &analysed.post;
    let analysis = &analysed.analysis;
    let stored = serde_json::to_string(analysed).map_err(|source| IndexError::Encode {
        what: format!("post {}", post.id),
        source,
    })?;

    let mut document = TantivyDocument::default();
    document.add_text(fields.id, post.id.as_str());
    document.add_text(fields.text, &post.text);
    let author: Vec<&str> = [post.author.handle.as_deref(), post.author.name.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    document.add_text(fields.author, author.join(" "));
    document.add_date(fields.created, to_tantivy_date(post.created_at));

    document.add_facet(
        fields.labels,
        label_facet(FACET_SOURCE, post.source.as_str()),
    );
    document.add_facet(
        fields.labels,
        label_facet(FACET_LANGUAGE, &analysis.language),
    );
    let sentiment = analysis.sentiment.label.as_str();
    document.add_facet(fields.labels, label_facet(FACET_SENTIMENT, sentiment));
    // A brand matched by two aliases, or a category listed twice, is one label.
    let brands: BTreeSet<&str> = analysis.brands.iter().map(|m| m.brand.as_str()).collect();
    for brand in brands {
        document.add_facet(fields.labels, label_facet(FACET_BRAND, brand));
    }
    for (axis, categories) in &analysis.categories {
        let categories: BTreeSet<&str> = categories.iter().map(String::as_str).collect();
        for category in categories {
            document.add_facet(fields.labels, category_facet(axis, category));
        }
    }
    let kinds: BTreeSet<&str> = analysis.influence.iter().map(|b| b.kind.as_str()).collect();
    for kind in kinds {
        document.add_facet(fields.labels, label_facet(FACET_INFLUENCE, kind));
    }
    document.add_text(fields.doc, stored);
    Ok(document)
}

/// Reads back the post stored in a document.
pub(crate) fn from_document(
    fields: &Fields,
    document: &TantivyDocument,
) -> Result<AnalysedPost, IndexError> {
    let id = document
        .get_first(fields.id)
        .and_then(|value| value.as_str())
        .unwrap_or("<no id>");
    let Some(stored) = document
        .get_first(fields.doc)
        .and_then(|value| value.as_str())
    else {
        return Err(IndexError::Corrupt {
            what: format!("stored document {id}: no `doc` field"),
            source: <serde_json::Error as serde::de::Error>::custom("missing field"),
        });
    };
    serde_json::from_str(stored).map_err(|source| IndexError::Corrupt {
        what: format!("stored post {id}"),
        source,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use collector::{Author, Post, PostId, SourceKind};
    use nlp::{Analysis, BrandMatch, Sentiment, SentimentLabel};
    use tantivy::directory::RamDirectory;

    use super::*;

    /// A post about `brand` with the given text, sentiment and categories, for tests.
    pub(crate) fn analysed(
        key: &str,
        text: &str,
        sentiment: SentimentLabel,
        categories: &[(&str, &str)],
    ) -> AnalysedPost {
        let created = Utc
            .with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
            .single()
            .expect("valid date");
        let mut by_axis: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (axis, category) in categories {
            by_axis
                .entry((*axis).to_string())
                .or_default()
                .push((*category).to_string());
        }
        AnalysedPost {
            post: Post {
                id: PostId::new(SourceKind::Mastodon, key),
                source: SourceKind::Mastodon,
                url: None,
                text: text.to_string(),
                lang: Some("fr".into()),
                created_at: created,
                observed_at: created,
                author: Author {
                    id: "42".into(),
                    handle: Some("@claire".into()),
                    name: Some("Claire Dupont".into()),
                    followers: Some(1200),
                    ..Author::default()
                },
                relation: Default::default(),
                engagement: Default::default(),
                change: Default::default(),
            },
            analysis: Analysis {
                language: "fr".into(),
                brands: vec![BrandMatch {
                    brand: "Acme Telecom".into(),
                    matched: "acme".into(),
                }],
                categories: by_axis,
                sentiment: Sentiment {
                    label: sentiment,
                    score: -0.5,
                },
                intents: vec![],
                privacy: Default::default(),
                influence: vec![],
            },
        }
    }

    #[test]
    fn document_round_trips_the_post() {
        let (_, fields) = build_schema();
        let post = analysed("1", "Résiliation !", SentimentLabel::Negative, &[]);
        let document = to_document(&fields, &post).expect("maps");
        assert_eq!(from_document(&fields, &document).expect("decodes"), post);
    }

    #[test]
    fn new_directory_gets_a_version_file() {
        let directory = RamDirectory::create();
        open_or_create(directory.clone(), Path::new("<ram>")).expect("creates");
        let bytes = directory
            .atomic_read(Path::new(VERSION_FILE))
            .expect("version file written");
        let file: VersionFile = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(file.schema_version, SCHEMA_VERSION);
        // Reopening the same directory works.
        open_or_create(directory, Path::new("<ram>")).expect("reopens");
    }

    #[test]
    fn other_version_is_a_schema_mismatch() {
        let directory = RamDirectory::create();
        open_or_create(directory.clone(), Path::new("<ram>")).expect("creates");
        directory
            .atomic_write(Path::new(VERSION_FILE), br#"{"schema_version":99}"#)
            .expect("write");
        let error = open_or_create(directory, Path::new("<ram>")).expect_err("refused");
        assert!(
            matches!(
                error,
                IndexError::SchemaMismatch {
                    found: Some(99),
                    expected: SCHEMA_VERSION,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn foreign_tantivy_index_is_a_schema_mismatch() {
        let directory = RamDirectory::create();
        let mut builder = Schema::builder();
        builder.add_text_field("title", STRING);
        Index::create(directory.clone(), builder.build(), IndexSettings::default())
            .expect("foreign index");
        let error = open_or_create(directory, Path::new("<ram>")).expect_err("refused");
        assert!(
            matches!(error, IndexError::SchemaMismatch { found: None, .. }),
            "{error:?}"
        );
    }

    /// The schema of a directory that a version 1 build created (its `meta.json`).
    const VERSION_1_SCHEMA: &str = r#"[{"name":"id","type":"text","options":{"indexing":{"record":"basic","fieldnorms":true,"tokenizer":"raw"},"stored":true,"fast":false}},{"name":"text","type":"text","options":{"indexing":{"record":"position","fieldnorms":true,"tokenizer":"veille_text"},"stored":false,"fast":false}},{"name":"author","type":"text","options":{"indexing":{"record":"position","fieldnorms":true,"tokenizer":"veille_text"},"stored":false,"fast":false}},{"name":"followers","type":"u64","options":{"indexed":true,"fieldnorms":true,"fast":true,"stored":true}},{"name":"created","type":"date","options":{"indexed":true,"fieldnorms":false,"fast":true,"stored":true,"precision":"microseconds"}},{"name":"source","type":"text","options":{"indexing":{"record":"basic","fieldnorms":true,"tokenizer":"raw"},"stored":false,"fast":true}},{"name":"language","type":"text","options":{"indexing":{"record":"basic","fieldnorms":true,"tokenizer":"raw"},"stored":false,"fast":true}},{"name":"sentiment","type":"text","options":{"indexing":{"record":"basic","fieldnorms":true,"tokenizer":"raw"},"stored":false,"fast":true}},{"name":"sentiment_score","type":"f64","options":{"indexed":false,"fieldnorms":false,"fast":true,"stored":false}},{"name":"labels","type":"facet","options":{"stored":false}},{"name":"doc","type":"text","options":{"stored":true,"fast":false}}]"#;

    #[test]
    fn the_version_1_schema_is_the_one_version_1_builds_wrote() {
        let schema = schema_of_version(1).expect("version 1 is read");
        let written: Schema = serde_json::from_str(VERSION_1_SCHEMA).expect("schema json");
        assert_eq!(schema, written);
        assert_ne!(schema, build_schema().0);
        assert_eq!(schema_of_version(SCHEMA_VERSION), Some(build_schema().0));
        assert_eq!(schema_of_version(SCHEMA_VERSION + 1), None);
    }
}
