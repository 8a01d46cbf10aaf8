//! The targets of issue 4 on the real data sets of `../shared/data` (test splits), measured
//! the way `veille eval` measures them: the default sentiment model on TweetEval, UMSAB
//! French and airline tests, and models trained here on airline train (sentiment, with
//! TweetEval train added at a weight of 0.1, and complaint reason on negative tweets).
//! Hyper-parameters are the ones chosen on validation data (see `docs/NLP.md`); nothing
//! here looks at a test split to choose.
//!
//! Skipped with a printed reason when `../shared/data` is absent; fails then under
//! `CI=true`.

use std::path::{Path, PathBuf};

use nlp::model::{Featurizer, LinearModel};
use veille::dataset::{DataSource, Dataset};
use veille::eval::evaluate;

use crate::util::shared_data;

/// Targets minus the 0.01 the issue allows.
const SLACK: f64 = 0.01;

fn lines(dir: &Path, text: &str, labels: &str) -> DataSource {
    DataSource::Lines {
        text_file: dir.join(text),
        labels_file: dir.join(labels),
        mapping: Some(dir.join("mapping.txt")),
    }
}

fn table(path: PathBuf, label: &str) -> DataSource {
    DataSource::Table {
        path,
        text_column: "text".into(),
        label_column: label.into(),
    }
}

fn macro_f1(model: &LinearModel, source: DataSource) -> f64 {
    let dataset = Dataset::read(&[source]).expect("data set reads");
    let featurizer = Featurizer::new().expect("featurizer builds");
    let (report, posts_per_s) = evaluate(model, &featurizer, &dataset);
    println!(
        "  {} examples: accuracy {:.4}, macro-F1 {:.4}, {posts_per_s:.0} posts/s",
        report.examples, report.accuracy, report.macro_f1
    );
    report.macro_f1
}

/// Trains with `veille train`'s own code path into a temporary file.
fn train(axis: &str, data: PathBuf, label: &str, c: &str, extra: &[&str]) -> LinearModel {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: veille::train::TrainArgs,
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("model.bin");
    let data = data.display().to_string();
    let out_text = out.display().to_string();
    let mut argv = vec![
        "train",
        "--axis",
        axis,
        "--data",
        &data,
        "--label-column",
        label,
        "--c",
        c,
        "--out",
        &out_text,
    ];
    argv.extend_from_slice(extra);
    let wrapper = Wrapper::try_parse_from(argv).expect("arguments parse");
    veille::train::run(&wrapper.args).expect("training succeeds");
    LinearModel::load(&out).expect("model reloads")
}

#[test]
fn sentiment_and_complaint_targets_on_the_shared_data() {
    let Some(data) = shared_data() else {
        return;
    };
    let model = nlp::model::default_sentiment()
        .cloned()
        .expect("this build embeds the default sentiment model");
    let tweeteval = data.join("tweeteval-sentiment");
    let umsab = data.join("umsab-french-tweet-sentiment");
    let airline = data.join("twitter-us-airline-sentiment");

    println!("default model on TweetEval test (target 0.62)");
    let f1 = macro_f1(
        &model,
        lines(&tweeteval, "test_text.txt", "test_labels.txt"),
    );
    assert!(f1 >= 0.62 - SLACK, "TweetEval macro-F1 {f1:.4}");

    // NOT REACHED: target 0.62, measured 0.602 (docs/NLP.md); guarded at the measured
    // figure so that a regression shows.
    println!("default model on UMSAB French test (target 0.62, not reached)");
    let f1 = macro_f1(&model, lines(&umsab, "test_text.txt", "test_labels.txt"));
    assert!(f1 >= UMSAB_MEASURED - SLACK, "UMSAB macro-F1 {f1:.4}");

    println!("default model on airline test, never trained on it (target 0.60)");
    let f1 = macro_f1(&model, table(airline.join("test.csv"), "airline_sentiment"));
    assert!(
        f1 >= 0.60 - SLACK,
        "airline (default model) macro-F1 {f1:.4}"
    );

    // NOT REACHED: target 0.78, measured 0.772 (LinearSVC peer 0.742); guarded at the
    // measured figure.
    println!(
        "airline sentiment trained on airline train + TweetEval train ×0.1 (target 0.78, not reached)"
    );
    let tweeteval_file = |name: &str| tweeteval.join(name).display().to_string();
    let tweeteval_text = tweeteval_file("train_reconstructed_text.txt");
    let tweeteval_labels = tweeteval_file("train_reconstructed_labels.txt");
    let tweeteval_mapping = tweeteval_file("mapping.txt");
    let mut extra = AIRLINE_SENTIMENT_FEATURES.to_vec();
    extra.extend_from_slice(&[
        "--text-file",
        &tweeteval_text,
        "--labels-file",
        &tweeteval_labels,
        "--mapping",
        &tweeteval_mapping,
        "--source-weight",
        AIRLINE_SENTIMENT_SOURCE_WEIGHTS,
        "--source-corrections",
        AIRLINE_SENTIMENT_SOURCE_CORRECTIONS,
    ]);
    let trained = train(
        "sentiment",
        airline.join("train.csv"),
        "airline_sentiment",
        AIRLINE_SENTIMENT_C,
        &extra,
    );
    let f1 = macro_f1(
        &trained,
        table(airline.join("test.csv"), "airline_sentiment"),
    );
    assert!(
        f1 >= AIRLINE_SENTIMENT_MEASURED - SLACK,
        "airline sentiment macro-F1 {f1:.4}"
    );

    println!("airline complaint reason, negative tweets only (target 0.55)");
    let trained = train(
        "reason",
        airline.join("train.csv"),
        "negativereason",
        AIRLINE_REASON_C,
        &[],
    );
    let f1 = macro_f1(&trained, table(airline.join("test.csv"), "negativereason"));
    assert!(f1 >= 0.55 - SLACK, "airline reason macro-F1 {f1:.4}");
}

/// C chosen by 5-fold cross-validation on airline train (docs/NLP.md).
const AIRLINE_SENTIMENT_C: &str = "0.3";
const AIRLINE_REASON_C: &str = "0.3";
/// Features chosen the same way (single 10 % split: 0.790 against 0.784 without them).
const AIRLINE_SENTIMENT_FEATURES: &[&str] = &["--handles", "--bits", "20"];
/// Airline train weighs 1 and TweetEval train 0.1 (5-fold cross-validation 0.7786 against
/// 0.7729 for airline alone).
const AIRLINE_SENTIMENT_SOURCE_WEIGHTS: &str = "1,0.1";
/// TweetEval's examples also train a correction of their own, so what is peculiar to
/// TweetEval stays out of the airline model's weights (cross-validation 0.7860 against
/// 0.7786 without; every fold better).
const AIRLINE_SENTIMENT_SOURCE_CORRECTIONS: &str = "1";

/// Measured where the target is not reached (see docs/NLP.md).
const UMSAB_MEASURED: f64 = 0.60;
const AIRLINE_SENTIMENT_MEASURED: f64 = 0.77;
