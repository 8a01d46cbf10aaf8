//! `veille eval`: scores a model on a labelled set and prints accuracy, macro-F1,
//! per-class precision/recall/F1, the confusion matrix and the throughput (posts/s, one
//! post at a time on one core, featurization included). With `--json`, stdout holds
//! exactly one JSON object (`accuracy`, `macro_f1`, `per_class`, `confusion`,
//! `posts_per_s`, plus `examples`, `skipped`, `model`); progress goes to stderr.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use nlp::model::metrics::{Report, Tally};
use nlp::model::{Featurizer, LinearModel};

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
    let (report, posts_per_s) = evaluate(&model, &featurizer, &dataset);
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
    let mut tally = Tally::default();
    let mut vector = Vec::new();
    let started = Instant::now();
    let mut predicted = Vec::with_capacity(dataset.len());
    for (index, text) in dataset.texts.iter().enumerate() {
        let prediction = featurizer.predict(model, text, &mut vector);
        predicted.push(prediction.label);
        if (index + 1) % 10_000 == 0 {
            eprintln!("evaluated {}/{}", index + 1, dataset.len());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    for (gold, label) in dataset.labels.iter().zip(predicted) {
        let name = model.labels().get(label).map_or("?", String::as_str);
        tally.add(gold, name);
    }
    let posts_per_s = if seconds > 0.0 {
        dataset.len() as f64 / seconds
    } else {
        0.0
    };
    (tally.report(), posts_per_s)
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
