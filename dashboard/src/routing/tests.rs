//! Tests of the rule language as a whole: parsing, precedence, errors with their columns,
//! field checks, and property-style laws over generated rules and posts.

use collector::SourceKind;
use nlp::{AnalysedPost, SentimentLabel};

use super::*;
use crate::test_support::PostBuilder;

fn canonical(source: &str) -> String {
    parse(source).expect("valid rule").to_string()
}

fn error(source: &str) -> RuleError {
    parse(source).expect_err("invalid rule")
}

fn fields() -> FieldSet {
    FieldSet::new([
        (
            "topic".to_owned(),
            vec![
                "outage".to_owned(),
                "billing".to_owned(),
                "Support".to_owned(),
            ],
        ),
        (
            "product".to_owned(),
            vec!["fibre".to_owned(), "tv".to_owned()],
        ),
    ])
    .with_brands(["Lumio"])
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(canonical("a or b and c"), "a or b and c");
    assert_eq!(canonical("(a or b) and c"), "(a or b) and c");
    assert_eq!(canonical("a and (b or c)"), "a and (b or c)");
    assert_eq!(canonical("((a))"), "a");
    // `a or b and c` is `a or (b and c)`: true with only `a`.
    let only_brand = PostBuilder::new("x:1").brand("lumio").build();
    assert!(
        parse("brand or intent and topic")
            .expect("valid")
            .matches(&only_brand)
    );
    assert!(
        !parse("(brand or intent) and topic")
            .expect("valid")
            .matches(&only_brand)
    );
}

#[test]
fn not_binds_tighter_than_and() {
    assert_eq!(canonical("not a and b"), "not a and b");
    assert_eq!(canonical("not (a and b)"), "not (a and b)");
    assert_eq!(canonical("NOT not a"), "not not a");
    let brand_only = PostBuilder::new("x:1").brand("lumio").build();
    assert!(
        !parse("not brand and intent")
            .expect("valid")
            .matches(&brand_only)
    );
    assert!(
        parse("not (brand and intent)")
            .expect("valid")
            .matches(&brand_only)
    );
}

#[test]
fn parses_every_operator_and_canonicalises_case() {
    assert_eq!(
        canonical("Sentiment = Negative AND Topic IN [Outage,'Billing'] Or followers>=10_000"),
        "sentiment = negative and topic in [outage, billing] or followers >= 10_000"
    );
    assert_eq!(
        canonical("score<-0.5 and score<=0 and score>-1 and language != 'EN'"),
        "score < -0.5 and score <= 0 and score > -1 and language != en"
    );
    assert_eq!(
        canonical("intent = \"and\" or brand = 'two words'"),
        "intent = \"and\" or brand = \"two words\""
    );
}

#[test]
fn the_sample_config_rules_parse_and_route() {
    let outage = PostBuilder::new("x:1")
        .sentiment(SentimentLabel::Negative, -0.8)
        .category("topic", "outage")
        .build();
    let other = PostBuilder::new("x:2")
        .sentiment(SentimentLabel::Negative, -0.4)
        .category("topic", "support")
        .build();
    let high = parse("sentiment = negative and topic in [outage, billing]").expect("valid");
    let medium = parse("sentiment = negative and not topic in [outage, billing]").expect("valid");
    assert!(high.matches(&outage) && !medium.matches(&outage));
    assert!(!high.matches(&other) && medium.matches(&other));
}

#[test]
fn reports_syntax_errors_with_columns() {
    let cases: [(&str, usize, &str); 17] = [
        ("", 1, "the rule is empty"),
        (
            "sentiment =",
            12,
            "expected a value after `=`, found the end of the rule",
        ),
        (
            "sentiment = negative and",
            25,
            "expected a condition after `and`",
        ),
        (
            "topic in outage",
            10,
            "expected `[` after `in`, found `outage`",
        ),
        ("topic in []", 11, "expected a value after `[`, found `]`"),
        (
            "topic in [outage billing]",
            18,
            "expected `,` or `]` in the list opened at column 10, found `billing`",
        ),
        ("topic in [outage,]", 18, "expected a value after `,`"),
        (
            "(sentiment = negative",
            22,
            "expected `)` to close the `(` at column 1",
        ),
        ("sentiment = negative)", 21, "unexpected `)`"),
        ("sentiment negative", 11, "expected an operator"),
        (
            "followers > many",
            13,
            "expected a number after `>`, found `many`",
        ),
        ("topic = and", 9, "found the keyword `and` (quote it"),
        (
            "and brand",
            1,
            "expected a condition, found the keyword `and`",
        ),
        (
            "brand or or intent",
            10,
            "expected a condition after `or`, found the keyword `or`",
        ),
        ("5g = x", 1, "expected a field name, found `5g`"),
        ("'topic' = x", 1, "field names are not quoted"),
        (
            "topic = outage brand",
            16,
            "expected `and`, `or` or the end of the rule, found `brand`",
        ),
    ];
    for (source, column, message) in cases {
        let error = error(source);
        assert_eq!(error.column, column, "{source:?}: {error}");
        assert!(error.message.contains(message), "{source:?}: {error}");
    }
    assert_eq!(
        error("sentiment = ").to_string(),
        "expected a value after `=`, found the end of the rule at column 13"
    );
}

#[test]
fn refuses_absurd_nesting_without_overflowing() {
    let deep_not = format!("{}brand", "not ".repeat(10_000));
    assert!(error(&deep_not).message.contains("levels deep"));
    let deep_parens = format!("{}brand{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(error(&deep_parens).message.contains("levels deep"));
    let fine = format!("{}brand{}", "(".repeat(60), ")".repeat(60));
    assert!(parse(&fine).is_ok());
}

#[test]
fn check_fields_accepts_sound_rules() {
    for rule in [
        "sentiment = negative and topic in [outage, billing]",
        "TOPIC = SUPPORT or product != tv and brand = lumio",
        "followers > 10000 and score <= -0.5 and followers in [1, 2]",
        "language = fr and language and intent = anything and source = mastodon",
        "topic and not product",
    ] {
        let problems = parse(rule).expect("valid").check_fields(&fields());
        assert!(problems.is_empty(), "{rule}: {problems:?}");
    }
}

#[test]
fn check_fields_reports_every_problem() {
    let rule = parse(
        "topc = outage and sentiment in [negative, angry] and topic = outages \
         and topic > 3 and text      and sentiment and followers = many \
         and source = myspace and brand = acme",
    )
    .expect("valid syntax");
    let problems = rule.check_fields(&fields());
    let expected = [
        "unknown field `topc` at column 1 (fields: sentiment, score, language, source, brand, \
         intent, followers, badge, words, connector, maven, topic, product)",
        "unknown sentiment `angry` at column 43 (expected negative, neutral or positive)",
        "unknown category `outages` for axis `topic` at column 62 \
         (categories: outage, billing, support)",
        "`>` at column 80 compares numbers, but `topic` is not numeric",
        "field `text` at column 88 is not available yet",
        "`sentiment` at column 102 needs a comparison, e.g. `sentiment = negative`",
        "`many` at column 128 is not a number, but `followers` is numeric",
        "unknown source `myspace` at column 146 (sources: x, bluesky, mastodon, reddit, \
         discourse, feed)",
        "unknown brand `acme` at column 166 (brands: lumio)",
    ];
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for (problem, expected) in problems.iter().zip(expected) {
        assert!(problem.starts_with(expected), "{problem} vs {expected}");
    }
}

#[test]
fn brands_are_open_when_none_are_configured() {
    let rule = parse("brand = anything").expect("valid");
    assert!(rule.check_fields(&FieldSet::default()).is_empty());
}

#[test]
fn reserves_builtin_upcoming_and_keyword_names() {
    for name in ["sentiment", "Topic", "connector", "TEXT", "and", "in"] {
        let reserved = is_reserved_field_name(name);
        assert_eq!(reserved, name != "Topic", "{name}");
    }
}

#[test]
fn serde_reads_and_writes_the_rule_text() {
    let rule: Rule = serde_json::from_str("\"Topic IN [a,b]\"").expect("valid rule");
    assert_eq!(
        serde_json::to_string(&rule).expect("serialize"),
        "\"topic in [a, b]\""
    );
    let error = serde_json::from_str::<Rule>("\"topic in\"").expect_err("invalid rule");
    assert!(error.to_string().contains("at column 9"), "{error}");
}

// ---------------------------------------------------------------------------------------
// Property-style tests over generated rules and posts (a small deterministic generator, so
// failures reproduce; the seed is in the assertion message).

struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn pick<'item>(&mut self, items: &[&'item str]) -> &'item str {
        items[self.below(items.len())]
    }
}

const CONDITIONS: [&str; 14] = [
    "sentiment = negative",
    "sentiment in [positive, neutral]",
    "sentiment != neutral",
    "topic = outage",
    "topic in [billing, support]",
    "product != fibre",
    "followers > 1000",
    "followers <= 50",
    "score < -0.3",
    "brand",
    "intent = complaint",
    "language = en",
    "source = mastodon",
    "language",
];

fn random_rule(generator: &mut Generator, depth: usize) -> String {
    let choice = if depth == 0 { 0 } else { generator.below(6) };
    match choice {
        0 | 1 => generator.pick(&CONDITIONS).to_owned(),
        2 => format!("not {}", random_rule(generator, depth - 1)),
        3 => format!("({})", random_rule(generator, depth - 1)),
        4 => format!(
            "{} and {}",
            random_rule(generator, depth - 1),
            random_rule(generator, depth - 1)
        ),
        _ => format!(
            "{} or {}",
            random_rule(generator, depth - 1),
            random_rule(generator, depth - 1)
        ),
    }
}

fn random_post(generator: &mut Generator) -> AnalysedPost {
    let label = SentimentLabel::ALL[generator.below(3)];
    let score = match label {
        SentimentLabel::Negative => -0.9 + generator.below(6) as f32 / 10.0,
        SentimentLabel::Neutral => 0.0,
        SentimentLabel::Positive => 0.4 + generator.below(6) as f32 / 10.0,
    };
    let mut builder = PostBuilder::new("x:generated")
        .sentiment(label, score)
        .language(generator.pick(&["en", "fr", "und"]))
        .source(SourceKind::ALL[generator.below(SourceKind::ALL.len())]);
    for _ in 0..generator.below(3) {
        builder = builder.category("topic", generator.pick(&["outage", "billing", "Support"]));
    }
    if generator.below(2) == 0 {
        builder = builder.category("product", generator.pick(&["fibre", "tv"]));
    }
    if generator.below(2) == 0 {
        builder = builder.followers([0, 50, 999, 1000, 1001, 250_000][generator.below(6)]);
    }
    if generator.below(2) == 0 {
        builder = builder.brand("Lumio");
    }
    if generator.below(3) == 0 {
        builder = builder.intent("Complaint");
    }
    builder.build()
}

fn with_random_case(generator: &mut Generator, text: &str) -> String {
    text.chars()
        .map(|character| {
            if generator.below(2) == 0 {
                character.to_ascii_uppercase()
            } else {
                character
            }
        })
        .collect()
}

#[test]
fn canonical_text_parses_back_to_an_equivalent_rule() {
    for seed in 1..300_u64 {
        let mut generator = Generator(seed);
        let source = random_rule(&mut generator, 4);
        let rule = parse(&source).expect("generated rules are valid");
        let reparsed = parse(&rule.to_string()).expect("canonical text is valid");
        assert_eq!(
            reparsed.to_string(),
            rule.to_string(),
            "seed {seed}: {source}"
        );
        for _ in 0..20 {
            let post = random_post(&mut generator);
            assert_eq!(
                rule.matches(&post),
                reparsed.matches(&post),
                "seed {seed}: {source} vs {rule}"
            );
        }
    }
}

#[test]
fn letter_case_never_changes_a_decision() {
    for seed in 1..300_u64 {
        let mut generator = Generator(seed);
        let source = random_rule(&mut generator, 3);
        let shouted = with_random_case(&mut generator, &source);
        let rule = parse(&source).expect("valid");
        let shouted_rule = parse(&shouted).expect("case does not matter to the syntax");
        // Columns are the same (ASCII), so even the trees are equal.
        assert_eq!(rule, shouted_rule, "seed {seed}: {shouted}");
        for _ in 0..20 {
            let post = random_post(&mut generator);
            assert_eq!(
                rule.matches(&post),
                shouted_rule.matches(&post),
                "seed {seed}"
            );
        }
    }
}

#[test]
fn not_and_de_morgan_hold() {
    for seed in 1..300_u64 {
        let mut generator = Generator(seed);
        let left = random_rule(&mut generator, 2);
        let right = random_rule(&mut generator, 2);
        let rule = parse(&left).expect("valid");
        let negated = parse(&format!("not ({left})")).expect("valid");
        let not_both = parse(&format!("not (({left}) and ({right}))")).expect("valid");
        let either_not = parse(&format!("not ({left}) or not ({right})")).expect("valid");
        for _ in 0..20 {
            let post = random_post(&mut generator);
            assert_eq!(negated.matches(&post), !rule.matches(&post), "seed {seed}");
            assert_eq!(
                not_both.matches(&post),
                either_not.matches(&post),
                "seed {seed}"
            );
        }
    }
}

#[test]
fn garbage_never_panics_and_errors_point_inside_the_text() {
    let pieces = [
        "topic", "=", "!=", "in", "[", "]", ",", "(", ")", "and", "or", "not", "'x'", "3", "<",
        ">=", "\"", "é", "-", "!",
    ];
    for seed in 1..2_000_u64 {
        let mut generator = Generator(seed);
        let length = generator.below(12);
        let source: Vec<&str> = (0..length).map(|_| generator.pick(&pieces)).collect();
        let source = source.join(" ");
        if let Err(error) = parse(&source) {
            let end = source.chars().count() + 1;
            assert!(
                (1..=end).contains(&error.column),
                "seed {seed}: {source:?}: {error}"
            );
        }
    }
}

/// The first ```text block after `heading` in docs/RULES.md.
fn rules_doc_block(heading: &str) -> Vec<&'static str> {
    let doc = include_str!("../../../docs/RULES.md");
    let section = doc.split(heading).nth(1).expect("section exists");
    let block = section.split("```text").nth(1).expect("a text block");
    let block = block.split("```").next().expect("closed block");
    block
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect()
}

#[test]
fn the_documented_examples_are_valid() {
    let known = FieldSet::new([
        (
            "topic".to_owned(),
            vec![
                "outage".to_owned(),
                "billing".to_owned(),
                "cancellation".to_owned(),
            ],
        ),
        ("product".to_owned(), vec!["tv".to_owned()]),
    ]);
    let examples = rules_doc_block("## Examples");
    assert!(examples.len() >= 5);
    for example in examples {
        let rule = parse(example).expect("documented examples parse");
        assert!(rule.check_fields(&known).is_empty(), "{example}");
    }
}

#[test]
fn the_documented_syntax_errors_are_the_real_ones() {
    for line in rules_doc_block("## Errors") {
        let (source, message) = line.split_once('→').expect("`source → message`");
        assert_eq!(error(source.trim()).to_string(), message.trim(), "{line}");
    }
}
