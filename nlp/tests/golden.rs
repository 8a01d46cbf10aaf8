//! Golden outputs of the NLP stage: every text of the labelled sets (`fixtures/labeled/`)
//! and the text fields of the recorded posts (`fixtures/posts/`) analysed with and without
//! a claimed language, plus its feature vector for the embedded sentiment model, compared
//! with `fixtures/golden/nlp-analysis.jsonl` (written before the speed work of issue 4).
//! Any change to a token, a feature, a score bit or a label fails this test, so the shipped
//! model and the quality figures of `docs/NLP.md` stay valid.
//!
//! `VEILLE_BLESS=1 cargo test -p nlp --test golden` rewrites the file: only do so for an
//! intended change of behaviour, and say so in the commit.

use std::collections::BTreeSet;
use std::path::PathBuf;

use nlp::model::Featurizer;
use nlp::{Analyzer, Axis, Brand, Category, NlpConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every text of the labelled sets and of the recorded posts, and the brands named.
fn texts() -> (Vec<String>, BTreeSet<String>) {
    let mut texts = Vec::new();
    let mut brands = BTreeSet::new();
    for name in ["intent.jsonl", "privacy.jsonl", "relevance.jsonl"] {
        let path = root().join("fixtures/labeled").join(name);
        let content = std::fs::read_to_string(&path).expect("labelled set readable");
        for line in content.lines() {
            let value: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            if let Some(text) = value["text"].as_str() {
                texts.push(text.to_owned());
            }
            for brand in value["brands"].as_array().into_iter().flatten() {
                if let Some(brand) = brand.as_str() {
                    brands.insert(brand.to_owned());
                }
            }
        }
    }
    let csv = std::fs::read_to_string(root().join("fixtures/labeled/sentiment-small.csv"))
        .expect("sentiment set readable");
    for line in csv.lines().skip(1) {
        if let Some((text, _)) = line.rsplit_once(',') {
            texts.push(text.trim_matches('"').to_owned());
        }
    }
    let stream = std::fs::read_to_string(root().join("fixtures/posts/x/stream.jsonl"))
        .expect("recorded posts readable");
    for line in stream.lines() {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
            collect_strings(&value, &mut texts);
        }
    }
    (texts, brands)
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) if text.contains(' ') => out.push(text.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect_strings(item, out)),
        serde_json::Value::Object(map) => map.values().for_each(|item| collect_strings(item, out)),
        _ => {}
    }
}

fn config(brands: &BTreeSet<String>) -> NlpConfig {
    let strings = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect();
    let category = |name: &str, keywords: &[&str]| Category {
        name: name.to_owned(),
        keywords: strings(keywords),
    };
    let mut all = vec![Brand {
        name: "Lumio".into(),
        aliases: strings(&["lumio", "lumio telecom", "lumio fibre"]),
        handles: strings(&["@lumio", "@lumio_help", "@lumio_fr"]),
        hashtags: strings(&["#lumio", "#lumiofail"]),
        exclusions: strings(&["lumio lamp"]),
        ..Brand::default()
    }];
    for brand in brands.iter().filter(|brand| brand.as_str() != "Lumio") {
        all.push(Brand {
            name: brand.clone(),
            aliases: vec![brand.to_lowercase()],
            ..Brand::default()
        });
    }
    NlpConfig {
        brands: all,
        axes: vec![Axis {
            name: "topic".into(),
            categories: vec![
                category(
                    "outage",
                    &["outage", "down", "no signal", "panne", "coupure"],
                ),
                category("billing", &["bill", "invoice", "refund", "facture"]),
                category(
                    "support",
                    &["support", "customer service", "service client"],
                ),
            ],
            model: None,
        }],
        ..NlpConfig::default()
    }
}

/// One line per text: analyses (claimed none, `en`, `fr`) and the feature vector's bits.
fn golden() -> String {
    let (texts, brands) = texts();
    let analyzer = Analyzer::new(&config(&brands)).expect("analyzer builds");
    let featurizer = Featurizer::new().expect("featurizer builds");
    let model = nlp::model::default_sentiment().expect("embedded model");
    let mut vector = Vec::new();
    let mut out = String::new();
    for text in &texts {
        let mut line = serde_json::Map::new();
        line.insert("text".into(), text.clone().into());
        for claimed in [None, Some("en"), Some("fr")] {
            let analysis = match analyzer.analyse_text(text, claimed) {
                Ok(analysis) => {
                    let bits = analysis.sentiment.score.to_bits();
                    let mut value = serde_json::to_value(&analysis).expect("serialisable");
                    value["score_bits"] = bits.into();
                    value
                }
                Err(reason) => format!("{reason:?}").into(),
            };
            line.insert(claimed.unwrap_or("none").to_owned(), analysis);
        }
        featurizer.vector(text, None, &model.meta.features, model.idf(), &mut vector);
        // FNV-1a over every (bucket, value bits): any changed bit changes it.
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for (bucket, value) in &vector {
            for byte in bucket
                .to_le_bytes()
                .into_iter()
                .chain(value.to_bits().to_le_bytes())
            {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        let features = format!("{} features, hash {hash:016x}", vector.len());
        line.insert("features".into(), features.into());
        out.push_str(&serde_json::Value::Object(line).to_string());
        out.push('\n');
    }
    out
}

#[test]
fn analyses_and_features_match_the_golden_file() {
    let path = root().join("fixtures/golden/nlp-analysis.jsonl");
    let now = golden();
    if std::env::var_os("VEILLE_BLESS").is_some() {
        std::fs::write(&path, &now).expect("golden file writable");
        return;
    }
    let before = std::fs::read_to_string(&path).expect("golden file readable");
    assert!(now.lines().count() > 700, "too few texts");
    for (line, (was, is)) in before.lines().zip(now.lines()).enumerate() {
        assert_eq!(was, is, "line {} of the golden file differs", line + 1);
    }
    assert_eq!(before.lines().count(), now.lines().count());
}
