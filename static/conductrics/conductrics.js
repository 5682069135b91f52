/*
 * Conductrics self-hosted: the browser client of the agent-api (no dependencies).
 *
 *   var client = Conductrics.create({
 *     endpoint: "https://experiments.example.com", // where the agent-api is served
 *     account: "ac-demo",
 *     apiKey: "api-...",                           // the Express deploy target's runtime key
 *     preboot: function (visitor_callback) {       // optional: pass the External Visitor ID
 *       var vid;
 *       try { vid = document.cookie.match(/our_visitor_id=([\w]+)/)[1]; }
 *       finally { visitor_callback({}, {vid: vid}); }
 *     }
 *   });
 *   client.select("a-hero", "A").then(function (variation) { ... });  // never rejects
 *   client.goal("g-signup-click", 1);                                  // never rejects
 *   client.exec([{a: "a-hero"}, {g: "g-purchase", v: 19.99}])          // data, or rejects
 *
 * Bodies are sent as text/plain, so browsers make no CORS pre-flight. Every call gives up
 * after `timeout` ms (default 2000); select() then resolves to the fallback variation.
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory(root);
  } else {
    root.Conductrics = factory(root);
  }
})(typeof self !== "undefined" ? self : this, function (root) {
  "use strict";

  var SESSION_KEY = "conductrics_session";
  var SESSION_DAYS = 365;

  function randomId() {
    var bytes = [];
    var crypto = root && root.crypto;
    if (crypto && crypto.getRandomValues) {
      var buffer = new Uint8Array(16);
      crypto.getRandomValues(buffer);
      for (var i = 0; i < buffer.length; i++) bytes.push(buffer[i]);
    } else {
      for (var j = 0; j < 16; j++) bytes.push(Math.floor(Math.random() * 256));
    }
    return "s-" + bytes.map(function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  function readCookie(doc, name) {
    try {
      var match = String(doc.cookie || "").match(new RegExp("(?:^|;\\s*)" + name + "=([^;]*)"));
      return match ? decodeURIComponent(match[1]) : null;
    } catch (e) {
      return null;
    }
  }

  // The session id lives in first-party storage: localStorage, else a cookie, else memory.
  function sessionId(options) {
    var storage = options.storage;
    var doc = options.document;
    var id = null;
    try {
      id = storage && storage.getItem(SESSION_KEY);
    } catch (e) {
      storage = null;
    }
    if (!id && doc) id = readCookie(doc, SESSION_KEY);
    if (!id) id = randomId();
    try {
      if (storage) storage.setItem(SESSION_KEY, id);
    } catch (e) {
      /* storage full or forbidden: the cookie below keeps it */
    }
    try {
      if (doc) {
        doc.cookie = SESSION_KEY + "=" + encodeURIComponent(id) + "; path=/; max-age=" +
          SESSION_DAYS * 86400 + "; SameSite=Lax";
      }
    } catch (e) {
      /* no cookies: the session lasts as long as the page */
    }
    return id;
  }

  function traitsParam(traits) {
    if (!traits) return "";
    var parts = [];
    if (Object.prototype.toString.call(traits) === "[object Array]") {
      parts = traits.slice();
    } else if (typeof traits === "object") {
      for (var group in traits) {
        if (Object.prototype.hasOwnProperty.call(traits, group)) {
          parts.push(group + ":" + traits[group]);
        }
      }
    }
    return parts.join(",");
  }

  function withTimeout(promise, ms, onTimeout) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () {
        if (onTimeout) onTimeout();
        reject(new Error("Conductrics: no answer within " + ms + " ms"));
      }, ms);
      promise.then(
        function (value) { clearTimeout(timer); resolve(value); },
        function (error) { clearTimeout(timer); reject(error); }
      );
    });
  }

  function Client(options) {
    options = options || {};
    this.endpoint = String(options.endpoint || "").replace(/\/+$/, "");
    this.account = options.account;
    this.apiKey = options.apiKey;
    this.preboot = options.preboot;
    this.timeout = options.timeout > 0 ? options.timeout : 2000;
    this.fetch = options.fetch || (root && root.fetch ? root.fetch.bind(root) : null);
    this.AbortController = options.AbortController || (root && root.AbortController) || null;
    this.sels = {};
    var storage = options.storage;
    if (storage === undefined) {
      try { storage = root && root.localStorage; } catch (e) { storage = null; }
    }
    var doc = options.document === undefined ? (root && root.document) : options.document;
    this.session = options.session || sessionId({ storage: storage, document: doc });
    this._visitor = null;
    this.console = options.console === undefined ? (root && root.console) || null : options.console;
    this._warned = {};
  }

  // The agent-api's warnings (vid_ignored, vid_invalid, no_selection, ...) are set-up
  // mistakes a developer must see: each is logged to the console once per page.
  Client.prototype.warn = function (warnings) {
    for (var i = 0; i < (warnings || []).length; i++) {
      var w = warnings[i] || {};
      var code = w.a || w.g || "";
      var key = w.reason + "|" + code;
      if (this._warned[key] || !this.console || typeof this.console.warn !== "function") continue;
      this._warned[key] = true;
      this.console.warn("Conductrics: " + w.reason + (code ? " (" + code + ")" : "") +
        (w.detail ? ": " + w.detail : ""));
    }
  };

  // Runs the preboot once: it must call visitor_callback(traits, {vid: ...}); a preboot that
  // throws, or never calls back within half the time-out, leaves the visitor anonymous.
  Client.prototype.visitor = function () {
    var self = this;
    if (self._visitor) return self._visitor;
    self._visitor = new Promise(function (resolve) {
      var done = false;
      function visitor_callback(traits, opts) {
        if (done) return;
        done = true;
        var vid = opts && opts.vid;
        resolve({
          traits: traitsParam(traits),
          vid: vid === undefined || vid === null || vid === "" ? null : String(vid)
        });
      }
      if (typeof self.preboot !== "function") {
        visitor_callback({}, {});
        return;
      }
      setTimeout(function () { visitor_callback({}, {}); }, self.timeout / 2);
      try {
        self.preboot(visitor_callback);
      } catch (e) {
        visitor_callback({}, {}); /* the seed's preboot throws when the cookie is missing */
      }
    });
    return self._visitor;
  };

  Client.prototype.url = function (visitor) {
    var query = "session=" + encodeURIComponent(this.session) +
      "&apikey=" + encodeURIComponent(this.apiKey || "");
    if (visitor.vid) query += "&vid=" + encodeURIComponent(visitor.vid);
    if (visitor.traits) query += "&traits=" + encodeURIComponent(visitor.traits);
    return this.endpoint + "/" + encodeURIComponent(this.account || "") + "/v3/agent-api?" + query;
  };

  // Sends commands; resolves to the agent-api's `data`, rejects on any error or time-out.
  Client.prototype.exec = function (commands) {
    var self = this;
    var controller = self.AbortController ? new self.AbortController() : null;
    var work = self.visitor().then(function (visitor) {
      if (!self.fetch) throw new Error("Conductrics: fetch is not available");
      return self.fetch(self.url(visitor), {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: JSON.stringify({ commands: commands || [] }),
        credentials: "omit",
        keepalive: true,
        signal: controller ? controller.signal : undefined
      });
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok || !body || body.status !== 200 || !body.data) {
          throw new Error("Conductrics: " + ((body && body.err) || "HTTP " + response.status));
        }
        self.warn(body.data.warnings);
        var items = body.data.items || [];
        for (var i = 0; i < items.length; i++) {
          if (items[i].a && items[i].c) self.sels[items[i].a] = items[i].c;
        }
        return body.data;
      });
    });
    return withTimeout(work, self.timeout, function () {
      if (controller) controller.abort();
    });
  };

  // Resolves to the visitor's variation of `agent`, or to `fallback` on any failure.
  Client.prototype.select = function (agent, fallback) {
    return this.exec([{ a: agent }]).then(
      function (data) {
        var items = data.items || [];
        for (var i = 0; i < items.length; i++) {
          if (items[i].a === agent && items[i].c) return items[i].c;
        }
        return fallback;
      },
      function () { return fallback; }
    );
  };

  // Records a goal; resolves to its item, or to null on any failure.
  Client.prototype.goal = function (goal, value) {
    var command = { g: goal };
    if (typeof value === "number") command.v = value;
    return this.exec([command]).then(
      function (data) {
        var items = data.items || [];
        return items.length ? items[0] : null;
      },
      function () { return null; }
    );
  };

  return {
    Client: Client,
    create: function (options) { return new Client(options); },
    version: "0.1.0"
  };
});
