// The console's live updates and keyboard. Records arrive as server-sent events; what they change is fetched as
// server-rendered fragments. Things of fixed size (rows, status pills, a proposal's gate box) change in place;
// anything that would push content around (a new incident or proposal, a newer snapshot) waits behind the
// updates bar until the person asks for it, so nothing moves under their eyes or their pointer.
"use strict";

(() => {
  const body = document.body;
  const page = body.dataset.page;
  const live = document.getElementById("live");
  const bar = document.getElementById("updates");
  const barText = document.getElementById("updates-text");
  const barShow = document.getElementById("updates-show");
  const incidentPage = document.querySelector("[data-incident]");
  const pending = { incidents: new Set(), proposals: new Set(), snapshot: 0, reset: false };

  // One request at a time per fragment, in order, so a slow answer never overwrites a newer one.
  const queues = new Map();
  function serial(key, task) {
    const next = (queues.get(key) || Promise.resolve()).then(task).catch((error) => console.warn(key, error));
    queues.set(key, next);
    return next;
  }

  async function fragment(url) {
    const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    return template.content;
  }

  function setLive(state, text) {
    live.dataset.live = state;
    live.textContent = text;
  }

  function plural(count, word) {
    return `${count} ${word}${count === 1 ? "" : "s"}`;
  }

  function showPending() {
    const parts = [];
    if (pending.reset) parts.push("the page fell behind the live stream");
    if (pending.snapshot) parts.push(`a newer snapshot (v${pending.snapshot}) of this incident`);
    if (pending.incidents.size) parts.push(`${plural(pending.incidents.size, "new incident")}`);
    if (pending.proposals.size) parts.push(`${plural(pending.proposals.size, "new proposal")}`);
    if (!parts.length) return;
    barText.textContent = `Arrived: ${parts.join(", ")}.`;
    bar.dataset.pending = "1";
    barShow.hidden = false;
  }

  function applyPending() {
    if (!barShow.hidden) window.location.reload();
  }
  barShow.addEventListener("click", applyPending);

  const byId = (selector, id) => document.querySelector(`${selector}[data-id="${CSS.escape(id)}"]`);
  const path = (...parts) => parts.map(encodeURIComponent).join("/");

  // A row refreshed while the keyboard is on it keeps the focus, so `j`/`k`/Enter go on from the same place.
  function replaceKeepingFocus(current, replacement) {
    const focused = current.contains(document.activeElement);
    current.replaceWith(replacement);
    if (focused) (replacement.matches("[data-nav]") ? replacement : replacement.querySelector("[data-nav]"))?.focus();
  }

  function refreshIncidentRow(id) {
    const row = byId("#incident-list > li", id);
    if (!row) return false;
    serial(`incident-row:${id}`, async () => {
      const content = await fragment(`/incidents/${path(id)}/row`);
      const current = byId("#incident-list > li", id);
      if (current && content.firstElementChild) replaceKeepingFocus(current, content.firstElementChild);
    });
    return true;
  }

  function refreshGate(proposalId) {
    const gate = document.getElementById(`gate-${proposalId}`);
    if (gate) {
      serial(`gate:${proposalId}`, async () => {
        const content = await fragment(`/proposals/${path(proposalId)}/gate${gate.dataset.full ? "?full=1" : ""}`);
        // Keep focus on a button that is replaced, so keyboard users do not lose their place.
        const focused = gate.contains(document.activeElement) ? document.activeElement.dataset.decide : null;
        gate.replaceChildren(content);
        if (focused) gate.querySelector(`[data-decide="${focused}"]`)?.focus();
        gate.dispatchEvent(new CustomEvent("gate-updated", { bubbles: true, detail: { proposalId } }));
      });
    }
    const row = byId("#proposal-list > li", proposalId);
    if (row) {
      serial(`proposal-row:${proposalId}`, async () => {
        const content = await fragment(`/proposals/${path(proposalId)}/row`);
        const current = byId("#proposal-list > li", proposalId);
        if (current && content.firstElementChild) replaceKeepingFocus(current, content.firstElementChild);
      });
    }
  }

  const onEvent = {
    incident(change) {
      if (page === "incidents") {
        const row = byId("#incident-list > li", change.id);
        if (!row) { pending.incidents.add(change.id); showPending(); }
        else if (Number(row.dataset.version) < change.version) refreshIncidentRow(change.id);
      } else if (incidentPage && incidentPage.dataset.incident === change.id
                 && Number(incidentPage.dataset.version) < change.version) {
        const status = document.getElementById("incident-status");
        status.textContent = change.status;
        status.className = `pill status-${change.status}`;
        pending.snapshot = Math.max(pending.snapshot, change.version);
        showPending();
      }
    },
    proposal(change) {
      if (document.getElementById(`gate-${change.id}`) || byId("#proposal-list > li", change.id)) {
        refreshGate(change.id);  // a proposal already shown: its id was reused, which its gate box says
      } else if (page === "proposals") {
        pending.proposals.add(change.id); showPending();
      } else if (incidentPage && incidentPage.dataset.incident === change.incident_id
                 && !document.getElementById(`proposal-${change.id}`)) {
        pending.proposals.add(change.id); showPending();
      } else if (page === "incidents") {
        refreshIncidentRow(change.incident_id);
      }
    },
    decision(change) { refreshGate(change.proposal_id); },
    execution(change) { refreshGate(change.proposal_id); },
  };

  function connect() {
    if (!window.EventSource) { setLive("down", "no live updates"); return; }
    const source = new EventSource(`/events?since=${encodeURIComponent(body.dataset.seq || "0")}`);
    source.addEventListener("hello", () => setLive("live", "live"));
    for (const name of Object.keys(onEvent)) {
      source.addEventListener(name, (event) => {
        try { onEvent[name](JSON.parse(event.data)); } catch (error) { console.warn(name, error); }
      });
    }
    source.addEventListener("reset", () => { pending.reset = true; showPending(); });
    source.onerror = () => setLive(source.readyState === EventSource.CLOSED ? "down" : "connecting", "reconnecting");
  }

  // --- keyboard -------------------------------------------------------------------------------------------
  const help = document.getElementById("help");
  document.querySelector("[data-open-help]").addEventListener("click", () => help.showModal());

  function navigable() {
    return [...document.querySelectorAll("[data-nav]")].filter((el) => el.offsetParent !== null);
  }

  function move(step) {
    const items = navigable();
    if (!items.length) return;
    const current = items.findIndex((el) => el === document.activeElement || el.contains(document.activeElement));
    const next = current < 0 ? (step > 0 ? 0 : items.length - 1) : Math.min(items.length - 1, Math.max(0, current + step));
    items[next].focus();
    items[next].scrollIntoView({ block: "nearest" });
  }

  function decide(kind) {
    const scope = document.activeElement?.closest?.("article[data-proposal]")
      || (document.querySelectorAll("article[data-proposal]").length === 1 ? document.querySelector("article[data-proposal]") : null);
    const button = scope?.querySelector(`button[data-decide="${kind}"]`);
    if (button && !button.disabled) button.click();
  }

  let leader = null;
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select, [contenteditable]") || document.querySelector("dialog[open]")) return;
    if (leader === "g") {
      leader = null;
      const to = { i: "/", p: "/proposals", k: "/keys" }[event.key];
      if (to) { event.preventDefault(); window.location.assign(to); }
      return;
    }
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": decide("approve"); break;
      case "r": decide("reject"); break;
      case "u": applyPending(); break;
      case "g": leader = "g"; setTimeout(() => { leader = null; }, 1500); break;
      case "?": help.showModal(); break;
      case "Enter":
        if (document.activeElement?.matches("article[data-proposal]")) {
          window.location.assign(`/proposals/${path(document.activeElement.dataset.proposal)}`);
        } else return;
        break;
      default: return;
    }
    event.preventDefault();
  });

  connect();
})();
