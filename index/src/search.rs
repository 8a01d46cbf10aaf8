//! [`SearchIndex`]: read side of the index, shared by every dashboard handler.
//!
//! In: a [`SearchQuery`] (free text in tantivy's query syntax over the post text and author,
//! plus filters). Out: [`SearchResults`]: the total number of matching posts, one page of
//! [`SearchHit`]s, and facet counts over *all* matching posts (not just the page).
//!
//! Promises:
//! * a search sees every post of the last commit: the writer reloads the reader right after
//!   committing (the reader never reloads by itself);
//! * a mistake in the user's text is [`IndexError::BadQuery`] with a readable reason, never a
//!   panic nor an internal error;
//! * hits are sorted by relevance when there is text, else newest first (`created`
//!   descending); words are combined with AND unless the text says `OR`.
//!
//! How: a search with text runs its query once with `TopDocs` and a collector of the
//! matches as bitsets (module `match_bits`); a search without text (filters only: the
//! dashboard's feeds) ANDs the filters' bitsets (module `filter_search`). Either way the
//! total and the facet counts are population counts of the matches, and of the matches AND
//! each value's bitset (module `facet_tally`), kept across searches for the values many
//! posts carry (module `label_bits`).
//!
//! The API is blocking (tantivy is synchronous): async callers wrap it in `spawn_blocking`.
//! [`SearchIndex`] is cheap to clone, `Send` and `Sync`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use collector::{PostId, SourceKind};
use nlp::{AnalysedPost, SentimentLabel};
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, QueryParserError,
    RangeQuery, TermQuery,
};
use tantivy::schema::{Facet, IndexRecordOption, Value};
use tantivy::{DocAddress, Index, IndexReader, ReloadPolicy, Searcher, TantivyDocument, Term};

use crate::error::IndexError;
use crate::facet_tally::{self, ChildCounts, SegmentMatches};
use crate::filter_search;
use crate::label_bits::{self, LabelBits};
use crate::match_bits::MatchBits;
use crate::schema::{
    self, FACET_AXIS, FACET_BRAND, FACET_LANGUAGE, FACET_SENTIMENT, FACET_SOURCE, Fields,
};

/// Largest page a search may ask for.
pub const MAX_LIMIT: usize = 1000;
/// Deepest a search may page (limit + offset).
pub const MAX_DEPTH: usize = 100_000;

/// What to look for. Every given filter must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchQuery {
    /// Free text in tantivy's query syntax over text and author (`"phrase"`, `-word`,
    /// `a OR b`, `author:claire`); empty or absent means every post.
    pub text: Option<String>,
    pub sentiment: Option<SentimentLabel>,
    pub source: Option<SourceKind>,
    /// Language code as the NLP stage wrote it (`en`, `fr`, `und`).
    pub language: Option<String>,
    /// Brand name as configured.
    pub brand: Option<String>,
    /// `(axis, category)` pairs; a post must be in all of them.
    pub categories: Vec<(String, String)>,
    /// Influence badge kind (`connector`, `maven`) the post's author had.
    pub influence: Option<String>,
    /// Posts created at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Posts created strictly before this time.
    pub until: Option<DateTime<Utc>>,
    /// Page size, at most [`MAX_LIMIT`]; 0 returns only the total and the facets.
    pub limit: usize,
    pub offset: usize,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            text: None,
            sentiment: None,
            source: None,
            language: None,
            brand: None,
            categories: Vec::new(),
            influence: None,
            since: None,
            until: None,
            limit: 20,
            offset: 0,
        }
    }
}

/// One post found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub id: String,
    /// Relevance (BM25) when the query had text; 0 when sorted by date.
    pub score: f32,
    pub post: AnalysedPost,
}

/// How many matching posts carry one facet value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// The answer to a [`SearchQuery`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SearchResults {
    /// Number of matching posts (all pages).
    pub total: usize,
    pub hits: Vec<SearchHit>,
    /// `sentiment`, `source`, `language`, `brand`, then one key per axis name seen among the
    /// matching posts; values sorted by count, highest first. Counts cover every match.
    /// (An axis named like a fixed key would replace it: axis names must differ from them.)
    pub facets: BTreeMap<String, Vec<FacetCount>>,
}

/// Read access to the index. Cheap to clone; clones share the reader.
#[derive(Clone)]
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// Bitsets of the label terms, for searches without text.
    bits: Arc<LabelBits>,
}

/// Threads one search may use, at most (one per core up to this).
const MAX_SEARCH_THREADS: usize = 4;

impl SearchIndex {
    pub(crate) fn new(index: Index, fields: Fields) -> Result<SearchIndex, IndexError> {
        SearchIndex::with_policy(index, fields, ReloadPolicy::Manual)
    }

    /// The read side of the index that a [`crate::PostWriter`] in another process writes
    /// in `dir`: it sees each of that writer's commits shortly after it lands (tantivy
    /// watches the commit file). `Ok(None)` while there is no index in `dir` yet.
    pub fn open_follower(dir: &std::path::Path) -> Result<Option<SearchIndex>, IndexError> {
        // The version file is written before the index: wait for both.
        if !dir.join(crate::schema::VERSION_FILE).exists() || !dir.join("meta.json").exists() {
            return Ok(None);
        }
        let directory =
            tantivy::directory::MmapDirectory::open(dir).map_err(|error| IndexError::Tantivy {
                context: "opening the index directory",
                source: error.into(),
            })?;
        let (index, fields) = crate::schema::open_or_create(directory, dir)?;
        SearchIndex::with_policy(index, fields, ReloadPolicy::OnCommitWithDelay).map(Some)
    }

    fn with_policy(
        mut index: Index,
        fields: Fields,
        policy: ReloadPolicy,
    ) -> Result<SearchIndex, IndexError> {
        // One search runs over the segments on every core (each collector merges its
        // per-segment results), so a large index answers in a fraction of the time.
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        if cores > 1 {
            index
                .set_multithread_executor(cores.min(MAX_SEARCH_THREADS))
                .map_err(IndexError::tantivy("starting the search threads"))?;
        }
        let reader = index
            .reader_builder()
            .reload_policy(policy)
            .try_into()
            .map_err(IndexError::tantivy("opening the index reader"))?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
            bits: Arc::new(LabelBits::new(label_bits::DEFAULT_BUDGET)),
        })
    }

    /// Makes the last commit visible to searches. The writer calls it after each commit.
    pub fn reload(&self) -> Result<(), IndexError> {
        self.reader
            .reload()
            .map_err(IndexError::tantivy("reloading the index reader"))
    }

    /// Runs a search: one page of hits, the total and facet counts over every match.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchResults, IndexError> {
        if query.limit > MAX_LIMIT {
            return Err(IndexError::BadQuery(format!(
                "limit {} is above the maximum of {MAX_LIMIT}",
                query.limit
            )));
        }
        if query.offset.saturating_add(query.limit) > MAX_DEPTH {
            return Err(IndexError::BadQuery(format!(
                "offset {} is too deep: offset + limit may be at most {MAX_DEPTH}",
                query.offset
            )));
        }
        let searcher = self.reader.searcher();
        // The bitsets of segments merged away since the last search are dropped.
        let searched: Vec<_> = searcher
            .segment_readers()
            .iter()
            .map(tantivy::SegmentReader::segment_id)
            .collect();
        self.bits.retain(&searched);
        let axes = self.axis_names(&searcher)?;
        let parents = parents(&axes);
        // One pass over the matches (or their bitsets): count, page and facets together.
        let (total, hits, counts) = match self.parse_text(query.text.as_deref())? {
            Some(text_query) => {
                let combined = self.combine(Some(text_query), query);
                self.collect(&searcher, &combined, &parents, query)?
            }
            None => self.filter(&searcher, &parents, query)?,
        };
        Ok(SearchResults {
            total,
            hits,
            facets: facets(counts, axes),
        })
    }

    /// Number of live (searchable) posts.
    pub fn count(&self) -> Result<u64, IndexError> {
        Ok(self.reader.searcher().num_docs())
    }

    /// Every stored post id, duplicates included (there should be none).
    pub fn ids(&self) -> Result<Vec<String>, IndexError> {
        let searcher = self.reader.searcher();
        let mut ids = Vec::new();
        for (segment_ord, segment) in searcher.segment_readers().iter().enumerate() {
            let segment_ord = u32::try_from(segment_ord).unwrap_or(u32::MAX);
            for doc_id in segment.doc_ids_alive() {
                let document: TantivyDocument = searcher
                    .doc(DocAddress::new(segment_ord, doc_id))
                    .map_err(IndexError::tantivy("reading a stored post"))?;
                if let Some(id) = document.get_first(self.fields.id).and_then(|v| v.as_str()) {
                    ids.push(id.to_string());
                }
            }
        }
        Ok(ids)
    }

    /// The stored post with this id, if any.
    pub fn get(&self, id: &PostId) -> Result<Option<AnalysedPost>, IndexError> {
        let searcher = self.reader.searcher();
        let query = TermQuery::new(
            schema::id_term(&self.fields, id.as_str()),
            IndexRecordOption::Basic,
        );
        let found = searcher
            .search(&query, &TopDocs::with_limit(1))
            .map_err(IndexError::tantivy("looking up a post by id"))?;
        let Some((_, address)) = found.first() else {
            return Ok(None);
        };
        self.read_post(&searcher, *address).map(Some)
    }

    fn read_post(
        &self,
        searcher: &Searcher,
        address: DocAddress,
    ) -> Result<AnalysedPost, IndexError> {
        let document: TantivyDocument = searcher
            .doc(address)
            .map_err(IndexError::tantivy("reading a stored post"))?;
        schema::from_document(&self.fields, &document)
    }

    /// Parses the user's text; `None` when there is none.
    fn parse_text(&self, text: Option<&str>) -> Result<Option<Box<dyn Query>>, IndexError> {
        let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
            return Ok(None);
        };
        let mut parser =
            QueryParser::for_index(&self.index, vec![self.fields.text, self.fields.author]);
        parser.set_conjunction_by_default();
        let (parsed, errors) = parser.parse_query_lenient(text);
        if !errors.is_empty() {
            let mut reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
            if errors
                .iter()
                .any(|error| matches!(error, QueryParserError::FieldDoesNotExist(_)))
            {
                reasons.push(
                    "`word:` names a field (text, author...); put the text in quotes to search \
                     it as words"
                        .to_string(),
                );
            }
            return Err(IndexError::BadQuery(format!(
                "cannot understand search text {text:?}: {}",
                reasons.join("; ")
            )));
        }
        Ok(Some(parsed))
    }

    /// The text query (scored) and every filter (unscored), all required.
    fn combine(&self, text_query: Option<Box<dyn Query>>, query: &SearchQuery) -> Box<dyn Query> {
        let mut filters: Vec<Box<dyn Query>> = Vec::new();
        for facet in filter_facets(query) {
            let term = Term::from_facet(self.fields.labels, &facet);
            filters.push(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
        }
        if query.since.is_some() || query.until.is_some() {
            let bound = |at: Option<DateTime<Utc>>, inclusive: bool| match at {
                None => Bound::Unbounded,
                Some(at) => {
                    let term =
                        Term::from_field_date(self.fields.created, schema::to_tantivy_date(at));
                    if inclusive {
                        Bound::Included(term)
                    } else {
                        Bound::Excluded(term)
                    }
                }
            };
            let range = RangeQuery::new(bound(query.since, true), bound(query.until, false));
            filters.push(Box::new(range));
        }

        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(text_query) = text_query {
            clauses.push((Occur::Must, text_query));
        }
        for filter in filters {
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
        }
        if clauses.is_empty() {
            return Box::new(AllQuery);
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// Runs a query with text once with the collectors it needs (the page by relevance, the
    /// matches as bitsets), then counts the matches and the children of `parents` among
    /// them from the label bitsets.
    fn collect(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        parents: &[Facet],
        page: &SearchQuery,
    ) -> Result<Collected, IndexError> {
        // A page of 0 still needs a collector in the tuple: ask for one hit, keep none.
        let top = TopDocs::with_limit(page.limit.max(1)).and_offset(page.offset);
        let (scored, matches) = searcher
            .search(query, &(top, MatchBits))
            .map_err(IndexError::tantivy("searching"))?;
        let total = matches.iter().map(SegmentMatches::count).sum();
        let counts =
            facet_tally::count(searcher, &self.bits, self.fields.labels, parents, &matches)
                .map_err(IndexError::tantivy("counting facets"))?;
        let mut hits = Vec::with_capacity(page.limit);
        for (score, address) in scored.into_iter().take(page.limit) {
            hits.push(self.hit(searcher, address, score)?);
        }
        Ok((total, hits, counts))
    }

    /// Runs a search without text (filters only) on the label bitsets: newest first.
    fn filter(
        &self,
        searcher: &Searcher,
        parents: &[Facet],
        page: &SearchQuery,
    ) -> Result<Collected, IndexError> {
        let facets = filter_facets(page);
        let filters = filter_search::Filters {
            facets: &facets,
            since: page.since.map(schema::to_tantivy_date),
            until: page.until.map(schema::to_tantivy_date),
        };
        let fields = filter_search::Fields {
            labels: self.fields.labels,
            created: "created",
        };
        let depth = page.offset.saturating_add(page.limit);
        let found = filter_search::search(searcher, &self.bits, &fields, &filters, parents, depth)
            .map_err(IndexError::tantivy("searching"))?;
        let mut hits = Vec::with_capacity(page.limit);
        for address in found.newest.into_iter().skip(page.offset) {
            hits.push(self.hit(searcher, address, 0.0)?);
        }
        Ok((found.total, hits, found.counts))
    }

    fn hit(
        &self,
        searcher: &Searcher,
        address: DocAddress,
        score: f32,
    ) -> Result<SearchHit, IndexError> {
        let post = self.read_post(searcher, address)?;
        Ok(SearchHit {
            id: post.post.id.as_str().to_string(),
            score,
            post,
        })
    }

    /// Names of the axes with at least one category in the index, read from the term
    /// dictionaries of the `labels` field (a few terms per segment, no document touched).
    fn axis_names(&self, searcher: &Searcher) -> Result<BTreeSet<String>, IndexError> {
        let prefix = format!("{FACET_AXIS}\u{0}");
        let mut end = prefix.clone().into_bytes();
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let mut axes = BTreeSet::new();
        for segment in searcher.segment_readers() {
            let inverted = segment
                .inverted_index(self.fields.labels)
                .map_err(IndexError::tantivy("reading the facet terms"))?;
            let mut stream = inverted
                .terms()
                .range()
                .ge(prefix.as_bytes())
                .lt(&end)
                .into_stream()
                .map_err(|error| IndexError::Tantivy {
                    context: "reading the facet terms",
                    source: error.into(),
                })?;
            while stream.advance() {
                let rest = &stream.key()[prefix.len()..];
                let name = rest.split(|byte| *byte == 0).next().unwrap_or_default();
                if let Ok(name) = std::str::from_utf8(name)
                    && !name.is_empty()
                    && !axes.contains(name)
                {
                    axes.insert(name.to_owned());
                }
            }
        }
        Ok(axes)
    }
}

/// What one pass over the matches gives: total, page, counts per parent of [`parents`].
type Collected = (usize, Vec<SearchHit>, ChildCounts);

/// The facet roots counted for every search, by their key in [`SearchResults::facets`].
const ROOTS: [(&str, &str); 4] = [
    ("sentiment", FACET_SENTIMENT),
    ("source", FACET_SOURCE),
    ("language", FACET_LANGUAGE),
    ("brand", FACET_BRAND),
];

/// The parents whose children a search counts: the fixed roots, then each axis.
fn parents(axes: &BTreeSet<String>) -> Vec<Facet> {
    ROOTS
        .iter()
        .map(|(_, root)| Facet::from_path([*root]))
        .chain(
            axes.iter()
                .map(|axis| Facet::from_path([FACET_AXIS, axis.as_str()])),
        )
        .collect()
}

/// The counts of [`parents`] as [`SearchResults::facets`].
fn facets(counts: ChildCounts, axes: BTreeSet<String>) -> BTreeMap<String, Vec<FacetCount>> {
    let mut counts = counts.into_iter();
    let mut facets = BTreeMap::new();
    for (key, _) in ROOTS {
        facets.insert(key.to_string(), children(counts.next()));
    }
    for axis in axes {
        let categories = children(counts.next());
        // Only the axes seen among the matching posts.
        if !categories.is_empty() {
            facets.insert(axis, categories);
        }
    }
    facets
}

/// The facets a search's filters require.
fn filter_facets(query: &SearchQuery) -> Vec<Facet> {
    let mut facets: Vec<Facet> = Vec::new();
    if let Some(sentiment) = query.sentiment {
        facets.push(schema::label_facet(FACET_SENTIMENT, sentiment.as_str()));
    }
    if let Some(source) = query.source {
        facets.push(schema::label_facet(FACET_SOURCE, source.as_str()));
    }
    if let Some(language) = &query.language {
        facets.push(schema::label_facet(FACET_LANGUAGE, language));
    }
    if let Some(brand) = &query.brand {
        facets.push(schema::label_facet(FACET_BRAND, brand));
    }
    for (axis, category) in &query.categories {
        facets.push(schema::category_facet(axis, category));
    }
    if let Some(kind) = &query.influence {
        facets.push(schema::label_facet(schema::FACET_INFLUENCE, kind));
    }
    facets
}

/// A parent's children with their counts, highest count first.
fn children(counts: Option<BTreeMap<String, u64>>) -> Vec<FacetCount> {
    let mut values: Vec<FacetCount> = counts
        .unwrap_or_default()
        .into_iter()
        .map(|(value, count)| FacetCount { value, count })
        .collect();
    values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    values
}

#[cfg(test)]
mod tests;
