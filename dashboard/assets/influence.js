// veille: influencer leaderboards panel (mass connectors and mass mavens per brand).
//
// Builds its own panel at the end of the page's grid and refreshes it from
// GET /api/influencers every few seconds. Every value from the server is inserted with
// textContent, never as markup: author names and explanations are hostile text.
"use strict";

(function () {
  const REFRESH_MS = 5000;
  const KINDS = [
    { key: "connectors", title: "Mass connectors", what: "impressions" },
    { key: "mavens", title: "Mass mavens", what: "expert posts" },
  ];

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function percent(value) {
    return (100 * value).toFixed(value < 0.1 ? 1 : 0) + "%";
  }

  function buildPanel() {
    const panel = element("section", "panel influence-panel");
    panel.setAttribute("aria-labelledby", "influence-title");
    const head = element("div", "panel-head");
    const title = element("h2", null, "Influencers");
    title.id = "influence-title";
    const caption = element("span", "muted");
    caption.id = "influence-caption";
    head.append(title, caption);
    const body = element("div", "influence-body");
    body.id = "influence-body";
    panel.append(head, body);
    const grid = document.querySelector("main") || document.body;
    grid.append(panel);
    return { caption, body };
  }

  function renderBoard(kind, board, share) {
    const block = element("div", "influence-board");
    const heading = element("h3", null, kind.title);
    const summary = element(
      "p",
      "muted",
      board.members + " authors (" + percent(board.share_of_authors) + " of active authors) make " +
        percent(board.covered) + " of " + kind.what +
        (board.complete ? "" : " (short of " + percent(share) + ": more candidates needed)")
    );
    const list = element("ol", "cards");
    for (const leader of board.leaders) {
      const item = element("li", "card");
      const who = element("div", "card-head");
      who.append(
        element("strong", null, "#" + leader.rank + " " + leader.author),
        element("span", "muted", " " + leader.source)
      );
      item.append(who, element("p", "explanation", leader.explanation));
      list.append(item);
    }
    if (board.leaders.length === 0) {
      list.append(element("li", "empty", "Nobody yet."));
    }
    block.append(heading, summary, list);
    return block;
  }

  function render(view, data) {
    view.caption.textContent =
      "smallest sets making " + percent(data.share) + " over " + data.window_days + " days";
    const parts = [];
    for (const brand of data.brands) {
      const section = element("div", "influence-brand");
      section.append(element("h3", null, brand.brand + " (~" + brand.active_authors + " active authors)"));
      for (const kind of KINDS) {
        if (brand[kind.key]) section.append(renderBoard(kind, brand[kind.key], data.share));
      }
      parts.push(section);
    }
    view.body.replaceChildren(...parts);
  }

  async function refresh(view) {
    try {
      const response = await fetch("/api/influencers", { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(view, await response.json());
    } catch (error) {
      view.caption.textContent = "leaderboards unavailable (" + error.message + ")";
    }
  }

  function start() {
    const view = buildPanel();
    refresh(view);
    setInterval(() => refresh(view), REFRESH_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
