/* The door scanner (/scanner): staff phones, tablets and handheld badge scanners at a session door.
   The device link carries the device token in its fragment (`#device=<token>`, and `&activity=<id>` for a token
   that serves every activity); the page keeps it in this device's localStorage, since it is the device's
   credential, and clears it from the address bar. The set-up (`GET /scanner/setup`: the activity's dates and
   time zone, its rooms, each badge with its name) is kept in IndexedDB, so every scan is decided here, at once
   and offline: welcome, duplicate, not on this device's list, wrong day. Each scan gets its own scan_id, waits
   in IndexedDB (held a few seconds so it can be undone) and goes up in batches of at most 500 to `POST /scans`
   when the network is there; the server dedupes by scan_id, so a batch whose answer was lost is simply sent
   again. A badge's QR code carries its badge_id only. */
(function () {
  "use strict";

  var TOKEN_KEY = "cme-scanner-device";
  var ACTIVITY_KEY = "cme-scanner-activity";
  var DOOR_KEY = "cme-scanner-door";
  var DB_NAME = "cme-scanner";
  var HOLD_MS = 5000;              // a queued scan waits this long before upload, so that it can be undone
  var DUPLICATE_MS = 2 * 60 * 1000;
  var BATCH = 500;                 // contract.md: 1–500 scans per POST /scans
  var REFRESH_MS = 5 * 60 * 1000;  // the set-up (names, rooms) is read again this often while online
  var BACKOFF_MS = [2000, 5000, 10000, 30000, 60000];
  var KEEP_SENT_MS = 24 * 60 * 60 * 1000;
  var CAMERA_REPEAT_MS = 3000;     // a badge held in front of the camera is one scan, not one per frame
  var DIFFERENCES_SHOWN = 5;
  // The server's id rule (letters, digits, . _ : -): anything else is not one of our badges.
  var BADGE_CODE = /^[A-Za-z0-9._:\-]{1,128}$/;
  var REASONS = {
    unknown_badge: "not on the activity's roster",
    unknown_room: "this room has no session in the agenda",
    unknown_session: "no such session in the agenda",
    outside_activity: "outside the activity's dates (check this device's date and time)",
    invalid: "the server could not read the scan"
  };

  var state = {
    token: "",
    activityParam: "",
    setup: null,        // the set-up as GET /scanner/setup answered it
    names: new Map(),   // badge_id → name
    door: null,         // {activity_id, room, direction}
    scans: new Map(),   // scan_id → record (this device's queue and what it sent in the last day)
    lastScan: null,     // the scan the Undo button removes
    inFlight: new Set(),
    uploading: false,
    uploadTimer: 0,
    failures: 0,
    lastUpload: null,
    blocked: "",        // why uploads stopped (a revoked or unknown device); cleared by a new device link
    online: navigator.onLine !== false,
    db: null,
    camera: null,
    updated: false,
    seq: 0
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }

  function setText(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }

  function notice(text, tone) {
    var box = $("notice");
    box.className = "notice" + (text ? " " + (tone || "warn") : "");
    setText(box, text || "");
  }

  function show(view) {
    ["link-view", "loading-view", "door-view", "scan-view"].forEach(function (id) { $(id).hidden = id !== view; });
    if (view === "scan-view") focusCode();
  }

  // ---- the device link ------------------------------------------------------------------------------

  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  function stored(key) {
    var s = storage();
    return s ? s.getItem(key) || "" : "";
  }

  function keep(key, value) {
    var s = storage();
    if (!s) return;
    if (value) s.setItem(key, value); else s.removeItem(key);
  }

  /** A device link, or its fragment, or the bare token: {token, activity}. */
  function readLink(text) {
    var value = String(text || "").trim();
    var hash = value.indexOf("#");
    if (hash >= 0) value = value.slice(hash + 1);
    if (value.indexOf("device=") < 0) return { token: value, activity: "" };
    var params = new URLSearchParams(value);
    return { token: (params.get("device") || "").trim(), activity: (params.get("activity") || "").trim() };
  }

  function useLink(link) {
    if (!link.token) return false;
    if (link.token !== stored(TOKEN_KEY) || link.activity !== stored(ACTIVITY_KEY)) {
      // Another device link: another activity, perhaps. Its set-up and door are chosen afresh; the scans
      // still waiting keep their own activity and go up with the new token.
      keep(TOKEN_KEY, link.token);
      keep(ACTIVITY_KEY, link.activity);
      keep(DOOR_KEY, "");
      state.setup = null;
      state.names = new Map();
    }
    state.token = link.token;
    state.activityParam = link.activity;
    state.blocked = "";
    return true;
  }

  /** `#device=…`: keep it on the device and take it out of the address bar (and so out of the history). */
  function takeFragment() {
    if (!location.hash || location.hash.indexOf("device=") < 0) return;
    var link = readLink(location.hash);
    history.replaceState(null, "", location.pathname + location.search);
    useLink(link);
  }

  /** A short fingerprint of the device link, kept with the cached set-up: a set-up read with another link
      (another activity, perhaps) is not used. Not a secret: the token itself is in localStorage. */
  function linkTag() {
    var text = state.token + "|" + state.activityParam;
    var hash = 0x811c9dc5;
    for (var i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash.toString(16);
  }

  // ---- IndexedDB --------------------------------------------------------------------------------------

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains("scans")) db.createObjectStore("scans", { keyPath: "scan_id" });
        if (!db.objectStoreNames.contains("meta")) db.createObjectStore("meta", { keyPath: "key" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  /** One transaction; resolves once it is committed ("strict": on disk, so a flat battery keeps it). */
  function dbWrite(store, work) {
    return new Promise(function (resolve, reject) {
      var tx = state.db.transaction(store, "readwrite", { durability: "strict" });
      work(tx.objectStore(store));
      tx.oncomplete = function () { resolve(); };
      tx.onerror = function () { reject(tx.error); };
      tx.onabort = function () { reject(tx.error); };
    });
  }

  function dbPut(store, value) { return dbWrite(store, function (s) { s.put(value); }); }

  function dbDelete(store, key) { return dbWrite(store, function (s) { s.delete(key); }); }

  function dbAll(store) {
    return new Promise(function (resolve, reject) {
      var request = state.db.transaction(store, "readonly").objectStore(store).getAll();
      request.onsuccess = function () { resolve(request.result || []); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function dbGet(store, key) {
    return new Promise(function (resolve, reject) {
      var request = state.db.transaction(store, "readonly").objectStore(store).get(key);
      request.onsuccess = function () { resolve(request.result || null); };
      request.onerror = function () { reject(request.error); };
    });
  }

  // ---- time in the activity's time zone ---------------------------------------------------------------

  var formats = {};

  function format(zone, kind) {
    var key = zone + "|" + kind;
    if (!formats[key]) {
      formats[key] = kind === "day"
        ? new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
        : kind === "date"
          ? new Intl.DateTimeFormat("en-US", { timeZone: zone, month: "short", day: "numeric" })
          : new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hour12: false });
    }
    return formats[key];
  }

  function zone() { return state.setup ? state.setup.activity.timezone : "UTC"; }

  /** YYYY-MM-DD of a moment in the activity's time zone (what the server compares with its dates). */
  function localDay(ms) {
    var parts = {};
    format(zone(), "day").formatToParts(new Date(ms)).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day;
  }

  function hhmm(ms) { return format(zone(), "time").format(new Date(ms)); }

  function dayLabel(isoDay) {
    return format("UTC", "date").format(new Date(isoDay + "T12:00:00Z"));
  }

  /** "Oct 14–16", "Oct 30–Nov 2", or one day. */
  function datesLabel(activity) {
    var first = dayLabel(activity.starts_on);
    if (activity.ends_on === activity.starts_on) return first;
    var last = dayLabel(activity.ends_on);
    return activity.starts_on.slice(0, 7) === activity.ends_on.slice(0, 7)
      ? first + "–" + last.split(" ")[1]
      : first + "–" + last;
  }

  /** RFC 3339 in UTC, to the second (the server keeps the instant). */
  function rfc3339(ms) { return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"); }

  function newScanId() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" +
      hex.slice(20);
  }

  // ---- the set-up ---------------------------------------------------------------------------------------

  function applySetup(setup) {
    state.setup = setup;
    state.names = new Map(setup.badges.map(function (b) { return [b.badge_id, b.name]; }));
    var door = null;
    try { door = JSON.parse(stored(DOOR_KEY) || "null"); } catch (e) { door = null; }
    var rooms = setup.rooms.map(function (r) { return r.room; });
    state.door = door && door.activity_id === setup.activity.activity_id && rooms.indexOf(door.room) >= 0 ? door : null;
    renderRooms();
    renderSetupText();
    if (!state.door) {
      show("door-view");
    } else if ($("scan-view").hidden && $("door-view").hidden) {
      renderDoor();
      show("scan-view");
    } else if (!$("scan-view").hidden) {
      renderDoor();
    }
  }

  function renderSetupText() {
    var setup = state.setup;
    if (!setup) return;
    var a = setup.activity;
    setText($("door-activity"), a.title + " · " + datesLabel(a));
    var asOf = setup.as_of ? new Date(setup.as_of).getTime() : null;
    setText($("setup-text"), setup.badges.length + " badge" + (setup.badges.length === 1 ? "" : "s") +
      " on this device" + (asOf ? ", list as of " + hhmm(asOf) + " (" + zone() + ")" : "") + ".");
  }

  function sessionsToday(room) {
    var today = localDay(Date.now());
    var sessions = room.sessions.filter(function (s) { return localDay(Date.parse(s.starts_at)) === today; });
    if (!sessions.length) {
      return room.sessions.length + " session" + (room.sessions.length === 1 ? "" : "s") + ", none today";
    }
    var shown = sessions.slice(0, 3).map(function (s) {
      return hhmm(Date.parse(s.starts_at)) + " " + s.title;
    });
    return shown.join(" · ") + (sessions.length > 3 ? " · and " + (sessions.length - 3) + " more" : "");
  }

  function renderRooms() {
    var box = $("rooms");
    box.textContent = "";
    var picked = document.querySelector('input[name="room"]:checked');
    var chosen = picked && !$("door-view").hidden ? picked.value
      : state.door ? state.door.room : (state.setup.rooms.length === 1 ? state.setup.rooms[0].room : "");
    state.setup.rooms.forEach(function (room, index) {
      var label = el("label", { "class": "choice" });
      // Named by the room alone; today's sessions are its description.
      var input = el("input", { type: "radio", name: "room", value: room.room, required: "",
                                "aria-labelledby": "room-" + index, "aria-describedby": "room-" + index + "-hint" });
      input.checked = room.room === chosen;
      label.append(input, " ", el("span", { "class": "choice-title", id: "room-" + index }, room.room),
        el("span", { "class": "choice-hint", id: "room-" + index + "-hint" }, sessionsToday(room)));
      box.appendChild(label);
    });
    if (!state.setup.rooms.length) box.appendChild(el("p", {}, "This activity's agenda has no rooms yet."));
    if ($("door-view").hidden) {
      var direction = state.door ? state.door.direction : "entry";
      document.querySelectorAll('input[name="direction"]').forEach(function (input) {
        input.checked = input.value === direction;
      });
    }
  }

  function renderDoor() {
    setText($("door-room"), state.door.room);
    setText($("door-direction"), state.door.direction === "exit" ? "Exit" : "Entry");
  }

  function setupUrl() {
    return "/scanner/setup" + (state.activityParam ? "?activity_id=" + encodeURIComponent(state.activityParam) : "");
  }

  function loadSetup() {
    if (!state.token) return Promise.resolve();
    if (!state.setup) {
      show("loading-view");
      setText($("loading-text"), "One moment…");
    }
    return fetch(setupUrl(), { headers: { Authorization: "Bearer " + state.token }, cache: "no-store" })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          return { status: response.status, body: body };
        });
      })
      .then(function (reply) {
        if (reply.status === 200 && reply.body && reply.body.activity) {
          setNetwork(true);
          state.blocked = "";
          notice("");
          applySetup(reply.body);
          return dbPut("meta", { key: "setup", link: linkTag(), value: reply.body });
        }
        refused(reply.status, reply.body);
      })
      .catch(function () {
        setNetwork(false);
        if (!state.setup) {
          setText($("loading-text"), "No connection. This device needs the network once to load its door's " +
            "set-up; it will try again when the network is back.");
        }
      });
  }

  /** The server refused the device: say why and what to do; the scans on the device stay. */
  function refused(status, body) {
    var code = body && body.error ? body.error.code : "";
    var message;
    if (status === 401) {
      message = "This device link is not known to the server. Ask the organizer for a new device link.";
    } else if (status === 403 && code === "device_revoked") {
      message = "The organizer revoked this device. Ask for a new device link; the scans on this device are kept.";
    } else if (status === 403) {
      message = "This device link belongs to another activity.";
    } else if (status === 404) {
      message = "The activity of this device link was not found. Check the link with the organizer.";
    } else if (status === 400 && !state.activityParam) {
      message = "This device link serves every activity: open it with &activity=<activity id> at the end.";
    } else {
      message = "The set-up could not be loaded (" + status + "). It will be tried again.";
    }
    if (status === 401 || status === 403 || status === 404 || status === 400) {
      state.blocked = message;
      notice(message, "bad");
      if (status === 401 || code === "device_revoked") forgetNames();
      renderNetwork();
      renderQueue();
      show("link-view");
    } else {
      notice(message, "warn");
    }
  }

  /** A device the server no longer knows (revoked, perhaps lost) keeps no names: its list goes, and so do the
      names on its queued scans. The scans themselves stay, to go up once a new device link is opened. */
  function forgetNames() {
    state.setup = null;
    state.names = new Map();
    stopCamera();
    if (!state.db) return;
    dbDelete("meta", "setup");
    var named = [];
    state.scans.forEach(function (s) { if (s.name) { s.name = ""; named.push(s); } });
    if (named.length) dbWrite("scans", function (store) { named.forEach(function (r) { store.put(r); }); });
  }

  // ---- deciding a scan, on the device -------------------------------------------------------------------

  /** What the door says about a code, now: the device's own verdict, from its list (no network). */
  function decide(code, now) {
    if (!BADGE_CODE.test(code)) return { kind: "invalid" };
    var activity = state.setup.activity;
    var day = localDay(now);
    if (day < activity.starts_on || day > activity.ends_on) return { kind: "wrong_day", day: day };
    var name = state.names.get(code) || "";
    var door = state.door;
    var previous = null;
    state.scans.forEach(function (s) {
      if (s.badge_id === code && s.room === door.room && s.direction === door.direction &&
          s.activity_id === activity.activity_id && now - s.at >= 0 && now - s.at < DUPLICATE_MS &&
          (!previous || s.at > previous.at)) previous = s;
    });
    if (previous) return { kind: "duplicate", name: name || previous.name, previous: previous };
    return name ? { kind: "welcome", name: name } : { kind: "unknown" };
  }

  var SYMBOLS = { welcome: "✓", duplicate: "↺", unknown: "?", wrong_day: "✕", invalid: "✕", undone: "↶", sent: "↑",
                  idle: "" };

  function feedback(kind, title, detail) {
    var box = $("feedback");
    box.className = "feedback " + kind;
    void box.offsetWidth;  // restart the flash, so that two welcomes in a row still look like two scans
    box.classList.add("fresh");
    setText($("feedback-symbol"), SYMBOLS[kind] || "");
    setText($("feedback-title"), title);
    setText($("feedback-detail"), detail);
  }

  function handleCode(raw, source) {
    var started = performance.now();
    var code = String(raw || "").trim();
    if (!code) return;
    if (!state.setup || !state.door) return;
    var now = Date.now();
    var verdict = decide(code, now);
    var door = state.door;
    var where = (door.direction === "exit" ? "Exit" : "Entry") + " · " + door.room + " · " + hhmm(now);
    if (verdict.kind === "invalid") {
      feedback("invalid", "Not a badge code", "This code is not a badge of this activity. Nothing was recorded.");
    } else if (verdict.kind === "wrong_day") {
      var a = state.setup.activity;
      feedback("wrong_day", "Wrong day", "Today (" + dayLabel(verdict.day) + ") is outside this activity's dates, " +
        datesLabel(a) + ". Nothing was recorded; check this device's date.");
    } else if (verdict.kind === "duplicate") {
      var ago = Math.max(0, Math.round((now - verdict.previous.at) / 1000));
      feedback("duplicate", "Already scanned", (verdict.name ? verdict.name + ": " : code + ": ") +
        (door.direction === "exit" ? "exit" : "entry") + " recorded " + (ago < 60 ? ago + " s" : Math.floor(ago / 60) +
        " min") + " ago. Not recorded again.");
    } else if (verdict.kind === "welcome") {
      feedback("welcome", (door.direction === "exit" ? "Goodbye, " : "Welcome, ") + verdict.name, where);
    } else {
      feedback("unknown", "Not on this device's list", "Badge " + code + " is recorded; the server will decide. " +
        where);
    }
    $("feedback").setAttribute("data-decided-in-ms", String(Math.round(performance.now() - started)));
    signal(verdict.kind);
    if (verdict.kind === "welcome" || verdict.kind === "unknown") {
      enqueue(code, verdict, now, source);
    }
  }

  function enqueue(code, verdict, now, source) {
    var record = {
      scan_id: newScanId(),
      activity_id: state.setup.activity.activity_id,
      badge_id: code,
      room: state.door.room,
      direction: state.door.direction,
      scanned_at: rfc3339(now),
      device_id: state.setup.device_id,
      at: now,
      hold_until: now + HOLD_MS,
      seq: ++state.seq,  // the order of scans within one millisecond (a scanner's burst)
      state: "waiting",
      verdict: verdict.kind,
      name: verdict.name || "",
      source: source || "keyboard",
      server: null,
      saved: false
    };
    state.scans.set(record.scan_id, record);
    state.lastScan = record;
    renderUndo();
    save(record);
    scheduleUpload(HOLD_MS);
  }

  var unsaved = [];

  /** New scans go to IndexedDB together, one committed transaction per burst (a scanner's backlog typed in
      at once, or one badge at a time): the waiting count shows only scans that are on disk. */
  function save(record) {
    unsaved.push(record);
    if (unsaved.length > 1) return;
    Promise.resolve().then(function () {
      var batch = unsaved;
      unsaved = [];
      return dbWrite("scans", function (store) { batch.forEach(function (r) { store.put(r); }); })
        .then(function () {
          batch.forEach(function (r) { r.saved = true; });
          renderQueue();
        });
    }).catch(function () {
      notice("Scans could not be saved on this device (its storage is full or blocked). They are kept until " +
        "this page is closed: keep it open until they are uploaded.", "bad");
    });
  }

  function undo() {
    var record = state.lastScan;
    if (!record) return;
    if (record.state === "waiting" && !state.inFlight.has(record.scan_id)) {
      state.scans.delete(record.scan_id);
      state.lastScan = null;
      dbDelete("scans", record.scan_id);
      feedback("undone", "Scan undone", (record.name || "Badge " + record.badge_id) + ": the " +
        (record.direction === "exit" ? "exit" : "entry") + " at " + hhmm(record.at) + " was removed.");
      signal("undone");
    } else if (record.state === "waiting") {
      feedback("sent", "Already being sent", (record.name || "Badge " + record.badge_id) + ": that scan is on its " +
        "way to the server and will count. Nothing was removed.");
      signal("duplicate");
    } else {
      state.lastScan = null;  // nothing left to undo
      feedback("sent", "Already sent", (record.name || "Badge " + record.badge_id) + ": that scan has reached the " +
        "server and counts. Nothing was removed.");
      signal("duplicate");
    }
    renderUndo();
    renderQueue();
    focusCode();
  }

  function renderUndo() {
    var button = $("undo");
    var record = state.lastScan;
    button.disabled = !record;
    setText(button, record ? "Undo: " + (record.name || record.badge_id) : "Undo last scan");
  }

  // ---- sound and vibration ------------------------------------------------------------------------------

  var audio = null;

  var TONES = {
    welcome: [[880, 0.12]],
    duplicate: [[660, 0.08], [0, 0.06], [660, 0.08]],
    unknown: [[520, 0.1], [0, 0.04], [780, 0.14]],
    wrong_day: [[220, 0.35]],
    invalid: [[220, 0.35]],
    undone: [[440, 0.1]]
  };
  var VIBRATIONS = { welcome: [60], duplicate: [60, 80, 60], unknown: [120, 60, 120], wrong_day: [300], invalid: [300],
                     undone: [40] };

  function signal(kind) {
    try {
      if (navigator.vibrate && VIBRATIONS[kind]) navigator.vibrate(VIBRATIONS[kind]);
    } catch (e) { /* vibration is a courtesy */ }
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context || !TONES[kind]) return;
      if (!audio) audio = new Context();
      if (audio.state === "suspended") audio.resume();
      var t = audio.currentTime + 0.01;
      TONES[kind].forEach(function (tone) {
        if (tone[0]) {
          var osc = audio.createOscillator();
          var gain = audio.createGain();
          osc.type = kind === "wrong_day" || kind === "invalid" ? "square" : "sine";
          osc.frequency.value = tone[0];
          gain.gain.setValueAtTime(0.0001, t);
          gain.gain.exponentialRampToValueAtTime(0.3, t + 0.01);
          gain.gain.exponentialRampToValueAtTime(0.0001, t + tone[1]);
          osc.connect(gain).connect(audio.destination);
          osc.start(t);
          osc.stop(t + tone[1] + 0.02);
        }
        t += tone[1];
      });
    } catch (e) { /* sound is a courtesy: the colour and the words carry the verdict */ }
  }

  // ---- uploading ----------------------------------------------------------------------------------------

  function waiting() {
    var list = [];
    state.scans.forEach(function (s) { if (s.state === "waiting") list.push(s); });
    return list.sort(function (a, b) { return a.at - b.at; });
  }

  function scheduleUpload(delay) {
    clearTimeout(state.uploadTimer);
    state.uploadTimer = setTimeout(upload, Math.max(0, delay));
  }

  function withUploadLock(work) {
    // One tab uploads at a time (two would only send duplicates, but there is no need).
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request("cme-scanner-upload", { ifAvailable: true }, function (lock) {
        return lock ? work() : null;
      });
    }
    return work();
  }

  function upload() {
    if (state.uploading || !state.token || state.blocked) return;
    var now = Date.now();
    var pending = waiting();
    var due = pending.filter(function (s) { return s.hold_until <= now; });
    if (!due.length) {
      if (pending.length) scheduleUpload(Math.min.apply(null, pending.map(function (s) { return s.hold_until; })) - now);
      return;
    }
    if (navigator.onLine === false) { setNetwork(false); return; }  // the "online" event starts it again
    var activityId = due[0].activity_id;
    var batch = due.filter(function (s) { return s.activity_id === activityId; }).slice(0, BATCH);
    state.uploading = true;
    batch.forEach(function (s) { state.inFlight.add(s.scan_id); });
    renderUndo();
    var body = {
      activity_id: activityId,
      scans: batch.map(function (s) {
        return { scan_id: s.scan_id, badge_id: s.badge_id, room: s.room, scanned_at: s.scanned_at,
                 direction: s.direction, device_id: s.device_id };
      })
    };
    return Promise.resolve(withUploadLock(function () {
      return fetch("/scans", {
        method: "POST",
        headers: { Authorization: "Bearer " + state.token, "Content-Type": "application/json" },
        body: JSON.stringify(body),
        cache: "no-store"
      }).then(function (response) {
        return response.json().catch(function () { return null; }).then(function (reply) {
          if (response.status === 200 && reply && Array.isArray(reply.results)) return recordResults(batch, reply.results);
          if (response.status === 401 || response.status === 403) {
            refused(response.status, reply);
            return "blocked";
          }
          throw new Error("upload answered " + response.status);
        });
      });
    })).then(function (outcome) {
      finishUpload();
      if (outcome === "blocked") return;
      if (outcome === null) { scheduleUpload(BACKOFF_MS[0]); return; }  // another tab holds the lock
      state.failures = 0;
      setNetwork(true);
      scheduleUpload(0);
    }).catch(function () {
      finishUpload();
      var delay = BACKOFF_MS[Math.min(state.failures, BACKOFF_MS.length - 1)];
      state.failures += 1;
      setNetwork(navigator.onLine === false ? false : "error");
      scheduleUpload(delay * (0.8 + Math.random() * 0.4));
    });
  }

  function finishUpload() {
    state.uploading = false;
    state.inFlight.clear();
    renderUndo();
    renderQueue();
  }

  /** The server's word on each scan, kept with the scan; a verdict other than the device's is listed. */
  function recordResults(batch, results) {
    var byId = new Map(results.map(function (r) { return [r.scan_id, r]; }));
    var changed = [];
    batch.forEach(function (record, index) {
      var result = byId.get(record.scan_id) || results[index];
      if (!result) return;
      record.state = "sent";
      record.server = { status: result.status, reason: result.reason || null, attendee_name: result.attendee_name || null };
      changed.push(record);
    });
    state.lastUpload = Date.now();
    renderDifferences();
    return dbWrite("scans", function (store) { changed.forEach(function (r) { store.put(r); }); });
  }

  function differs(record) {
    if (!record.server) return false;
    if (record.server.status === "rejected") return true;
    return record.verdict === "unknown";  // "not on this device's list", yet the server knew the badge
  }

  function renderDifferences() {
    var list = [];
    state.scans.forEach(function (s) { if (differs(s)) list.push(s); });
    list.sort(function (a, b) { return b.at - a.at || b.seq - a.seq; });
    var box = $("differences");
    box.textContent = "";
    setText($("differences-count"), list.length > DIFFERENCES_SHOWN
      ? "The newest " + DIFFERENCES_SHOWN + " of " + list.length + "." : "");
    list.slice(0, DIFFERENCES_SHOWN).forEach(function (s) {
      var item = el("li", { "data-scan-id": s.scan_id, "data-status": s.server.status });
      var who = s.name || s.server.attendee_name || "";
      var what = s.server.status === "rejected"
        ? "Refused: " + (REASONS[s.server.reason] || s.server.reason || "no reason given")
        : "Accepted" + (s.server.attendee_name ? ": " + s.server.attendee_name : "");
      item.append(el("span", { "class": "what" }, what), el("br"),
        document.createTextNode("Badge " + s.badge_id + (who && s.server.status === "rejected" ? " (" + who + ")" : "") +
          " · " + (s.direction === "exit" ? "exit" : "entry") + " " + s.room + " · " + hhmm(s.at)));
      box.appendChild(item);
    });
    $("differences-box").hidden = !list.length;
  }

  // ---- network and queue state --------------------------------------------------------------------------

  function setNetwork(value) {
    state.online = value;
    renderNetwork();
  }

  function renderNetwork() {
    var box = $("net");
    var text;
    var tone;
    if (state.blocked) {
      tone = "error"; text = "Device refused";
    } else if (state.online === true) {
      tone = "online"; text = "Online";
    } else if (state.online === "error") {
      tone = "error"; text = "Server not reached";
    } else {
      tone = "offline"; text = "Offline";
    }
    box.className = "net " + tone;
    setText($("net-text"), text);
  }

  function renderQueue() {
    // What is safely on the device; a scan whose save failed still uploads while the page is open.
    var count = waiting().filter(function (s) { return s.saved; }).length;
    setText($("waiting"), String(count));
    setText($("waiting-label"), (count === 1 ? "scan" : "scans") + " waiting to upload");
    document.querySelector(".queue").classList.toggle("waiting", count > 0);
    var text;
    if (state.lastUpload) text = "Last upload at " + hhmm(state.lastUpload) + ".";
    else text = "Nothing sent yet.";
    if (count && state.blocked) text += " Uploads are stopped until a new device link is opened.";
    else if (count && state.online !== true) text += " Scans are kept on this device and go up when the network is back.";
    setText($("upload-text"), text);
    setText($("link-queue"), count ? count + (count === 1 ? " scan is" : " scans are") + " waiting on this device; " +
      (count === 1 ? "it goes" : "they go") + " up once a new device link is opened." : "");
    $("link-queue").hidden = !count;
  }

  // ---- keyboard-wedge scanners and the code box ---------------------------------------------------------

  function scanning() { return !$("scan-view").hidden; }

  function focusCode() {
    var input = $("code");
    if (input && scanning() && document.activeElement !== input) input.focus({ preventScroll: true });
  }

  /** A control that takes typed text itself (the code box, the link box, a radio or a select). */
  function takesKeys(node) {
    return Boolean(node && node.closest && node.closest("input, select, textarea, [contenteditable]"));
  }

  function wireInput() {
    var input = $("code");
    $("code-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var value = input.value;
      input.value = "";
      handleCode(value, "keyboard");
      focusCode();
    });
    // Some scanners end a code with Tab instead of Enter.
    input.addEventListener("keydown", function (event) {
      if (event.key === "Tab" && input.value.trim()) {
        event.preventDefault();
        $("code-form").requestSubmit();
      }
    });
    // Keys typed while nothing has focus (the box lost it to a tap on the page) still reach the box.
    document.addEventListener("keydown", function (event) {
      if (!scanning() || event.ctrlKey || event.metaKey || event.altKey) return;
      if (takesKeys(event.target)) return;
      if (event.key.length === 1) {
        event.preventDefault();
        input.focus({ preventScroll: true });
        input.value += event.key;
      } else if (event.key === "Enter" && input.value) {
        event.preventDefault();
        $("code-form").requestSubmit();
      }
    }, true);
    // Keep the box focused: a tap elsewhere on the page (not on another control) gives it back.
    input.addEventListener("blur", function () {
      setTimeout(function () {
        var active = document.activeElement;
        if (!active || active === document.body || !active.closest("button, a, input, select, textarea")) focusCode();
      }, 0);
    });
    // On a touch screen the box takes scanner input without raising the on-screen keyboard, until asked.
    if (window.matchMedia && window.matchMedia("(pointer: coarse)").matches) {
      input.setAttribute("inputmode", "none");
      $("type-code").hidden = false;
      $("type-code").addEventListener("click", function () {
        input.setAttribute("inputmode", "text");
        input.focus();
      });
    }
  }

  // ---- the camera ---------------------------------------------------------------------------------------

  var decoderLoading = null;

  /** jsQR, loaded on the first camera use (the service worker keeps it for offline use). */
  function loadJsQR() {
    if (window.jsQR) return Promise.resolve(window.jsQR);
    if (!decoderLoading) {
      decoderLoading = new Promise(function (resolve, reject) {
        var script = el("script", { src: "/scanner/jsqr.js" });
        script.onload = function () { window.jsQR ? resolve(window.jsQR) : reject(new Error("jsQR missing")); };
        script.onerror = function () { decoderLoading = null; reject(new Error("jsQR not loaded")); };
        document.head.appendChild(script);
      });
    }
    return decoderLoading;
  }

  var detector = undefined;  // BarcodeDetector for QR codes, null where the browser has none

  function barcodeDetector() {
    if (detector !== undefined) return Promise.resolve(detector);
    if (!("BarcodeDetector" in window)) { detector = null; return Promise.resolve(null); }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      detector = formats.indexOf("qr_code") >= 0 ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
      return detector;
    }).catch(function () { detector = null; return null; });
  }

  var frame = null;

  /** The text of a QR code in an image, video frame or canvas, or null: the browser's BarcodeDetector where
      it has one, else jsQR on the pixels (scaled to at most 640 px on the long side). */
  function decode(source, options) {
    var force = options && options.decoder;
    return (force === "jsqr" ? Promise.resolve(null) : barcodeDetector()).then(function (found) {
      if (found) {
        return found.detect(source).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
      }
      return loadJsQR().then(function (jsQR) {
        var width = source.videoWidth || source.naturalWidth || source.width;
        var height = source.videoHeight || source.naturalHeight || source.height;
        if (!width || !height) return null;
        var scale = Math.min(1, 640 / Math.max(width, height));
        var w = Math.round(width * scale);
        var h = Math.round(height * scale);
        if (!frame) frame = document.createElement("canvas");
        frame.width = w;
        frame.height = h;
        var context = frame.getContext("2d", { willReadFrequently: true });
        context.drawImage(source, 0, 0, w, h);
        var result = jsQR(context.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "attemptBoth" });
        return result ? result.data : null;
      });
    });
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      notice("This browser cannot use the camera here. Use a handheld scanner or type the badge id.", "warn");
      return;
    }
    if (state.camera) return;
    var video = $("preview");
    $("camera").disabled = true;
    Promise.all([
      navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false }),
      barcodeDetector().then(function (found) { return found || loadJsQR(); })
    ]).then(function (ready) {
      var stream = ready[0];
      state.camera = { stream: stream, last: "", lastAt: 0, timer: 0 };
      video.srcObject = stream;
      $("camera-box").hidden = false;
      $("camera").hidden = true;
      return video.play().then(function () {
        cameraLoop();
        focusCode();
      });
    }).catch(function (error) {
      stopCamera();
      notice(error && error.name === "NotAllowedError"
        ? "The camera was not allowed. Allow it in the browser's site settings, or use a handheld scanner."
        : "The camera could not be started. Use a handheld scanner or type the badge id.", "warn");
    }).then(function () { $("camera").disabled = false; });
  }

  function cameraLoop() {
    var camera = state.camera;
    if (!camera) return;
    var video = $("preview");
    var next = function () { if (state.camera === camera) camera.timer = setTimeout(cameraLoop, 150); };
    if (video.readyState < 2) { next(); return; }
    decode(video).then(function (text) {
      if (text && state.camera === camera) {
        var now = Date.now();
        if (text !== camera.last || now - camera.lastAt > CAMERA_REPEAT_MS) handleCode(text, "camera");
        camera.last = text;
        camera.lastAt = now;
      }
    }).catch(function () { /* an unreadable frame: try the next one */ }).then(next);
  }

  function stopCamera() {
    var camera = state.camera;
    state.camera = null;
    if (camera) {
      clearTimeout(camera.timer);
      camera.stream.getTracks().forEach(function (track) { track.stop(); });
    }
    $("preview").srcObject = null;
    $("camera-box").hidden = true;
    $("camera").hidden = false;
    focusCode();
  }

  // ---- start ----------------------------------------------------------------------------------------------

  function loadQueue() {
    return dbAll("scans").then(function (records) {
      var now = Date.now();
      var stale = [];
      records.forEach(function (r) {
        if (r.state === "sent" && now - r.at > KEEP_SENT_MS) stale.push(r.scan_id);
        else state.scans.set(r.scan_id, Object.assign(r, { saved: true }));
        state.seq = Math.max(state.seq, r.seq || 0);
      });
      if (stale.length) dbWrite("scans", function (store) { stale.forEach(function (id) { store.delete(id); }); });
      renderQueue();
      renderDifferences();
    });
  }

  function registerWorker() {
    if (!("serviceWorker" in navigator)) return;
    var hadController = Boolean(navigator.serviceWorker.controller);
    navigator.serviceWorker.register("/scanner-sw.js", { scope: "/scanner", updateViaCache: "none" })
      .catch(function () { /* the page works without it, only not offline */ });
    // A new version took over: reload once the door is quiet (the queue is in IndexedDB, so nothing is lost).
    navigator.serviceWorker.addEventListener("controllerchange", function () {
      if (!hadController || state.updated) return;
      state.updated = true;
      var quiet = function () {
        var last = state.lastScan ? state.lastScan.at : 0;
        if (Date.now() - last > 30000 && !state.camera && !state.uploading) location.reload();
        else setTimeout(quiet, 10000);
      };
      setTimeout(quiet, 10000);
    });
  }

  function wire() {
    $("link-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var link = readLink($("link-input").value);
      $("link-input").value = "";
      if (!useLink(link)) return;
      notice("");
      renderNetwork();
      loadSetup().then(function () { scheduleUpload(0); });
    });
    $("door-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var room = document.querySelector('input[name="room"]:checked');
      var direction = document.querySelector('input[name="direction"]:checked');
      if (!room || !direction) return;
      state.door = { activity_id: state.setup.activity.activity_id, room: room.value, direction: direction.value };
      keep(DOOR_KEY, JSON.stringify(state.door));
      renderDoor();
      feedback("idle", "Ready", "Scan a badge.");
      show("scan-view");
    });
    $("change-door").addEventListener("click", function () {
      stopCamera();
      renderRooms();
      show("door-view");
      var checked = document.querySelector('input[name="room"]:checked');
      if (checked) checked.focus();
    });
    $("undo").addEventListener("click", undo);
    $("camera").addEventListener("click", startCamera);
    $("camera-stop").addEventListener("click", stopCamera);
    window.addEventListener("online", function () {
      setNetwork(true);
      state.failures = 0;
      loadSetup();
      scheduleUpload(0);
    });
    window.addEventListener("offline", function () { setNetwork(false); renderQueue(); });
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) stopCamera();
      else scheduleUpload(0);
    });
    setInterval(function () { if (navigator.onLine !== false && state.token) loadSetup(); }, REFRESH_MS);
    wireInput();
  }

  // For the browser tests and field diagnostics: the decoder the camera uses, and the queue as it stands.
  window.cmeScanner = {
    decode: decode,
    queue: function () { return Array.from(state.scans.values()); }
  };

  function start() {
    wire();
    takeFragment();
    state.token = stored(TOKEN_KEY);
    state.activityParam = stored(ACTIVITY_KEY);
    renderNetwork();
    registerWorker();
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(function () {});
    if (!state.token) {
      show("link-view");
    }
    openDb().then(function (db) {
      state.db = db;
      return Promise.all([loadQueue(), dbGet("meta", "setup")]);
    }).then(function (loaded) {
      var cached = loaded[1];
      if (cached && cached.value && state.token && cached.link === linkTag() && !state.setup) applySetup(cached.value);
      return loadSetup();
    }).then(function () {
      scheduleUpload(0);
    }).catch(function () {
      notice("This browser does not let the page keep scans on the device (private mode?). Scans cannot be " +
        "queued offline here.", "bad");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
