/* The organizer's live dashboard (/organizer/...): sign-in, then the organizer API read every 5 seconds.
   The HTML shell carries no data; everything shown here comes from the API with the organizer's token.
   Tokens: Cognito's hosted UI (authorization code + PKCE, on /organizer/callback) or a `#token=` fragment
   (the local stack and scripts). Either way the token lives in this tab's sessionStorage only. */
(function () {
  "use strict";

  var TOKEN_KEY = "cme-organizer-token";
  var PKCE_KEY = "cme-organizer-sign-in";
  var POLL_MS = 5000;
  var JOB_POLL_MS = 2000;
  var JOB_MAX_MS = 10 * 60 * 1000;
  var REPORTS = ["attendance.csv", "claims.csv", "evaluations.csv", "pars-learners.txt", "cpe-monitor.csv",
                 "post-event.zip"];
  var CREDIT_NAMES = {
    AMA_PRA_1: "AMA PRA Category 1 Credits\u2122", ANCC: "ANCC contact hours", ACPE: "ACPE contact hours",
    AAPA_1: "AAPA Category 1 CME credits", IPCE: "IPCE credits", PARTICIPATION: "Participation hours"
  };
  var CREDIT_SHORT = { AMA_PRA_1: "AMA PRA 1", ANCC: "ANCC", ACPE: "ACPE", AAPA_1: "AAPA 1", IPCE: "IPCE",
                       PARTICIPATION: "Participation" };
  var TYPE_ORDER = ["AMA_PRA_1", "ANCC", "ACPE", "AAPA_1", "IPCE", "PARTICIPATION"];
  var SVG = "http://www.w3.org/2000/svg";

  var body = document.body;
  var view = body.getAttribute("data-view");
  var hosted = {
    url: body.getAttribute("data-sign-in-url") || "",
    clientId: body.getAttribute("data-client-id") || "",
    callback: body.getAttribute("data-callback-url") || ""
  };
  hosted.enabled = Boolean(hosted.url && hosted.clientId && hosted.callback);

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text != null) node.textContent = text;
    return node;
  }

  function setText(node, text) {  // touch the DOM only when the text changes
    if (node && node.textContent !== text) node.textContent = text;
  }

  // ---- the token ----------------------------------------------------------------------------------

  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  function token() {
    var s = storage();
    return s ? s.getItem(TOKEN_KEY) || "" : "";
  }

  function keepToken(value) {
    var s = storage();
    if (s) s.setItem(TOKEN_KEY, value);
  }

  function dropToken() {
    var s = storage();
    if (s) s.removeItem(TOKEN_KEY);
  }

  function base64UrlDecode(text) {
    var padded = text.replace(/-/g, "+").replace(/_/g, "/");
    while (padded.length % 4) padded += "=";
    var binary = atob(padded);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new TextDecoder().decode(bytes);
  }

  /** The token's claims, read for display and expiry only (the API checks the signature). */
  function claims(value) {
    try { return JSON.parse(base64UrlDecode(value.split(".")[1])); } catch (e) { return null; }
  }

  function tokenState() {
    var value = token();
    if (!value) return { signedIn: false };
    var c = claims(value) || {};
    if (typeof c.exp === "number" && c.exp * 1000 <= Date.now()) return { signedIn: false, expired: true };
    return { signedIn: true, claims: c, expires: typeof c.exp === "number" ? new Date(c.exp * 1000) : null };
  }

  /** `#token=...` (and the old local link's `activity=`): keep the token in this tab, clear the address bar. */
  function takeFragment() {
    if (!location.hash || location.hash.length < 2) return null;
    var params = new URLSearchParams(location.hash.slice(1));
    var fragmentToken = params.get("token");
    var activity = params.get("activity");
    if (!fragmentToken && !activity) return null;
    history.replaceState(null, "", location.pathname + location.search);
    if (fragmentToken) keepToken(fragmentToken.trim());
    return activity;
  }

  function clock(date) {
    return date.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  /** "14:30" today, "3 Dec 14:30" on another day (a week-long local token would otherwise read as today). */
  function until(date) {
    var time = clock(date).slice(0, 5);
    if (date.toDateString() === new Date().toDateString()) return time;
    return date.toLocaleDateString("en-GB", { day: "numeric", month: "short" }) + " " + time;
  }

  function renderAccount() {
    var state = tokenState();
    setText($("account-text"), state.signedIn
      ? "Signed in" + (state.expires ? " until " + until(state.expires) : "")
      : "Not signed in");
    $("sign-out").hidden = !state.signedIn;
  }

  // ---- hosted UI sign-in (authorization code + PKCE) ------------------------------------------------

  function randomText(bytes) {
    var data = new Uint8Array(bytes);
    crypto.getRandomValues(data);
    return base64Url(data);
  }

  function base64Url(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function startSignIn() {
    // The callback URL is the one registered on the user pool client: sign in from its origin.
    if (new URL(hosted.callback).origin !== location.origin) {
      location.assign(new URL("/organizer/", hosted.callback).href);
      return;
    }
    var verifier = randomText(48);
    var state = randomText(24);
    crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)).then(function (digest) {
      var s = storage();
      if (s) s.setItem(PKCE_KEY, JSON.stringify({ state: state, verifier: verifier, back: location.pathname }));
      var query = new URLSearchParams({
        response_type: "code", client_id: hosted.clientId, redirect_uri: hosted.callback,
        scope: "openid email profile", state: state,
        code_challenge: base64Url(new Uint8Array(digest)), code_challenge_method: "S256"
      });
      location.assign(hosted.url + "/oauth2/authorize?" + query.toString());
    });
  }

  function finishSignIn() {
    var query = new URLSearchParams(location.search);
    var s = storage();
    var pending = null;
    try { pending = JSON.parse((s && s.getItem(PKCE_KEY)) || "null"); } catch (e) { pending = null; }
    if (s) s.removeItem(PKCE_KEY);
    history.replaceState(null, "", location.pathname);  // the code is single-use; keep it out of history
    function failed(message) {
      setText($("callback-text"), message);
      $("callback-retry").hidden = false;
    }
    if (query.get("error")) return failed("Sign-in did not complete: " + (query.get("error_description") || query.get("error")) + ".");
    if (!hosted.enabled) return failed("Sign-in is not configured for this deployment.");
    if (!pending || !query.get("code") || query.get("state") !== pending.state) {
      return failed("This sign-in link is not valid any more. Please sign in again.");
    }
    fetch(hosted.url + "/oauth2/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code", client_id: hosted.clientId, code: query.get("code"),
        redirect_uri: hosted.callback, code_verifier: pending.verifier
      }).toString(),
      credentials: "omit", cache: "no-store"
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok || !answer.id_token) throw new Error(answer.error || "HTTP " + response.status);
        keepToken(answer.id_token);
        var back = /^\/organizer\//.test(pending.back || "") ? pending.back : "/organizer/";
        location.replace(back);
      });
    }).catch(function (error) {
      failed("Sign-in did not complete (" + error.message + "). Please sign in again.");
    });
  }

  function signOut() {
    dropToken();
    if (hosted.enabled) {
      var query = new URLSearchParams({ client_id: hosted.clientId,
                                        logout_uri: new URL("/organizer/", hosted.callback).href });
      location.assign(hosted.url + "/logout?" + query.toString());
    } else {
      location.assign("/organizer/");
    }
  }

  /** The sign-in card: the hosted UI's button when there is one; the token form always. */
  function showSignIn(reason) {
    $("sign-in").hidden = false;
    $("sign-in-hosted").hidden = !hosted.enabled;
    if (reason) notice("warn", reason);
    if (hosted.enabled) $("sign-in-button").focus();
  }

  function bindSignIn() {
    $("sign-out").addEventListener("click", signOut);
    $("sign-in-button").addEventListener("click", startSignIn);
    $("token-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var value = $("token-input").value.trim();
      if (!value) return;
      keepToken(value);
      location.reload();
    });
  }

  // ---- messages -------------------------------------------------------------------------------------

  var noticeKey = "";

  /** The one message about the connection or the sign-in; rewritten only when it changes. */
  function notice(tone, text) {
    var box = $("notice");
    var key = tone + "|" + text;
    if (key === noticeKey) return;
    noticeKey = key;
    box.className = "notice" + (tone ? " " + tone : "");  // stays in the page (empty) so it is announced
    box.textContent = text || "";
  }

  // ---- the organizer API ----------------------------------------------------------------------------

  function ApiError(status, message, body) {
    this.status = status;
    this.message = message;
    this.body = body;
  }
  ApiError.prototype = Object.create(Error.prototype);

  function call(path, options) {
    options = options || {};
    var headers = { Authorization: "Bearer " + token(), Accept: options.accept || "application/json" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, {
      method: options.method || "GET", headers: headers, cache: "no-store", credentials: "omit",
      redirect: "follow", body: options.body !== undefined ? JSON.stringify(options.body) : undefined
    });
  }

  function errorFrom(response) {
    return response.text().then(function (text) {
      var parsed = null;
      try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
      var message = parsed && parsed.error && parsed.error.message ? parsed.error.message
        : parsed && parsed.message ? parsed.message : "HTTP " + response.status;
      return new ApiError(response.status, message, parsed);
    });
  }

  function getJson(path) {
    return call(path).then(function (response) {
      if (!response.ok) return errorFrom(response).then(function (error) { throw error; });
      return response.json();
    });
  }

  // ---- numbers and names ----------------------------------------------------------------------------

  function number(value) {
    if (typeof value !== "number") return value == null ? "\u2013" : String(value);
    return value.toLocaleString("en-US", { maximumFractionDigits: 2 });
  }

  function creditTypes(credits) {  // canonical order, then any type added later
    var keys = Object.keys(credits || {});
    return TYPE_ORDER.filter(function (t) { return keys.indexOf(t) >= 0; })
      .concat(keys.filter(function (t) { return TYPE_ORDER.indexOf(t) < 0; }).sort());
  }

  function percent(part, whole) {
    return whole > 0 ? Math.round((100 * part) / whole) + "%" : "\u2013";
  }

  // ---- the dashboard --------------------------------------------------------------------------------

  var activityId = body.getAttribute("data-activity-id") || "";
  var base = "/activities/" + encodeURIComponent(activityId);
  var activity = null;   // GET /activities/{id}: title, time zone, agenda
  var lastOk = 0;
  var timer = null;
  var inFlight = false;
  var stopped = false;
  var rows = {};         // session_id -> the row's cells and its End session state
  var tileKey = "";
  var chartKeys = { funnel: "", checkins: "" };

  function zone() {
    return (activity && activity.timezone) || undefined;
  }

  function timeOf(iso, withDay) {
    var date = new Date(iso);
    if (isNaN(date)) return "";
    var options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone() };
    if (withDay) options.weekday = "short";
    try { return date.toLocaleString("en-US", options); } catch (e) { delete options.timeZone; return date.toLocaleString("en-US", options); }
  }

  function dayOf(iso) {
    var date = new Date(iso);
    try { return date.toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: zone() }); } catch (e) { return date.toLocaleDateString("en-US"); }
  }

  function totalsTiles(totals) {
    var credits = totals.credits_claimed || {};
    var offered = activity && activity.credit_types ? Object.keys(activity.credit_types) : [];
    var types = creditTypes(Object.assign({}, offered.reduce(function (o, t) { o[t] = 0; return o; }, {}), credits));
    var tiles = [
      { key: "registered", label: "Registered" },
      { key: "checked_in", label: "Checked in" },
      { key: "inside_now", label: "Inside now", tone: "live" },
      { key: "evaluations_submitted", label: "Evaluations" },
      { key: "learners_claimed", label: "Learners claimed" }
    ];
    types.forEach(function (t) {
      tiles.push({ key: "credits:" + t, label: (CREDIT_NAMES[t] || t) + " claimed", value: credits[t] || 0, tone: "credit" });
    });
    tiles.push({ key: "certificates_issued", label: "Certificates issued" },
               { key: "emails_sent", label: "Mails sent" },
               { key: "emails_bounced", label: "Mails bounced", warnAbove: 0 },
               { key: "emails_to_resend", label: "Mails to resend", warnAbove: 0 });
    return tiles.filter(function (t) { return t.value !== undefined || t.key in totals; });
  }

  function renderTotals(totals) {
    var list = $("totals");
    var tiles = totalsTiles(totals);
    var key = tiles.map(function (t) { return t.key; }).join(",");
    if (key !== tileKey) {  // the set of tiles changed (first load, a credit type claimed): build them
      tileKey = key;
      list.replaceChildren.apply(list, tiles.map(function (t) {
        var li = el("li", { "class": "tile" + (t.tone ? " " + t.tone : ""), "data-key": t.key });
        // Read as "Checked in 12"; shown with the number on top, so numbers line up across a row.
        li.appendChild(el("span", { "class": "label" }, t.label));
        li.appendChild(el("span", { "class": "value" }));
        return li;
      }));
    }
    tiles.forEach(function (t, i) {
      var value = t.value !== undefined ? t.value : totals[t.key];
      var li = list.children[i];
      setText(li.lastChild, number(value));
      if (t.warnAbove !== undefined) li.classList.toggle("warn", value > t.warnAbove);
    });
  }

  function sessionWhen(s) {
    if (!s.starts_at) return "";
    var start = timeOf(s.starts_at, true);
    return s.ends_at ? start + "\u2013" + timeOf(s.ends_at, false) : start;
  }

  function agendaSession(id) {
    var sessions = (activity && activity.sessions) || [];
    for (var i = 0; i < sessions.length; i++) if (sessions[i].session_id === id) return sessions[i];
    return {};
  }

  function buildRow(s) {
    var tr = el("tr", { "data-session": s.session_id });
    var th = el("th", { scope: "row" });
    var title = el("span", { "class": "title" });
    var meta = el("span", { "class": "meta" });
    th.appendChild(title);
    th.appendChild(meta);
    tr.appendChild(th);
    var cells = {
      title: title, meta: meta,
      inside: el("td", { "class": "num strong" }), checkedIn: el("td", { "class": "num" }),
      finalized: el("td"), credits: el("td", { "class": "credits" }), evaluations: el("td", { "class": "num" }),
      action: el("td", { "class": "action" })
    };
    ["inside", "checkedIn", "finalized", "credits", "evaluations", "action"].forEach(function (k) { tr.appendChild(cells[k]); });
    return { tr: tr, cells: cells, state: "idle", finalized: null, title: "" };
  }

  function renderAction(row, session) {
    var cell = row.cells.action;
    if (row.state === "confirm" || row.state === "sending") return;  // the organizer is mid-way: leave it
    var want = row.state === "accepted" && !session.finalized ? "accepted" : session.finalized ? "done" : "idle";
    if (cell.getAttribute("data-shows") === want) return;
    cell.setAttribute("data-shows", want);
    if (want === "done") {
      row.state = "idle";
      cell.replaceChildren(el("span", { "class": "muted" }, "Ended"));
    } else if (want === "accepted") {
      cell.replaceChildren(el("span", { "class": "muted" }, "End requested"));
    } else {
      var button = el("button", { type: "button", "class": "secondary small" }, "End session");
      button.appendChild(el("span", { "class": "visually-hidden" }, " " + row.title));
      button.addEventListener("click", function () { confirmEnd(row, session.session_id); });
      cell.replaceChildren(button);
    }
  }

  function confirmEnd(row, sessionId) {
    row.state = "confirm";
    var cell = row.cells.action;
    cell.setAttribute("data-shows", "confirm");
    var group = el("div", { "class": "confirm", role: "group", "aria-label": "End " + row.title });
    group.appendChild(el("span", { "class": "question" }, "End now?"));
    var yes = el("button", { type: "button", "class": "danger small" }, "Yes, end it");
    var no = el("button", { type: "button", "class": "secondary small" }, "Cancel");
    yes.addEventListener("click", function () { endSession(row, sessionId); });
    no.addEventListener("click", function () {
      row.state = "idle";
      setText($("action-status"), "");
      cell.removeAttribute("data-shows");
      refreshRow(row, sessionId);
      var again = cell.querySelector("button");
      if (again) again.focus();
    });
    group.appendChild(yes);
    group.appendChild(no);
    cell.replaceChildren(group);
    var ends = (lastSessions[sessionId] || {}).ends_at || agendaSession(sessionId).ends_at;
    setText($("action-status"), "End \u201c" + row.title + "\u201d now? Its attendance is finalized" +
      (ends ? " with credit counted to " + timeOf(ends, false) + ", the agenda's end." : "."));
    yes.focus();
  }

  var lastSessions = {};

  function refreshRow(row, sessionId) {
    renderAction(row, lastSessions[sessionId] || { session_id: sessionId, finalized: false });
  }

  function endSession(row, sessionId) {
    row.state = "sending";
    var cell = row.cells.action;
    cell.replaceChildren(el("span", { "class": "muted" }, "Ending\u2026"));
    var path = base + "/sessions/" + encodeURIComponent(sessionId) + "/end";
    call(path, { method: "POST" }).then(function (response) {
      if (response.status !== 202 && !response.ok) return errorFrom(response).then(function (e) { throw e; });
      row.state = "accepted";
      cell.removeAttribute("data-shows");
      setText($("action-status"), "End of \u201c" + row.title + "\u201d accepted (" + response.status +
        "): its attendance and credit are being finalized.");
      refreshRow(row, sessionId);
      poll();
    }).catch(function (error) {
      row.state = "idle";
      cell.removeAttribute("data-shows");
      refreshRow(row, sessionId);
      if (!handleAuth(error)) setText($("action-status"), "Could not end \u201c" + row.title + "\u201d: " + error.message);
    });
  }

  function renderSessions(sessions) {
    var tbody = $("sessions");
    var ids = sessions.map(function (s) { return s.session_id; });
    if (ids.join("\u0000") !== Object.keys(rows).join("\u0000")) {
      var fresh = {};
      ids.forEach(function (id) { fresh[id] = rows[id] || buildRow({ session_id: id }); });
      rows = fresh;
      tbody.replaceChildren.apply(tbody, ids.map(function (id) { return rows[id].tr; }));
    }
    lastSessions = {};
    sessions.forEach(function (s) {
      lastSessions[s.session_id] = s;
      var row = rows[s.session_id];
      var agenda = agendaSession(s.session_id);
      var title = s.title || agenda.title || s.session_id;
      row.title = title;
      setText(row.cells.title, title);
      var when = sessionWhen(s.starts_at ? s : agenda);
      setText(row.cells.meta, [s.session_id, s.room || agenda.room, when].filter(Boolean).join(" \u00b7 "));
      setText(row.cells.inside, number(s.inside_now));
      setText(row.cells.checkedIn, number(s.checked_in));
      setText(row.cells.evaluations, number(s.evaluations_submitted));
      if (row.finalized !== Boolean(s.finalized)) {
        row.finalized = Boolean(s.finalized);
        row.cells.finalized.replaceChildren(el("span", { "class": "tag " + (s.finalized ? "done" : "open") },
                                                s.finalized ? "Yes" : "No"));
      }
      var credits = s.credits_claimable || {};
      var text = creditTypes(credits).filter(function (t) { return Number(credits[t]) > 0; }).map(function (t) {
        return (CREDIT_SHORT[t] || t) + ": " + number(credits[t]);
      }).join("\n") || "\u2013";
      setText(row.cells.credits, text);
      renderAction(row, s);
    });
  }

  // ---- charts (inline SVG, with a text equivalent) -----------------------------------------------------

  function renderFunnel(totals) {
    var steps = [
      ["Checked in", totals.checked_in],
      ["Evaluated", totals.evaluations_submitted],
      ["Claimed", totals.learners_claimed],
      ["Certificate", totals.certificates_issued],
      ["Delivered", totals.emails_delivered]
    ].filter(function (s) { return typeof s[1] === "number"; });
    var key = JSON.stringify(steps);
    if (key === chartKeys.funnel) return;
    chartKeys.funnel = key;
    var top = steps.length ? Math.max.apply(null, steps.map(function (s) { return s[1]; }).concat([1])) : 1;
    var width = 600, rowHeight = 40, labelWidth = 120, valueWidth = 110;
    var barSpace = width - labelWidth - valueWidth;
    var height = steps.length * rowHeight;
    var described = steps.map(function (s, i) {
      return s[0] + " " + number(s[1]) + (i ? " (" + percent(s[1], steps[0][1]) + ")" : "");
    }).join(", ");
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "class": "funnel",
                             "aria-label": "Claim funnel: " + described + "." });
    steps.forEach(function (s, i) {
      var y = i * rowHeight;
      var g = svg("g", { "aria-hidden": "true" });
      g.appendChild(svg("text", { x: 0, y: y + 25, "class": "axis-label" }, s[0]));
      g.appendChild(svg("rect", { x: labelWidth, y: y + 8, width: barSpace, height: 24, rx: 3, "class": "track" }));
      var w = Math.max(s[1] > 0 ? 2 : 0, Math.round((barSpace * s[1]) / top));
      g.appendChild(svg("rect", { x: labelWidth, y: y + 8, width: w, height: 24, rx: 3, "class": "bar step-" + i }));
      g.appendChild(svg("text", { x: labelWidth + barSpace + 8, y: y + 25, "class": "value-label" },
                        number(s[1]) + (i ? " (" + percent(s[1], steps[0][1]) + ")" : "")));
      chart.appendChild(g);
    });
    $("funnel").replaceChildren(chart);
  }

  /** Buckets of 5 minutes (the API's), merged into wider ones when the day is long, gaps filled with 0,
      running up to now (the API's `as_of`) and at least an hour wide, so one bucket is not the whole chart. */
  function series(points, asOf) {
    var FIVE = 5 * 60 * 1000, MIN_BARS = 12;
    var parsed = points.map(function (p) { return { t: Date.parse(p.at), n: Number(p.checked_in) || 0 }; })
      .filter(function (p) { return !isNaN(p.t); }).sort(function (a, b) { return a.t - b.t; });
    if (!parsed.length) return { step: FIVE, bars: [] };
    var start = parsed[0].t, end = parsed[parsed.length - 1].t;
    var now = Date.parse(asOf || "");
    if (!isNaN(now) && now > end && now - start < 3 * 86400000) end = now;
    var factors = [1, 2, 3, 6, 12, 24, 48, 96, 288];
    var factor = factors[factors.length - 1];
    for (var i = 0; i < factors.length; i++) if ((end - start + FIVE) / (FIVE * factors[i]) <= 72) { factor = factors[i]; break; }
    var step = FIVE * factor;
    var last = Math.floor(end / step) * step;
    var first = Math.min(Math.floor(start / step) * step, last - (MIN_BARS - 1) * step);
    var count = Math.round((last - first) / step) + 1;
    var bars = [];
    for (var b = 0; b < count; b++) bars.push({ t: first + b * step, n: 0 });
    parsed.forEach(function (p) { bars[Math.floor((p.t - first) / step)].n += p.n; });
    return { step: step, bars: bars };
  }

  function renderCheckins(points, asOf) {
    var key = points === undefined ? "absent" : JSON.stringify(points) + (asOf || "").slice(0, 15);
    if (key === chartKeys.checkins) return;
    chartKeys.checkins = key;
    var box = $("checkins");
    var details = $("checkins-details");
    if (!points || !points.length) {
      details.hidden = true;
      box.replaceChildren(el("p", { "class": "empty" }, points === undefined
        ? "Check-ins over time are not available from this server yet."
        : "No check-ins yet."));
      return;
    }
    var data = series(points, asOf);
    var bars = data.bars;
    var minutes = Math.round(data.step / 60000);
    setText($("checkins-hint"), "First check-ins per " + (minutes >= 60 ? minutes / 60 + " hour" + (minutes > 60 ? "s" : "") : minutes + " minutes") + ".");
    var top = Math.max.apply(null, bars.map(function (b) { return b.n; }).concat([1]));
    var total = bars.reduce(function (sum, b) { return sum + b.n; }, 0);
    var peak = bars.reduce(function (best, b) { return b.n > best.n ? b : best; }, bars[0]);
    var multiDay = dayOf(bars[0].t) !== dayOf(bars[bars.length - 1].t);
    var width = 600, height = 220, left = 36, bottom = 28, topPad = 12;
    var plotW = width - left - 8, plotH = height - bottom - topPad;
    var slot = plotW / bars.length;
    var filled = bars.filter(function (b) { return b.n > 0; });
    var summary = number(total) + " first check-ins between " + timeOf(filled[0].t, multiDay) + " and " +
      timeOf(filled[filled.length - 1].t + data.step, multiDay) + "; busiest " + timeOf(peak.t, multiDay) +
      " with " + number(peak.n) + ".";
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "class": "bars",
                             "aria-label": "Check-ins over time: " + summary });
    var g = svg("g", { "aria-hidden": "true" });
    [0, top].forEach(function (v) {
      var y = topPad + plotH - (plotH * v) / top;
      g.appendChild(svg("line", { x1: left, x2: width - 8, y1: y, y2: y, "class": "grid" }));
      g.appendChild(svg("text", { x: left - 6, y: y + 4, "class": "tick", "text-anchor": "end" }, number(v)));
    });
    bars.forEach(function (b, i) {
      var h = (plotH * b.n) / top;
      g.appendChild(svg("rect", { x: left + i * slot + slot * 0.1, y: topPad + plotH - h,
                                  width: Math.max(1, slot * 0.8), height: h, "class": "bar" }));
    });
    var ticks = bars.length === 1 ? [0] : [0, Math.floor((bars.length - 1) / 2), bars.length - 1];
    ticks.forEach(function (i, n) {
      var anchor = ticks.length === 1 ? "middle" : ["start", "middle", "end"][n];
      var x = anchor === "start" ? left : anchor === "end" ? width - 8 : left + (i + 0.5) * slot;
      g.appendChild(svg("text", { x: x, y: height - 8, "class": "tick", "text-anchor": anchor }, timeOf(bars[i].t, multiDay)));
    });
    chart.appendChild(g);
    box.replaceChildren(chart, el("p", { "class": "chart-summary" }, summary));
    details.hidden = false;
    $("checkins-rows").replaceChildren.apply($("checkins-rows"), bars.filter(function (b) { return b.n > 0; }).map(function (b) {
      var tr = el("tr");
      tr.appendChild(el("td", null, timeOf(b.t, true)));
      tr.appendChild(el("td", { "class": "num" }, number(b.n)));
      return tr;
    }));
  }

  // ---- reports ----------------------------------------------------------------------------------------

  function save(blob, name) {
    var url = URL.createObjectURL(blob);
    var link = el("a", { href: url, download: name, hidden: "" });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  function sleep(ms) { return new Promise(function (done) { setTimeout(done, ms); }); }

  /** A large report answers 202 with a job: ask its status URL until the file (or a link to it) is there. */
  function followJob(job, started) {
    if (Date.now() - started > JOB_MAX_MS) return Promise.reject(new Error("the report is taking too long; try again later"));
    return sleep(JOB_POLL_MS).then(function () { return call(job.status_url, { accept: "*/*" }); }).then(function (response) {
      return answered(response, job, started);
    });
  }

  function answered(response, job, started) {
    if (!response.ok) return errorFrom(response).then(function (e) { throw e; });
    var kind = response.headers.get("Content-Type") || "";
    if (kind.indexOf("application/json") === 0) {
      return response.json().then(function (answer) {
        if (response.status === 202 && answer && answer.status_url) return followJob(answer, started || Date.now());
        var link = answer && (answer.download_url || answer.url);
        if (link) return { link: link };
        if (job) return followJob(job, started);
        return { blob: new Blob([JSON.stringify(answer)], { type: "application/json" }) };
      });
    }
    return response.blob().then(function (blob) { return { blob: blob }; });
  }

  function download(name, button) {
    var status = $("report-status");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    setText(status, "Preparing " + name + "\u2026");
    call(base + "/reports/" + encodeURIComponent(name), { accept: "*/*" }).then(function (response) {
      return answered(response, null, 0);
    }).then(function (result) {
      var filename = activityId + "-" + name;
      if (result.link) {
        var link = el("a", { href: result.link, download: filename, hidden: "", rel: "noreferrer" });
        document.body.appendChild(link);
        link.click();
        link.remove();
      } else {
        save(result.blob, filename);
      }
      setText(status, name + " downloaded.");
    }).catch(function (error) {
      if (!handleAuth(error)) setText(status, name + ": " + error.message);
    }).then(function () {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    });
  }

  function renderReports() {
    var list = $("reports");
    list.replaceChildren.apply(list, REPORTS.map(function (name) {
      var li = el("li");
      var button = el("button", { type: "button", "class": "secondary", "data-report": name }, name);
      button.insertBefore(el("span", { "class": "visually-hidden" }, "Download "), button.firstChild);
      button.addEventListener("click", function () { download(name, button); });
      li.appendChild(button);
      return li;
    }));
  }

  // ---- polling ------------------------------------------------------------------------------------------

  /** 401 and 403 stop the page: it shows what to do instead of numbers. */
  function handleAuth(error) {
    if (!(error instanceof ApiError)) return false;
    if (error.status === 401) {
      stop();
      dropToken();
      renderAccount();
      $("board").hidden = true;
      setText($("updated-text"), "Signed out");
      showSignIn("Your sign-in has expired or is not valid. Please sign in again.");
      return true;
    }
    if (error.status === 403) {
      stop();
      $("board").hidden = true;
      setText($("updated-text"), "No access");
      $("updated").className = "updated error";
      notice("bad", "You do not manage this activity (" + activityId + "). Sign in with the account that manages it, or open another activity.");
      if (!$("notice").querySelector("a")) {  // several calls may be refused at once: one link
        $("notice").appendChild(document.createTextNode(" "));
        $("notice").appendChild(el("a", { href: "/organizer/" }, "Open another activity"));
      }
      return true;
    }
    return false;
  }

  function loadActivity() {
    if (activity) return Promise.resolve();
    return getJson(base).then(function (answer) {
      activity = answer;
      setText($("title"), answer.title || activityId);
      document.title = (answer.title || activityId) + " \u00b7 Live dashboard";
      var dates = answer.starts_on ? (answer.starts_on === answer.ends_on || !answer.ends_on ? answer.starts_on : answer.starts_on + " to " + answer.ends_on) : "";
      setText($("subtitle"), [activityId, dates, answer.location].filter(Boolean).join(" \u00b7 "));
      chartKeys.checkins = "";  // times are shown in the activity's time zone from now on
      tileKey = "";
    }).catch(function (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) throw error;
      // The title is a nicety: the dashboard itself says whether the activity exists.
    });
  }

  function poll() {
    if (stopped || inFlight) return;
    inFlight = true;
    clearTimeout(timer);
    loadActivity().then(function () { return getJson(base + "/dashboard"); }).then(function (data) {
      lastOk = Date.now();
      var totals = data.totals || {};
      renderTotals(totals);
      renderSessions(data.sessions || []);
      renderFunnel(totals);
      renderCheckins(data.checkins_over_time, data.as_of);
      $("board").hidden = false;
      $("board").classList.remove("stale");
      $("updated").className = "updated live";
      setText($("updated-text"), "updated " + clock(new Date(lastOk)));
      notice("", "");
    }).catch(function (error) {
      if (handleAuth(error)) return;
      if (error instanceof ApiError && error.status === 404) {
        $("updated").className = "updated error";
        setText($("updated-text"), "Not found");
        notice("bad", error.message + ". Check the activity id, or wait until the agenda is imported.");
        return;
      }
      // Out of date from the first failed refresh: the numbers dim and say since when they are old.
      $("board").classList.toggle("stale", Boolean(lastOk));
      $("updated").className = "updated " + (lastOk ? "stale" : "error");
      setText($("updated-text"), lastOk ? "updated " + clock(new Date(lastOk)) + " (stale)" : "Not connected");
      var problem = error instanceof ApiError ? "The API answered \u201c" + error.message + "\u201d" : "Connection lost";
      notice("warn", problem + (lastOk ? ": these numbers are from " + clock(new Date(lastOk)) + "." : ".") +
                     " Retrying every 5 seconds.");
    }).then(function () {
      inFlight = false;
      schedule();
    });
  }

  function schedule() {
    clearTimeout(timer);
    if (!stopped && !document.hidden) timer = setTimeout(poll, POLL_MS);
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
  }

  // ---- door scanners ---------------------------------------------------------------------------------

  function deviceRow(device) {
    var tr = el("tr");
    tr.appendChild(el("td", {}, device.label || "(no label)"));
    tr.appendChild(el("td", {}, device.device_id));
    tr.appendChild(el("td", {}, device.created_at ? timeOf(device.created_at, true) : ""));
    tr.appendChild(el("td", {}, device.revoked ? "Revoked" : "Active"));
    var action = el("td");
    if (!device.revoked) {
      var button = el("button", { type: "button", "class": "button small" }, "Revoke");
      button.setAttribute("aria-label", "Revoke " + (device.label || device.device_id));
      button.addEventListener("click", function () { confirmRevoke(action, device); });
      action.appendChild(button);
    }
    tr.appendChild(action);
    return tr;
  }

  function confirmRevoke(cell, device) {
    var yes = el("button", { type: "button", "class": "button small danger" }, "Revoke now");
    var no = el("button", { type: "button", "class": "button small" }, "Keep");
    yes.addEventListener("click", function () {
      call(base + "/devices/" + encodeURIComponent(device.device_id), { method: "DELETE" }).then(function (response) {
        if (!response.ok) return errorFrom(response).then(function (e) { throw e; });
        setText($("device-status"), (device.label || device.device_id) + " is revoked: its scans from now on are refused.");
        return loadDevices();
      }).catch(function (error) {
        if (!handleAuth(error)) setText($("device-status"), "Could not revoke: " + error.message);
      });
    });
    no.addEventListener("click", function () { loadDevices(); });
    cell.replaceChildren(yes, no);
    yes.focus();
  }

  function loadDevices() {
    return getJson(base + "/devices").then(function (answer) {
      var rows = (answer.devices || []).slice().sort(function (a, b) {
        return String(b.created_at || "").localeCompare(String(a.created_at || ""));
      });
      $("devices").replaceChildren.apply($("devices"), rows.map(deviceRow));
    }).catch(function (error) {
      if (!handleAuth(error)) setText($("device-status"), "Could not list the scanners: " + error.message);
    });
  }

  function showNewDevice(device) {
    // The server's QR code is an SVG document: parsed as such and adopted (never set as HTML).
    var parsed = new DOMParser().parseFromString(device.setup_qr_svg, "image/svg+xml").documentElement;
    var holder = $("device-qr");
    holder.replaceChildren();
    if (parsed && parsed.nodeName.toLowerCase() === "svg") {
      parsed.setAttribute("focusable", "false");
      parsed.setAttribute("aria-hidden", "true");
      holder.appendChild(document.importNode(parsed, true));
    }
    setText($("device-new-label"), device.label || device.device_id);
    $("device-link").href = device.setup_url;
    $("device-new").hidden = false;
    $("device-copy").onclick = function () {
      var done = function () { setText($("device-status"), "Link copied."); };
      if (navigator.clipboard) navigator.clipboard.writeText(device.setup_url).then(done, function () {
        setText($("device-status"), "Copy it from the link above.");
      });
    };
  }

  function bindDevices() {
    $("device-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var label = $("device-label").value.trim();
      call(base + "/devices", { method: "POST", body: { label: label } }).then(function (response) {
        if (!response.ok) return errorFrom(response).then(function (e) { throw e; });
        return response.json();
      }).then(function (device) {
        showNewDevice(device);
        $("device-label").value = "";
        setText($("device-status"), "Scanner added for " + (device.label || device.device_id) + ".");
        return loadDevices();
      }).catch(function (error) {
        if (!handleAuth(error)) setText($("device-status"), "Could not add a scanner: " + error.message);
      });
    });
  }

  function startDashboard() {
    setText($("title-id"), activityId);
    renderReports();
    bindDevices();
    loadDevices();
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) clearTimeout(timer);  // paused while nobody looks; caught up on return
      else poll();
    });
    poll();
  }

  // ---- the pages ------------------------------------------------------------------------------------------

  function startHome(state) {
    $("pick").hidden = false;
    $("pick-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var id = $("activity-input").value.trim();
      if (id) location.assign("/organizer/activities/" + encodeURIComponent(id));
    });
    var managed = String((state.claims || {})["custom:activities"] || "").split(/[\s,]+/).filter(Boolean);
    if (managed.indexOf("*") >= 0) {
      $("managed-intro").textContent = "You may open any activity.";
      $("managed-intro").hidden = false;
    } else if (managed.length) {
      $("managed-intro").textContent = "Activities you manage:";
      $("managed-intro").hidden = false;
      var list = $("managed");
      list.replaceChildren.apply(list, managed.map(function (id) {
        var li = el("li");
        li.appendChild(el("a", { href: "/organizer/activities/" + encodeURIComponent(id) }, id));
        return li;
      }));
      list.hidden = false;
    }
  }

  function main() {
    bindSignIn();
    if (view === "callback") return finishSignIn();
    var fragmentActivity = takeFragment();
    if (view === "home" && fragmentActivity) {
      location.replace("/organizer/activities/" + encodeURIComponent(fragmentActivity));
      return;
    }
    renderAccount();
    var state = tokenState();
    if (!state.signedIn) {
      if (view === "activity") {
        setText($("title-id"), activityId);
        $("updated").className = "updated error";
        setText($("updated-text"), "Not signed in");
      }
      showSignIn(state.expired ? "Your sign-in has expired. Please sign in again." : "");
      return;
    }
    if (view === "home") startHome(state);
    else startDashboard();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
