// veille dashboard page: the team inbox (alerts with their lifecycle), the live feed, and
// for managers the trend charts and search; a status panel; a post detail with relabeling.
//
// Data comes from /api/session, /api/meta, /api/alerts, /api/search, /api/status,
// /api/health and the /ws WebSocket. Post text, author names and every other value from the server are
// untrusted: they are only ever inserted with textContent on elements created here, links
// are made only for http(s) URLs (opened with rel="noopener noreferrer"), and class names
// are built only from fixed lists. Nothing from the server is ever parsed as HTML.
// State-changing requests carry the session's CSRF token in X-CSRF-Token.
"use strict";

(() => {
  const FEED_LIMIT = 200;
  const ALERT_LIMIT = 300;
  const PAGE_SIZE = 20;
  const CHART_MINUTES = 30;
  const SENTIMENTS = ["negative", "neutral", "positive"];
  const INTENTS = ["complaint", "question", "praise", "churn_threat"];
  const SEVERITIES = ["low", "medium", "high", "urgent"];
  const STATUSES = ["new", "acknowledged", "assigned", "handled"];
  const SOURCE_NAMES = {
    x: "X", bluesky: "Bluesky", mastodon: "Mastodon", reddit: "Reddit",
    discourse: "Forum", feed: "Blog/feed",
  };
  const SVG = "http://www.w3.org/2000/svg";
  const NOTIFY_KEY = "veille.notify";

  const state = {
    user: null,
    csrf: "",
    manager: false,
    teams: [],
    axes: [],
    socket: null,
    reconnectDelay: 1000,
    reconnectTimer: null,
    feedCount: 0,
    missed: 0,
    counts: { total: 0, sentiment: {}, axes: {} },
    alerts: new Map(),
    showAll: false,
    searchOffset: 0,
    searchTotal: 0,
    countsTimer: null,
    chartTimer: null,
    // minute (ms since epoch) -> { sentiment: {label: n}, categories: {axis: {category: n}} }
    buckets: new Map(),
    chartAxis: "",
    // the post shown in the detail dialog
    detailPost: null,
  };

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- DOM helpers

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attributes) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  /** An <a> to an http(s) URL, or null for anything else (javascript:, data:...). */
  function safeLink(url, label) {
    if (typeof url !== "string" || url === "") return null;
    let parsed;
    try {
      parsed = new URL(url);
    } catch (_) {
      return null;
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
    const link = el("a", "open-link", label);
    link.href = parsed.href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  }

  /** A class suffix from a fixed list, never from arbitrary data. */
  function known(value, allowed, fallback) {
    return allowed.includes(value) ? value : fallback;
  }

  function formatTime(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    const sameDay = date.toDateString() === new Date().toDateString();
    return sameDay ? date.toLocaleTimeString() : date.toLocaleString();
  }

  function formatScore(score) {
    const number = Number(score);
    if (!Number.isFinite(number)) return "";
    return (number > 0 ? "+" : "") + number.toFixed(2);
  }

  function formatDuration(milliseconds) {
    const minutes = Math.round(Math.abs(milliseconds) / 60000);
    if (minutes < 60) return `${minutes} min`;
    const hours = Math.floor(minutes / 60);
    return `${hours} h ${minutes % 60} min`;
  }

  function chip(text, className) {
    return el("span", "chip " + (className || ""), text);
  }

  // ---------------------------------------------------------------- server calls

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (response.status === 401) {
      location.assign("/login");
      throw new Error("signed out");
    }
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    return response.json();
  }

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": state.csrf },
      body: JSON.stringify(body || {}),
    });
    if (response.status === 401) {
      location.assign("/login");
      throw new Error("signed out");
    }
    if (!response.ok) {
      const reason = await response.text();
      throw new Error(reason || `the server answered ${response.status}`);
    }
    return response.json();
  }

  // ---------------------------------------------------------------- post cards

  /** The shape the feed shows, from an index hit (AnalysedPost). */
  function fromAnalysed(analysed) {
    const post = analysed.post || {};
    const analysis = analysed.analysis || {};
    const author = post.author || {};
    return {
      id: post.id,
      text: post.text,
      author: author.name || author.handle || author.id || "unknown",
      author_handle: author.handle,
      source: post.source,
      url: post.url,
      language: analysis.language,
      sentiment: (analysis.sentiment || {}).label,
      score: (analysis.sentiment || {}).score,
      categories: analysis.categories || {},
      intents: analysis.intents || [],
      brands: (analysis.brands || []).map((match) => match.brand),
      created_at: post.created_at,
    };
  }

  function postCard(post) {
    const card = el("li", "card post clickable");
    card.tabIndex = 0;
    card.dataset.id = String(post.id || "");
    const head = el("div", "card-head");
    head.appendChild(el("strong", "author", post.author));
    if (post.author_handle && post.author_handle !== post.author) {
      head.appendChild(el("span", "handle", post.author_handle));
    }
    head.appendChild(el("span", "source", SOURCE_NAMES[post.source] || String(post.source || "")));
    head.appendChild(el("time", "time", formatTime(post.created_at)));
    card.appendChild(head);
    card.appendChild(el("p", "text", post.text));
    card.appendChild(postTags(post));
    const open = () => showDetail(post);
    card.addEventListener("click", (event) => {
      if (event.target.closest("a, button")) return;
      open();
    });
    card.addEventListener("keydown", (event) => {
      if (event.key === "Enter") open();
    });
    return card;
  }

  function postTags(post) {
    const tags = el("div", "tags");
    const sentiment = known(post.sentiment, SENTIMENTS, "neutral");
    tags.appendChild(chip(`${post.sentiment || "?"} ${formatScore(post.score)}`, "sentiment-" + sentiment));
    for (const axis of Object.keys(post.categories || {})) {
      for (const category of post.categories[axis] || []) {
        tags.appendChild(chip(category, "category")).title = axis;
      }
    }
    for (const brand of post.brands || []) tags.appendChild(chip(brand, "brand"));
    if (post.language) tags.appendChild(chip(post.language, "language"));
    const link = safeLink(post.url, "Open original ↗");
    if (link) tags.appendChild(link);
    return tags;
  }

  function addToFeed(post) {
    const feed = $("feed");
    feed.insertBefore(postCard(post), feed.firstChild);
    while (feed.children.length > FEED_LIMIT) feed.removeChild(feed.lastChild);
    state.feedCount += 1;
    $("feed-count").textContent = `${state.feedCount} post${state.feedCount === 1 ? "" : "s"} live`;
    $("feed-empty").hidden = true;
  }

  // ---------------------------------------------------------------- post detail

  function showDetail(post) {
    const dialog = $("post-detail");
    dialog.dataset.postId = String(post.id || "");
    $("detail-author").textContent = post.author || "";
    $("detail-handle").textContent = post.author_handle && post.author_handle !== post.author ? post.author_handle : "";
    $("detail-source").textContent = SOURCE_NAMES[post.source] || String(post.source || "");
    $("detail-time").textContent = formatTime(post.created_at);
    $("detail-text").textContent = post.text || "";
    const tags = $("detail-tags");
    clear(tags);
    tags.appendChild(postTags({ ...post, url: null }));
    const linkBox = $("detail-link");
    clear(linkBox);
    const link = safeLink(post.url, "Open the original post ↗");
    linkBox.appendChild(link || el("span", "muted", "No link to the original."));
    state.detailPost = post;
    fillRelabelAxes();
    $("relabel-result").textContent = "";
    if (typeof dialog.showModal === "function") dialog.showModal();
    else dialog.hidden = false;
  }

  /** The axes a person can correct, with their labels: sentiment, intent, configured axes. */
  function relabelAxes() {
    return [
      { name: "sentiment", labels: SENTIMENTS },
      { name: "intent", labels: INTENTS },
      ...state.axes.map((axis) => ({ name: axis.name, labels: axis.categories || [] })),
    ];
  }

  /** What the analysis said of the detail post on `axis` (a list, maybe empty). */
  function predictedLabels(post, axis) {
    if (!post) return [];
    if (axis === "sentiment") return post.sentiment ? [post.sentiment] : [];
    if (axis === "intent") return Array.isArray(post.intents) ? post.intents : [];
    return (post.categories || {})[axis] || [];
  }

  function fillRelabelAxes() {
    const select = $("relabel-axis");
    const chosen = select.value || "sentiment";
    clear(select);
    for (const axis of relabelAxes()) {
      const option = el("option", null, axis.name);
      option.value = axis.name;
      select.appendChild(option);
    }
    select.value = relabelAxes().some((axis) => axis.name === chosen) ? chosen : "sentiment";
    fillRelabelLabels();
  }

  function fillRelabelLabels() {
    const axisName = $("relabel-axis").value;
    const axis = relabelAxes().find((candidate) => candidate.name === axisName);
    const select = $("relabel-label");
    clear(select);
    const predicted = predictedLabels(state.detailPost, axisName);
    for (const label of axis ? axis.labels : []) {
      const option = el("option", null, predicted.includes(label) ? `${label} (as analysed)` : label);
      option.value = label;
      select.appendChild(option);
    }
    if (predicted.length && axis && axis.labels.includes(predicted[0])) select.value = predicted[0];
  }

  async function relabel(event) {
    event.preventDefault();
    const postId = $("post-detail").dataset.postId;
    const axis = $("relabel-axis").value;
    const label = $("relabel-label").value;
    const result = $("relabel-result");
    if (!axis || !label) return;
    result.textContent = "Saving…";
    try {
      await postJson(`/api/posts/${encodeURIComponent(postId)}/label`, { axis, label });
      result.textContent = `Saved: ${axis} is ${label}. This correction trains the next model.`;
      refreshAccuracy();
    } catch (failure) {
      result.textContent = "Could not save: " + failure.message;
    }
  }

  // Per axis, how often the analysis was right on the posts people corrected.
  async function refreshAccuracy() {
    let body;
    try {
      body = await getJson("/api/labels/accuracy");
    } catch (_) {
      return; // the next refresh tries again
    }
    const rows = $("label-accuracy");
    clear(rows);
    const entries = Object.entries(body.axes || {});
    $("label-accuracy-empty").hidden = entries.length > 0;
    for (const [axis, figures] of entries) {
      const row = el("tr");
      row.appendChild(el("th", null, axis)).scope = "row";
      row.appendChild(el("td", null, Number(figures.corrected || 0).toLocaleString()));
      row.appendChild(el("td", null, Number(figures.right || 0).toLocaleString()));
      row.appendChild(el("td", null, `${(100 * Number(figures.accuracy || 0)).toFixed(1)} %`));
      rows.appendChild(row);
    }
  }

  // ---------------------------------------------------------------- inbox

  function lifecycleOf(alert) {
    return alert.lifecycle || { status: "new", history: [] };
  }

  function slaText(lifecycle) {
    if (!lifecycle.due_at) return null;
    if (lifecycle.status === "handled") return null;
    if (lifecycle.sla_breached) return { text: "SLA breached", late: true };
    const left = new Date(lifecycle.due_at).getTime() - Date.now();
    if (!Number.isFinite(left)) return null;
    return left <= 0
      ? { text: "SLA due now", late: true }
      : { text: `due in ${formatDuration(left)}`, late: false };
  }

  function historyLine(step) {
    const who = step.by || "someone";
    const when = formatTime(step.at);
    let text = `${step.status} by ${who} · ${when}`;
    if (step.assignee) text += ` → ${step.assignee}`;
    return text;
  }

  function alertActions(alert) {
    const lifecycle = lifecycleOf(alert);
    const box = el("div", "actions");
    if (lifecycle.status === "handled") return box;
    if (lifecycle.status === "new") {
      const ack = el("button", "ack", "Acknowledge");
      ack.type = "button";
      ack.addEventListener("click", () => act(alert.id, { action: "acknowledge" }, ack));
      box.appendChild(ack);
    }
    const assignee = el("input", "assignee");
    assignee.type = "text";
    assignee.placeholder = "assign to…";
    assignee.setAttribute("aria-label", "Assign to user");
    const assign = el("button", "assign", "Assign");
    assign.type = "button";
    assign.addEventListener("click", () => {
      if (assignee.value.trim()) act(alert.id, { action: "assign", to: assignee.value.trim() }, assign);
    });
    const note = el("input", "note");
    note.type = "text";
    note.placeholder = "reply note (optional)";
    note.setAttribute("aria-label", "Reply note");
    const handle = el("button", "handle primary", "Mark handled");
    handle.type = "button";
    handle.addEventListener("click", () => act(alert.id, { action: "handle", note: note.value }, handle));
    box.appendChild(assignee);
    box.appendChild(assign);
    box.appendChild(note);
    box.appendChild(handle);
    return box;
  }

  async function act(alertId, body, button) {
    button.disabled = true;
    try {
      const updated = await postJson(`/api/alerts/${encodeURIComponent(alertId)}/actions`, body);
      upsertAlert(updated, false);
    } catch (failure) {
      button.disabled = false;
      button.title = failure.message;
    }
  }

  function alertCard(alert) {
    const severity = known(alert.severity, SEVERITIES, "low");
    const lifecycle = lifecycleOf(alert);
    const status = known(lifecycle.status, STATUSES, "new");
    const card = el("li", `card alert severity-${severity} status-${status}`);
    card.dataset.alertId = String(alert.id);
    const head = el("div", "card-head");
    head.appendChild(chip(alert.severity, "severity"));
    head.appendChild(chip(status, "status-chip status-" + status));
    head.appendChild(el("strong", "rule", alert.rule));
    head.appendChild(el("span", "team", "→ " + alert.team));
    const sla = slaText(lifecycle);
    if (sla) head.appendChild(chip(sla.text, sla.late ? "sla late" : "sla"));
    head.appendChild(el("time", "time", formatTime(alert.created_at)));
    card.appendChild(head);
    card.appendChild(el("p", "reason", alert.reason));
    const post = alert.post || {};
    const author = post.author_name || post.author_handle || "unknown author";
    const byline = el("div", "byline");
    byline.appendChild(el("span", "author", author));
    if (post.author_handle && post.author_handle !== author) {
      byline.appendChild(el("span", "handle", post.author_handle));
    }
    if (typeof post.followers === "number") {
      byline.appendChild(el("span", "followers", `${post.followers.toLocaleString()} followers`));
    }
    if (Array.isArray(alert.group) && alert.group.length) {
      byline.appendChild(el("span", "group", `+${alert.group.length} related post${alert.group.length === 1 ? "" : "s"}`));
    }
    card.appendChild(byline);
    const text = el("p", "text clickable", post.text);
    text.addEventListener("click", () => showDetail({
      id: alert.post_id, text: post.text, author, author_handle: post.author_handle, source: post.source,
      url: post.url, language: post.language, sentiment: post.sentiment, score: post.score,
      categories: post.categories, brands: alert.brands, created_at: alert.created_at,
    }));
    card.appendChild(text);
    card.appendChild(postTags({
      sentiment: post.sentiment,
      score: post.score,
      categories: post.categories,
      brands: alert.brands,
      language: post.language,
      url: post.url,
    }));
    const history = lifecycle.history || [];
    if (history.length) {
      const list = el("ul", "history");
      for (const step of history) {
        const item = el("li", null, historyLine(step));
        if (step.note) item.appendChild(el("q", "note-text", step.note));
        list.appendChild(item);
      }
      card.appendChild(list);
    }
    card.appendChild(alertActions(alert));
    return card;
  }

  function renderInbox() {
    const list = $("alerts");
    clear(list);
    const alerts = [...state.alerts.values()]
      .filter((alert) => state.showAll || lifecycleOf(alert).status !== "handled")
      .sort((left, right) => String(right.created_at).localeCompare(String(left.created_at)));
    for (const alert of alerts.slice(0, ALERT_LIMIT)) list.appendChild(alertCard(alert));
    $("alerts-empty").hidden = alerts.length > 0;
    const open = [...state.alerts.values()].filter((alert) => lifecycleOf(alert).status !== "handled").length;
    document.title = open ? `(${open}) veille — inbox` : "veille — live listening";
  }

  function upsertAlert(alert, fresh) {
    if (!alert || typeof alert.id !== "string") return;
    const isNew = !state.alerts.has(alert.id);
    state.alerts.set(alert.id, alert);
    renderInbox();
    if (fresh && isNew) {
      const card = [...$("alerts").children].find((node) => node.dataset.alertId === alert.id);
      if (card) card.classList.add("fresh");
      notifyPerson(alert);
    }
  }

  async function loadAlerts() {
    $("alerts-scope").textContent = state.manager ? "every team" : "for " + state.teams.join(", ");
    try {
      const answer = await getJson("/api/alerts?limit=300");
      for (const alert of answer.alerts || []) state.alerts.set(alert.id, alert);
      renderInbox();
    } catch (error) {
      $("alerts-empty").textContent = "Could not load alerts: " + error.message;
    }
  }

  // ---------------------------------------------------------------- notifications

  function notifyPerson(alert) {
    if (!$("notify-toggle").checked) return;
    try {
      const context = new AudioContext();
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.frequency.value = alert.severity === "urgent" ? 880 : 660;
      gain.gain.value = 0.05;
      tone.connect(gain).connect(context.destination);
      tone.start();
      tone.stop(context.currentTime + 0.15);
    } catch (_) {
      // no sound available
    }
    if ("Notification" in window && Notification.permission === "granted") {
      const post = alert.post || {};
      new Notification(`veille: ${alert.severity} alert for ${alert.team}`, {
        body: String(post.text || "").slice(0, 140),
      });
    }
  }

  // ---------------------------------------------------------------- counts and charts

  function resetCounts(facets, total) {
    state.counts = { total: total || 0, sentiment: {}, axes: {} };
    for (const entry of (facets && facets.sentiment) || []) state.counts.sentiment[entry.value] = entry.count;
    for (const axis of state.axes) {
      const counts = {};
      for (const category of axis.categories) counts[category] = 0;
      for (const entry of (facets && facets[axis.name]) || []) counts[entry.value] = entry.count;
      state.counts.axes[axis.name] = counts;
    }
    renderCounts();
  }

  function bucketOf(time) {
    return Math.floor(time / 60000) * 60000;
  }

  function addToBuckets(post, time) {
    const key = bucketOf(time);
    let bucket = state.buckets.get(key);
    if (!bucket) {
      bucket = { sentiment: {}, categories: {} };
      state.buckets.set(key, bucket);
    }
    const label = known(post.sentiment, SENTIMENTS, "neutral");
    bucket.sentiment[label] = (bucket.sentiment[label] || 0) + 1;
    for (const axis of Object.keys(post.categories || {})) {
      const counts = bucket.categories[axis] || (bucket.categories[axis] = {});
      for (const category of post.categories[axis] || []) counts[category] = (counts[category] || 0) + 1;
    }
    const oldest = bucketOf(Date.now()) - CHART_MINUTES * 60000;
    for (const stored of state.buckets.keys()) if (stored < oldest) state.buckets.delete(stored);
  }

  function countPost(post) {
    state.counts.total += 1;
    const label = String(post.sentiment || "");
    state.counts.sentiment[label] = (state.counts.sentiment[label] || 0) + 1;
    for (const axis of Object.keys(post.categories || {})) {
      const counts = state.counts.axes[axis] || (state.counts.axes[axis] = {});
      for (const category of post.categories[axis] || []) counts[category] = (counts[category] || 0) + 1;
    }
    addToBuckets(post, Date.now());
    scheduleCounts();
  }

  /** Redraws counts and charts at most four times a second, however fast posts arrive. */
  function scheduleCounts() {
    if (state.countsTimer) return;
    state.countsTimer = setTimeout(() => {
      state.countsTimer = null;
      renderCounts();
      renderCharts();
    }, 250);
  }

  function bars(list, entries, classFor) {
    clear(list);
    const max = Math.max(1, ...entries.map(([, count]) => count));
    for (const [label, count] of entries) {
      const row = el("li", "bar-row");
      row.appendChild(el("span", "bar-label", label));
      const track = el("span", "bar-track");
      const fill = el("span", "bar-fill " + classFor(label));
      fill.style.width = `${Math.round((count / max) * 100)}%`;
      track.appendChild(fill);
      row.appendChild(track);
      row.appendChild(el("span", "bar-count", count.toLocaleString()));
      list.appendChild(row);
    }
  }

  function renderCounts() {
    if (!state.manager) return;
    $("total-count").textContent = `${state.counts.total.toLocaleString()} posts indexed or seen live`;
    bars(
      $("sentiment-counts"),
      SENTIMENTS.map((label) => [label, state.counts.sentiment[label] || 0]),
      (label) => "sentiment-" + known(label, SENTIMENTS, "neutral"),
    );
    const container = $("axis-counts");
    clear(container);
    for (const axis of state.axes) {
      container.appendChild(el("h3", null, axis.name));
      const list = el("ul", "bars");
      const counts = state.counts.axes[axis.name] || {};
      const entries = Object.entries(counts).sort((left, right) => right[1] - left[1]);
      bars(list, entries, () => "category");
      container.appendChild(list);
    }
  }

  /** Draws one line per series over the last CHART_MINUTES minutes. */
  function lineChart(node, legend, series) {
    clear(node);
    clear(legend);
    const width = 600;
    const height = 170;
    const pad = { left: 30, right: 8, top: 8, bottom: 20 };
    const now = bucketOf(Date.now());
    const minutes = [];
    for (let index = CHART_MINUTES - 1; index >= 0; index -= 1) minutes.push(now - index * 60000);
    const max = Math.max(1, ...series.flatMap((line) => minutes.map((minute) => line.value(minute))));
    const x = (index) => pad.left + (index * (width - pad.left - pad.right)) / (minutes.length - 1);
    const y = (value) => height - pad.bottom - (value * (height - pad.top - pad.bottom)) / max;
    for (const fraction of [0, 0.5, 1]) {
      const level = Math.round(max * fraction);
      node.appendChild(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(level), y2: y(level), class: "grid-line" }));
      const label = svg("text", { x: pad.left - 4, y: y(level) + 4, class: "axis-label", "text-anchor": "end" });
      label.textContent = String(level);
      node.appendChild(label);
    }
    for (const [index, text] of [[0, `-${CHART_MINUTES - 1} min`], [minutes.length - 1, "now"]]) {
      const label = svg("text", { x: x(index), y: height - 4, class: "axis-label", "text-anchor": index ? "end" : "start" });
      label.textContent = text;
      node.appendChild(label);
    }
    series.forEach((line, position) => {
      const points = minutes.map((minute, index) => `${x(index).toFixed(1)},${y(line.value(minute)).toFixed(1)}`);
      node.appendChild(svg("polyline", { points: points.join(" "), class: "series " + line.className }));
      const item = el("li", null, line.label);
      item.prepend(el("span", "swatch " + line.className));
      legend.appendChild(item);
      return position;
    });
  }

  function renderCharts() {
    if (!state.manager) return;
    const bucket = (minute) => state.buckets.get(minute) || { sentiment: {}, categories: {} };
    lineChart($("chart-sentiment"), $("legend-sentiment"), SENTIMENTS.map((label) => ({
      label,
      className: "sentiment-" + label,
      value: (minute) => bucket(minute).sentiment[label] || 0,
    })));
    const axis = state.axes.find((candidate) => candidate.name === state.chartAxis) || state.axes[0];
    const categories = axis ? axis.categories.slice(0, 8) : [];
    lineChart($("chart-volume"), $("legend-volume"), categories.map((category, index) => ({
      label: category,
      className: "series-" + index,
      value: (minute) => ((bucket(minute).categories[axis.name] || {})[category] || 0),
    })));
  }

  async function refreshCounts() {
    if (!state.manager) return;
    try {
      const results = await getJson("/api/search?limit=0");
      resetCounts(results.facets, results.total);
    } catch (error) {
      $("total-count").textContent = "counts unavailable";
    }
  }

  /** Seeds the charts with the newest posts, by when veille observed them. */
  async function seedCharts() {
    if (!state.manager) return;
    try {
      const results = await getJson("/api/search?limit=500");
      for (const hit of results.hits || []) {
        const analysed = hit.post || {};
        const observed = new Date((analysed.post || {}).observed_at).getTime();
        if (Number.isFinite(observed) && observed > Date.now() - CHART_MINUTES * 60000) {
          addToBuckets(fromAnalysed(analysed), observed);
        }
      }
    } catch (_) {
      // charts fill from live posts
    }
    renderCharts();
  }

  // ---------------------------------------------------------------- status panel

  async function refreshStatus() {
    try {
      const status = await getJson("/api/status");
      const stats = $("status-alerts");
      clear(stats);
      for (const [name, value] of Object.entries(status.alerts || {})) {
        stats.appendChild(el("dt", null, name.replace(/_/g, " ")));
        stats.appendChild(el("dd", null, Number(value).toLocaleString()));
      }
      const hooks = $("status-webhooks");
      clear(hooks);
      const entries = Object.entries(status.webhooks || {});
      if (entries.length === 0) hooks.appendChild(el("li", "muted", "No webhook configured for your teams."));
      for (const [team, delivery] of entries) {
        const failing = delivery.given_up > 0 || (delivery.last_failure_at && (!delivery.last_success_at || delivery.last_failure_at > delivery.last_success_at));
        const item = el("li", failing ? "webhook failing" : "webhook ok");
        item.appendChild(el("strong", null, team));
        item.appendChild(el("span", null, ` ${delivery.delivered} delivered · ${delivery.failed_attempts} failed attempts · ${delivery.given_up} given up`));
        if (delivery.last_error) item.appendChild(el("div", "error", `last error: ${delivery.last_error} (${formatTime(delivery.last_failure_at)})`));
        hooks.appendChild(item);
      }
    } catch (_) {
      // the next refresh tries again
    }
  }

  // ---------------------------------------------------------------- live socket

  function setStatus(kind, text) {
    const status = $("connection");
    status.className = "status status-" + known(kind, ["connecting", "live", "offline"], "offline");
    status.textContent = text;
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws`);
    state.socket = socket;
    setStatus("connecting", "connecting…");
    socket.addEventListener("message", (message) => {
      if (state.socket !== socket) return;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      handleEvent(event);
    });
    socket.addEventListener("close", () => {
      if (state.socket !== socket) return;
      state.socket = null;
      const delay = state.reconnectDelay;
      state.reconnectDelay = Math.min(delay * 2, 30000);
      const jittered = delay / 2 + Math.random() * delay / 2;
      setStatus("offline", `offline — retrying in ${Math.ceil(jittered / 1000)}s`);
      state.reconnectTimer = setTimeout(connect, jittered);
    });
  }

  // A post deleted at its source leaves the live feed and the search results on screen.
  function removePost(id) {
    for (const list of [$("feed"), $("results")]) {
      for (const card of Array.from(list.children)) {
        if (card.dataset.id === id) card.remove();
      }
    }
  }

  function handleEvent(event) {
    switch (event && event.type) {
      case "hello":
        state.reconnectDelay = 1000;
        setStatus("live", "live");
        break;
      case "post":
        addToFeed(event);
        countPost(event);
        break;
      case "alert":
        upsertAlert(event, true);
        break;
      case "alert_updated":
        upsertAlert(event, false);
        break;
      case "deleted":
        removePost(String(event.id || ""));
        break;
      case "lagged":
        state.missed += Number(event.missed) || 0;
        $("notice-text").textContent =
          `Your connection fell behind: ${state.missed.toLocaleString()} live update(s) were skipped, ` +
          "so the feed and counts may be incomplete.";
        $("notice").hidden = false;
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- search

  function searchParams() {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData($("search-form"))) {
      const text = String(value).trim();
      if (text) params.append(name, text);
    }
    return params;
  }

  async function runSearch(offset) {
    if (!state.manager) return;
    state.searchOffset = Math.max(0, offset);
    const params = searchParams();
    params.set("limit", String(PAGE_SIZE));
    params.set("offset", String(state.searchOffset));
    const error = $("search-error");
    error.hidden = true;
    try {
      const response = await fetch("/api/search?" + params, { headers: { Accept: "application/json" } });
      if (!response.ok) {
        const reason = response.status === 400 ? await response.text() : `the server answered ${response.status}`;
        throw new Error(reason);
      }
      showResults(await response.json());
    } catch (failure) {
      error.textContent = "Search failed: " + failure.message;
      error.hidden = false;
    }
  }

  function showResults(results) {
    const list = $("results");
    clear(list);
    for (const hit of results.hits || []) list.appendChild(postCard(fromAnalysed(hit.post || {})));
    state.searchTotal = results.total || 0;
    $("search-total").textContent = `${state.searchTotal.toLocaleString()} match${state.searchTotal === 1 ? "" : "es"}`;
    const first = state.searchTotal === 0 ? 0 : state.searchOffset + 1;
    const last = state.searchOffset + (results.hits || []).length;
    $("page-info").textContent = state.searchTotal ? `${first}–${last} of ${state.searchTotal.toLocaleString()}` : "";
    $("page-previous").disabled = state.searchOffset === 0;
    $("page-next").disabled = last >= state.searchTotal;
    showFacets(results.facets || {});
  }

  /** Facet counts of the results as buttons that add the filter. */
  function showFacets(facets) {
    const container = $("search-facets");
    clear(container);
    const filterNames = { sentiment: "sentiment", source: "source", language: "lang", brand: "brand" };
    for (const axis of state.axes) filterNames[axis.name] = axis.name;
    for (const facet of Object.keys(facets)) {
      const parameter = filterNames[facet];
      const entries = facets[facet] || [];
      if (!parameter || entries.length === 0) continue;
      const group = el("div", "facet-group");
      group.appendChild(el("span", "facet-name", facet));
      for (const entry of entries.slice(0, 8)) {
        const button = el("button", "facet", `${entry.value} (${entry.count})`);
        button.type = "button";
        button.addEventListener("click", () => applyFilter(parameter, entry.value));
        group.appendChild(button);
      }
      container.appendChild(group);
    }
  }

  function applyFilter(parameter, value) {
    const field = $("search-form").elements.namedItem(parameter);
    if (!field) return;
    if (field.tagName === "SELECT" && ![...field.options].some((option) => option.value === value)) return;
    field.value = value;
    runSearch(0);
  }

  // ---------------------------------------------------------------- set-up

  function buildAxisControls() {
    const container = $("axis-filters");
    const chartAxis = $("chart-axis");
    for (const axis of state.axes) {
      const select = el("select");
      select.name = axis.name;
      select.setAttribute("aria-label", axis.name);
      const any = el("option", null, `Any ${axis.name}`);
      any.value = "";
      select.appendChild(any);
      for (const category of axis.categories) {
        const option = el("option", null, category);
        option.value = category;
        select.appendChild(option);
      }
      container.appendChild(select);
      const choice = el("option", null, axis.name);
      choice.value = axis.name;
      chartAxis.appendChild(choice);
    }
    state.chartAxis = state.axes.length ? state.axes[0].name : "";
    chartAxis.addEventListener("change", () => {
      state.chartAxis = chartAxis.value;
      renderCharts();
    });
  }

  function wireControls() {
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      runSearch(0);
    });
    $("search-form").addEventListener("reset", () => setTimeout(() => runSearch(0), 0));
    $("page-previous").addEventListener("click", () => runSearch(state.searchOffset - PAGE_SIZE));
    $("page-next").addEventListener("click", () => runSearch(state.searchOffset + PAGE_SIZE));
    $("notice-close").addEventListener("click", () => {
      $("notice").hidden = true;
      state.missed = 0;
    });
    $("notice-refresh").addEventListener("click", () => {
      $("notice").hidden = true;
      state.missed = 0;
      refreshCounts();
    });
    $("show-open").addEventListener("click", () => {
      state.showAll = false;
      $("show-open").classList.add("active");
      $("show-all").classList.remove("active");
      renderInbox();
    });
    $("show-all").addEventListener("click", () => {
      state.showAll = true;
      $("show-all").classList.add("active");
      $("show-open").classList.remove("active");
      renderInbox();
    });
    $("status-refresh").addEventListener("click", refreshStatus);
    $("detail-close").addEventListener("click", () => $("post-detail").close());
    $("relabel-form").addEventListener("submit", relabel);
    $("relabel-axis").addEventListener("change", fillRelabelLabels);
    $("sign-out").addEventListener("click", async () => {
      try {
        await postJson("/api/logout", {});
      } finally {
        location.assign("/login");
      }
    });
    const toggle = $("notify-toggle");
    toggle.checked = localStorage.getItem(NOTIFY_KEY) === "on";
    toggle.addEventListener("change", () => {
      localStorage.setItem(NOTIFY_KEY, toggle.checked ? "on" : "off");
      if (toggle.checked && "Notification" in window && Notification.permission === "default") {
        Notification.requestPermission();
      }
    });
  }

  // Source status: state, stall and counters of each collector, from /api/health.
  const SOURCE_STATES = ["running", "stalled", "finished", "failed"];

  async function refreshSources() {
    let health;
    try {
      health = await getJson("/api/health");
    } catch (error) {
      $("sources-summary").textContent = "unavailable";
      return;
    }
    const sources = (health && health.stages && health.stages.sources) || {};
    const list = $("sources");
    list.replaceChildren();
    let stalled = 0;
    for (const [name, source] of Object.entries(sources)) {
      const shown = source.stalled ? "stalled" : String(source.state || "running");
      const kind = SOURCE_STATES.includes(shown) ? shown : "running";
      if (kind === "stalled") stalled += 1;
      const item = document.createElement("li");
      item.className = "source source-" + kind;
      const title = document.createElement("strong");
      title.textContent = `${name} (${SOURCE_NAMES[source.kind] || String(source.kind || "")})`;
      const badge = document.createElement("span");
      badge.className = "source-state";
      badge.textContent = shown;
      const counts = document.createElement("span");
      counts.className = "muted";
      const dropped = source.dropped || {};
      const droppedTotal = Object.values(dropped).reduce((sum, n) => sum + (Number(n) || 0), 0);
      const silent = source.silent_seconds == null ? "no sign of life yet" : `last event ${source.silent_seconds} s ago`;
      counts.textContent = ` ${source.posts || 0} posts, ${droppedTotal} dropped, ${source.reconnects || 0} reconnects, ${silent}`;
      item.append(title, " ", badge, counts);
      if (source.reason) {
        const reason = document.createElement("div");
        reason.className = "error";
        reason.textContent = String(source.reason);
        item.append(reason);
      }
      list.append(item);
    }
    $("sources-summary").textContent = stalled ? `${stalled} stalled` : "";
  }

  async function start() {
    wireControls();
    try {
      const session = await getJson("/api/session");
      state.user = session.user;
      state.csrf = session.csrf || "";
      state.manager = Boolean(session.manager);
      state.teams = Array.isArray(session.teams) ? session.teams : [];
      const meta = await getJson("/api/meta");
      state.axes = Array.isArray(meta.axes) ? meta.axes : [];
    } catch (error) {
      setStatus("offline", "cannot reach the server");
      return;
    }
    $("user-name").textContent = state.user;
    $("user-teams").textContent = (state.manager ? "manager · " : "") + state.teams.join(", ");
    document.body.classList.toggle("is-manager", state.manager);
    buildAxisControls();
    resetCounts({}, 0);
    await loadAlerts();
    connect();
    refreshStatus();
    setInterval(refreshStatus, 15000);
    refreshAccuracy();
    setInterval(refreshAccuracy, 60000);
    setInterval(renderInbox, 30000); // SLA countdowns
    if (state.manager) {
      await refreshCounts();
      seedCharts();
      runSearch(0);
      setInterval(renderCharts, 20000);
    }
    refreshSources();
    setInterval(refreshSources, 15000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
