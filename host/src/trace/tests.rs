use super::*;

fn head(id: &str, chat: &str) -> Header {
    let mut h = Header::new(Kind::Message);
    h.set(Field::Id, id)
        .set(Field::Chat, chat)
        .set(Field::Sender, "小明")
        .set(Field::SenderQq, 123)
        .content("hi");
    h
}

fn id(name: &str) -> std::sync::Arc<BotId> {
    std::sync::Arc::new(BotId::new(
        name.into(),
        "0123456789abcdef",
        "openqq:bot/bot@0.2.0",
    ))
}

fn bot(name: &str, outcome: BotOutcome) -> Step {
    Step::Bot {
        id: id(name),
        outcome,
        detail: None,
        us: 5,
    }
}

fn all(t: &Traces) -> Vec<u64> {
    let q = Query {
        limit: usize::MAX,
        ..Query::default()
    };
    t.list(&q).0.iter().map(|t| t.seq).collect()
}

#[test]
fn the_ring_keeps_the_newest_traces() {
    let t = Traces::new(3);
    for i in 0..5 {
        drop(t.begin(|| head(&format!("m{i}"), "friend:1")));
    }
    assert_eq!(all(&t), [3, 4, 5]);
    let (_, last) = t.list(&Query::default());
    assert_eq!(last, 5);
    assert!(t.find("m0").is_none(), "evicted");
    assert_eq!(t.find("m4").map(|t| t.seq), Some(5));
    assert_eq!(t.find("4").map(|t| t.id), Some("m3".into()), "by number");
}

#[test]
fn after_and_limit_page_through_the_ring() {
    let t = Traces::new(100);
    for i in 0..10 {
        drop(t.begin(|| head(&format!("m{i}"), "friend:1")));
    }
    let page = |after, limit| {
        let q = Query {
            after,
            limit,
            ..Query::default()
        };
        t.list(&q).0.iter().map(|t| t.seq).collect::<Vec<_>>()
    };
    assert_eq!(page(0, 3), [1, 2, 3]);
    assert_eq!(page(3, 3), [4, 5, 6]);
    assert_eq!(page(8, 100), [9, 10]);
    assert!(page(10, 100).is_empty());
    assert!(page(u64::MAX, 100).is_empty());
}

#[test]
fn filters_by_chat_and_by_bot_asked() {
    let t = Traces::new(100);
    let a = t.begin(|| head("a", "group:1"));
    a.step(|| bot("echo", BotOutcome::Pass));
    let b = t.begin(|| head("b", "friend:2"));
    b.step(|| bot("guard", BotOutcome::Reply));
    let c = t.begin(|| head("c", "group:1"));
    c.step(|| bot("guard", BotOutcome::Pass));
    let ids = |chat: Option<&str>, bot: Option<&str>| {
        let q = Query {
            limit: 100,
            chat: chat.map(String::from),
            bot: bot.map(String::from),
            ..Query::default()
        };
        t.list(&q).0.into_iter().map(|t| t.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(Some("group:1"), None), ["a", "c"]);
    assert_eq!(ids(None, Some("guard")), ["b", "c"]);
    assert_eq!(ids(Some("group:1"), Some("guard")), ["c"]);
    assert!(ids(Some("group:9"), None).is_empty());
}

#[test]
fn off_records_nothing_and_builds_nothing() {
    let t = Traces::new(0);
    assert!(!t.is_on());
    let h = t.begin(|| panic!("no header is built when off"));
    assert!(!h.is_on());
    h.step(|| panic!("no step is built when off"));
    let (traces, last) = t.list(&Query::default());
    assert!(traces.is_empty());
    assert_eq!(last, 0);
    assert!(t.find("1").is_none());
    assert!(t.subscribe().is_none());
}

#[test]
fn a_trace_is_pending_until_its_last_handle_goes() {
    let t = Traces::new(10);
    let h = t.begin(|| head("m", "friend:1"));
    let carried = h.clone();
    h.step(|| bot("echo", BotOutcome::Pass));
    drop(h);
    assert_eq!(t.find("m").map(|t| t.outcome), Some(Outcome::Pending));
    carried.step(|| Step::Webhook {
        status: Some(200),
        ms: 3,
        acted: false,
        detail: None,
    });
    drop(carried);
    let done = t.find("m").expect("kept");
    assert_eq!(done.outcome, Outcome::Passed);
    assert_eq!(
        done.why,
        "echo passed; webhook answered 200 without a reply"
    );
    let json = serde_json::to_value(&done).expect("serialises");
    assert_eq!(json["steps"][0]["bot"], "echo");
    assert_eq!(json["steps"][0]["version"], "0123456789ab");
    assert_eq!(json["steps"][0]["world"], "0.2.0");
    assert_eq!(json["sender_qq"], "123");
    assert_eq!(json["steps"][0]["kind"], "bot");
    assert_eq!(json["steps"][0]["outcome"], "pass");
    assert_eq!(json["steps"][1]["kind"], "webhook");
    assert_eq!(json["steps"][1]["status"], 200);
    assert!(json["steps"][1]["at_us"].is_u64());
    assert_eq!(json["outcome"], "passed");
    assert_eq!(json["chat"], "friend:1");
}

#[test]
fn verdicts_say_who_acted() {
    let t = Traces::new(10);
    let judge = |id: &str, steps: Vec<Step>| {
        let h = t.begin(|| head(id, "group:1"));
        for s in steps {
            h.step(|| s);
        }
        drop(h);
        let tr = t.find(id).expect("kept");
        (tr.outcome, tr.why)
    };
    let sent = || Step::Send {
        msg_id: Some(23910001),
        outcome: Done::Ok,
        detail: None,
        retries: 0,
        by: Who::Named("echo"),
    };
    assert_eq!(
        judge("a", vec![bot("echo", BotOutcome::Reply), sent()]),
        (Outcome::Replied, "echo replied; sent as 23910001".into())
    );
    let trapped = Step::Bot {
        id: id("bad"),
        outcome: BotOutcome::Trap,
        detail: Some("boom".into()),
        us: 5,
    };
    let (o, why) = judge(
        "b",
        vec![
            trapped,
            bot("off", BotOutcome::Disabled),
            Step::Webhook {
                status: Some(200),
                ms: 1,
                acted: true,
                detail: None,
            },
            Step::Send {
                msg_id: Some(23910001),
                outcome: Done::Ok,
                detail: None,
                retries: 0,
                by: Who::Named("webhook"),
            },
        ],
    );
    assert_eq!(o, Outcome::Webhook);
    assert_eq!(
        why,
        "bad trapped (boom), off is disabled; webhook answered 200; sent as 23910001"
    );
    let (o, why) = judge(
        "c",
        vec![
            bot("echo", BotOutcome::Pass),
            Step::Fallback {
                detail: "the webhook's backlog was full: report dropped".into(),
                dropped: true,
            },
        ],
    );
    assert_eq!(o, Outcome::Dropped);
    assert!(why.contains("backlog was full"), "{why}");
    let (o, why) = judge("d", vec![Step::note("no webhook configured")]);
    assert_eq!(o, Outcome::Passed);
    assert_eq!(why, "no bot took it; no webhook configured");
}

#[tokio::test]
async fn viewers_hear_of_new_and_changed_traces() {
    let t = Traces::new(10);
    let mut rx = t.subscribe().expect("on");
    let h = t.begin(|| head("m", "friend:1"));
    h.step(|| bot("echo", BotOutcome::Pass));
    drop(h);
    // Begun, a step, done: three changes; a viewer reads the state it
    // finds (here already the last).
    let mut seen = Vec::new();
    while let Ok(live) = rx.try_recv() {
        seen.push((live.seq(), live.progress()));
    }
    assert_eq!(seen, [(1, (1, true)); 3]);
}

#[test]
fn content_is_cut_at_500_characters() {
    let long = "字".repeat(600);
    let cut = truncated(&long);
    assert_eq!(
        cut.chars().count(),
        CONTENT_CHARS + 1,
        "500 and an ellipsis"
    );
    assert_eq!(truncated("short"), "short");
}
