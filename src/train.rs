//! `veille train`: fits a linear model for one axis from labelled texts (CSV, JSONL or the
//! TweetEval layout, several sources appended), optionally choosing the regularisation `C`
//! on a validation set (given, or carved from the training data with `--val-split`), and
//! adds the label corrections people made in the dashboard (`--config`). Progress goes to
//! stderr; with `--json`, stdout holds one JSON object describing the model.
//!
//! The model file records the axis, the labels, the feature configuration and a
//! provenance line (the exact command, the date, the example counts).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use nlp::feedback::{CORRECTIONS_TABLE, Correction};
use nlp::model::bias_tuning;
use nlp::model::features::add_domain_copy;
use nlp::model::train::{self, Example, TrainConfig};
use nlp::model::{FeatureConfig, Featurizer};

use crate::dataset::{DataSource, Dataset};
use crate::eval::evaluate;

/// Where labelled texts come from (`--data` tables, or `--text-file`/`--labels-file`
/// pairs); every flag may be repeated to append sources.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DataArgs {
    /// CSV (header row) or JSONL file.
    #[arg(long)]
    pub data: Vec<PathBuf>,
    /// Column (or JSON field) holding the text.
    #[arg(long, default_value = "text")]
    pub text_column: String,
    /// Column (or JSON field) holding the label; rows with an empty label are skipped.
    #[arg(long, default_value = "label")]
    pub label_column: String,
    /// One text per line (TweetEval layout).
    #[arg(long)]
    pub text_file: Vec<PathBuf>,
    /// One label id per line, aligned with the matching `--text-file`.
    #[arg(long)]
    pub labels_file: Vec<PathBuf>,
    /// `id name` per line; one for all pairs, or one per pair.
    #[arg(long)]
    pub mapping: Vec<PathBuf>,
}

impl DataArgs {
    /// The sources named by the flags, tables first.
    pub fn sources(&self) -> anyhow::Result<Vec<DataSource>> {
        let mut sources: Vec<DataSource> = self
            .data
            .iter()
            .map(|path| DataSource::Table {
                path: path.clone(),
                text_column: self.text_column.clone(),
                label_column: self.label_column.clone(),
            })
            .collect();
        if self.text_file.len() != self.labels_file.len() {
            bail!("give one --labels-file per --text-file");
        }
        if self.mapping.len() > 1 && self.mapping.len() != self.text_file.len() {
            bail!("give one --mapping for all --text-file, or one per --text-file");
        }
        for (index, (text_file, labels_file)) in
            self.text_file.iter().zip(&self.labels_file).enumerate()
        {
            let mapping = self.mapping.get(index).or(self.mapping.first()).cloned();
            sources.push(DataSource::Lines {
                text_file: text_file.clone(),
                labels_file: labels_file.clone(),
                mapping,
            });
        }
        if sources.is_empty() {
            bail!("no data: give --data FILE or --text-file T --labels-file L");
        }
        Ok(sources)
    }
}

/// Arguments of `veille train`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// The axis the model will label (`sentiment`, `intent` or a configured axis).
    #[arg(long)]
    pub axis: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// Where to write the model (default `models/<axis>.bin`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Validation table (same columns as --data), to choose C.
    #[arg(long)]
    pub val_data: Vec<PathBuf>,
    /// Validation texts (TweetEval layout), with --val-labels-file.
    #[arg(long)]
    pub val_text_file: Vec<PathBuf>,
    #[arg(long)]
    pub val_labels_file: Vec<PathBuf>,
    /// Carve this share of the training data (deterministically) out for validation.
    #[arg(long)]
    pub val_split: Option<f64>,
    /// Regularisation; several values (`0.1,0.3,1`) are tried on the validation set.
    #[arg(long, value_delimiter = ',', default_value = "0.5")]
    pub c: Vec<f32>,
    /// Hash buckets: 2^bits.
    #[arg(long, default_value_t = 18)]
    pub bits: u8,
    /// Longest character n-gram (0: none).
    #[arg(long, default_value_t = 5)]
    pub char_max: u8,
    #[arg(long)]
    pub no_bigrams: bool,
    #[arg(long)]
    pub no_lexicon: bool,
    #[arg(long)]
    pub no_idf: bool,
    /// Weight of each source's examples, in source order (tables first); 1 by default.
    /// Lets a small source (French) count as much as a large one (English).
    #[arg(long, value_delimiter = ',')]
    pub source_weight: Vec<f32>,
    /// NB-SVM: scale features by their log-count ratio per label.
    #[arg(long)]
    pub nb: bool,
    /// Word features conjoined with the post's language besides the shared ones (a
    /// per-language correction inside one model).
    #[arg(long)]
    pub language_words: bool,
    /// In French posts, French words also add the feature of their English equivalent
    /// (a built-in bridge): what the English examples taught carries over.
    #[arg(long)]
    pub translations: bool,
    /// Each handle's name as a feature besides `@user`.
    #[arg(long)]
    pub handles: bool,
    /// Stacking: the built-in sentiment model's margins (negative, neutral, positive) as
    /// features of this model, with this weight (0: none). Transfers what the built-in
    /// model learnt from 47,000 tweets to a model trained on fewer posts of one domain.
    #[arg(long, default_value_t = 0)]
    pub prior_sentiment: u8,
    /// Every source after the first also trains a correction of its own ("frustratingly
    /// easy" domain adaptation), with this scale (0: none): what is peculiar to an
    /// auxiliary source (TweetEval added to airline posts) stays out of the shared weights
    /// the model predicts with.
    #[arg(long, default_value_t = 0.0)]
    pub source_corrections: f32,
    /// After training, shift each label's bias to maximise macro-F1 on the first source's
    /// examples, measured out of fold (5 models trained on 4/5 of the data each).
    #[arg(long)]
    pub tune_biases: bool,
    /// Do not weigh classes by inverse frequency.
    #[arg(long)]
    pub no_balance: bool,
    /// Add the label corrections stored in this configuration's data directory.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Free text recorded in the model's provenance (data terms of use...).
    #[arg(long, default_value = "")]
    pub note: String,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `veille train`.
pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut training = Dataset::read_weighted(&args.data.sources()?, &args.source_weight)?;
    if let Some(config) = &args.config {
        let added = add_corrections(&mut training, config, &args.axis)?;
        eprintln!("added {added} label corrections for axis `{}`", args.axis);
    }
    let validation = validation_set(args, &mut training)?;
    if training.is_empty() {
        bail!("no labelled examples to train on");
    }
    let mut labels: Vec<String> = training.labels.clone();
    labels.sort();
    labels.dedup();
    eprintln!(
        "{} training examples, labels: {}",
        training.len(),
        labels.join(", ")
    );
    let featurizer = Featurizer::new()?;
    let features = feature_config(args);
    let mut examples = featurize(&featurizer, &training, &labels, &features);
    if args.source_corrections > 0.0 {
        add_source_corrections(
            &mut examples,
            &training.sources,
            args.source_corrections,
            features.bits,
        );
    }
    let mut chosen = (args.c[0], None);
    if args.c.len() > 1 && validation.is_none() {
        bail!(
            "several values of --c need a validation set (--val-data, --val-text-file or --val-split)"
        );
    }
    let mut model = None;
    for &c in &args.c {
        let config = train_config(&features, c, args);
        let candidate = train::train(
            &args.axis,
            labels.clone(),
            examples.clone(),
            &config,
            &mut |m| eprintln!("C={c}: {m}"),
        )?;
        let Some(validation) = &validation else {
            model = Some(candidate);
            break;
        };
        let (report, _) = evaluate(&candidate, &featurizer, validation);
        eprintln!(
            "C={c}: validation accuracy {:.4}, macro-F1 {:.4}",
            report.accuracy, report.macro_f1
        );
        if chosen.1.is_none_or(|best| report.macro_f1 > best) {
            chosen = (c, Some(report.macro_f1));
            model = Some(candidate);
        }
    }
    let mut model = model.context("no model trained")?;
    if args.tune_biases {
        let config = train_config(&features, chosen.0, args);
        shift_biases_for_macro_f1(
            &mut model, &args.axis, &labels, &examples, &training, &config,
        )?;
        if let Some(validation) = &validation {
            let (report, _) = evaluate(&model, &featurizer, validation);
            eprintln!(
                "with the offsets: validation accuracy {:.4}, macro-F1 {:.4}",
                report.accuracy, report.macro_f1
            );
            chosen.1 = Some(report.macro_f1);
        }
    }
    let command: Vec<String> = std::env::args().collect();
    model.meta.provenance = format!(
        "veille train, {}; {} examples ({} sources); C={} chosen{}; command: {}{}",
        chrono::Utc::now().format("%Y-%m-%d"),
        training.len(),
        args.data.sources()?.len(),
        chosen.0,
        chosen
            .1
            .map(|f1| format!(" (validation macro-F1 {f1:.4})"))
            .unwrap_or_default(),
        command.join(" "),
        if args.note.is_empty() {
            String::new()
        } else {
            format!("; {}", args.note)
        }
    );
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("models/{}.bin", args.axis)));
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    model.save(&out)?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "model written to {} ({size} bytes) in {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    if args.json {
        let object = serde_json::json!({
            "axis": args.axis,
            "out": out.display().to_string(),
            "labels": model.labels(),
            "examples": training.len(),
            "c": chosen.0,
            "validation_macro_f1": chosen.1,
            "bytes": size,
            "seconds": started.elapsed().as_secs_f64(),
        });
        println!("{object}");
    }
    Ok(())
}

/// Folds of the out-of-fold margins `--tune-biases` measures.
const BIAS_FOLDS: usize = 5;

/// `--tune-biases`: shifts `model`'s biases by the offsets that maximise the macro-F1 of
/// the first source's examples, measured out of fold.
fn shift_biases_for_macro_f1(
    model: &mut nlp::model::LinearModel,
    axis: &str,
    labels: &[String],
    examples: &[Example],
    training: &Dataset,
    config: &TrainConfig,
) -> anyhow::Result<()> {
    let scored = bias_tuning::out_of_fold(
        axis,
        labels,
        examples,
        config,
        BIAS_FOLDS,
        &|index| training.sources.get(index) == Some(&0),
        &mut |m| eprintln!("{m}"),
    )?;
    let offsets = bias_tuning::macro_f1_offsets(&scored, labels.len());
    let zeros = vec![0.0; labels.len()];
    eprintln!(
        "bias offsets {offsets:?}: out-of-fold macro-F1 {:.4} -> {:.4} on {} examples",
        bias_tuning::macro_f1(&scored, &zeros, labels.len()),
        bias_tuning::macro_f1(&scored, &offsets, labels.len()),
        scored.len()
    );
    model.shift_biases(&offsets);
    Ok(())
}

/// The features the flags ask for.
fn feature_config(args: &TrainArgs) -> FeatureConfig {
    FeatureConfig {
        bits: args.bits,
        word_bigrams: !args.no_bigrams,
        char_max: args.char_max,
        lexicon: !args.no_lexicon,
        idf: !args.no_idf,
        language_words: args.language_words,
        handles: args.handles,
        prior_sentiment: args.prior_sentiment,
        translations: args.translations,
        ..FeatureConfig::default()
    }
}

fn train_config(features: &FeatureConfig, c: f32, args: &TrainArgs) -> TrainConfig {
    TrainConfig {
        features: *features,
        c,
        balanced: !args.no_balance,
        nb_scaling: args.nb,
        ..TrainConfig::default()
    }
}

/// The validation set: given files, or a deterministic share carved out of `training`.
fn validation_set(args: &TrainArgs, training: &mut Dataset) -> anyhow::Result<Option<Dataset>> {
    if !args.val_data.is_empty() || !args.val_text_file.is_empty() {
        let data = DataArgs {
            data: args.val_data.clone(),
            text_column: args.data.text_column.clone(),
            label_column: args.data.label_column.clone(),
            text_file: args.val_text_file.clone(),
            labels_file: args.val_labels_file.clone(),
            mapping: args.data.mapping.clone(),
        };
        return Ok(Some(Dataset::read(&data.sources()?)?));
    }
    let Some(share) = args.val_split else {
        return Ok(None);
    };
    if !(0.0..0.9).contains(&share) {
        bail!("--val-split must be between 0 and 0.9");
    }
    let (mut kept, mut carved) = (Dataset::default(), Dataset::default());
    let threshold = (share * 1000.0) as u64;
    let rows = training
        .texts
        .drain(..)
        .zip(training.labels.drain(..))
        .zip(training.weights.drain(..))
        .zip(training.sources.drain(..));
    for (index, (((text, label), weight), source)) in rows.enumerate() {
        let draw = (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        let target = if draw % 1000 < threshold {
            &mut carved
        } else {
            &mut kept
        };
        target.texts.push(text);
        target.labels.push(label);
        target.weights.push(weight);
        target.sources.push(source);
    }
    kept.skipped = training.skipped;
    *training = kept;
    eprintln!(
        "carved {} validation examples out of the training data",
        carved.len()
    );
    Ok(Some(carved))
}

/// Feature vectors (without IDF) of every example, on every core.
fn featurize(
    featurizer: &Featurizer,
    data: &Dataset,
    labels: &[String],
    features: &FeatureConfig,
) -> Vec<Example> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = data.len().div_ceil(workers).max(1);
    let parts: Vec<Vec<Example>> = std::thread::scope(|scope| {
        let handles: Vec<_> = data
            .texts
            .chunks(chunk)
            .zip(data.labels.chunks(chunk))
            .zip(data.weights.chunks(chunk))
            .map(|((texts, gold), weights)| {
                scope.spawn(move || {
                    texts
                        .iter()
                        .zip(gold)
                        .zip(weights)
                        .map(|((text, label), &weight)| {
                            let mut vector = Vec::new();
                            featurizer.vector(text, None, features, None, &mut vector);
                            let label = labels.iter().position(|l| l == label).unwrap_or(0);
                            Example {
                                vector,
                                label,
                                weight,
                            }
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_default())
            .collect()
    });
    eprintln!("featurized {} examples", data.len());
    parts.into_iter().flatten().collect()
}

/// Gives the examples of every source after the first a correction of their source's own
/// ([`add_domain_copy`], features scaled by `scale`).
fn add_source_corrections(examples: &mut [Example], sources: &[usize], scale: f32, bits: u8) {
    for (example, &source) in examples.iter_mut().zip(sources) {
        if source > 0 {
            add_domain_copy(&mut example.vector, source, scale, bits);
        }
    }
}

/// Appends the stored corrections for `axis`; returns how many.
fn add_corrections(
    training: &mut Dataset,
    config_path: &std::path::Path,
    axis: &str,
) -> anyhow::Result<usize> {
    let config = crate::config::load_file(config_path)?;
    let path = config.data_dir.join("state.redb");
    let store = index::Store::open(&path)
        .with_context(|| format!("cannot open {} (is veille running on it?)", path.display()))?;
    let corrections: Vec<(String, Correction)> = store.list(CORRECTIONS_TABLE)?;
    let mut added = 0;
    for (_, correction) in corrections {
        if correction.axis == axis {
            training.texts.push(correction.text);
            training.labels.push(correction.label);
            training.weights.push(1.0);
            training.sources.push(0);
            added += 1;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: TrainArgs,
    }

    fn parse(extra: &[&str]) -> TrainArgs {
        let mut argv = vec!["train", "--axis", "sentiment", "--data", "x.csv"];
        argv.extend_from_slice(extra);
        Wrapper::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn feature_flags_reach_the_feature_configuration() {
        let features = feature_config(&parse(&[]));
        assert_eq!(features.prior_sentiment, 0);
        assert!(!features.handles);
        let features = feature_config(&parse(&[
            "--prior-sentiment",
            "10",
            "--handles",
            "--bits",
            "20",
        ]));
        assert_eq!(features.prior_sentiment, 10);
        assert!(features.handles);
        assert_eq!(features.bits, 20);
        assert!(
            Wrapper::try_parse_from(["train", "--axis", "x", "--prior-sentiment", "300"]).is_err()
        );
    }

    #[test]
    fn only_auxiliary_sources_get_a_correction_of_their_own() {
        let featurizer = Featurizer::new().unwrap();
        let features = FeatureConfig::default();
        let data = Dataset {
            texts: vec![
                "late again".into(),
                "late again".into(),
                "late again".into(),
            ],
            labels: vec!["negative".into(); 3],
            weights: vec![1.0; 3],
            sources: vec![0, 1, 2],
            skipped: 0,
        };
        let labels = vec!["negative".to_owned()];
        let mut examples = featurize(&featurizer, &data, &labels, &features);
        let plain = examples[0].vector.clone();
        add_source_corrections(&mut examples, &data.sources, 1.0, features.bits);
        assert_eq!(examples[0].vector, plain);
        assert!(examples[1].vector.len() > plain.len());
        assert_ne!(examples[1].vector, examples[2].vector);
        assert_eq!(
            parse(&["--source-corrections", "0.5"]).source_corrections,
            0.5
        );
        assert_eq!(parse(&[]).source_corrections, 0.0);
    }
}
