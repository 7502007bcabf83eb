// agentlane dashboard: live updates over Server-Sent Events, the resolve
// button, copy buttons and fresh relative ages. Pages work without it.
"use strict";
(function () {
  const live = document.getElementById("live");
  const setLive = (state, text) => {
    if (live) { live.dataset.state = state; live.textContent = text; }
  };

  // Re-fetch every fragment on the page (server-rendered, escaped HTML) and
  // swap it in; at most one refresh in flight, one more queued, and at most
  // one a second however busy the queue is (a page costs the store little).
  const MIN_GAP_MS = 1000;
  let busy = false, again = false, timer = null, lastRun = 0;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    lastRun = Date.now();
    try {
      for (const el of document.querySelectorAll("[data-fragment]")) {
        const r = await fetch(el.dataset.fragment, { credentials: "same-origin", headers: { "Accept": "text/html" } });
        // The session ended: the guard sent us to the login form.
        if (r.redirected && new URL(r.url).pathname === "/login") { location.assign(r.url); return; }
        if (r.ok && r.headers.get("content-type")?.startsWith("text/html")) {
          el.innerHTML = await r.text();
          el.dataset.refreshed = String(Date.now());
        }
      }
      ages();
    } catch (_) { /* the next event or poll tries again */ }
    busy = false;
    if (again) { again = false; schedule(); }
  }
  const schedule = () => {
    if (timer) return;
    const wait = Math.max(250, MIN_GAP_MS - (Date.now() - lastRun));
    timer = setTimeout(() => { timer = null; refresh(); }, wait);
  };

  // The events that change what a page shows. Named SSE events do not reach
  // onmessage, so each kind gets a listener.
  const KINDS = ["runner_prepare", "runner_exit", "runner_classified_failure", "preflight_checked",
    "job_decided", "job_decision_rejected", "job_admitted", "operator_action", "route_breaker",
    "job_enqueued", "job_claimed", "job_settled", "job_parked", "job_released", "job_cancelled",
    "job_retried", "incident_opened", "incident_counted", "incident_resolved", "lane_paused", "lane_resumed",
    "alert_delivered", "alert_failed", "lagged"];

  let pollTimer = null;
  function poll() {
    if (pollTimer) return;
    setLive("polling", "polling every 5 s (no event stream)");
    pollTimer = setInterval(refresh, 5000);
  }

  function subscribe() {
    const lane = document.body.dataset.live;
    if (lane === undefined || !("EventSource" in window)) return;
    const url = "/api/v1/events" + (lane ? "?lane=" + encodeURIComponent(lane) : "");
    const es = new EventSource(url);
    let opened = false;
    es.onopen = () => {
      opened = true;
      if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
      setLive("live", "live");
      // Whatever happened while we were away.
      schedule();
    };
    const onEvent = (ev) => {
      window.agentlaneEvents = (window.agentlaneEvents || 0) + 1;
      if (live) live.dataset.lastEvent = ev.lastEventId || "";
      schedule();
    };
    es.onmessage = onEvent;
    for (const k of KINDS) es.addEventListener(k, onEvent);
    es.onerror = () => {
      // EventSource reconnects by itself (with Last-Event-ID) unless the
      // server refused the stream; then poll instead.
      if (es.readyState === EventSource.CLOSED) {
        poll();
        if (opened) setTimeout(subscribe, 5000);
      } else {
        setLive("reconnecting", "reconnecting…");
      }
    };
  }

  // Ages: "(3m ago)" next to each time, kept fresh.
  function ageText(secs) {
    const n = Math.abs(secs), f = secs < 0;
    if (n < 5) return "just now";
    const u = n < 60 ? n + "s" : n < 3600 ? Math.floor(n / 60) + "m" : n < 86400 ? Math.floor(n / 3600) + "h" : Math.floor(n / 86400) + "d";
    return f ? "in " + u : u + " ago";
  }
  function ages() {
    const now = Date.now();
    for (const t of document.querySelectorAll("time[datetime] .age")) {
      const at = Date.parse(t.parentElement.getAttribute("datetime"));
      if (!Number.isNaN(at)) t.textContent = "(" + ageText(Math.round((now - at) / 1000)) + ")";
    }
  }

  // The resolve button: the API's resolve, same origin, JSON.
  document.addEventListener("click", async (e) => {
    const b = e.target.closest("button#resolve");
    if (b) {
      const out = document.getElementById("resolve-result");
      b.disabled = true;
      out.textContent = "Resolving…";
      delete out.dataset.outcome;
      try {
        const r = await fetch("/api/v1/incidents/" + encodeURIComponent(b.dataset.incident) + "/resolve", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Accept": "application/json" },
          body: JSON.stringify({ why: "resolved from the dashboard", retry_failed: true }),
        });
        const body = await r.json().catch(() => ({}));
        if (r.ok) {
          const released = body.released ?? 0, retried = body.retried ?? 0;
          out.textContent = "Resolved: released " + released + " parked job(s), queued " + retried + " failed job(s) again.";
          out.dataset.outcome = "resolved";
          refresh();
        } else {
          out.textContent = "Not resolved: " + (body.detail || r.status + " " + r.statusText);
          out.dataset.outcome = "refused";
          b.disabled = false;
        }
      } catch (err) {
        out.textContent = "Not resolved: the server did not answer (" + err + ")";
        out.dataset.outcome = "error";
        b.disabled = false;
      }
      return;
    }
    const c = e.target.closest("button[data-copy]");
    if (c) {
      const text = document.getElementById(c.dataset.copy)?.textContent || "";
      try { await navigator.clipboard.writeText(text); c.textContent = "Copied"; }
      catch (_) {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(c.dataset.copy));
        const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
        c.textContent = "Selected: press Ctrl+C";
      }
    }
  });

  setLive("connecting", "connecting…");
  ages();
  setInterval(ages, 30000);
  subscribe();
})();
