//! Why an author is a mass connector or a mass maven, in one sentence with the figures
//! behind it: "top 2% by impressions (#3 of ~150 authors): 48k followers × 12 posts in 30
//! days + 1.2k engagement ≈ 580k impressions".
//!
//! Figures are the author's exact profile, decayed to now (see [`super::window`]); the rank
//! is the author's place in the set, and the share of authors is the rank over the
//! estimated number of authors active in the window.

use std::fmt::Write;

use super::profile::Profile;

/// The decayed figures of a profile at the time of the explanation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Posts about the brand in the window.
    pub posts: f64,
    pub impressions: f64,
    pub engagement: f64,
    /// Posts weighted by expertise.
    pub expert_posts: f64,
}

/// Where the author stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    /// 1 for the first.
    pub rank: u64,
    /// Authors active in the window (estimated).
    pub active_authors: f64,
    pub window_days: u32,
}

impl Standing {
    /// The author's place as a top percentage of the active authors, at least 0.1 %.
    fn top_percent(&self) -> String {
        let percent = 100.0 * self.rank as f64 / self.active_authors.max(self.rank as f64);
        if percent < 10.0 {
            format!("{:.1}", percent.max(0.1))
        } else {
            format!("{percent:.0}")
        }
    }

    fn place(&self) -> String {
        let authors = self.active_authors.max(self.rank as f64);
        format!(
            "top {}% (#{} of ~{} authors)",
            self.top_percent(),
            self.rank,
            compact(authors)
        )
    }
}

/// 950, 1.2k, 48k, 3.4M.
pub fn compact(value: f64) -> String {
    let value = value.max(0.0);
    let (scaled, unit) = if value >= 1e9 {
        (value / 1e9, "G")
    } else if value >= 1e6 {
        (value / 1e6, "M")
    } else if value >= 1e3 {
        (value / 1e3, "k")
    } else {
        return format!("{}", value.round());
    };
    if scaled < 10.0 {
        format!("{scaled:.1}{unit}")
    } else {
        format!("{}{unit}", scaled.round())
    }
}

/// A count of posts: whole numbers as such, else one decimal ("2.6 posts" for decayed
/// counts).
fn posts(count: f64) -> String {
    let rounded = (count * 10.0).round() / 10.0;
    if (rounded - rounded.round()).abs() < 1e-9 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

/// `1 answer`, `3 answers`.
fn counted(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Why the author is a mass connector.
pub fn connector(profile: &Profile, figures: &Figures, standing: &Standing) -> String {
    let mut text = format!(
        "{} by impressions: {} followers × {} posts in {} days",
        standing.place(),
        compact(profile.followers as f64),
        posts(figures.posts),
        standing.window_days
    );
    if figures.engagement >= 0.5 {
        let _ = write!(text, " + {} engagement", compact(figures.engagement));
    }
    let _ = write!(text, " ≈ {} impressions", compact(figures.impressions));
    text
}

/// Why the author is a mass maven.
pub fn maven(profile: &Profile, figures: &Figures, standing: &Standing) -> String {
    let mut text = format!(
        "{} by expert posts: {} posts in {} days, weighing {}",
        standing.place(),
        posts(figures.posts),
        standing.window_days,
        posts(figures.expert_posts)
    );
    let mut signals = Vec::new();
    if let Some(level) = profile.trust_level {
        signals.push(format!("forum trust level {level}"));
    }
    if let Some(count) = profile.forum_posts {
        signals.push(format!("{} forum posts", compact(count as f64)));
    }
    if profile.blog_author {
        signals.push("blog author".to_owned());
    }
    if profile.long_posts > 0 {
        signals.push(counted(profile.long_posts, "long post"));
    }
    if profile.answers > 0 {
        signals.push(counted(profile.answers, "answer"));
    }
    if !signals.is_empty() {
        let _ = write!(text, " ({})", signals.join(", "));
    }
    text
}

#[cfg(test)]
mod tests {
    use collector::SourceKind;

    use super::*;
    use crate::influence::profile::Observation;

    fn profile() -> Profile {
        let observation = Observation {
            source: SourceKind::Discourse,
            author_id: "7",
            handle: Some("ana"),
            name: None,
            profile_url: None,
            followers: Some(48_200),
            engagement: 0,
            trust_level: Some(3),
            forum_posts: Some(1_234),
            blog_author: false,
            text_chars: 10,
            answering: true,
            at: 0,
        };
        let mut profile = Profile::new(&observation);
        profile.record(&observation, 1.0);
        profile
    }

    #[test]
    fn explains_with_the_figures() {
        let figures = Figures {
            posts: 12.0,
            impressions: 580_000.0,
            engagement: 1_234.0,
            expert_posts: 25.3,
        };
        let standing = Standing {
            rank: 3,
            active_authors: 150.0,
            window_days: 30,
        };
        assert_eq!(
            connector(&profile(), &figures, &standing),
            "top 2.0% (#3 of ~150 authors) by impressions: 48k followers × 12 posts in 30 days \
             + 1.2k engagement ≈ 580k impressions"
        );
        assert_eq!(
            maven(&profile(), &figures, &standing),
            "top 2.0% (#3 of ~150 authors) by expert posts: 12 posts in 30 days, weighing 25.3 \
             (forum trust level 3, 1.2k forum posts, 1 answer)"
        );
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(950.4), "950");
        assert_eq!(compact(1_234.0), "1.2k");
        assert_eq!(compact(48_200.0), "48k");
        assert_eq!(compact(3_400_000.0), "3.4M");
        assert_eq!(posts(2.64), "2.6");
    }
}
