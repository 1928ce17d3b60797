/* The door scanner's service worker (served as /scanner-sw.js, scope /scanner): keeps the page's shell so the
   scanner opens and reloads without a network. The server writes the shell's version and paths into this file,
   so a deploy that changes any of them is a new worker with a new cache, installed whole, and the old cache is
   dropped when it takes over. Everything else (the set-up, scan uploads) goes to the network untouched: the page
   keeps its own data in IndexedDB. */
"use strict";

var VERSION = "__SHELL_VERSION__";
var PREFIX = "cme-scanner-shell-";
var CACHE = PREFIX + VERSION;
var SHELL = [/*__SHELL_PATHS__*/];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE)
      .then(function (cache) {
        // Straight from the server (not an HTTP cache) so that the files match this version.
        return cache.addAll(SHELL.map(function (path) { return new Request(path, { cache: "no-store" }); }));
      })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.filter(function (name) {
          return name.indexOf(PREFIX) === 0 && name !== CACHE;
        }).map(function (name) { return caches.delete(name); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || SHELL.indexOf(url.pathname) < 0) return;
  // The shell from this version's cache (a door's Wi-Fi may hang rather than fail); the network only for a
  // file the cache lacks.
  event.respondWith(
    caches.open(CACHE).then(function (cache) {
      return cache.match(url.pathname).then(function (hit) { return hit || fetch(request); });
    })
  );
});
