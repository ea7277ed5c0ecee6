
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("layoutft-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = {};
  DATA.labels.forEach(function (l) { COLORS[l.name] = l.color; });
  var state = { doc: 0, page: 0, hidden: new Set(), minScore: 0, sel: null, pinned: false };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function sv(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function color(label) { return COLORS[label] || "#888888"; }
  function fmt(box) { return "[" + box.map(function (v) { return Number(v).toFixed(1); })
    .join(", ") + "]"; }
  function currentDoc() { return DATA.documents[state.doc]; }
  function currentPage() { var d = currentDoc(); return d ? d.pages[state.page] : null; }
  function visible(r) { return !state.hidden.has(r.label) && r.score >= state.minScore; }

  function readUrl() {
    var params = new URLSearchParams(location.search.replace(/^\?/, ""));
    new URLSearchParams(location.hash.replace(/^#/, "")).forEach(function (v, k) {
      params.set(k, v);
    });
    var d = parseInt(params.get("doc") || "1", 10) - 1;
    state.doc = d >= 0 && d < DATA.documents.length ? d : 0;
    var doc = currentDoc();
    state.page = 0;
    if (doc && params.has("page")) {
      var n = parseInt(params.get("page"), 10);
      var at = doc.pages.findIndex(function (p) { return p.number === n; });
      state.page = at >= 0 ? at : 0;
    }
    state.hidden = new Set((params.get("hide") || "").split(",").filter(Boolean));
    var s = parseFloat(params.get("minScore") || "0");
    state.minScore = isFinite(s) ? Math.min(1, Math.max(0, s)) : 0;
    state.sel = params.has("sel") ? parseInt(params.get("sel"), 10) : null;
    state.pinned = state.sel !== null;
  }
  function writeUrl() {
    var doc = currentDoc(), page = currentPage();
    var parts = ["doc=" + (state.doc + 1)];
    if (page) parts.push("page=" + page.number);
    if (state.hidden.size) parts.push("hide=" + Array.from(state.hidden).map(encodeURIComponent)
      .join(","));
    if (state.minScore > 0) parts.push("minScore=" + state.minScore);
    if (state.pinned && state.sel !== null) parts.push("sel=" + state.sel);
    try { history.replaceState(null, "", "#" + parts.join("&")); } catch (e) { /* file:// */ }
    return doc;
  }

  function renderDocs() {
    var list = document.getElementById("docs");
    clear(list);
    DATA.documents.forEach(function (doc, i) {
      var item = el("li", { "class": i === state.doc ? "active" : "", title: doc.path || "" },
        doc.name);
      item.appendChild(el("div", { "class": "meta" }, doc.pages.length + " page" +
        (doc.pages.length === 1 ? "" : "s") + " \u00b7 " + doc.status));
      item.addEventListener("click", function () { go(i, 0); });
      list.appendChild(item);
    });
  }

  function renderLegend() {
    var legend = document.getElementById("legend");
    clear(legend);
    var page = currentPage();
    DATA.labels.forEach(function (l) {
      var total = 0, shown = 0;
      (page ? page.regions : []).forEach(function (r) {
        if (r.label === l.name) { total++; if (visible(r)) shown++; }
      });
      var row = el("label", { "class": "class-toggle" });
      var box = el("input", { type: "checkbox", "data-label": l.name });
      box.checked = !state.hidden.has(l.name);
      if (box.checked) box.setAttribute("checked", "");
      box.addEventListener("change", function () {
        if (box.checked) state.hidden.delete(l.name); else state.hidden.add(l.name);
        update();
      });
      row.appendChild(box);
      var swatch = el("span", { "class": "swatch" });
      swatch.style.background = l.color;
      row.appendChild(swatch);
      row.appendChild(el("span", {}, l.name));
      row.appendChild(el("span", { "class": "count" }, shown + "/" + total));
      legend.appendChild(row);
    });
    var slider = document.getElementById("score");
    slider.value = String(state.minScore);
    slider.setAttribute("value", String(state.minScore));
    document.getElementById("score-value").textContent = state.minScore.toFixed(2);
  }

  function renderThumbs() {
    var strip = document.getElementById("thumbs");
    clear(strip);
    var doc = currentDoc();
    if (!doc) return;
    doc.pages.forEach(function (p, i) {
      var button = el("button", { "class": "thumb" + (i === state.page ? " active" : ""),
        type: "button", "data-page": p.number });
      if (p.thumb) button.appendChild(el("img", { src: p.thumb, alt: "", loading: "lazy" }));
      else {
        var blank = el("div", { "class": "blank" });
        blank.style.aspectRatio = p.width + " / " + p.height;
        button.appendChild(blank);
      }
      var shown = p.regions.filter(visible).length;
      button.appendChild(el("div", {}, "p. " + p.number + " \u00b7 " + shown + " regions" +
        (p.status !== "ok" ? " \u00b7 " + p.status : "")));
      button.addEventListener("click", function () { go(state.doc, i); });
      strip.appendChild(button);
      if (i === state.page && button.scrollIntoView) button.scrollIntoView({ block: "nearest" });
    });
  }

  function renderPage() {
    var svg = document.getElementById("page");
    clear(svg);
    var doc = currentDoc(), page = currentPage();
    if (!page) return;
    svg.setAttribute("viewBox", "0 0 " + page.width + " " + page.height);
    svg.setAttribute("data-page", String(page.number));
    var unit = Math.max(page.width, page.height) / 100;
    svg.appendChild(sv("rect", { "class": "sheet", x: 0, y: 0, width: page.width,
      height: page.height }));
    if (page.image) {
      svg.appendChild(sv("image", { href: page.image, x: 0, y: 0, width: page.width,
        height: page.height, preserveAspectRatio: "none" }));
    } else {
      var msg = sv("text", { x: page.width / 2, y: page.height / 2, "class": "missing",
        "font-size": 2 * unit });
      msg.textContent = page.status !== "ok" ? "page failed: " + (page.error || page.status)
        : "page image not available (source not found)";
      svg.appendChild(msg);
    }
    var regions = page.regions.slice().sort(function (a, b) { return a.order - b.order; });
    regions.filter(visible).forEach(function (r) {
      var c = color(r.label);
      var g = sv("g", { "class": "region" + (state.sel === r.id ? " selected" : ""),
        "data-id": r.id, "data-label": r.label, "data-score": r.score });
      var b = r.bbox_px;
      if (r.polygon_px && r.polygon_px.length) {
        r.polygon_px.forEach(function (ring) {
          g.appendChild(sv("polygon", { "class": "box", fill: c, stroke: c,
            points: ring.map(function (pt) { return pt[0] + "," + pt[1]; }).join(" ") }));
        });
      } else {
        g.appendChild(sv("rect", { "class": "box", fill: c, stroke: c, x: b[0], y: b[1],
          width: Math.max(0, b[2] - b[0]), height: Math.max(0, b[3] - b[1]) }));
      }
      var rad = 1.3 * unit;
      g.appendChild(sv("circle", { "class": "badge", cx: b[0] + rad, cy: b[1] + rad, r: rad,
        fill: c }));
      var t = sv("text", { "class": "badge-text", x: b[0] + rad, y: b[1] + rad,
        "font-size": 1.4 * unit });
      t.textContent = String(r.order + 1);
      g.appendChild(t);
      var title = sv("title", {});
      title.textContent = r.label + " " + Number(r.score).toFixed(2);
      g.appendChild(title);
      g.addEventListener("mouseenter", function () { if (!state.pinned) showRegion(r); });
      g.addEventListener("click", function (ev) {
        ev.stopPropagation();
        state.pinned = !(state.pinned && state.sel === r.id);
        state.sel = state.pinned ? r.id : null;
        update();
      });
      svg.appendChild(g);
    });
    var shown = page.regions.filter(visible).length;
    document.getElementById("where").textContent = doc.name + " \u00b7 page " + page.number +
      " (" + (state.page + 1) + " of " + doc.pages.length + ") \u00b7 " + shown + " of " +
      page.regions.length + " regions shown";
    var notes = document.getElementById("notes");
    clear(notes);
    doc.notes.forEach(function (n) { notes.appendChild(el("p", {}, n)); });
    if (page.error) notes.appendChild(el("p", {}, "page " + page.number + ": " + page.error));
    var selected = page.regions.find(function (r) { return r.id === state.sel; });
    showRegion(selected || null);
  }

  function showRegion(r) {
    var box = document.getElementById("details");
    clear(box);
    if (!r) { box.textContent = "Hover or click a region."; return; }
    var page = currentPage();
    var dl = el("dl", { "data-id": r.id });
    function row(k, v) { dl.appendChild(el("dt", {}, k)); dl.appendChild(el("dd", {}, v)); }
    var label = el("dd", {});
    var swatch = el("span", { "class": "swatch" });
    swatch.style.background = color(r.label);
    label.appendChild(swatch);
    label.appendChild(document.createTextNode(" " + r.label));
    dl.appendChild(el("dt", {}, "label"));
    dl.appendChild(label);
    row("score", Number(r.score).toFixed(3));
    if (r.origin && r.origin !== "model") row("origin", r.origin);
    if (r.alternatives && r.alternatives.length) {
      row("alternatives", r.alternatives.map(function (a) {
        return a[0] + " " + Number(a[1]).toFixed(2);
      }).join(", "));
    }
    row("order", r.order + 1);
    row("id", r.id);
    row("bbox px", fmt(r.bbox_px));
    row("bbox pt", fmt(r.bbox_pt));
    row("page", page.number + " @ " + page.dpi + " dpi");
    box.appendChild(dl);
    box.appendChild(el("h2", {}, "Text"));
    box.appendChild(el("pre", { id: "region-text" },
      r.text === null || r.text === undefined ? "(no text)" : r.text));
  }

  function update() {
    writeUrl();
    renderDocs();
    renderLegend();
    renderThumbs();
    renderPage();
  }
  function go(doc, page) {
    state.doc = doc; state.page = page; state.sel = null; state.pinned = false;
    update();
  }
  function step(delta) {
    var doc = currentDoc();
    if (!doc) return;
    var p = state.page + delta;
    if (p >= 0 && p < doc.pages.length) return go(state.doc, p);
    var d = state.doc + delta;
    if (d < 0 || d >= DATA.documents.length) return;
    go(d, delta > 0 ? 0 : Math.max(0, DATA.documents[d].pages.length - 1));
  }

  document.getElementById("title").textContent = DATA.title;
  document.getElementById("score").addEventListener("input", function (ev) {
    state.minScore = parseFloat(ev.target.value) || 0;
    update();
  });
  document.getElementById("page").addEventListener("click", function () {
    state.pinned = false; state.sel = null; update();
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.target && ev.target.tagName === "INPUT" && ev.target.type === "range") return;
    if (ev.key === "ArrowRight" || ev.key === "j") { ev.preventDefault(); step(1); }
    else if (ev.key === "ArrowLeft" || ev.key === "k") { ev.preventDefault(); step(-1); }
  });
  window.addEventListener("hashchange", function () { readUrl(); update(); });
  readUrl();
  update();
})();
