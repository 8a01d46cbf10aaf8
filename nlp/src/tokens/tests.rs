//! Tests of the tokenizer (kept apart: `tokens.rs` is long enough).

use super::*;

fn tokenizer() -> Tokenizer {
    Tokenizer::new().unwrap()
}

fn texts(tokens: &[Token]) -> Vec<&str> {
    tokens.iter().map(|token| token.text.as_str()).collect()
}

fn kinds(tokens: &[Token]) -> Vec<TokenKind> {
    tokens.iter().map(|token| token.kind).collect()
}

#[test]
fn words_are_lowercased_and_punctuation_is_separate() {
    let tokens = tokenizer().tokenize("Lumio is DOWN again!");
    assert_eq!(texts(&tokens), ["lumio", "is", "down", "again", "!"]);
    assert_eq!(tokens[4].kind, TokenKind::Punct);
    assert_eq!(tokens[2].span, 9..13);
}

#[test]
fn social_units_stay_whole() {
    let text = "@Lumio_Help see https://lumio.fr/Offres?x=1). mail me: a.b@ex.com #LumioFail";
    let tokens = tokenizer().tokenize(text);
    let handle = &tokens[0];
    assert_eq!(
        (handle.text.as_str(), handle.kind),
        ("@lumio_help", TokenKind::Handle)
    );
    let url = tokens
        .iter()
        .find(|token| token.kind == TokenKind::Url)
        .unwrap();
    assert_eq!(url.text, "https://lumio.fr/Offres?x=1");
    assert_eq!(&text[url.span.clone()], url.text);
    let email = tokens
        .iter()
        .find(|token| token.kind == TokenKind::Email)
        .unwrap();
    assert_eq!(email.text, "a.b@ex.com");
    let hashtag = tokens
        .iter()
        .position(|token| token.kind == TokenKind::Hashtag)
        .unwrap();
    assert_eq!(texts(&tokens[hashtag..]), ["#lumiofail", "lumio", "fail"]);
    assert!(tokens[hashtag + 1].in_hashtag && tokens[hashtag + 2].in_hashtag);
    assert_eq!(&text[tokens[hashtag + 2].span.clone()], "Fail");
}

#[test]
fn mastodon_handles_keep_their_instance() {
    let tokens = tokenizer().tokenize("cc @lumio@mastodon.social.");
    assert_eq!(texts(&tokens), ["cc", "@lumio@mastodon.social", "."]);
}

#[test]
fn accents_are_folded_and_elisions_split() {
    let tokens = tokenizer().tokenize("Résiliation de l'Internet aujourd'hui, cœur");
    assert_eq!(
        texts(&tokens),
        [
            "résiliation",
            "de",
            "l'",
            "internet",
            "aujourd'hui",
            ",",
            "cœur"
        ]
    );
    assert_eq!(tokens[0].folded, "resiliation");
    assert_eq!(tokens[6].folded, "coeur");
}

#[test]
fn possessives_and_chained_elisions_are_split() {
    let text = "Lumio\u{2019}s outage, it's qu'l'internet";
    let tokens = tokenizer().tokenize(text);
    assert_eq!(
        texts(&tokens),
        [
            "lumio", "'s", "outage", ",", "it", "'s", "qu'", "l'", "internet"
        ]
    );
    for token in &tokens {
        assert!(text.get(token.span.clone()).is_some(), "{token:?}");
    }
    assert_eq!(&text[tokens[1].span.clone()], "\u{2019}s");
    assert_eq!(&text[tokens[8].span.clone()], "internet");
}

#[test]
fn hashtags_split_after_known_prefixes() {
    let tokenizer = tokenizer().with_hashtag_prefixes(["lumio".to_owned(), "x".to_owned()]);
    let tokens = tokenizer.tokenize("#lumiofail #LumioFail #lumio #lumios #xfail");
    assert_eq!(
        texts(&tokens),
        [
            "#lumiofail",
            "lumio",
            "fail",
            "#lumiofail",
            "lumio",
            "fail",
            "#lumio",
            "lumio",
            "#lumios",
            "lumios",
            "#xfail",
            "xfail"
        ]
    );
    assert_eq!(tokens[2].span, 6..10);
}

#[test]
fn curly_apostrophes_and_compatibility_forms_are_normalised() {
    let tokens = tokenizer().tokenize("don\u{2019}t ＬＵＭＩＯ ﬁbre");
    assert_eq!(texts(&tokens), ["don't", "lumio", "fibre"]);
}

#[test]
fn elongations_are_collapsed_in_the_folded_form() {
    let tokens = tokenizer().tokenize("soooo nuuuul good");
    assert_eq!(tokens[0].folded, "so");
    assert!(tokens[0].elongated);
    assert_eq!(tokens[1].folded, "nul");
    assert_eq!(tokens[2].folded, "good");
    assert!(!tokens[2].elongated);
}

#[test]
fn emoji_and_emoticons_are_tokens() {
    let tokens = tokenizer().tokenize("bad 😡😡 ❤️ 👍🏽 :( <3");
    assert_eq!(
        kinds(&tokens),
        [
            TokenKind::Word,
            TokenKind::Emoji,
            TokenKind::Emoji,
            TokenKind::Emoji,
            TokenKind::Emoji,
            TokenKind::Emoji,
            TokenKind::Emoji
        ]
    );
    assert_eq!(tokens[3].folded, "❤");
    assert_eq!(tokens[4].folded, "👍");
}

#[test]
fn numbers_and_alphanumerics() {
    let tokens = tokenizer().tokenize("5G costs 12,50 in 2024");
    assert_eq!(texts(&tokens), ["5g", "costs", "12,50", "in", "2024"]);
    assert_eq!(
        kinds(&tokens),
        [
            TokenKind::Word,
            TokenKind::Word,
            TokenKind::Number,
            TokenKind::Word,
            TokenKind::Number
        ]
    );
}

#[test]
fn stems_are_accent_insensitive() {
    let tokenizer = tokenizer();
    let accented = tokenizer.tokenize_stemmed("résiliation", Algorithm::French);
    let plain = tokenizer.tokenize_stemmed("resiliation", Algorithm::French);
    assert_eq!(accented[0].stem, plain[0].stem);
    let cancelled = tokenizer.tokenize_stemmed("cancelled cancellation", Algorithm::English);
    assert_eq!(cancelled[0].stem, "cancel");
    assert_eq!(cancelled[1].stem, "cancel");
}

#[test]
fn weird_input_never_panics() {
    let tokenizer = tokenizer();
    let long = "é#".repeat(10_000);
    let inputs = [
        "",
        " \t\n ",
        "\u{0}\u{1}\u{7f}lumio\u{200b}fail",
        "#",
        "@",
        "#_",
        "#\u{301}\u{301}",
        "l'",
        "l'l'l'l'l'l'l'l'l'l'l'l'l'l'l'l'l'l'l'l'l's",
        "'s",
        "http://",
        "\u{FEFF}\u{FFFD}\u{202E}abc",
        "👨\u{200D}👩\u{200D}👧",
        "İstanbul ǅ ﷺ",
        long.as_str(),
    ];
    for input in inputs {
        for token in tokenizer.tokenize(input) {
            assert!(
                input.get(token.span.clone()).is_some(),
                "bad span in {input:?}"
            );
        }
    }
}

/// The fast path's tokens of `text`.
fn simple(tokenizer: &Tokenizer, text: &str, lowercase: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    tokenizer.tokenize_simple(text, lowercase, &mut tokens);
    tokens
}

/// The general path's tokens of `text`.
fn general(tokenizer: &Tokenizer, text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    tokenizer.tokenize_general(text, &mut tokens);
    tokens
}

/// A small deterministic generator (xorshift), so the test needs no dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn the_fast_path_gives_the_tokens_of_the_general_path() {
    let tokenizer = tokenizer().with_hashtag_prefixes(["lumio".to_owned()]);
    let pieces = [
        "a",
        "Z",
        "lumio",
        "Lumio",
        "LUMIO",
        "soooo",
        "1",
        "42",
        "3.5",
        "1,000",
        "12:30",
        ".",
        ",",
        ":",
        ";",
        "=",
        "-",
        "+",
        "%",
        "_",
        "@",
        "#",
        "'",
        "'s",
        "l'",
        "qu'",
        "n't",
        "(",
        ")",
        "/",
        "|",
        "[",
        "]",
        "<",
        "<3",
        ">",
        "!",
        "?",
        "\"",
        "http://",
        "https://",
        "www.",
        "x.com/A?b=1",
        "mail",
        "fail",
        "Fail",
        "HTTPServer",
        "5G",
        " ",
        " ",
        "  ",
        "\n",
        "\t",
        "\r",
        "~",
        "*",
        "&",
        "$",
        "^",
        "`",
        "{",
        "}",
        "\\",
        "é",
        "É",
        "à",
        "ç",
        "Ç",
        "ô",
        "œ",
        "Œ",
        "ß",
        "ÿ",
        "×",
        "ª",
        "\u{a0}",
        "’",
        "don’t",
        "l’",
        "’s",
        "…",
        "‘",
        "“",
        "”",
        "–",
        "—",
        "«",
        "»",
        "£",
        "€",
        "•",
        "►",
        "⭐",
        "⌚",
        "¡",
        "°",
        "\u{ad}",
        "\u{2003}",
        "\u{202f}",
        "🇺🇸",
        "🇺",
        "‼",
        "™",
        "\u{200b}",
        "²",
        "😡",
        "👍",
        "👍🏽",
        "❤️",
        "❤",
        "\u{fe0f}",
        "🇫🇷",
        "\u{200d}",
        "\u{301}",
        "ﬁ",
        "İ",
        "Résilier",
        "#PanneRéseau",
        "\u{b}",
        "\u{7f}",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut texts: Vec<String> = vec![
        "@Lumio_Help see https://lumio.fr/Offres?x=1). mail me: a.b@ex.com #LumioFail".into(),
        "l'internet de Lumio's box :( <3 :-) =] soooo BAD!!! #Lumio5GDown qu'il".into(),
        "@user@mastodon.social #lumiofibre 1.000,50 www.lumio.fr, 8am".into(),
    ];
    for _ in 0..6000 {
        let length = 1 + next(&mut state) % 14;
        let mut text = String::new();
        for _ in 0..length {
            let at = usize::try_from(next(&mut state) % pieces.len() as u64).unwrap();
            text.push_str(pieces[at]);
        }
        texts.push(text);
    }
    let mut fast = 0;
    for text in &texts {
        if let Some(lowercase) = simple_lowercase(text) {
            fast += 1;
            // Hashtag parts use it as their normalisation.
            if !text.chars().any(char::is_whitespace) {
                let mut normalized = NormalizedString::from(text.as_str());
                tokenizer.normalizer.normalize(&mut normalized).unwrap();
                assert_eq!(normalized.get(), lowercase.replace('’', "'"));
            }
            assert_eq!(
                simple(&tokenizer, text, &lowercase),
                general(&tokenizer, text),
                "{text:?}"
            );
        }
        assert_eq!(
            tokenizer.tokenize(text),
            general(&tokenizer, text),
            "{text:?}"
        );
    }
    assert!(fast > 1000, "only {fast} texts took the fast path");
}

#[test]
fn every_simple_character_is_left_alone_by_the_normalizers() {
    let tokenizer = tokenizer();
    let mut checked = 0;
    for c in (0x80..=0x1FFFF)
        .filter_map(char::from_u32)
        .filter(|&c| is_simple(c))
    {
        let mut normalized = NormalizedString::from(c.to_string().as_str());
        tokenizer.normalizer.normalize(&mut normalized).unwrap();
        let lowercase = simple_lowercase(&c.to_string()).unwrap();
        assert_eq!(
            normalized.get(),
            lowercase,
            "{c:?} (U+{:04X})",
            u32::from(c)
        );
        checked += 1;
    }
    assert!(checked > 3000, "{checked}");
    for (special, normalized) in [('…', "..."), ('’', "'"), ('\u{a0}', " "), ('\u{2009}', " ")]
    {
        let mut general = NormalizedString::from(special.to_string().as_str());
        tokenizer.normalizer.normalize(&mut general).unwrap();
        assert_eq!(general.get(), normalized);
    }
}
