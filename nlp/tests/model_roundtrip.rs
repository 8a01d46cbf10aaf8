//! A model trained on a small fixture set, saved and reloaded, predicts exactly what it did
//! before saving, on every text; and it has learnt its training set.

use std::path::PathBuf;

use nlp::model::train::{Example, TrainConfig, train};
use nlp::model::{FeatureConfig, Featurizer, LinearModel};

/// `fixtures/labeled/sentiment-small.csv`: `"text",label` per line after the header.
fn small_set() -> Vec<(String, String)> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/labeled/sentiment-small.csv");
    let content = std::fs::read_to_string(path).expect("fixture readable");
    content
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (text, label) = line.rsplit_once(',')?;
            Some((text.trim_matches('"').to_owned(), label.to_owned()))
        })
        .collect()
}

#[test]
fn a_saved_model_reloads_with_identical_predictions() {
    let data = small_set();
    assert_eq!(data.len(), 30);
    let labels = vec![
        "negative".to_owned(),
        "neutral".to_owned(),
        "positive".to_owned(),
    ];
    let featurizer = Featurizer::new().expect("featurizer builds");
    let features = FeatureConfig {
        bits: 16,
        ..FeatureConfig::default()
    };
    let examples: Vec<Example> = data
        .iter()
        .map(|(text, label)| {
            let mut vector = Vec::new();
            featurizer.vector(text, None, &features, None, &mut vector);
            let label = labels.iter().position(|l| l == label).expect("known label");
            Example {
                vector,
                label,
                weight: 1.0,
            }
        })
        .collect();
    let config = TrainConfig {
        features,
        c: 1.0,
        ..TrainConfig::default()
    };
    let model = train("sentiment", labels, examples, &config, &mut |_| {}).expect("trains");

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("small.bin");
    model.save(&path).expect("saves");
    let reloaded = LinearModel::load(&path).expect("reloads");
    assert_eq!(reloaded.meta, model.meta);

    let mut vector = Vec::new();
    let mut right = 0;
    for (text, label) in &data {
        let before = featurizer.predict(&model, text, &mut vector);
        let after = featurizer.predict(&reloaded, text, &mut vector);
        assert_eq!(before, after, "{text}");
        right += usize::from(model.labels()[before.label] == *label);
    }
    assert!(right >= 27, "learnt only {right}/30 of its training set");
    for unseen in ["Terrible outage, useless support", "Merci, service parfait"] {
        assert_eq!(
            featurizer.predict(&model, unseen, &mut vector),
            featurizer.predict(&reloaded, unseen, &mut vector)
        );
    }
}
