//! Quality on the hand-written labelled sets of `fixtures/labeled/` (see its README):
//! brand relevance with ambiguous names, intents, privacy. Each test prints precision and
//! recall (run with `--nocapture`) and fails below a floor set a little under the
//! measured figures of `docs/NLP.md`, so a regression shows.

use std::collections::BTreeMap;
use std::path::PathBuf;

use nlp::intent::INTENTS;
use nlp::privacy::redact;
use nlp::{Analyzer, Brand, DropReason, NlpConfig};

fn labeled(name: &str) -> Vec<serde_json::Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/labeled")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("labelled set is readable");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("labelled line is JSON"))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

const TELECOM_CONTEXT: &[&str] = &[
    "fibre",
    "fiber",
    "forfait",
    "box",
    "livebox",
    "réseau",
    "network",
    "mobile",
    "4g",
    "5g",
    "internet",
    "opérateur",
    "operator",
    "carrier",
    "sim",
    "abonnement",
    "subscription",
    "wifi",
    "wi-fi",
    "signal",
    "facture",
    "bill",
    "billing",
    "service client",
    "customer service",
    "support",
    "hotline",
    "conseiller",
    "data",
    "roaming",
    "téléphone",
    "phone",
    "ligne",
    "line",
    "adsl",
    "débit",
    "technicien",
    "engineer",
    "coverage",
    "couverture",
    "landline",
    "sms",
    "appel",
    "appels",
    "tv",
    "décodeur",
    "sosh",
    "sfr",
    "bouygues",
    "free",
    "orange money",
    "plan",
    "prepaid",
    "panne",
    "outage",
    "capte",
    "5g",
    "télé",
    "telecom",
    "portabilité",
    "plan",
];

fn relevance_config() -> NlpConfig {
    let mut free_context = strings(TELECOM_CONTEXT);
    free_context.retain(|term| term != "free");
    free_context.extend(strings(&["freebox", "free mobile", "orange"]));
    NlpConfig {
        brands: vec![
            Brand {
                name: "Orange".into(),
                aliases: strings(&["orange"]),
                handles: strings(&["@orange", "@orange_france"]),
                hashtags: strings(&["#orangefrance"]),
                context: strings(TELECOM_CONTEXT),
                context_window: nlp::DEFAULT_CONTEXT_WINDOW,
                ..Brand::default()
            },
            Brand {
                name: "Lumio".into(),
                aliases: strings(&["lumio", "lumio telecom", "lumio fibre"]),
                handles: strings(&["@lumio", "@lumio_help", "@lumio_fr"]),
                hashtags: strings(&["#lumio", "#lumiofail", "#lumiofibre"]),
                exclusions: strings(&["lumio lamp", "lumio lamps", "lumio the band"]),
                ..Brand::default()
            },
            Brand {
                name: "Free".into(),
                aliases: strings(&["free", "freebox", "free mobile"]),
                context: free_context,
                context_window: nlp::DEFAULT_CONTEXT_WINDOW,
                ..Brand::default()
            },
        ],
        ..NlpConfig::default()
    }
}

#[derive(Default, Debug)]
struct Counts {
    true_positives: usize,
    false_positives: usize,
    false_negatives: usize,
}

impl Counts {
    fn add(&mut self, gold: bool, found: bool) {
        match (gold, found) {
            (true, true) => self.true_positives += 1,
            (false, true) => self.false_positives += 1,
            (true, false) => self.false_negatives += 1,
            (false, false) => {}
        }
    }

    fn precision(&self) -> f64 {
        self.true_positives as f64 / (self.true_positives + self.false_positives).max(1) as f64
    }

    fn recall(&self) -> f64 {
        self.true_positives as f64 / (self.true_positives + self.false_negatives).max(1) as f64
    }
}

fn print_table(title: &str, counts: &BTreeMap<String, Counts>) {
    println!("{title}");
    println!("| class | precision | recall | support |");
    println!("|---|---|---|---|");
    for (name, count) in counts {
        println!(
            "| {name} | {:.3} | {:.3} | {} |",
            count.precision(),
            count.recall(),
            count.true_positives + count.false_negatives
        );
    }
}

#[test]
fn relevance_with_ambiguous_brand_names() {
    let analyzer = Analyzer::new(&relevance_config()).expect("analyzer builds");
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    let mut mistakes = Vec::new();
    for item in labeled("relevance.jsonl") {
        let text = item["text"].as_str().unwrap_or_default();
        let gold: Vec<&str> = item["brands"]
            .as_array()
            .map(|brands| brands.iter().filter_map(|b| b.as_str()).collect())
            .unwrap_or_default();
        let found: Vec<String> = match analyzer.analyse_text(text, None) {
            Ok(analysis) => analysis.brands.into_iter().map(|b| b.brand).collect(),
            Err(_) => Vec::new(),
        };
        for brand in ["Orange", "Lumio", "Free"] {
            let (is_gold, is_found) = (gold.contains(&brand), found.iter().any(|f| f == brand));
            counts
                .entry(brand.to_owned())
                .or_default()
                .add(is_gold, is_found);
            counts
                .entry("all".to_owned())
                .or_default()
                .add(is_gold, is_found);
            if is_gold != is_found {
                mistakes.push(format!("{brand} gold={is_gold}: {text}"));
            }
        }
    }
    print_table("relevance (fixtures/labeled/relevance.jsonl)", &counts);
    println!("mistakes:\n  {}", mistakes.join("\n  "));
    let all = &counts["all"];
    assert!(all.precision() >= 0.93, "precision {:.3}", all.precision());
    assert!(all.recall() >= 0.90, "recall {:.3}", all.recall());
}

fn intent_config() -> NlpConfig {
    NlpConfig {
        brands: vec![Brand {
            name: "Lumio".into(),
            aliases: strings(&["lumio"]),
            handles: strings(&["@lumio", "@lumio_help"]),
            ..Brand::default()
        }],
        ..NlpConfig::default()
    }
}

#[test]
fn intents_in_english_and_french() {
    let analyzer = Analyzer::new(&intent_config()).expect("analyzer builds");
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    let mut mistakes = Vec::new();
    for item in labeled("intent.jsonl") {
        let text = item["text"].as_str().unwrap_or_default();
        let gold: Vec<&str> = item["intents"]
            .as_array()
            .map(|intents| intents.iter().filter_map(|i| i.as_str()).collect())
            .unwrap_or_default();
        let found = match analyzer.analyse_text(text, None) {
            Ok(analysis) => analysis.intents,
            Err(reason) => panic!("{text}: dropped ({reason:?})"),
        };
        for intent in INTENTS {
            let (is_gold, is_found) = (gold.contains(&intent), found.iter().any(|f| f == intent));
            counts
                .entry(intent.to_owned())
                .or_default()
                .add(is_gold, is_found);
            if is_gold != is_found {
                mistakes.push(format!("{intent} gold={is_gold}: {text}"));
            }
        }
    }
    print_table("intent (fixtures/labeled/intent.jsonl)", &counts);
    println!("mistakes:\n  {}", mistakes.join("\n  "));
    for (intent, count) in &counts {
        assert!(
            count.precision() >= 0.70,
            "{intent} precision {:.3}",
            count.precision()
        );
        assert!(
            count.recall() >= 0.70,
            "{intent} recall {:.3}",
            count.recall()
        );
    }
}

#[test]
fn privacy_redaction_and_sensitive_categories() {
    let mut config = intent_config();
    let analyzer = Analyzer::new(&config).expect("analyzer builds");
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    let mut mistakes = Vec::new();
    let (mut redactions_right, mut posts) = (0, 0);
    for item in labeled("privacy.jsonl") {
        let text = item["text"].as_str().unwrap_or_default();
        let gold: Vec<&str> = item["sensitive"]
            .as_array()
            .map(|categories| categories.iter().filter_map(|c| c.as_str()).collect())
            .unwrap_or_default();
        let analysis = analyzer.analyse_text(text, None).expect("relevant");
        posts += 1;
        let expected_redactions = item["redactions"].as_u64().unwrap_or(0) as u32;
        if analysis.privacy.redactions == expected_redactions {
            redactions_right += 1;
        } else {
            mistakes.push(format!(
                "redactions {}: {text}",
                analysis.privacy.redactions
            ));
        }
        let (redacted, _) = redact(text);
        assert!(
            !redacted.contains('@') || text.contains("@lumio"),
            "{redacted}"
        );
        let any_gold = !gold.is_empty();
        let any_found = !analysis.privacy.sensitive.is_empty();
        counts
            .entry("any sensitive".into())
            .or_default()
            .add(any_gold, any_found);
        for category in nlp::SensitiveCategory::ALL.map(|c| c.as_str()) {
            let is_gold = gold.contains(&category);
            let is_found = analysis.privacy.sensitive.iter().any(|s| s == category);
            counts
                .entry(category.to_owned())
                .or_default()
                .add(is_gold, is_found);
            if is_gold != is_found {
                mistakes.push(format!("{category} gold={is_gold}: {text}"));
            }
        }
    }
    print_table("privacy (fixtures/labeled/privacy.jsonl)", &counts);
    println!("redaction counts right on {redactions_right}/{posts} posts");
    println!("mistakes:\n  {}", mistakes.join("\n  "));
    assert!(redactions_right * 100 >= posts * 95);
    let any = &counts["any sensitive"];
    assert!(any.precision() >= 0.85 && any.recall() >= 0.85, "{any:?}");

    config.privacy.sensitive = vec![(nlp::SensitiveCategory::Health, nlp::SensitiveAction::Drop)];
    let dropping = Analyzer::new(&config).expect("analyzer builds");
    assert_eq!(
        dropping.analyse_text("Lumio my chemo portal needs internet", None),
        Err(DropReason::Sensitive)
    );
}
