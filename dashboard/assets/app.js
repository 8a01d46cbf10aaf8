// veille dashboard page: live feed, alerts, counts and search, without reloads.
//
// Data comes from /api/meta, /api/search, /api/alerts, /api/health and the /ws WebSocket. Post text,
// author names and every other value from the server are untrusted: they are only ever
// inserted with textContent on elements created here, links are made only for http(s)
// URLs (opened with rel="noopener noreferrer"), and class names are built only from
// fixed lists. Nothing from the server is ever parsed as HTML.
"use strict";

(() => {
  const FEED_LIMIT = 200;
  const ALERT_LIMIT = 200;
  const PAGE_SIZE = 20;
  const SENTIMENTS = ["negative", "neutral", "positive"];
  const SEVERITIES = ["low", "medium", "high", "urgent"];
  const SOURCE_NAMES = {
    x: "X", bluesky: "Bluesky", mastodon: "Mastodon", reddit: "Reddit",
    discourse: "Forum", feed: "Blog/feed",
  };
  const TEAM_KEY = "veille.team";

  const state = {
    teams: [],
    axes: [],
    team: "",
    socket: null,
    reconnectDelay: 1000,
    reconnectTimer: null,
    feedCount: 0,
    missed: 0,
    counts: { total: 0, sentiment: {}, axes: {} },
    alertIds: new Set(),
    searchOffset: 0,
    searchTotal: 0,
    countsTimer: null,
  };

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- DOM helpers

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
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

  function chip(text, className) {
    return el("span", "chip " + (className || ""), text);
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
      brands: (analysis.brands || []).map((match) => match.brand),
      created_at: post.created_at,
    };
  }

  function postCard(post) {
    const card = el("li", "card post");
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

  // ---------------------------------------------------------------- alerts

  function alertCard(alert) {
    const severity = known(alert.severity, SEVERITIES, "low");
    const card = el("li", "card alert severity-" + severity);
    const head = el("div", "card-head");
    head.appendChild(chip(alert.severity, "severity"));
    head.appendChild(el("strong", "rule", alert.rule));
    head.appendChild(el("span", "team", "→ " + alert.team));
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
    card.appendChild(byline);
    card.appendChild(el("p", "text", post.text));
    card.appendChild(postTags({
      sentiment: post.sentiment,
      score: post.score,
      categories: post.categories,
      brands: alert.brands,
      language: post.language,
      url: post.url,
    }));
    return card;
  }

  function addAlert(alert, atTop) {
    if (!alert || state.alertIds.has(alert.id)) return;
    state.alertIds.add(alert.id);
    const list = $("alerts");
    const card = alertCard(alert);
    if (atTop) {
      list.insertBefore(card, list.firstChild);
      card.classList.add("fresh");
    } else {
      list.appendChild(card);
    }
    while (list.children.length > ALERT_LIMIT) list.removeChild(list.lastChild);
    $("alerts-empty").hidden = true;
  }

  async function loadAlerts() {
    const list = $("alerts");
    clear(list);
    state.alertIds.clear();
    const empty = $("alerts-empty");
    if (!state.team) {
      $("alerts-scope").textContent = "";
      empty.textContent = "Choose a team to follow its alerts.";
      empty.hidden = false;
      return;
    }
    const team = state.teams.find((candidate) => candidate.name === state.team);
    $("alerts-scope").textContent = team && team.role === "manager" ? "every team" : "for " + state.team;
    empty.textContent = "No alerts yet.";
    empty.hidden = false;
    try {
      const answer = await getJson("/api/alerts?" + new URLSearchParams({ team: state.team, limit: "100" }));
      for (const alert of answer.alerts || []) addAlert(alert, false);
    } catch (error) {
      empty.textContent = "Could not load alerts: " + error.message;
    }
  }

  // ---------------------------------------------------------------- counts

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

  function countPost(post) {
    state.counts.total += 1;
    const label = String(post.sentiment || "");
    state.counts.sentiment[label] = (state.counts.sentiment[label] || 0) + 1;
    for (const axis of Object.keys(post.categories || {})) {
      const counts = state.counts.axes[axis] || (state.counts.axes[axis] = {});
      for (const category of post.categories[axis] || []) counts[category] = (counts[category] || 0) + 1;
    }
    scheduleCounts();
  }

  /** Redraws the counts at most four times a second, however fast posts arrive. */
  function scheduleCounts() {
    if (state.countsTimer) return;
    state.countsTimer = setTimeout(() => {
      state.countsTimer = null;
      renderCounts();
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
    $("total-count").textContent = `${state.counts.total.toLocaleString()} posts`;
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

  async function refreshCounts() {
    try {
      const results = await getJson("/api/search?limit=0");
      resetCounts(results.facets, results.total);
    } catch (error) {
      $("total-count").textContent = "counts unavailable";
    }
  }

  // ---------------------------------------------------------------- live socket

  function setStatus(kind, text) {
    const status = $("connection");
    status.className = "status status-" + kind;
    status.textContent = text;
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = state.team ? "?" + new URLSearchParams({ team: state.team }) : "";
    const socket = new WebSocket(`${scheme}//${location.host}/ws${query}`);
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
      if (state.socket !== socket) return; // replaced on purpose
      state.socket = null;
      const delay = state.reconnectDelay;
      state.reconnectDelay = Math.min(delay * 2, 30000);
      const jittered = delay / 2 + Math.random() * delay / 2;
      setStatus("offline", `offline — retrying in ${Math.ceil(jittered / 1000)}s`);
      state.reconnectTimer = setTimeout(connect, jittered);
    });
  }

  function reconnect() {
    const previous = state.socket;
    state.socket = null;
    if (previous) previous.close();
    state.reconnectDelay = 1000;
    connect();
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
        addAlert(event, true);
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

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    return response.json();
  }

  function buildTeamSelector() {
    const select = $("team-select");
    for (const team of state.teams) {
      const option = el("option", null, team.role === "manager" ? `${team.name} (all alerts)` : team.name);
      option.value = team.name;
      select.appendChild(option);
    }
    const saved = localStorage.getItem(TEAM_KEY) || "";
    state.team = state.teams.some((team) => team.name === saved) ? saved : "";
    select.value = state.team;
    select.addEventListener("change", () => {
      state.team = select.value;
      localStorage.setItem(TEAM_KEY, state.team);
      loadAlerts();
      reconnect();
    });
  }

  function buildAxisFilters() {
    const container = $("axis-filters");
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
    }
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
      const meta = await getJson("/api/meta");
      state.teams = Array.isArray(meta.teams) ? meta.teams : [];
      state.axes = Array.isArray(meta.axes) ? meta.axes : [];
    } catch (error) {
      setStatus("offline", "cannot reach the server");
    }
    buildTeamSelector();
    buildAxisFilters();
    resetCounts({}, 0);
    await refreshCounts();
    loadAlerts();
    connect();
    runSearch(0);
    refreshSources();
    setInterval(refreshSources, 15000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
