/* replayflow console: plain JavaScript, no dependencies.
 *
 * Every value from an execution reaches the page through textContent or an attribute set with
 * setAttribute, never through innerHTML, so a payload is shown as text whatever it holds.
 * Pages: #/ (executions), #/execution/<arn> (one execution), #/start (start an execution).
 * Exported pages (replayflow history --html) carry the view in a JSON script block (id rf-data) and show it alone.
 */
(function () {
  "use strict";

  var SVGNS = "http://www.w3.org/2000/svg";
  var CHUNK = 100; // tree rows rendered per "show more"
  var AUTO_EXPAND = 60; // expand every context when the execution has at most this many operations
  var STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"];
  var QUOTA_OPS = 3000;
  var QUOTA_BYTES = 100000000;  // 100 MB, as replayflow.local.Limits

  var dataNode = document.getElementById("rf-data");
  var STATIC = !!dataNode;
  var token = meta("replayflow-token");
  var pollMs = parseInt(meta("replayflow-poll") || "1500", 10);
  var main = document.getElementById("rf-main");
  var pollTimer = null;
  var pageId = 0; // bumped on every navigation: late answers for an old page are dropped

  function meta(name) {
    var node = document.querySelector('meta[name="' + name + '"]');
    return node ? node.getAttribute("content") : null;
  }

  // ---- DOM helpers -------------------------------------------------------------------------------

  function el(tag, attrs) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = String(value);
      else if (key === "cls") node.setAttribute("class", value);
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    });
  }

  function append(node) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) child.forEach(function (c) { append(node, c); });
      else if (typeof child === "string" || typeof child === "number") node.appendChild(document.createTextNode(String(child)));
      else node.appendChild(child);
    }
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "title") {
        var title = document.createElementNS(SVGNS, "title");
        title.textContent = attrs.title;
        node.appendChild(title);
      } else node.setAttribute(key === "cls" ? "class" : key, String(attrs[key]));
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function flash(message, kind) {
    var box = document.getElementById("rf-flash");
    if (!box) return;
    box.textContent = message;
    box.className = "rf-flash " + (kind || "rf-flash-error");
    box.hidden = false;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(function () { box.hidden = true; }, 6000);
  }

  // ---- formatting --------------------------------------------------------------------------------

  function fmtTime(ms) {
    if (ms === null || ms === undefined) return "";
    var d = new Date(ms);
    return d.toISOString().replace("T", " ").replace("Z", "").slice(0, 23);
  }

  function fmtDur(ms) {
    if (ms === null || ms === undefined || isNaN(ms)) return "";
    if (ms < 1000) return Math.round(ms) + " ms";
    var s = ms / 1000;
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
    var m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
    if (d) return d + " d " + (h % 24) + " h";
    if (h) return h + " h " + (m % 60) + " m";
    return m + " m " + Math.round(s % 60) + " s";
  }

  function fmtBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / 1024 / 1024).toFixed(2) + " MB";
  }

  function pretty(value) {
    if (value === null || value === undefined) return "";
    if (typeof value !== "string") return JSON.stringify(value, null, 2);
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch (e) {
      return value;
    }
  }

  function statusBadge(status) {
    var s = String(status || "");
    return el("span", { cls: "rf-status rf-s-" + s.toLowerCase().replace(/[^a-z_]/g, ""), text: s });
  }

  function meter(used, quota, label) {
    var share = Math.min(used / quota, 1);
    var bar = el("span", { cls: "rf-meter-fill" + (share > 0.8 ? " rf-meter-hot" : "") });
    bar.style.width = (share * 100).toFixed(2) + "%";
    return el("span", { cls: "rf-meter", title: label + " of the AWS quota" }, el("span", { cls: "rf-meter-bar" }, bar),
      el("span", { cls: "rf-meter-text", text: label }));
  }

  function usageCells(usage) {
    return [
      el("td", { cls: "rf-num" }, meter(usage.operations, QUOTA_OPS, usage.operations + " / 3,000")),
      el("td", { cls: "rf-num" }, meter(usage.bytes, QUOTA_BYTES, fmtBytes(usage.bytes) + " / 100 MB")),
      el("td", { cls: "rf-num", text: usage.invocations })
    ];
  }

  function payloadBlock(title, value, cls) {
    if (value === null || value === undefined) return null;
    return el("div", { cls: "rf-payload " + (cls || "") }, el("div", { cls: "rf-payload-title", text: title }),
      el("pre", { text: pretty(value) }));
  }

  function errorBlock(title, error) {
    if (!error) return null;
    var trace = error.StackTrace;
    return el("div", { cls: "rf-error" },
      el("div", { cls: "rf-payload-title", text: title }),
      el("div", { cls: "rf-error-head" }, el("strong", { text: error.ErrorType || "Error" }), ": ", error.ErrorMessage || ""),
      error.ErrorData ? el("pre", { text: pretty(error.ErrorData) }) : null,
      trace && trace.length ? el("pre", { cls: "rf-trace", text: Array.isArray(trace) ? trace.join("\n") : String(trace) }) : null);
  }

  // ---- the API -----------------------------------------------------------------------------------

  function api(path, body) {
    var init = { headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.headers["X-Replayflow-Token"] = token;
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      return response.json().then(function (value) {
        if (!response.ok) throw new Error((value.error || response.status) + ": " + (value.message || ""));
        return value;
      });
    });
  }

  // ---- routing -----------------------------------------------------------------------------------

  function parseHash() {
    var hash = location.hash.replace(/^#/, "") || "/";
    var q = hash.indexOf("?");
    var path = q < 0 ? hash : hash.slice(0, q);
    var params = new URLSearchParams(q < 0 ? "" : hash.slice(q + 1));
    return { path: path, params: params };
  }

  function route() {
    pageId++;
    clearTimeout(pollTimer);
    var where = parseHash();
    clear(main);
    if (where.path.indexOf("/execution/") === 0) executionPage(decodeURIComponent(where.path.slice(11)));
    else if (where.path === "/start") startPage();
    else listPage(where.params);
  }

  function schedule(fn) {
    var mine = pageId;
    clearTimeout(pollTimer);
    pollTimer = setTimeout(function () { if (mine === pageId) fn(); }, pollMs);
  }

  function executionHref(arn) {
    return "#/execution/" + encodeURIComponent(arn);
  }

  // ---- Executions --------------------------------------------------------------------------------

  function listPage(params) {
    var mine = pageId;
    var status = params.get("status") || "";
    var fn = params.get("function") || "";
    var name = params.get("name") || "";
    var marker = parseInt(params.get("marker") || "0", 10);
    var limit = parseInt(params.get("limit") || "50", 10);

    function go(changes) {
      var next = new URLSearchParams({ status: status, "function": fn, name: name, marker: String(marker), limit: String(limit) });
      Object.keys(changes).forEach(function (k) { next.set(k, changes[k]); });
      ["status", "function", "name"].forEach(function (k) { if (!next.get(k)) next.delete(k); });
      if (next.get("marker") === "0") next.delete("marker");
      if (next.get("limit") === "50") next.delete("limit");
      location.hash = "#/?" + next.toString();
    }

    var statusSelect = el("select", { id: "rf-filter-status", onchange: function () { go({ status: statusSelect.value, marker: "0" }); } },
      el("option", { value: "", text: "any status" }),
      STATUSES.map(function (s) { return el("option", { value: s, text: s, selected: s === status }); }));
    var fnSelect = el("select", { id: "rf-filter-function", onchange: function () { go({ "function": fnSelect.value, marker: "0" }); } },
      el("option", { value: "", text: "any function" }));
    var nameInput = el("input", { id: "rf-filter-name", type: "search", placeholder: "name contains", value: name });
    var nameTimer = null;
    nameInput.addEventListener("input", function () {
      clearTimeout(nameTimer);
      nameTimer = setTimeout(function () { go({ name: nameInput.value, marker: "0" }); }, 400);
    });
    var summary = el("span", { cls: "rf-summary" });
    var tbody = el("tbody");
    var prev = el("button", { id: "rf-prev", type: "button", text: "\u2190 Newer", onclick: function () { go({ marker: String(Math.max(marker - limit, 0)) }); } });
    var next = el("button", { id: "rf-next", type: "button", text: "Older \u2192" });
    var live = el("span", { cls: "rf-live", text: "live" });

    append(main, el("section", { cls: "rf-page" },
      el("div", { cls: "rf-toolbar" }, el("h1", { text: "Executions" }), live, statusSelect, fnSelect, nameInput, summary),
      el("table", { cls: "rf-table", id: "rf-executions" },
        el("thead", null, el("tr", null, ["Name", "Function", "Status", "Started", "Duration", "Operations", "Data written", "Invocations"].map(function (h) {
          return el("th", { text: h });
        }))), tbody),
      el("div", { cls: "rf-pager" }, prev, next)));

    api("/console/api/functions").then(function (value) {
      value.functions.forEach(function (f) {
        append(fnSelect, el("option", { value: f.name, text: f.name, selected: f.name === fn }));
      });
      if (fn && fnSelect.value !== fn) append(fnSelect, el("option", { value: fn, text: fn, selected: true }));
    }).catch(function (e) { flash(e.message); });

    var lastText = null;
    function load() {
      var query = new URLSearchParams({ marker: String(marker), limit: String(limit) });
      if (status) query.set("status", status);
      if (fn) query.set("function", fn);
      if (name) query.set("name", name);
      api("/console/api/executions?" + query.toString()).then(function (page) {
        if (mine !== pageId) return;
        var text = JSON.stringify(page);
        if (text === lastText) { schedule(load); return; }
        lastText = text;
        clear(tbody);
        page.items.forEach(function (row) {
          var end = row.end || (row.status === "RUNNING" ? Date.now() : null);
          tbody.appendChild(el("tr", { cls: "rf-exec-row", "data-arn": row.arn },
            el("td", null, el("a", { href: executionHref(row.arn), cls: "rf-exec-link", text: row.name })),
            el("td", { text: row.function }),
            el("td", null, statusBadge(row.status), row.errorType ? el("span", { cls: "rf-errtype", text: row.errorType }) : null),
            el("td", { text: fmtTime(row.start) }),
            el("td", { cls: "rf-num", text: end ? fmtDur(Math.max(end - row.start, 0)) : "" }),
            usageCells(row.usage)));
        });
        if (!page.items.length) tbody.appendChild(el("tr", null, el("td", { colspan: 8, cls: "rf-empty", text: "No executions." })));
        var counts = Object.keys(page.counts).sort().map(function (k) { return k + " " + page.counts[k]; }).join(" \u00b7 ");
        summary.textContent = (page.total ? (marker + 1) + "\u2013" + (marker + page.items.length) + " of " + page.total : "0") +
          (counts ? "  (" + counts + ")" : "");
        prev.disabled = marker === 0;
        next.disabled = !page.nextMarker;
        next.onclick = function () { go({ marker: page.nextMarker }); };
        live.classList.toggle("rf-live-on", !!page.counts.RUNNING);
        schedule(load);
      }).catch(function (e) {
        flash(e.message);
        schedule(load);
      });
    }
    load();
  }

  // ---- Execution ---------------------------------------------------------------------------------

  function buildIndex(view) {
    var byId = {}, children = {}, roots = [];
    view.operations.forEach(function (op) {
      byId[op.id] = op;
    });
    view.operations.forEach(function (op) {
      if (op.parent && byId[op.parent]) (children[op.parent] = children[op.parent] || []).push(op);
      else roots.push(op);
    });
    return { byId: byId, children: children, roots: roots };
  }

  function timeRange(view, now) {
    var ex = view.execution;
    var t0 = ex.StartTimestamp;
    var t1 = ex.EndTimestamp || t0;
    view.operations.forEach(function (op) {
      t1 = Math.max(t1, op.end || op.start, op.scheduledEnd || 0);
      op.attempts.forEach(function (a) { t1 = Math.max(t1, a.retryAt || 0); });
    });
    view.invocations.forEach(function (i) { t1 = Math.max(t1, i.end); });
    if (!ex.EndTimestamp && now) t1 = Math.max(t1, now);
    return { t0: t0, t1: Math.max(t1, t0 + 1) };
  }

  function bars(op, range, now) {
    var W = 1000;
    var span = range.t1 - range.t0;
    function x(t) { return Math.max(0, Math.min(W, ((t - range.t0) / span) * W)); }
    function rect(a, b, cls, title, y, h) {
      var left = x(a), width = Math.max(x(b) - left, 3);
      return svg("rect", { x: left.toFixed(1), y: y || 3, width: width.toFixed(1), height: h || 12, rx: 2, cls: cls, title: title });
    }
    var open = op.end || now || range.t1;
    var bad = /FAILED|TIMED_OUT|STOPPED|CANCELLED/.test(op.status) ? " rf-b-bad" : "";
    var box = svg("svg", { cls: "rf-bars", viewBox: "0 0 " + W + " 18", preserveAspectRatio: "none" });
    if (op.type === "Step" && op.attempts.length) {
      op.attempts.forEach(function (a, i) {
        var ended = a.end || now || range.t1;
        var cls = a.error ? "rf-b-failed" : (a.end ? "rf-b-" + (op.status === "FAILED" ? "failed" : "succeeded") : "rf-b-running");
        box.appendChild(rect(a.start, ended, "rf-bar " + cls, "attempt " + (a.number || i + 1) + ": " + fmtDur(ended - a.start) +
          (a.error ? " \u2014 " + (a.error.ErrorType || "") + ": " + (a.error.ErrorMessage || "") : "")));
        if (a.retryDelay !== undefined) {
          var nextStart = op.attempts[i + 1] ? op.attempts[i + 1].start : a.retryAt;
          box.appendChild(rect(ended, nextStart, "rf-bar rf-b-delay", "retry delay " + a.retryDelay + " s", 7, 4));
        }
      });
    } else if (op.type === "Wait") {
      box.appendChild(rect(op.start, op.end || op.scheduledEnd || open, "rf-bar rf-b-wait" + bad + (op.end ? "" : " rf-b-open"), "wait " + (op.duration || "") + " s"));
    } else if (op.type === "Callback") {
      box.appendChild(rect(op.start, open, "rf-bar rf-b-callback" + bad + (op.end ? "" : " rf-b-open"), "callback wait " + fmtDur(open - op.start)));
    } else if (op.type === "ChainedInvoke") {
      box.appendChild(rect(op.start, open, "rf-bar rf-b-invoke" + bad + (op.end ? "" : " rf-b-open"), "invoke " + (op.functionName || "") + " " + fmtDur(open - op.start)));
      box.appendChild(svg("path", { cls: "rf-mark-invoke", d: "M" + x(op.start).toFixed(1) + " 1 l5 8 l-5 8 l-5 -8 z", title: "invoke" }));
    } else {
      box.appendChild(rect(op.start, open, "rf-bar rf-b-context rf-b-" + op.status.toLowerCase(), op.type + " " + fmtDur(open - op.start), 6, 6));
    }
    return box;
  }

  function axis(view, range) {
    var W = 1000;
    var box = svg("svg", { cls: "rf-axis", viewBox: "0 0 " + W + " 18", preserveAspectRatio: "none" });
    var span = range.t1 - range.t0;
    view.invocations.forEach(function (inv, i) {
      var left = ((inv.start - range.t0) / span) * W;
      var width = Math.max(((inv.end - inv.start) / span) * W, 2);
      box.appendChild(svg("rect", { cls: "rf-invocation" + (inv.error ? " rf-invocation-failed" : ""), x: left.toFixed(1), y: 2, width: width.toFixed(1), height: 14,
        title: "invocation " + (i + 1) + " (" + fmtDur(inv.end - inv.start) + ")" + (inv.error ? ": " + (inv.error.ErrorType || "failed") : "") }));
    });
    return box;
  }

  function executionPage(arn, preset) {
    var mine = pageId;
    var expanded = {};
    var shown = {}; // parent id (or "") -> rows shown
    var selected = null;
    var first = true;
    var lastText = null;
    var view = null;
    var index = null;
    var header = el("div", { cls: "rf-exec-head" });
    var actions = el("div", { cls: "rf-actions" });
    var callbacks = el("div", { cls: "rf-callbacks" });
    var io = el("div", { cls: "rf-io" });
    var axisCell = el("div", { cls: "rf-track" });
    var tree = el("div", { cls: "rf-tree", id: "rf-tree" });
    var details = el("aside", { cls: "rf-details", id: "rf-details" }, el("p", { cls: "rf-hint", text: "Select an operation to see its details." }));
    append(main, el("section", { cls: "rf-page" }, header, actions, callbacks,
      el("h2", { text: "Timeline" }),
      el("div", { cls: "rf-legend" }, ["succeeded", "failed", "running", "delay", "wait", "callback", "invoke", "context"].map(function (k) {
        return el("span", { cls: "rf-key rf-key-" + k, text: k === "delay" ? "retry delay" : k });
      }), el("span", { cls: "rf-key rf-key-invocation", text: "invocation" })),
      el("div", { cls: "rf-split" },
        el("div", { cls: "rf-timeline" },
          el("div", { cls: "rf-row rf-axis-row" }, el("div", { cls: "rf-label", text: "invocations" }), axisCell),
          tree),
        details),
      io));

    function load() {
      var known = view ? "&known=" + view.lastEventId : ""; // a poll: the server answers "unchanged" cheaply
      var got = preset ? Promise.resolve(preset) : api("/console/api/execution?arn=" + encodeURIComponent(arn) + known);
      got.then(function (value) {
        if (mine !== pageId) return;
        if (value.unchanged) { schedule(load); return; }
        var text = JSON.stringify(value);
        if (text === lastText) { schedule(load); return; } // nothing changed: keep the DOM (and the user's place)
        lastText = text;
        view = value;
        index = buildIndex(view);
        if (first && view.operations.length <= AUTO_EXPAND) view.operations.forEach(function (op) { expanded[op.id] = true; });
        first = false;
        render();
        if (!STATIC && view.execution.Status === "RUNNING") schedule(load);
      }).catch(function (e) {
        flash(e.message);
        if (!STATIC) schedule(load);
      });
    }

    function render() {
      var ex = view.execution;
      var range = timeRange(view, ex.EndTimestamp || STATIC ? null : Date.now());
      var now = ex.EndTimestamp || STATIC ? null : range.t1; // open bars reach the right edge
      clear(header);
      append(header,
        el("h1", null, el("span", { cls: "rf-exec-name", text: ex.DurableExecutionName }), " ", statusBadge(ex.Status)),
        el("dl", { cls: "rf-facts" },
          el("dt", { text: "Function" }), el("dd", { text: view.function || ex.FunctionArn || "" }),
          el("dt", { text: "ARN" }), el("dd", { cls: "rf-mono", text: ex.DurableExecutionArn }),
          el("dt", { text: "Started" }), el("dd", { text: fmtTime(ex.StartTimestamp) }),
          el("dt", { text: "Duration" }), el("dd", { text: fmtDur((ex.EndTimestamp || range.t1) - ex.StartTimestamp) + (ex.EndTimestamp ? "" : " so far") })),
        el("table", { cls: "rf-table rf-usage" },
          el("thead", null, el("tr", null, el("th", { text: "Operations" }), el("th", { text: "Data written" }), el("th", { text: "Invocations" }))),
          el("tbody", null, el("tr", null, usageCells(view.usage)))));
      renderActions(ex);
      renderCallbacks();
      clear(io);
      append(io, payloadBlock("Input", ex.InputPayload, "rf-input"), payloadBlock("Result", ex.Result, "rf-result"),
        errorBlock("Error", ex.Error));
      clear(axisCell);
      axisCell.appendChild(axis(view, range));
      clear(tree);
      renderRows(tree, index.roots, 0, "", range, now);
      if (selected && index.byId[selected]) showDetails(index.byId[selected]);
    }

    function renderRows(container, ops, depth, key, range, now) {
      var limit = shown[key] || CHUNK;
      ops.slice(0, limit).forEach(function (op) {
        var kids = index.children[op.id] || [];
        var open = !!expanded[op.id];
        var toggle = kids.length
          ? el("button", { type: "button", cls: "rf-toggle", "aria-expanded": open ? "true" : "false", title: kids.length + " operations",
            text: open ? "\u25be" : "\u25b8", onclick: function (ev) { ev.stopPropagation(); expanded[op.id] = !open; render(); } })
          : el("span", { cls: "rf-toggle-space" });
        var label = el("div", { cls: "rf-label" }, toggle,
          el("span", { cls: "rf-op-name", text: op.name || op.id.slice(0, 12) }),
          el("span", { cls: "rf-chip", text: op.subType || op.type }),
          kids.length ? el("span", { cls: "rf-count", text: String(kids.length) }) : null,
          op.attempts.length > 1 ? el("span", { cls: "rf-count rf-attempts", text: op.attempts.length + " attempts" }) : null,
          statusBadge(op.status));
        label.style.paddingLeft = (4 + depth * 16) + "px";
        var row = el("div", { cls: "rf-row rf-op" + (selected === op.id ? " rf-selected" : ""), "data-id": op.id, "data-type": op.type, "data-status": op.status, "data-depth": depth,
          onclick: function () { selected = op.id; showDetails(op); markSelected(); } },
          label, el("div", { cls: "rf-track" }, bars(op, range, now)));
        container.appendChild(row);
        if (open && kids.length) renderRows(container, kids, depth + 1, op.id, range, now);
      });
      if (ops.length > limit) {
        var more = el("div", { cls: "rf-row rf-more" }, el("button", { type: "button", cls: "rf-more-button",
          text: "Show " + Math.min(CHUNK, ops.length - limit) + " more of " + (ops.length - limit) + " remaining",
          onclick: function () { shown[key] = limit + CHUNK; render(); } }));
        more.firstChild.style.marginLeft = (20 + depth * 16) + "px";
        container.appendChild(more);
      }
    }

    function markSelected() {
      Array.prototype.forEach.call(tree.querySelectorAll(".rf-selected"), function (n) { n.classList.remove("rf-selected"); });
      var row = tree.querySelector('.rf-op[data-id="' + (window.CSS && CSS.escape ? CSS.escape(selected) : selected) + '"]');
      if (row) row.classList.add("rf-selected");
    }

    function showDetails(op) {
      clear(details);
      var facts = el("dl", { cls: "rf-facts" },
        el("dt", { text: "Type" }), el("dd", { text: op.type + (op.subType ? " / " + op.subType : "") }),
        el("dt", { text: "Status" }), el("dd", null, statusBadge(op.status)),
        el("dt", { text: "Id" }), el("dd", { cls: "rf-mono", text: op.id }),
        op.parent ? [el("dt", { text: "Parent" }), el("dd", { cls: "rf-mono", text: op.parent })] : null,
        el("dt", { text: "Started" }), el("dd", { text: fmtTime(op.start) }),
        op.end ? [el("dt", { text: "Ended" }), el("dd", { text: fmtTime(op.end) + " (" + fmtDur(op.end - op.start) + ")" })] : null,
        op.duration !== undefined ? [el("dt", { text: "Wait" }), el("dd", { text: op.duration + " s, until " + fmtTime(op.scheduledEnd) })] : null,
        op.callbackId ? [el("dt", { text: "Callback id" }), el("dd", { cls: "rf-mono rf-callback-id", text: op.callbackId })] : null,
        op.timeout ? [el("dt", { text: "Timeout" }), el("dd", { text: op.timeout + " s" })] : null,
        op.functionName ? [el("dt", { text: "Invokes" }), el("dd", { text: op.functionName })] : null,
        op.childArn ? [el("dt", { text: "Child execution" }), el("dd", { cls: "rf-mono" },
          STATIC ? op.childArn : el("a", { cls: "rf-child-link", href: executionHref(op.childArn), text: op.childArn }))] : null);
      var attempts = null;
      if (op.attempts.length) {
        attempts = el("div", { cls: "rf-attempts-list" }, el("div", { cls: "rf-payload-title", text: "Attempts" }),
          op.attempts.map(function (a, i) {
            return el("div", { cls: "rf-attempt" },
              el("div", null, el("strong", { text: "#" + (a.number || i + 1) }), " ", fmtTime(a.start),
                a.end ? " \u2014 " + fmtDur(a.end - a.start) : " \u2014 running",
                a.retryDelay !== undefined ? el("span", { cls: "rf-retry", text: " then retry in " + a.retryDelay + " s" }) : null),
              errorBlock("Error", a.error));
          }));
      }
      append(details, el("h3", { text: op.name || op.id }), facts,
        payloadBlock("Input", op.input), payloadBlock("Result", op.result, "rf-result"),
        errorBlock("Error", op.error), attempts);
    }

    function renderActions(ex) {
      clear(actions);
      if (STATIC || ex.Status !== "RUNNING") return;
      append(actions, el("button", { type: "button", id: "rf-stop", cls: "rf-danger", text: "Stop execution", onclick: function () {
        if (!window.confirm("Stop this execution?")) return;
        api("/console/api/stop", { arn: arn }).then(function () { flash("Stopped.", "rf-flash-ok"); load(); })
          .catch(function (e) { flash(e.message); });
      } }));
    }

    function renderCallbacks() {
      var pending = STATIC ? [] : view.operations.filter(function (op) { return op.type === "Callback" && op.status === "STARTED"; });
      var ids = pending.map(function (op) { return op.id; }).join(",");
      if (callbacks.dataset.ids === ids) return; // the same callbacks: keep what the user typed
      callbacks.dataset.ids = ids;
      clear(callbacks);
      if (!pending.length) return;
      append(callbacks, el("h2", { text: "Waiting for callbacks" }), pending.map(callbackForm));
    }

    function callbackForm(op) {
      var editor = jsonEditor('"approved"', "rf-cb-result");
      var errorType = el("input", { cls: "rf-cb-error-type", placeholder: "ErrorType", value: "Rejected" });
      var errorMessage = el("input", { cls: "rf-cb-error-message", placeholder: "ErrorMessage" });
      function send(body, done) {
        body.callbackId = op.callbackId;
        api("/console/api/callback", body).then(function () { flash(done, "rf-flash-ok"); load(); })
          .catch(function (e) { flash(e.message); });
      }
      return el("div", { cls: "rf-callback", "data-callback-id": op.callbackId },
        el("div", { cls: "rf-callback-head" }, el("strong", { text: op.name || "callback" }), " ",
          el("span", { cls: "rf-mono", text: op.callbackId })),
        el("div", { cls: "rf-callback-forms" },
          el("div", { cls: "rf-form" }, el("label", { text: "Result (JSON)" }), editor.node,
            el("button", { type: "button", cls: "rf-cb-succeed", text: "Succeed", onclick: function () {
              if (!editor.valid()) { flash("The result is not valid JSON."); return; }
              send({ action: "succeed", result: editor.text() }, "Callback answered.");
            } })),
          el("div", { cls: "rf-form" }, el("label", { text: "Failure" }), errorType, errorMessage,
            el("button", { type: "button", cls: "rf-cb-fail rf-danger", text: "Fail", onclick: function () {
              send({ action: "fail", error: { ErrorType: errorType.value || "Error", ErrorMessage: errorMessage.value } }, "Callback failed.");
            } }),
            el("button", { type: "button", cls: "rf-cb-heartbeat", text: "Heartbeat", onclick: function () {
              send({ action: "heartbeat" }, "Heartbeat sent.");
            } }))));
    }

    load();
  }

  function jsonEditor(initial, cls) {
    var area = el("textarea", { cls: "rf-json " + cls, rows: 4, spellcheck: "false" });
    area.value = initial;
    var note = el("div", { cls: "rf-json-note" });
    function check() {
      try {
        JSON.parse(area.value);
        note.textContent = "valid JSON";
        note.className = "rf-json-note rf-json-ok";
        return true;
      } catch (e) {
        note.textContent = e.message;
        note.className = "rf-json-note rf-json-bad";
        return false;
      }
    }
    area.addEventListener("input", check);
    var format = el("button", { type: "button", cls: "rf-small", text: "Format", onclick: function () {
      if (check()) area.value = JSON.stringify(JSON.parse(area.value), null, 2);
    } });
    check();
    return { node: el("div", { cls: "rf-editor" }, area, el("div", { cls: "rf-editor-foot" }, note, format)),
      valid: check, text: function () { return area.value; } };
  }

  // ---- Start -------------------------------------------------------------------------------------

  function startPage() {
    var fnSelect = el("select", { id: "rf-start-function" });
    var nameInput = el("input", { id: "rf-start-name", placeholder: "optional; a new id when empty" });
    var editor = jsonEditor("{}", "rf-start-input");
    var button = el("button", { type: "button", id: "rf-start", text: "Start", onclick: function () {
      if (!editor.valid()) { flash("The input is not valid JSON."); return; }
      api("/console/api/start", { "function": fnSelect.value, input: editor.text(), name: nameInput.value || null })
        .then(function (value) { location.hash = executionHref(value.arn); })
        .catch(function (e) { flash(e.message); });
    } });
    append(main, el("section", { cls: "rf-page rf-start-page" }, el("h1", { text: "Start an execution" }),
      el("div", { cls: "rf-form" }, el("label", { text: "Function" }), fnSelect, el("label", { text: "Execution name" }), nameInput,
        el("label", { text: "Input (JSON)" }), editor.node, button)));
    api("/console/api/functions").then(function (value) {
      value.functions.filter(function (f) { return f.durable; }).forEach(function (f) {
        append(fnSelect, el("option", { value: f.name, text: f.name }));
      });
      if (!fnSelect.options.length) {
        button.disabled = true;
        flash("No durable functions are registered on this server (replayflow console only shows a store).", "rf-flash-info");
      }
    }).catch(function (e) { flash(e.message); });
  }

  // ---- boot --------------------------------------------------------------------------------------

  if (STATIC) {
    var view = JSON.parse(dataNode.textContent);
    executionPage(view.execution.DurableExecutionArn, view);
  } else {
    window.addEventListener("hashchange", route);
    route();
  }
})();
