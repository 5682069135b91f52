/*
 * Conductrics self-hosted: the browser client of the agent-api (no dependencies; README
 * "The JavaScript client" shows the embed, docs/local-decisions.md the local mode).
 * create(options) -> client: select(agent, fallback), goal(goal, value) and alias(id) (link
 * another id of the person to its vid) never reject; exec(commands) resolves to the
 * answer's data or rejects. Bodies are text/plain (no CORS pre-flight); every call gives
 * up after `timeout` ms (default 2000). With {target, local: true}, variation(agent,
 * fallback) decides synchronously from the target's bundle, exactly as the server would
 * (both pass tests/vectors/local_decisions.json).
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
  var BUNDLE_KEY = "conductrics_bundle:";
  var DECISIONS_KEY = "conductrics_decisions:";
  var BATCH_MAX = 100; // commands per request (the agent-api's limit)
  var own = function (o, k) { return o != null && Object.prototype.hasOwnProperty.call(o, k); };

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
    if (id) return id; // kept in storage: no cookie to read or write (a synchronous call)
    if (doc) id = readCookie(doc, SESSION_KEY);
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
        if (own(traits, group)) {
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
    this._aliases = []; // alias commands waiting for the next request
    var storage = options.storage;
    if (storage === undefined) {
      try { storage = root && root.localStorage; } catch (e) { storage = null; }
    }
    var doc = options.document === undefined ? (root && root.document) : options.document;
    this.session = options.session || sessionId({ storage: storage, document: doc });
    this._visitor = null;
    this.console = options.console === undefined ? (root && root.console) || null : options.console;
    this._warned = {};
    this.inputs = inputsFacts(options.inputs) === null ? null : options.inputs;
    if (this.inputs && !Object.keys(this.inputs).length) this.inputs = null;
    this.storage = storage || null;
    this.local = !!options.local;
    if (this.local) this.localStart(options);
  }

  // The agent-api's warnings (vid_ignored, vid_invalid, no_selection, ...) are set-up
  // mistakes a developer must see: each is logged to the console once per page.
  Client.prototype.warn = function (warnings) {
    for (var i = 0; i < (warnings || []).length; i++) {
      var w = warnings[i] || {};
      var code = w.a || w.g || "";
      var key = w.reason + "|" + code;
      if (this.local && w.reason === "assignment_kept") continue; // counted in this.overruled
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
        self._visitorNow = {
          traits: traitsParam(traits),
          vid: vid === undefined || vid === null || vid === "" ? null : String(vid)
        };
        resolve(self._visitorNow);
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

  Client.prototype.body = function (commands) {
    var body = { commands: commands || [] };
    if (this.inputs) body.inputs = this.inputs;
    return JSON.stringify(body);
  };

  // Sends commands; resolves to the agent-api's `data`, rejects on any error or time-out
  // (`report`: the request is not aborted then, so that it still records what it reports).
  // Links waiting (alias) go first in the request, and are taken out of its items.
  Client.prototype.exec = function (commands, report) {
    var self = this;
    var controller = self.AbortController ? new self.AbortController() : null;
    var aliases = [];
    var work = self.visitor().then(function (visitor) {
      if (!self.fetch) throw new Error("Conductrics: fetch is not available");
      aliases = self._aliases.splice(0, self._aliases.length);
      var sent = aliases.map(function (a) { return a.command; }).concat(commands || []);
      return self.fetch(self.url(visitor), {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: self.body(sent),
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
        for (var j = 0; j < aliases.length; j++) aliases[j].resolve(items[j] || null);
        items = body.data.items = items.slice(aliases.length);
        for (var i = 0; i < items.length; i++) {
          if (items[i].a && items[i].c) {
            self.sels[items[i].a] = items[i].c;
            if (self.local && items[i].p !== "p") self.remember(items[i].a, items[i].c, true);
          }
        }
        return body.data;
      });
    });
    return withTimeout(work, self.timeout, function () {
      if (controller && !report) controller.abort();
    }).then(null, function (error) {
      for (var j = 0; j < aliases.length; j++) aliases[j].resolve(null);
      throw error;
    });
  };

  // Links `id` (another id of this person, such as the login id a page learns) to the vid
  // the preboot passes: from then goals and selections under either count for one person
  // (the target must allow linking visitor ids). It goes with this page's next request, so
  // that a selection asked right after finds the person's variation, or alone. Resolves to
  // its item ({alias, s: "ok" | "none" | "err", err}), or to null on any failure.
  Client.prototype.alias = function (id) {
    var self = this;
    return new Promise(function (resolve) {
      self._aliases.push({ command: { alias: String(id) }, resolve: resolve });
      // once the visitor is known, after the requests already waiting for it took theirs
      self.visitor().then(function () {
        setTimeout(function () { if (self._aliases.length) self.exec([]).then(null, function () {}); }, 0);
      });
    });
  };

  // Resolves to the visitor's variation of `agent`, or to `fallback` on any failure. In
  // local mode, decided in the browser when the bundle can, else by the agent-api.
  Client.prototype.select = function (agent, fallback) {
    var self = this;
    if (!self.local) return self.selectRemote(agent, fallback);
    return self.ready().then(function () {
      var d = self.decideLocally(agent);
      if (d.variation) return self.variation(agent, fallback);
      // not eligible, another agent's slot: no selection; no bundle, unknown to it (a new
      // agent?) or server only: the agent-api decides
      return d.none && d.none !== "unknown" && d.none !== "no_bundle" ? fallback :
        self.selectRemote(agent, fallback);
    });
  };

  Client.prototype.selectRemote = function (agent, fallback) {
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
    if (this.local) return this.enqueue(command); // batched with the decisions
    return this.exec([command]).then(
      function (data) {
        var items = data.items || [];
        return items.length ? items[0] : null;
      },
      function () { return null; }
    );
  };


  // --- local decisions: the server's rules, in the browser (agents/bucketing.py,
  // targeting/conditions.py, runtime/parsing.py); tests/vectors/local_decisions.json -------

  function utf8(text) {
    var out = [];
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
        var d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
      }
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | c >> 6, 0x80 | c & 63);
      else if (c < 0x10000) out.push(0xe0 | c >> 12, 0x80 | c >> 6 & 63, 0x80 | c & 63);
      else out.push(0xf0 | c >> 18, 0x80 | c >> 12 & 63, 0x80 | c >> 6 & 63, 0x80 | c & 63);
    }
    return out;
  }

  var K = [];
  (function () { // the first 32 bits of the fractional parts of the cube roots of 64 primes
    for (var n = 2, found = 0; found < 64; n++) {
      for (var p = 2; p * p <= n && n % p; p++);
      if (p * p > n) K[found++] = Math.pow(n, 1 / 3) % 1 * 4294967296 | 0;
    }
  })();

  // SHA-256 of a string's UTF-8 bytes (FIPS 180-4), synchronous: returns 8 32-bit words.
  function sha256(text) {
    var bytes = utf8(text), bits = bytes.length * 8;
    bytes.push(0x80);
    while (bytes.length % 64 !== 56) bytes.push(0);
    for (var s = 56; s >= 0; s -= 8) bytes.push(s >= 32 ? (bits / 4294967296 >>> (s - 32)) & 255 : (bits >>> s) & 255);
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    var w = new Array(64);
    for (var at = 0; at < bytes.length; at += 64) {
      for (var i = 0; i < 64; i++) {
        if (i < 16) {
          w[i] = bytes[at + 4 * i] << 24 | bytes[at + 4 * i + 1] << 16 | bytes[at + 4 * i + 2] << 8 | bytes[at + 4 * i + 3];
        } else {
          var a = w[i - 15], b = w[i - 2];
          w[i] = (w[i - 16] + ((a >>> 7 | a << 25) ^ (a >>> 18 | a << 14) ^ a >>> 3) + w[i - 7] +
            ((b >>> 17 | b << 15) ^ (b >>> 19 | b << 13) ^ b >>> 10)) | 0;
        }
      }
      var v = h.slice();
      for (i = 0; i < 64; i++) {
        var e = v[4], x = v[0];
        var t1 = (v[7] + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7)) +
          (e & v[5] ^ ~e & v[6]) + K[i] + w[i]) | 0;
        var t2 = (((x >>> 2 | x << 30) ^ (x >>> 13 | x << 19) ^ (x >>> 22 | x << 10)) +
          (x & v[1] ^ x & v[2] ^ v[1] & v[2])) | 0;
        v.unshift((t1 + t2) | 0);
        v[4] = (v[4] + t1) | 0;
        v.length = 8;
      }
      for (i = 0; i < 8; i++) h[i] = (h[i] + v[i]) | 0;
    }
    return h;
  }

  // A number in [0, 1) fixed by (code, identity): the first 64 bits of the hash / 2^64.
  function bucketPoint(code, identity) {
    var h = sha256(code + "\x1f" + identity);
    return ((h[0] >>> 0) * 4294967296 + (h[1] >>> 0)) / 18446744073709551616;
  }

  // One of `items` (in order) with probability proportional to weight(item); null if none.
  function pick(code, identity, items, weight) {
    var eligible = [], total = 0, i;
    for (i = 0; i < items.length; i++) if (weight(items[i]) > 0) eligible.push(items[i]);
    for (i = 0; i < eligible.length; i++) total += weight(eligible[i]);
    if (!eligible.length || total <= 0) return null;
    var point = bucketPoint(code, identity) * total, cumulative = 0;
    for (i = 0; i < eligible.length; i++) {
      cumulative += weight(eligible[i]);
      if (point < cumulative) return eligible[i];
    }
    return eligible[eligible.length - 1];
  }

  function randomNumber(code, identity) {
    return Math.floor(bucketPoint(code + "/random", identity) * 100) + 1;
  }

  var NOT_PRINTABLE = /[\0-\x1f\x7f-\x9f]/;
  try { NOT_PRINTABLE = new RegExp("[\\p{Cc}\\p{Cf}\\p{Cs}\\p{Co}\\p{Cn}\\p{Zl}\\p{Zp}\\p{Zs}]", "u"); } catch (e) { /* old engine */ }
  var PLACEHOLDERS = ["undefined", "null", "none", "nan", "anonymous", "0"];
  var codePoints = function (text) { return Array.from ? Array.from(text).length : text.length; };

  // What the server buckets the visitor by: the vid when passed, valid and allowed.
  function identity(session, vid, vidAllowed) {
    var ok = vid != null && vid !== "" && codePoints(vid) <= 128 &&
      (/^[\x20-\x7e]*$/.test(vid) || !NOT_PRINTABLE.test(vid.replace(/ /g, "a"))) &&
      PLACEHOLDERS.indexOf(vid.replace(/^ +| +$/g, "").toLowerCase()) < 0;
    return ok && vidAllowed ? "v:" + vid : "s:" + session;
  }

  var TRAIT_PART = /^[A-Za-z0-9_-]{1,64}$/;
  // The `traits` parameter as conditions read it ({"cust/tier": "gold"}); {} when refused.
  function traitsFacts(raw) {
    var facts = {};
    if (!raw) return facts;
    var parts = raw.split(",");
    for (var i = 0; i < parts.length; i++) {
      var at = parts[i].indexOf(":");
      var group = parts[i].slice(0, at), value = parts[i].slice(at + 1);
      if (at < 0 || !TRAIT_PART.test(group) || !TRAIT_PART.test(value)) return {};
      if (!own(facts, "cust/" + group)) facts["cust/" + group] = value;
    }
    return facts;
  }

  var INPUT_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
  var BAD_TEXT = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(^|[^\ud800-\udbff])[\udc00-\udfff]/;
  // The inputs as conditions read them, or null when the server would not take them.
  function inputsFacts(inputs) {
    if (inputs == null) return {};
    if (Object.prototype.toString.call(inputs) !== "[object Object]") return null;
    var keys = Object.keys(inputs);
    if (keys.length > 50) return null;
    for (var i = 0; i < keys.length; i++) {
      var value = inputs[keys[i]];
      if (!INPUT_KEY.test(keys[i]) || typeof value !== "string" || codePoints(value) > 256 ||
          BAD_TEXT.test(value)) return null;
    }
    return inputs;
  }

  var NUMBER = /^-?[0-9]{1,30}(\.[0-9]{1,30})?$/;
  function numberRead(value) {
    if (typeof value === "number") return value;
    return typeof value === "string" && NUMBER.test(value) ? Number(value) : null;
  }

  // Whether a condition (SPEC §4b, browser sources) holds; `facts`: inputs, traits,
  // target, identity; `code` the agent's (for source random).
  function holds(node, facts, code) {
    var i;
    if (node.all) { for (i = 0; i < node.all.length; i++) if (!holds(node.all[i], facts, code)) return false; return true; }
    if (node.any) { for (i = 0; i < node.any.length; i++) if (holds(node.any[i], facts, code)) return true; return false; }
    if (node.not) return !holds(node.not, facts, code);
    var source = node.source, op = node.op, actual = null;
    if (source === "input" || source === "trait") {
      var from = source === "input" ? facts.inputs : facts.traits;
      actual = own(from, node.name) ? from[node.name] : null;
    } else if (source === "random") actual = String(randomNumber(code, facts.identity));
    else if (source === "target") actual = facts.target;
    if (op === "set") return actual !== null;
    if (op === "not_set") return actual === null;
    if (actual === null) return false;
    if (op === "lt" || op === "lte" || op === "gt" || op === "gte") {
      var a = numberRead(actual), b = numberRead(node.value);
      if (a === null) return false;
      return op === "lt" ? a < b : op === "lte" ? a <= b : op === "gt" ? a > b : a >= b;
    }
    var fold = node.ci ? function (t) { return t.toLowerCase(); } : function (t) { return t; };
    actual = fold(actual);
    if (op === "in" || op === "not_in") {
      var found = false;
      for (i = 0; i < node.values.length; i++) if (fold(node.values[i]) === actual) found = true;
      return found === (op === "in");
    }
    var wanted = fold(node.value);
    if (op === "eq") return actual === wanted;
    if (op === "ne") return actual !== wanted;
    if (op === "contains") return actual.indexOf(wanted) >= 0;
    if (op === "starts_with") return actual.slice(0, wanted.length) === wanted;
    if (op === "ends_with") return wanted.length <= actual.length && actual.slice(actual.length - wanted.length) === wanted;
    return false;
  }

  // A selection as the server decides it (agents/selection.py): `stored` is the visitor's
  // variation kept from an earlier page. Answers {variation, policy}, {none: reason}, or
  // {server: why} for an agent only the server can decide.
  function decide(bundle, code, facts, stored, allow, exclude) {
    var agent = own(bundle.agents, code) ? bundle.agents[code] : null;
    if (!agent) return { none: "unknown" };
    if (agent.server_only) return { server: agent.server_only };
    var byCode = {}, eligible = [], i;
    for (i = 0; i < agent.variations.length; i++) {
      var v = agent.variations[i];
      byCode[v.code] = v;
      if ((!allow || allow.indexOf(v.code) >= 0) && (!exclude || exclude.indexOf(v.code) < 0)) eligible.push(v);
    }
    var left = function (c) { for (var j = 0; j < eligible.length; j++) if (eligible[j].code === c) return true; return false; };
    if (agent.status === "paused") {
      return left(agent.paused) ? { variation: agent.paused, policy: "p" } : { none: "no_eligible_variation" };
    }
    if (stored && own(byCode, stored)) return { variation: stored, policy: "s" };
    if (agent.group) {
      var slot = pick(agent.group, facts.identity, bundle.groups[agent.group] || [], function (m) { return m.weight; });
      if (!slot || slot.agent !== code) return { none: "other_agent_in_group" };
    }
    if (agent.eligibility && !holds(agent.eligibility, facts, code)) return { none: "not_eligible" };
    for (i = 0; i < agent.rules.length; i++) {
      var rule = agent.rules[i];
      if ((!rule.when || holds(rule.when, facts, code)) && left(rule.variation)) {
        return { variation: rule.variation, policy: "f" };
      }
    }
    var picked = pick(code, facts.identity, eligible, function (x) { return x.weight; });
    return picked ? { variation: picked.code, policy: "r" } : { none: "no_eligible_variation" };
  }

  // --- the client's local mode ------------------------------------------------------------

  function readJson(storage, key) {
    try { return JSON.parse(storage.getItem(key)) || null; } catch (e) { return null; }
  }

  function writeJson(storage, key, value) {
    try { storage.setItem(key, JSON.stringify(value)); } catch (e) { /* full or forbidden */ }
  }

  Client.prototype.localStart = function (options) {
    var self = this;
    self.target = options.target;
    self.batchDelay = options.batchDelay >= 0 ? options.batchDelay : 100;
    self.queue = [];
    self.reported = {};
    self.overruled = 0;
    self.sendBeacon = options.sendBeacon || (root && root.navigator && root.navigator.sendBeacon ?
      root.navigator.sendBeacon.bind(root.navigator) : null);
    self.bundleKey = BUNDLE_KEY + self.account + ":" + self.target;
    self.decisionsKey = DECISIONS_KEY + self.account;
    var kept = self.storage ? readJson(self.storage, self.bundleKey) : null;
    self.bundle = options.bundle || (kept && kept.bundle) || null;
    self.decisions = (self.storage && readJson(self.storage, self.decisionsKey)) || {};
    self.visitor(); // a preboot that calls back at once gives its vid to the first decision
    if (!self.bundle) {
      self._ready = self.bundleFetch();
    } else {
      self._ready = Promise.resolve(self.bundle);
      if (!(kept && kept.at + kept.bundle.max_age * 1000 > Date.now())) self.bundleFetch();
    }
    if (root && root.addEventListener) {
      var hide = function () { self.flush(true); };
      root.addEventListener("pagehide", hide);
      root.addEventListener("visibilitychange", function () {
        if (root.document && root.document.visibilityState === "hidden") hide();
      });
    }
  };

  // Loads the bundle (the HTTP cache revalidates it by its ETag); resolves to it or null.
  Client.prototype.bundleFetch = function () {
    var self = this;
    if (!self.fetch) return Promise.resolve(self.bundle);
    var url = self.endpoint + "/" + encodeURIComponent(self.account || "") + "/v3/agent-api/js/" +
      encodeURIComponent(self.target || "") + "?apikey=" + encodeURIComponent(self.apiKey || "");
    var work = self.fetch(url, { credentials: "omit" }).then(function (response) {
      if (!response.ok) throw new Error("Conductrics: bundle HTTP " + response.status);
      return response.json();
    }).then(function (bundle) {
      self.bundle = bundle;
      if (self.storage) writeJson(self.storage, self.bundleKey, { at: Date.now(), bundle: bundle });
      return bundle;
    });
    return withTimeout(work, self.timeout).then(null, function (error) {
      self.warn([{ reason: "bundle_unavailable", detail: String(error && error.message) }]);
      return self.bundle;
    });
  };

  // Resolves once a bundle is there (at once when one was kept), or null when none loads.
  Client.prototype.ready = function () {
    return this._ready || Promise.resolve(null);
  };

  Client.prototype.facts = function () {
    var visitor = this._visitorNow || { traits: "", vid: null };
    var memo = this._facts;
    if (memo && memo.visitor === visitor && memo.bundle === this.bundle) return memo.facts;
    this._facts = { visitor: visitor, bundle: this.bundle };
    return this._facts.facts = {
      identity: identity(this.session, visitor.vid, !!(this.bundle && this.bundle.vid)),
      inputs: this.inputs || {},
      traits: traitsFacts(visitor.traits),
      target: this.target
    };
  };

  Client.prototype.remember = function (agent, variation, reported) {
    var id = this.facts().identity;
    this.decisions[agent] = { c: variation, i: id, r: reported ? 1 : 0 };
    if (this.storage) writeJson(this.storage, this.decisionsKey, this.decisions);
  };

  // The visitor's variation of `agent`, synchronously: decided from the bundle as the
  // server would, or kept from an earlier page; `fallback` when the bundle cannot decide.
  Client.prototype.variation = function (agent, fallback) {
    var d = this.decideLocally(agent);
    if (d.server) this.warn([{ reason: "server_only", a: agent, detail: d.server + ": use select()" }]);
    if (!d.variation) return fallback;
    this.sels[agent] = d.variation;
    if (d.policy !== "p" && !this.reported[agent]) {
      this.reported[agent] = true;
      var kept = this.decisions[agent];
      if (!(kept && kept.c === d.variation && kept.i === this.facts().identity && kept.r)) {
        this.remember(agent, d.variation, false);
        this.enqueue({ a: agent, c: [d.variation] });
      }
    }
    return d.variation;
  };

  // decide() with this page's facts and what this browser kept; {none: "no_bundle"} before
  // a bundle is there (a first visit: ready() tells when).
  Client.prototype.decideLocally = function (agent) {
    if (!this.bundle) return { none: "no_bundle" };
    var facts = this.facts(), kept = this.decisions[agent];
    var stored = kept && kept.i === facts.identity ? kept.c : null;
    var d = decide(this.bundle, agent, facts, stored);
    return d.server && stored ? { variation: stored, policy: "s" } : d; // the server's, kept
  };

  Client.prototype.enqueue = function (command) {
    var self = this;
    return new Promise(function (resolve) {
      self.queue.push({ command: command, done: resolve });
      if (!self.timer) {
        self.timer = setTimeout(function () { self.flush(false); }, self.batchDelay);
      }
    });
  };

  // Sends what is queued: with fetch (keepalive) and reading the answers, or, as the page
  // goes away, with sendBeacon (its answers are learnt on the next page).
  Client.prototype.flush = function (leaving) {
    var self = this;
    clearTimeout(self.timer);
    self.timer = null;
    while (self.queue.length) {
      var batch = self.queue.splice(0, BATCH_MAX);
      var commands = batch.map(function (q) { return q.command; });
      var url = self.url(self._visitorNow || { traits: "", vid: null });
      var body = self.body(commands);
      if (leaving && self.sendBeacon) {
        var sent = false;
        try { sent = self.sendBeacon(url, new Blob([body], { type: "text/plain" })); } catch (e) { sent = false; }
        if (sent) { batch.forEach(function (q) { q.done(null); }); continue; }
      }
      self.exec(commands, true).then(self.answered(batch), function () {
        batch.forEach(function (q) { q.done(null); });
      });
    }
  };

  Client.prototype.answered = function (batch) {
    var self = this;
    return function (data) {
      var items = data.items || [];
      for (var i = 0; i < batch.length; i++) {
        var command = batch[i].command, item = null;
        for (var j = 0; j < items.length; j++) {
          if ((command.a && items[j].a === command.a) || (command.g && items[j].g === command.g)) {
            item = items.splice(j, 1)[0];
            break;
          }
        }
        if (command.a && item && item.c !== command.c[0]) self.overruled++; // the server's wins
        if (command.a && !item) self.remember(command.a, command.c[0], true); // not sent again
        batch[i].done(item);
      }
    };
  };

  return {
    Client: Client,
    create: function (options) { return new Client(options); },
    local: {
      sha256: sha256, bucketPoint: bucketPoint, pick: pick, randomNumber: randomNumber,
      identity: identity, traitsFacts: traitsFacts, inputsFacts: inputsFacts,
      numberRead: numberRead, holds: holds, decide: decide
    },
    version: "0.2.0"
  };
});
