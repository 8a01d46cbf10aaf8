//! Tests of the socket loop driven by channels: subscriptions, lag notices, slow and
//! departing clients, shutdown.

use std::convert::Infallible;
use std::sync::Arc;

use futures::channel::mpsc;
use nlp::SentimentLabel;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::*;
use crate::alerts::{AlertPost, Severity};
use crate::test_support::{PostBuilder, instant};

fn teams() -> Vec<Team> {
    let team = |name: &str, role| Team {
        name: name.to_owned(),
        role,
        members: Vec::new(),
    };
    vec![
        team("care", Role::Member),
        team("sales", Role::Member),
        team("bosses", Role::Manager),
    ]
}

fn subscription(requested: &[&str]) -> Subscription {
    let requested: Vec<String> = requested.iter().map(|name| (*name).to_owned()).collect();
    Subscription::resolve(&requested, &teams()).expect("known teams")
}

fn post_event(id: &str) -> LiveEvent {
    let post = PostBuilder::new(id)
        .text("<img src=x onerror=alert(1)>")
        .author("@eve", "Eve <b>")
        .sentiment(SentimentLabel::Negative, -0.5)
        .brand("Lumio")
        .category("topic", "outage")
        .build();
    LiveEvent::Post(LivePost::from_analysed(&post).routed_to(vec!["care".to_owned()]))
}

fn alert_event(id: &str, team: &str) -> LiveEvent {
    LiveEvent::Alert(Alert {
        id: id.to_owned(),
        rule: "rule".to_owned(),
        team: team.to_owned(),
        severity: Severity::High,
        post_id: "x:1".to_owned(),
        brands: Vec::new(),
        reason: "rule rule: brand (Lumio)".to_owned(),
        created_at: instant(0),
        post: AlertPost {
            text: "text".to_owned(),
            author_handle: None,
            author_name: None,
            followers: None,
            url: None,
            source: SourceKind::X,
            language: "en".to_owned(),
            sentiment: SentimentLabel::Negative,
            score: -0.5,
            categories: BTreeMap::new(),
            author_id: None,
            thread: None,
        },
        lifecycle: Default::default(),
        group: Vec::new(),
        spike: None,
    })
}

/// A socket loop running on channels: what it sends comes out of `outgoing`.
struct Harness {
    outgoing: mpsc::Receiver<Message>,
    from_client: mpsc::UnboundedSender<Result<Message, Infallible>>,
    stats: Arc<LiveStats>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

fn start(
    events: broadcast::Receiver<SharedEvent>,
    subscription: Subscription,
    outgoing_buffer: usize,
) -> Harness {
    start_with_backlog(events, subscription, Vec::new(), outgoing_buffer)
}

fn start_with_backlog(
    events: broadcast::Receiver<SharedEvent>,
    subscription: Subscription,
    backlog: Vec<Alert>,
    outgoing_buffer: usize,
) -> Harness {
    let (sink, outgoing) = mpsc::channel(outgoing_buffer);
    let (from_client, incoming) = mpsc::unbounded();
    let stats = Arc::new(LiveStats::default());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let stats = Arc::clone(&stats);
        let shutdown = shutdown.clone();
        async move {
            run_socket(
                sink,
                incoming,
                events,
                subscription,
                backlog,
                &stats,
                shutdown,
            )
            .await;
        }
    });
    Harness {
        outgoing,
        from_client,
        stats,
        shutdown,
        task,
    }
}

impl Harness {
    async fn next_json(&mut self) -> Value {
        let message = self.outgoing.next().await.expect("a message");
        let text = message.to_text().expect("a text message");
        serde_json::from_str(text).expect("json")
    }

    /// The `type` (and id or team, when there is one) of the next `count` messages.
    async fn next_summaries(&mut self, count: usize) -> Vec<String> {
        let mut summaries = Vec::new();
        for _ in 0..count {
            let json = self.next_json().await;
            let kind = json["type"].as_str().unwrap_or("?").to_owned();
            let detail = json["id"].as_str().or(json["team"].as_str()).unwrap_or("");
            summaries.push(format!("{kind} {detail}").trim().to_owned());
        }
        summaries
    }
}

#[test]
fn subscriptions_resolve_repeated_and_comma_separated_teams() {
    let requested = vec!["care, sales".to_owned(), "care".to_owned(), String::new()];
    let resolved = Subscription::resolve(&requested, &teams()).expect("known");
    assert_eq!(resolved.teams(), ["care", "sales"]);
    assert!(!resolved.every_alert);
    assert!(subscription(&["bosses"]).every_alert);
    assert!(subscription(&[]).teams().is_empty());
    let error = Subscription::resolve(&["care,nobody".to_owned()], &teams()).expect_err("unknown");
    assert_eq!(error, "unknown team `nobody` (teams: care, sales, bosses)");
}

#[test]
fn events_are_tagged_by_type() {
    let lagged = serde_json::to_value(LiveEvent::Lagged { missed: 3 }).expect("json");
    assert_eq!(lagged, json!({"type": "lagged", "missed": 3}));
    let hello = serde_json::to_value(LiveEvent::Hello {
        teams: vec!["care".to_owned()],
    })
    .expect("json");
    assert_eq!(hello, json!({"type": "hello", "teams": ["care"]}));
    let deleted = LiveEvent::Deleted {
        id: "bluesky:at://did:plc:a/app.bsky.feed.post/1".to_owned(),
    };
    assert!(
        Subscription::resolve(&[], &teams())
            .expect("no team")
            .wants(&deleted)
    );
    assert_eq!(
        serde_json::to_value(&deleted).expect("json"),
        json!({"type": "deleted", "id": "bluesky:at://did:plc:a/app.bsky.feed.post/1"})
    );
    let post = serde_json::to_value(post_event("x:1")).expect("json");
    assert_eq!(post["type"], "post");
    assert_eq!(post["author"], "Eve <b>");
    assert_eq!(post["categories"]["topic"][0], "outage");
    let alert = serde_json::to_value(alert_event("a", "care")).expect("json");
    assert_eq!(alert["type"], "alert");
    assert_eq!(alert["severity"], "high");
    let back: LiveEvent = serde_json::from_value(alert).expect("reads back");
    assert_eq!(back, alert_event("a", "care"));
}

/// Every socket sends the same bytes: an event is encoded once, and an event that came as
/// JSON from another node is sent on as it came.
#[test]
fn a_shared_event_is_encoded_once_for_every_socket() {
    let event = SharedEvent::from(alert_event("a", "care"));
    let expected = serde_json::to_string(&alert_event("a", "care")).expect("json");
    let copy = event.clone();
    let (Some(Message::Text(first)), Some(Message::Text(second))) =
        (event.message(), copy.message())
    else {
        panic!("text messages expected");
    };
    assert_eq!(first.as_str(), expected);
    assert_eq!(
        first.as_str().as_ptr(),
        second.as_str().as_ptr(),
        "one encoding, shared"
    );
    let relayed = SharedEvent::with_json(alert_event("a", "care"), "{\"as\":\"sent\"}".to_owned());
    assert_eq!(relayed.json(), Some("{\"as\":\"sent\"}"));
    assert_eq!(relayed.event(), &alert_event("a", "care"));
}

#[tokio::test]
async fn sends_hello_then_every_post_and_only_the_teams_alerts() {
    let (publisher, events) = broadcast::channel(16);
    let mut socket = start(events, subscription(&["care"]), 16);
    assert_eq!(
        socket.next_json().await,
        json!({"type": "hello", "teams": ["care"]})
    );
    publisher
        .send(post_event("x:1").into())
        .expect("subscribed");
    publisher
        .send(alert_event("a1", "sales").into())
        .expect("subscribed");
    publisher
        .send(alert_event("a2", "care").into())
        .expect("subscribed");
    publisher
        .send(alert_event("a3", "bosses").into())
        .expect("subscribed");
    publisher
        .send(post_event("x:2").into())
        .expect("subscribed");
    assert_eq!(
        socket.next_summaries(3).await,
        ["post x:1", "alert a2", "post x:2"]
    );
    drop(socket.from_client);
    socket.task.await.expect("loop ends when the client leaves");
    assert_eq!(socket.stats.snapshot().sockets_open, 0);
    assert_eq!(socket.stats.snapshot().sockets_total, 1);
}

#[tokio::test]
async fn the_backlog_comes_after_hello_and_is_never_sent_twice() {
    let (publisher, events) = broadcast::channel(16);
    let backlog = [("a1", "care"), ("a2", "sales"), ("a3", "care")]
        .into_iter()
        .filter_map(|(id, team)| match alert_event(id, team) {
            LiveEvent::Alert(alert) => Some(alert),
            _ => None,
        })
        .collect();
    let mut socket = start_with_backlog(events, subscription(&["care"]), backlog, 16);
    // a3 was raised between the subscription and the reading of the log: it comes live too.
    publisher
        .send(alert_event("a3", "care").into())
        .expect("subscribed");
    publisher
        .send(alert_event("a4", "care").into())
        .expect("subscribed");
    assert_eq!(
        socket.next_summaries(4).await,
        ["hello", "alert a1", "alert a3", "alert a4"]
    );
}

#[tokio::test]
async fn a_manager_team_receives_every_alert_and_post_and_a_member_team_its_own() {
    let (publisher, events) = broadcast::channel(16);
    let mut manager = start(events, subscription(&["bosses"]), 16);
    let mut sales = start(publisher.subscribe(), subscription(&["sales"]), 16);
    publisher
        .send(alert_event("a1", "sales").into())
        .expect("subscribed");
    publisher
        .send(alert_event("a2", "care").into())
        .expect("subscribed");
    publisher
        .send(post_event("x:1").into())
        .expect("subscribed");
    publisher
        .send(alert_event("a3", "sales").into())
        .expect("subscribed");
    assert_eq!(
        manager.next_summaries(5).await,
        ["hello", "alert a1", "alert a2", "post x:1", "alert a3"]
    );
    assert_eq!(
        sales.next_summaries(3).await,
        ["hello", "alert a1", "alert a3"],
        "a member team receives neither other teams' alerts nor posts routed elsewhere"
    );
}

#[tokio::test]
async fn a_lagging_client_is_told_how_many_events_it_missed() {
    let (publisher, events) = broadcast::channel(2);
    for number in 0..5 {
        publisher
            .send(post_event(&format!("x:{number}")).into())
            .expect("subscribed");
    }
    let mut socket = start(events, subscription(&["care"]), 16);
    assert_eq!(socket.next_summaries(1).await, ["hello"]);
    assert_eq!(
        socket.next_json().await,
        json!({"type": "lagged", "missed": 3})
    );
    assert_eq!(socket.next_summaries(2).await, ["post x:3", "post x:4"]);
    let stats = socket.stats.snapshot();
    assert_eq!((stats.lag_notices, stats.missed_events), (1, 3));
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_never_blocks_publishing_and_is_dropped() {
    let (publisher, events) = broadcast::channel(4);
    // A one-slot outgoing channel nobody reads: the loop's second send blocks.
    let socket = start(events, subscription(&["care"]), 0);
    for number in 0..1_000 {
        publisher
            .send(post_event(&format!("x:{number}")).into())
            .expect("publishing never waits for the client");
    }
    // The paused clock runs to the send timeout, and the loop gives up on the client.
    socket.task.await.expect("loop ends");
    assert_eq!(socket.stats.snapshot().sockets_open, 0);
    drop(socket.outgoing);
}

#[tokio::test]
async fn shutdown_closes_the_socket() {
    let (_publisher, events) = broadcast::channel::<SharedEvent>(4);
    let mut socket = start(events, subscription(&["care"]), 16);
    assert_eq!(socket.next_summaries(1).await, ["hello"]);
    socket.shutdown.cancel();
    let message = socket.outgoing.next().await.expect("a close frame");
    assert!(matches!(message, Message::Close(None)), "{message:?}");
    socket.task.await.expect("loop ends");
}

#[tokio::test]
async fn a_close_frame_from_the_client_ends_the_loop() {
    let (_publisher, events) = broadcast::channel::<SharedEvent>(4);
    let mut socket = start(events, subscription(&["care"]), 16);
    assert_eq!(socket.next_summaries(1).await, ["hello"]);
    socket
        .from_client
        .unbounded_send(Ok(Message::text("ignored")))
        .expect("loop running");
    socket
        .from_client
        .unbounded_send(Ok(Message::Close(None)))
        .expect("loop running");
    socket.task.await.expect("loop ends");
}

/// The `type` and id (or routed teams) of the next event on a subscription's channel.
async fn next_on(channel: &mut broadcast::Receiver<SharedEvent>) -> String {
    let event = channel.recv().await.expect("an event");
    match event.event() {
        LiveEvent::Alert(alert) => format!("alert {} for {}", alert.id, alert.team),
        LiveEvent::Post(post) => format!("post {} for {}", post.id, post.teams.join(",")),
        LiveEvent::Lagged { missed } => format!("lagged {missed}"),
        other => format!("{other:?}"),
    }
}

/// A fan-out fed by `publisher`, as a hub builds it.
struct FanoutHarness {
    publisher: broadcast::Sender<SharedEvent>,
    fanout: fanout::Fanout,
    shutdown: CancellationToken,
    stats: Arc<LiveStats>,
}

impl FanoutHarness {
    fn new(capacity: usize) -> FanoutHarness {
        FanoutHarness {
            publisher: broadcast::channel(capacity).0,
            fanout: fanout::Fanout::default(),
            shutdown: CancellationToken::new(),
            stats: Arc::new(LiveStats::default()),
        }
    }

    /// A channel of the `teams` subscription, and the fan-out task if this started it.
    fn subscribe(
        &self,
        teams: &[&str],
    ) -> (
        broadcast::Receiver<SharedEvent>,
        Option<impl Future<Output = ()> + Send + 'static + use<>>,
    ) {
        self.fanout.subscribe(
            &subscription(teams),
            &self.publisher,
            &self.shutdown,
            &self.stats,
        )
    }
}

#[tokio::test]
async fn the_fanout_hands_each_subscription_only_its_events_and_shares_channels() {
    let harness = FanoutHarness::new(16);
    let (mut care, task) = harness.subscribe(&["care"]);
    let task = tokio::spawn(task.expect("the first subscription starts the fan-out"));
    let (mut care_too, again) = harness.subscribe(&["care"]);
    assert!(again.is_none(), "one fan-out task for every subscription");
    let (mut sales, _) = harness.subscribe(&["sales"]);
    let (mut bosses, _) = harness.subscribe(&["bosses"]);

    for event in [
        alert_event("rule:x:1", "sales"),
        post_event("x:2"),
        alert_event("rule:x:2", "care"),
    ] {
        harness
            .publisher
            .send(event.into())
            .expect("the fan-out listens");
    }
    let expected_care = ["post x:2 for care", "alert rule:x:2 for care"];
    for channel in [&mut care, &mut care_too] {
        assert_eq!(
            [next_on(channel).await, next_on(channel).await],
            expected_care
        );
    }
    assert_eq!(next_on(&mut sales).await, "alert rule:x:1 for sales");
    let mut manager = Vec::new();
    for _ in 0..3 {
        manager.push(next_on(&mut bosses).await);
    }
    assert_eq!(
        manager,
        [
            "alert rule:x:1 for sales",
            "post x:2 for care",
            "alert rule:x:2 for care"
        ]
    );
    assert!(
        sales.is_empty() && care.is_empty(),
        "nothing else was routed"
    );

    harness.shutdown.cancel();
    task.await.expect("the fan-out ends on shutdown");
    assert!(
        matches!(care.recv().await, Err(RecvError::Closed)),
        "its channels close with it"
    );
}

#[tokio::test]
async fn a_fanout_behind_the_pipeline_tells_every_subscription_and_counts_it_once() {
    let harness = FanoutHarness::new(2);
    let (mut care, task) = harness.subscribe(&["care"]);
    let (mut sales, _) = harness.subscribe(&["sales"]);
    // Five events before the task runs: its own receiver keeps the last two.
    for number in 0..5 {
        harness
            .publisher
            .send(post_event(&format!("x:{number}")).into())
            .expect("the fan-out is subscribed");
    }
    let task = tokio::spawn(task.expect("first subscription"));
    assert_eq!(next_on(&mut care).await, "lagged 3");
    assert_eq!(next_on(&mut sales).await, "lagged 3");
    assert_eq!(next_on(&mut care).await, "post x:3 for care");
    assert_eq!(next_on(&mut care).await, "post x:4 for care");
    let counted = harness.stats.snapshot();
    assert_eq!((counted.lag_notices, counted.missed_events), (1, 3));
    harness.shutdown.cancel();
    task.await.expect("the fan-out ends on shutdown");
}
