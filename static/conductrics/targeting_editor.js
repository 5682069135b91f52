/*
 * The agent page's targeting editor: eligibility and rules as rows (one row per leaf:
 * source, name, operator, value), for people who do not write JSON.
 *
 * It reads and writes the JSON fields of the form (id_eligibility, id_rules), which stay
 * on the page for what rows cannot say (nesting, "not", "ci"): the server checks the JSON
 * whichever way it was written. Dependency-free; no effect when the fields are absent.
 */
(function () {
  "use strict";

  var SOURCES = ["input", "trait", "random", "target", "goal", "variation"];
  var NAMED = { input: "plan", trait: "cust/tier", goal: "g-purchase", variation: "a-other" };
  var OPS = {
    input: ["eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with", "lt", "lte",
      "gt", "gte", "set", "not_set"],
    goal: ["reached", "not_reached"],
  };
  var NO_VALUE = ["set", "not_set", "reached", "not_reached"];
  var LIST = ["in", "not_in"];
  var NUMBER = /^-?[0-9]{1,30}(\.[0-9]{1,30})?$/;
  var LEAF_KEYS = ["source", "name", "op", "value", "values", "within_hours"];

  function opsOf(source) { return OPS[source] || OPS.input; }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  function select(options, value, label) {
    var s = el("select", { "aria-label": label });
    options.forEach(function (o) {
      var opt = el("option", { value: o, text: o });
      if (o === value) opt.selected = true;
      s.appendChild(opt);
    });
    return s;
  }

  function parse(textarea) {
    var raw = textarea.value.trim();
    if (raw === "" || raw === "null") return { ok: true, value: null };
    try { return { ok: true, value: JSON.parse(raw) }; } catch (e) { return { ok: false }; }
  }

  function isFlatLeaf(node) {
    return node && typeof node === "object" && !Array.isArray(node) && "source" in node &&
      Object.keys(node).every(function (k) { return LEAF_KEYS.indexOf(k) >= 0; });
  }

  // A condition as rows: {mode: "always"|"all"|"any", leaves: [...]}, or null when rows
  // cannot say it (then it is edited as JSON).
  function asRows(condition) {
    if (condition === null || condition === undefined) return { mode: "always", leaves: [] };
    if (isFlatLeaf(condition)) return { mode: "all", leaves: [condition] };
    var mode = "all" in condition ? "all" : "any" in condition ? "any" : null;
    if (!mode || Object.keys(condition).length !== 1 || !Array.isArray(condition[mode])) {
      return null;
    }
    if (!condition[mode].every(isFlatLeaf)) return null;
    return { mode: mode, leaves: condition[mode].slice() };
  }

  function fromRows(rows) {
    if (rows.mode === "always" || rows.leaves.length === 0) return null;
    if (rows.leaves.length === 1) return rows.leaves[0];
    var out = {};
    out[rows.mode] = rows.leaves;
    return out;
  }

  function leafRow(leaf, changed, remove) {
    var source = select(SOURCES, leaf.source, "source");
    var name = el("input", { type: "text", size: "14", "aria-label": "name",
      placeholder: NAMED[leaf.source] || "" });
    var op = select(opsOf(leaf.source), leaf.op, "operator");
    var value = el("input", { type: "text", size: "18", "aria-label": "value" });
    var hours = el("input", { type: "number", min: "1", size: "5", "aria-label": "within hours",
      placeholder: "within h" });
    var drop = el("button", { type: "button", class: "button", text: "✕",
      "aria-label": "remove this condition" });
    name.value = leaf.name || "";
    value.value = LIST.indexOf(leaf.op) >= 0 ? (leaf.values || []).join(", ")
      : leaf.value === undefined ? "" : String(leaf.value);
    hours.value = leaf.within_hours || "";

    function shape() {
      var named = leaf.source in NAMED;
      name.disabled = !named;
      name.style.display = named ? "" : "none";
      name.placeholder = NAMED[leaf.source] || "";
      value.style.display = NO_VALUE.indexOf(leaf.op) >= 0 ? "none" : "";
      value.placeholder = LIST.indexOf(leaf.op) >= 0 ? "a, b, c" : "value";
      hours.style.display = leaf.source === "goal" ? "" : "none";
    }

    function read() {
      var next = { source: source.value, op: op.value };
      if (next.source in NAMED) next.name = name.value.trim();
      if (opsOf(next.source).indexOf(next.op) < 0) next.op = opsOf(next.source)[0];
      if (LIST.indexOf(next.op) >= 0) {
        next.values = value.value.split(",").map(function (v) { return v.trim(); })
          .filter(function (v) { return v !== ""; });
      } else if (NO_VALUE.indexOf(next.op) < 0) {
        var text = value.value.trim();
        next.value = ["lt", "lte", "gt", "gte"].indexOf(next.op) >= 0 && NUMBER.test(text)
          ? Number(text) : value.value;
      }
      if (next.source === "goal" && hours.value) next.within_hours = Number(hours.value);
      Object.keys(leaf).forEach(function (k) { delete leaf[k]; });
      Object.assign(leaf, next);
    }

    source.addEventListener("change", function () {
      leaf.source = source.value;
      var ops = opsOf(source.value);
      op.innerHTML = "";
      ops.forEach(function (o) { op.appendChild(el("option", { value: o, text: o })); });
      read(); shape(); changed();
    });
    [name, op, value, hours].forEach(function (input) {
      input.addEventListener("input", function () { read(); shape(); changed(); });
      input.addEventListener("change", function () { read(); shape(); changed(); });
    });
    drop.addEventListener("click", remove);
    shape();
    return el("div", { class: "ct-leaf" }, [source, name, op, value, hours, drop]);
  }

  function conditionBox(rows, changed) {
    var box = el("div", { class: "ct-condition" });
    function render() {
      box.innerHTML = "";
      var mode = select(["always", "all", "any"], rows.mode, "when");
      mode.addEventListener("change", function () {
        rows.mode = mode.value;
        if (rows.mode !== "always" && rows.leaves.length === 0) {
          rows.leaves.push({ source: "input", name: "", op: "eq", value: "" });
        }
        render(); changed();
      });
      box.appendChild(el("label", { text: "when: " }, [mode]));
      if (rows.mode === "always") return;
      rows.leaves.forEach(function (leaf, i) {
        box.appendChild(leafRow(leaf, changed, function () {
          rows.leaves.splice(i, 1);
          if (rows.leaves.length === 0) rows.mode = "always";
          render(); changed();
        }));
      });
      var add = el("button", { type: "button", class: "button", text: "+ condition" });
      add.addEventListener("click", function () {
        rows.leaves.push({ source: "input", name: "", op: "eq", value: "" });
        render(); changed();
      });
      box.appendChild(add);
    }
    render();
    return box;
  }

  function variationCodes() {
    var codes = [];
    document.querySelectorAll("input[name^='variations-'][name$='-code']").forEach(function (i) {
      if (i.value) codes.push(i.value);
    });
    return codes;
  }

  function note(text) { return el("p", { class: "help ct-note", text: text }); }

  function eligibilityEditor(textarea) {
    var holder = el("div", { class: "ct-editor", id: "ct-eligibility" });
    textarea.parentNode.insertBefore(holder, textarea);
    function render() {
      holder.innerHTML = "";
      var parsed = parse(textarea);
      var rows = parsed.ok ? asRows(parsed.value) : null;
      if (!rows) {
        holder.appendChild(note("Nested or unreadable: edit it as JSON below."));
        return;
      }
      holder.appendChild(el("strong", { text: "Applies to — " }));
      holder.appendChild(conditionBox(rows, function () {
        var value = fromRows(rows);
        textarea.value = value === null ? "" : JSON.stringify(value);  // empty: every visitor
      }));
    }
    textarea.addEventListener("change", render);
    render();
  }

  function rulesEditor(textarea) {
    var holder = el("div", { class: "ct-editor", id: "ct-rules" });
    textarea.parentNode.insertBefore(holder, textarea);
    function render() {
      holder.innerHTML = "";
      var parsed = parse(textarea);
      var rules = parsed.ok ? (parsed.value || []) : null;
      var rows = Array.isArray(rules) ? rules.map(function (r) {
        return r && typeof r === "object" ? asRows(r.when) : null;
      }) : null;
      if (!rows || rows.indexOf(null) >= 0) {
        holder.appendChild(note("Nested or unreadable: edit the rules as JSON below."));
        return;
      }
      function save() {
        textarea.value = JSON.stringify(rules.map(function (r, i) {
          return { name: r.name, when: fromRows(rows[i]), variation: r.variation };
        }));
      }
      rules.forEach(function (rule, i) {
        var name = el("input", { type: "text", size: "20", "aria-label": "rule name" });
        name.value = rule.name || "";
        name.addEventListener("input", function () { rule.name = name.value; save(); });
        var codes = variationCodes();
        if (rule.variation && codes.indexOf(rule.variation) < 0) codes.push(rule.variation);
        var variation = select(codes, rule.variation, "variation");
        if (!rule.variation) rule.variation = variation.value;
        variation.addEventListener("change", function () { rule.variation = variation.value; save(); });
        var up = el("button", { type: "button", class: "button", text: "↑",
          "aria-label": "move this rule up" });
        up.disabled = i === 0;
        up.addEventListener("click", function () {
          rules.splice(i - 1, 0, rules.splice(i, 1)[0]);
          rows.splice(i - 1, 0, rows.splice(i, 1)[0]);
          save(); render();
        });
        var drop = el("button", { type: "button", class: "button", text: "remove rule" });
        drop.addEventListener("click", function () {
          rules.splice(i, 1); rows.splice(i, 1); save(); render();
        });
        var everyone = note("This rule has no condition: every visitor it reaches gets " +
          "this variation (the rules after it never apply).");
        everyone.classList.add("ct-warning");
        function warn() { everyone.hidden = rows[i].mode !== "always"; }
        warn();
        holder.appendChild(el("fieldset", { class: "ct-rule" }, [
          el("legend", { text: "Rule " + (i + 1) }),
          el("label", { text: "name " }, [name]),
          el("label", { text: " → variation " }, [variation]),
          up, drop,
          conditionBox(rows[i], function () { save(); warn(); }),
          everyone,
        ]));
      });
      var add = el("button", { type: "button", class: "button", text: "+ rule" });
      add.addEventListener("click", function () {
        // a new rule starts with a condition to fill in, not "always" (which would force
        // every visitor into its variation)
        var leaf = { source: "input", name: "", op: "eq", value: "" };
        rules.push({ name: "rule " + (rules.length + 1), when: { all: [leaf] },
          variation: variationCodes()[0] || "" });
        rows.push({ mode: "all", leaves: [leaf] });
        save(); render();
      });
      holder.appendChild(add);
    }
    textarea.addEventListener("change", render);
    render();
  }

  function start() {
    var eligibility = document.getElementById("id_eligibility");
    var rules = document.getElementById("id_rules");
    if (eligibility) eligibilityEditor(eligibility);
    if (rules) rulesEditor(rules);
  }

  if (typeof module !== "undefined" && module.exports) {
    module.exports = { asRows: asRows, fromRows: fromRows };
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
