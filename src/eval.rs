//! `veille eval`: scores a model on a labelled set and prints accuracy, macro-F1,
//! per-class precision/recall/F1, the confusion matrix and the throughput (posts/s, one
//! post at a time on one core, featurization included). With `--json`, stdout holds
//! exactly one JSON object (`accuracy`, `macro_f1`, `per_class`, `confusion`,
//! `posts_per_s`, plus `examples`, `skipped`, `model`); progress goes to stderr. With
//! `--errors FILE`, every misclassified example goes to FILE as one JSON object per line
//! (`example`, its 0-based position among the labelled examples; `text`, `gold`,
//! `predicted`, `confidence`), to read what the model gets wrong.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use nlp::model::metrics::{Report, Tally};
use nlp::model::{Featurizer, LinearModel, Prediction};

use crate::dataset::Dataset;
use crate::train::DataArgs;

/// Arguments of `veille eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// The axis the model labels (`sentiment` uses the built-in model by default).
    #[arg(long)]
    pub axis: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// Model file; without it, the default model of the axis.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// One JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write every misclassified example to this file (JSON lines: example, text, gold,
    /// predicted, confidence).
    #[arg(long)]
    pub errors: Option<PathBuf>,
}

/// Runs `veille eval`.
pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let model = match &args.model {
        Some(path) => LinearModel::load(path)?,
        None if args.axis == "sentiment" => nlp::model::default_sentiment()
            .cloned()
            .context("this build carries no default sentiment model")?,
        None => bail!(
            "axis `{}` has no default model: pass --model FILE",
            args.axis
        ),
    };
    if model.meta.axis != args.axis {
        bail!(
            "the model labels the axis `{}`, not `{}`",
            model.meta.axis,
            args.axis
        );
    }
    let dataset = Dataset::read(&args.data.sources()?)?;
    if dataset.is_empty() {
        bail!("no labelled examples to evaluate on");
    }
    let featurizer = Featurizer::new()?;
    let (predictions, posts_per_s) = predict_all(&model, &featurizer, &dataset);
    let report = report_of(&model, &dataset, &predictions);
    if let Some(path) = &args.errors {
        let written = write_errors(path, &model, &dataset, &predictions)
            .with_context(|| format!("cannot write the errors to {}", path.display()))?;
        eprintln!(
            "{written} misclassified examples written to {}",
            path.display()
        );
    }
    let model_name = args
        .model
        .as_ref()
        .map_or_else(|| "built-in".to_owned(), |path| path.display().to_string());
    if args.json {
        let mut object = serde_json::to_value(&report)?;
        object["posts_per_s"] = posts_per_s.round().into();
        object["skipped"] = dataset.skipped.into();
        object["model"] = model_name.into();
        println!("{object}");
    } else {
        print_report(&report, posts_per_s, &model_name, dataset.skipped);
    }
    Ok(())
}

/// Scores `model` on `dataset`, one text at a time; returns the report and posts/s.
pub fn evaluate(model: &LinearModel, featurizer: &Featurizer, dataset: &Dataset) -> (Report, f64) {
    let (predictions, posts_per_s) = predict_all(model, featurizer, dataset);
    (report_of(model, dataset, &predictions), posts_per_s)
}

/// The model's prediction for every text of `dataset`, one at a time, and posts/s.
fn predict_all(
    model: &LinearModel,
    featurizer: &Featurizer,
    dataset: &Dataset,
) -> (Vec<Prediction>, f64) {
    let mut vector = Vec::new();
    let started = Instant::now();
    let mut predictions = Vec::with_capacity(dataset.len());
    for (index, text) in dataset.texts.iter().enumerate() {
        predictions.push(featurizer.predict(model, text, &mut vector));
        if (index + 1) % 10_000 == 0 {
            eprintln!("evaluated {}/{}", index + 1, dataset.len());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let posts_per_s = if seconds > 0.0 {
        dataset.len() as f64 / seconds
    } else {
        0.0
    };
    (predictions, posts_per_s)
}

/// The name of a predicted label.
fn label_name<'m>(model: &'m LinearModel, prediction: &Prediction) -> &'m str {
    model
        .labels()
        .get(prediction.label)
        .map_or("?", String::as_str)
}

/// Accuracy, macro-F1, per-class figures and confusion of `predictions` against the gold
/// labels of `dataset`.
fn report_of(model: &LinearModel, dataset: &Dataset, predictions: &[Prediction]) -> Report {
    let mut tally = Tally::default();
    for (gold, prediction) in dataset.labels.iter().zip(predictions) {
        tally.add(gold, label_name(model, prediction));
    }
    tally.report()
}

/// Writes the misclassified examples to `path` as JSON lines; how many.
fn write_errors(
    path: &Path,
    model: &LinearModel,
    dataset: &Dataset,
    predictions: &[Prediction],
) -> std::io::Result<usize> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut written = 0;
    let examples = dataset.texts.iter().zip(&dataset.labels).zip(predictions);
    for (example, ((text, gold), prediction)) in examples.enumerate() {
        let predicted = label_name(model, prediction);
        if predicted == gold {
            continue;
        }
        let line = serde_json::json!({
            "example": example,
            "text": text,
            "gold": gold,
            "predicted": predicted,
            "confidence": prediction.confidence,
        });
        writeln!(out, "{line}")?;
        written += 1;
    }
    out.flush()?;
    Ok(written)
}

fn print_report(report: &Report, posts_per_s: f64, model: &str, skipped: usize) {
    println!("model: {model}");
    println!(
        "examples: {} (skipped without label: {skipped})",
        report.examples
    );
    println!("accuracy: {:.4}", report.accuracy);
    println!("macro-F1: {:.4}", report.macro_f1);
    println!("posts/s:  {posts_per_s:.0} (one at a time, one core)");
    println!();
    let width = report
        .per_class
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(5)
        .max(5);
    println!("{:width$}  precision  recall     F1  support", "label");
    for (label, scores) in &report.per_class {
        println!(
            "{label:width$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}",
            scores.precision, scores.recall, scores.f1, scores.support
        );
    }
    println!();
    println!("confusion (rows: gold, columns: predicted)");
    let columns: Vec<&String> = report
        .confusion
        .values()
        .next()
        .map(|row| row.keys().collect())
        .unwrap_or_default();
    let cell = columns.iter().map(|c| c.len()).max().unwrap_or(5).max(6);
    print!("{:width$}", "");
    for column in &columns {
        print!("  {column:>cell$}");
    }
    println!();
    for (gold, row) in &report.confusion {
        print!("{gold:width$}");
        for column in &columns {
            print!("  {:>cell$}", row.get(*column).copied().unwrap_or(0));
        }
        println!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_file_holds_exactly_the_misclassified_examples() {
        let model = nlp::model::default_sentiment()
            .cloned()
            .expect("the build embeds the default model");
        let texts = [
            "I love this, best service ever, thank you!",
            "Worst company ever, my internet is down again and nobody answers",
            "The store opens at 9 tomorrow",
            "Absolutely wonderful staff, so happy",
        ];
        // Gold labels chosen so that some predictions must be wrong: each text is also
        // given the opposite of its obvious label.
        let gold = ["positive", "negative", "neutral", "positive"];
        let wrong = ["negative", "positive", "positive", "negative"];
        let dataset = Dataset {
            texts: texts.iter().chain(&texts).map(|t| t.to_string()).collect(),
            labels: gold.iter().chain(&wrong).map(|l| l.to_string()).collect(),
            weights: vec![1.0; 8],
            sources: vec![0; 8],
            skipped: 0,
        };
        let featurizer = Featurizer::new().expect("featurizer");
        let (predictions, _) = predict_all(&model, &featurizer, &dataset);
        let report = report_of(&model, &dataset, &predictions);
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("errors.jsonl");
        let written = write_errors(&path, &model, &dataset, &predictions).expect("written");
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .expect("readable")
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), written);
        let correct = (report.accuracy * 8.0).round() as usize;
        assert_eq!(written, 8 - correct, "every error once, nothing else");
        assert!(
            written >= 4,
            "each text is wrong under one of its two labels"
        );
        for line in &lines {
            let example = line["example"].as_u64().expect("position") as usize;
            assert_eq!(line["text"], dataset.texts[example].as_str());
            assert_eq!(line["gold"], dataset.labels[example].as_str());
            assert_ne!(line["predicted"], line["gold"]);
            let confidence = line["confidence"].as_f64().expect("confidence");
            assert!((0.0..=1.0).contains(&confidence));
        }
    }
}
